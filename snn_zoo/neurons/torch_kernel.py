"""Multi-step neuron as one autograd Function in plain torch (CPU and GPU).

Forward walks T steps and saves only the charged membrane ``h`` (one T x N tensor);
backward recomputes spikes from ``h`` and walks time in reverse with the surrogate
gradient. The cupy kernel implements exactly this recurrence, fused.
"""
from __future__ import annotations

from typing import Optional

import torch

from .spec import NeuronSpec
from .surrogates import get_surrogate


def _charge(spec: NeuronSpec, v: torch.Tensor, x: torch.Tensor, k) -> torch.Tensor:
    if spec.kind == "if":
        return v + x
    vr = spec.reset_value
    if spec.decay_input:
        return v + k * (x - (v - vr))
    return v - k * (v - vr) + x


def _fire_and_reset(spec: NeuronSpec, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s = (h >= spec.v_threshold).to(h.dtype)
    if spec.hard_reset:
        v = h * (1.0 - s) + spec.reset_value * s
    else:
        v = h - s * spec.v_threshold
    return s, v


class MultiStepNeuronFunction(torch.autograd.Function):
    """(x_seq [T, ...], v_init [...], k) -> (spikes [T, ...], v_last [...])."""

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
        decay = k.float() if k is not None else spec.k
        v = v_init.float()
        h_seq = torch.empty_like(x_seq)
        s_seq = torch.empty_like(x_seq)
        for t in range(x_seq.shape[0]):
            # h is rounded to the storage dtype before firing so forward and backward agree.
            h_seq[t] = _charge(spec, v, x_seq[t].float(), decay)
            s, v = _fire_and_reset(spec, h_seq[t].float())
            s_seq[t] = s
        ctx.spec = spec
        ctx.save_for_backward(h_seq, v_init, k)
        ctx.mark_non_differentiable(v)
        return s_seq, v

    @staticmethod
    def backward(ctx, grad_s_seq: torch.Tensor, grad_v_last: Optional[torch.Tensor]):
        h_seq, v_init, k = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        sg_fn = get_surrogate(spec.surrogate).grad
        decay = k.float() if k is not None else spec.k
        vth, vr = spec.v_threshold, spec.reset_value
        grad_x = torch.empty_like(h_seq)
        grad_v = torch.zeros_like(h_seq[0], dtype=torch.float32)
        grad_k = torch.zeros((), dtype=torch.float32, device=h_seq.device)
        for t in range(h_seq.shape[0] - 1, -1, -1):
            h = h_seq[t].float()
            sg = sg_fn(h - vth, spec.alpha)
            s = (h >= vth).float()
            if spec.hard_reset:
                dv_dh = 1.0 - s if spec.detach_reset else 1.0 - s + (vr - h) * sg
            else:
                dv_dh = torch.ones_like(h) if spec.detach_reset else 1.0 - vth * sg
            grad_h = grad_s_seq[t].float() * sg + grad_v * dv_dh
            if spec.kind == "if":
                grad_x[t] = grad_h
                grad_v = grad_h
                continue
            grad_x[t] = grad_h * decay if spec.decay_input else grad_h
            grad_v = grad_h * (1.0 - decay)
            if k is not None:
                v_prev = v_init.float() if t == 0 else _fire_and_reset(spec, h_seq[t - 1].float())[1]
                dh_dk = (h - v_prev) / decay if spec.decay_input else -(v_prev - vr)
                grad_k = grad_k + (grad_h * dh_dk).sum()
        return grad_x, None, (grad_k.to(k.dtype) if k is not None else None), None


def multistep_torch(x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
    """Run the neuron over all T steps with the torch kernel."""
    return MultiStepNeuronFunction.apply(x_seq, v_init, k, spec)
