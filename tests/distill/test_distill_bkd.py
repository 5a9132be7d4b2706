"""BKDLoss: closed form, blur mask semantics, gradients, shapes."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from snn_zoo.distill import BKDLoss


def _restore_inputs(bkd: BKDLoss) -> tuple[list, object]:
    seen = []
    handle = bkd.restore.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    return seen, handle


def test_no_blur_equals_closed_form_map():
    torch.manual_seed(0)
    bkd = BKDLoss(4, 6, alpha=0.01, blur_prob=0.0).train()
    f_s, f_t = torch.randn(3, 4, 2, 2), torch.randn(3, 6, 2, 2)
    expected = 0.01 * ((bkd.restore(bkd.align(f_s)) - f_t) ** 2).sum() / 3
    torch.testing.assert_close(bkd(f_s, f_t), expected)


def test_resize_and_transformer_variant_closed_form():
    torch.manual_seed(1)
    bkd = BKDLoss(4, 4, alpha=0.5, blur_prob=0.0)
    f_s, f_t = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 2, 2)
    resized = F.interpolate(f_s, size=(2, 2), mode="bilinear", align_corners=False)
    torch.testing.assert_close(bkd(f_s, f_t), 0.5 * ((bkd.restore(resized) - f_t) ** 2).sum() / 2)
    pooled_t = torch.randn(2, 4)  # transformer variant: G output averaged over space
    expected = 0.5 * ((bkd.restore(f_s).mean(dim=(2, 3)) - pooled_t) ** 2).sum() / 2
    torch.testing.assert_close(bkd(f_s, pooled_t), expected)


def test_blurred_channels_zero_rest_untouched_and_resampled():
    torch.manual_seed(2)
    bkd = BKDLoss(16, 16, blur_prob=0.5).train()
    seen, handle = _restore_inputs(bkd)
    f_s = torch.rand(8, 16, 3, 3) + 0.1  # strictly positive: zeros can only come from the mask
    f_t = torch.randn(8, 16, 3, 3)
    bkd(f_s, f_t)
    bkd(f_s, f_t)
    handle.remove()
    masks = []
    for x in seen:
        zero = (x == 0).all(dim=(2, 3))
        untouched = (x == f_s).all(dim=(2, 3))
        assert torch.all(zero ^ untouched)  # each (sample, channel) is all-zero or exactly f_s
        assert 0 < zero.sum() < zero.numel()
        masks.append(zero)
    assert not torch.equal(masks[0], masks[1])  # drawn anew on every call


def test_eval_draws_no_mask():
    bkd = BKDLoss(8, 8, blur_prob=0.9).eval()
    seen, handle = _restore_inputs(bkd)
    f_s = torch.rand(4, 8, 2, 2) + 0.1
    bkd(f_s, torch.randn(4, 8, 2, 2))
    handle.remove()
    assert torch.equal(seen[0], f_s)


def test_gradients_reach_student_align_restore_not_teacher():
    torch.manual_seed(3)
    student, teacher = nn.Conv2d(2, 4, 1), nn.Conv2d(2, 6, 1)
    bkd = BKDLoss(4, 6).train()
    x = torch.randn(2, 2, 3, 3)
    bkd(student(x), teacher(x)).backward()
    assert student.weight.grad is not None and student.weight.grad.abs().sum() > 0
    assert bkd.align.weight.grad is not None
    assert all(p.grad is not None for p in bkd.restore.parameters())
    assert teacher.weight.grad is None


def test_align_only_when_channels_differ():
    assert BKDLoss(8, 8).align is None
    align = BKDLoss(8, 16).align
    assert isinstance(align, nn.Conv2d) and align.kernel_size == (1, 1) and align.out_channels == 16
    restore = BKDLoss(8, 16).restore
    assert [type(m) for m in restore] == [nn.Conv2d, nn.ReLU, nn.Conv2d]
    assert restore[0].kernel_size == (3, 3) and restore[0].in_channels == 16


@pytest.mark.parametrize(
    "s_shape,t_shape",
    [((2, 4, 2), (2, 4, 2, 2)), ((2, 4), (2, 4, 2, 2)), ((2, 5, 2, 2), (2, 4, 2, 2)), ((2, 4, 2, 2), (2, 3))],
)
def test_shape_errors_name_both_shapes(s_shape, t_shape):
    with pytest.raises(ValueError) as err:
        BKDLoss(4, 4)(torch.zeros(s_shape), torch.zeros(t_shape))
    assert str(tuple(s_shape)) in str(err.value) and str(tuple(t_shape)) in str(err.value)
