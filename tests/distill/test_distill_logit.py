"""kd_loss, wsld_loss, hetero_kd_loss against values computed with plain math."""

import math

import pytest
import torch

from snn_zoo.distill import hetero_kd_loss, kd_loss, wsld_loss

S = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
T = [[0.5, 1.5, 3.0], [2.0, 0.0, 1.0]]
Y = [2, 0]


def softmax(row, tau=1.0):
    e = [math.exp(v / tau) for v in row]
    return [v / sum(e) for v in e]


def kl(p, q):
    return sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q))


def test_kd_loss_hand_computed():
    tau = 2.0
    expected = sum(kl(softmax(t, tau), softmax(s, tau)) for s, t in zip(S, T)) / 2 * tau**2
    got = kd_loss(torch.tensor(S), torch.tensor(T), tau)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_hetero_kd_loss_hand_computed_and_reduces_to_kd():
    ts, tt = 1.0, 3.0
    expected = sum(kl(softmax(t, tt), softmax(s, ts)) for s, t in zip(S, T)) / 2 * ts * tt
    got = hetero_kd_loss(torch.tensor(S), torch.tensor(T), ts, tt)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    same = hetero_kd_loss(torch.tensor(S), torch.tensor(T), 2.0, 2.0)
    assert same.item() == pytest.approx(kd_loss(torch.tensor(S), torch.tensor(T), 2.0).item(), rel=1e-6)


def test_wsld_loss_hand_computed():
    tau = 2.0
    per_sample = []
    for s, t, y in zip(S, T, Y):
        p_t, p_s = softmax(t, tau), softmax(s, tau)
        soft = -sum(a * math.log(b) for a, b in zip(p_t, p_s))
        ce_s, ce_t = -math.log(softmax(s)[y]), -math.log(softmax(t)[y])
        weight = 1 - math.exp(-max(ce_s / (ce_t + 1e-7), 0.0))
        per_sample.append(weight * soft)
    expected = tau**2 * sum(per_sample) / len(per_sample)
    got = wsld_loss(torch.tensor(S), torch.tensor(T), torch.tensor(Y), tau=tau)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_teacher_logits_get_no_gradient():
    s = torch.tensor(S, requires_grad=True)
    t = torch.tensor(T, requires_grad=True)
    (kd_loss(s, t, 2.0) + wsld_loss(s, t, torch.tensor(Y))).backward()
    assert s.grad is not None and t.grad is None


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
