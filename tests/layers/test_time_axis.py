"""time_axis: the one rule for [T, B, ...] sequences vs [B, C, H, W] image batches."""

import pytest
import torch

from snn_zoo.layers import (
    batch_size,
    first_samples,
    from_batch_first,
    is_sequence,
    mean_over_time,
    sum_over_time,
    to_sequence,
)


def test_static_batches_are_repeated_and_sequences_pass_through():
    img = torch.rand(2, 3, 4, 4)
    seq = to_sequence(img, 5)
    assert seq.shape == (5, 2, 3, 4, 4) and all(torch.equal(s, img) for s in seq)
    assert to_sequence(seq, 7) is seq and is_sequence(seq) and not is_sequence(img)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\].*\[T, B, C, H, W\].*\(3, 4\)"):
        to_sequence(torch.rand(3, 4), 2)


def test_batch_size_and_first_samples_read_the_batch_axis():
    seq = torch.rand(4, 4, 1, 2, 2)  # T == B: the layout rule decides, not the sizes
    assert batch_size(seq) == 4 and batch_size(torch.rand(6, 1, 2, 2)) == 6
    assert torch.equal(first_samples(seq, 2), seq[:, :2]) and first_samples(torch.rand(6, 1, 2, 2), 2).shape[0] == 2
    assert batch_size(torch.rand(3, 5, 1, 2, 2)) == 5
    with pytest.raises(ValueError):
        batch_size(torch.rand(3))


def test_reductions_over_time_and_batch_first_conversion():
    seq = torch.rand(3, 2, 1, 2, 2)
    assert torch.allclose(mean_over_time(seq), seq.mean(0)) and torch.allclose(sum_over_time(seq), seq.sum(0))
    img = torch.rand(2, 1, 2, 2)
    assert mean_over_time(img) is img and sum_over_time(img) is img
    bf = seq.transpose(0, 1)  # [B, T, ...] as PyTorch's default collate gives
    assert torch.equal(from_batch_first(bf), seq) and from_batch_first(img) is img
