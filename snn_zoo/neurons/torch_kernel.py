"""Multi-step neuron as one autograd Function in plain torch (CPU and GPU).

Forward walks T steps writing into preallocated outputs (few full-size passes per step, no
per-step temporaries) and saves only the charged membrane ``h`` (one T x N tensor); with no
gradient needed it saves nothing. Backward recomputes spikes from ``h`` and walks time in
reverse with the surrogate gradient. The cupy kernel implements exactly this recurrence,
fused; the forward keeps its operation order so spikes match bit for bit.
"""
from __future__ import annotations

from typing import Optional, Union

import torch

from .spec import NeuronSpec
from .surrogates import get_surrogate

Decay = Union[float, torch.Tensor]


def _charge_(spec: NeuronSpec, v: torch.Tensor, x: torch.Tensor, k: Decay, out: torch.Tensor) -> torch.Tensor:
    """Write h into ``out`` (fp32), in the same operation order as the CUDA kernel."""
    vr = spec.reset_value
    if spec.kind == "if":
        return torch.add(v, x, out=out)
    leak = v if vr == 0.0 else v - vr
    if spec.decay_input:  # h = v + k * (x - (v - vr))
        torch.sub(x, leak, out=out)
        out.mul_(k)
        return out.add_(v)
    # h = v - k * (v - vr) + x
    torch.mul(leak, k, out=out)
    torch.sub(v, out, out=out)
    return out.add_(x)


def _reset_(spec: NeuronSpec, h: torch.Tensor, spike: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """v = h * (1 - s) + v_reset * s (hard) or h - s * v_threshold (soft), into ``v``."""
    if spec.hard_reset:
        return torch.where(spike, h.new_tensor(spec.reset_value), h, out=v)
    return v.copy_(h).sub_(spike.to(v.dtype), alpha=spec.v_threshold)


def membrane_after_spike(spec: NeuronSpec, h: torch.Tensor) -> torch.Tensor:
    """The membrane v after firing from charged potential ``h`` (a new tensor)."""
    return _reset_(spec, h, h >= spec.v_threshold, torch.empty_like(h))


class MultiStepNeuronFunction(torch.autograd.Function):
    """(x_seq [T, ...], v_init [...], k) -> (spikes [T, ...], v_last [...])."""

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
        decay = k.float() if k is not None else spec.k
        save = ctx.needs_input_grad[0] or (k is not None and ctx.needs_input_grad[2])
        fp32 = x_seq.dtype == torch.float32
        v = v_init.float().clone()
        s_seq = torch.empty_like(x_seq)
        h_seq = torch.empty_like(x_seq) if save else None
        h_buf = torch.empty_like(v)
        spike = torch.empty(v.shape, dtype=torch.bool, device=v.device)
        for t in range(x_seq.shape[0]):
            x_t = x_seq[t] if fp32 else x_seq[t].float()
            h = h_seq[t] if save and fp32 else h_buf  # fp32: charge straight into the saved tensor
            _charge_(spec, v, x_t, decay, out=h)
            if not fp32:  # round h to the storage dtype before firing, as the saved h will be
                h.copy_(h.to(x_seq.dtype))
                if save:
                    h_seq[t].copy_(h)
            torch.ge(h, spec.v_threshold, out=spike)
            s_seq[t].copy_(spike)
            _reset_(spec, h, spike, v)
        ctx.spec = spec
        if save:
            ctx.save_for_backward(h_seq, v_init, k)
        ctx.mark_non_differentiable(v)
        return s_seq, v

    @staticmethod
    def backward(ctx, grad_s_seq: torch.Tensor, grad_v_last: Optional[torch.Tensor]):
        # Reverse walk over time into per-call buffers of one step each: no allocation per step
        # (large per-step temporaries cost more in page faults than in arithmetic on CPU).
        h_seq, v_init, k = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        sg_fn = get_surrogate(spec.surrogate).grad
        decay = k.float() if k is not None else spec.k
        vth, vr = spec.v_threshold, spec.reset_value
        leak = 1.0 if spec.kind == "if" else 1.0 - decay  # dh_t / dv_{t-1}
        scale_x = spec.kind != "if" and spec.decay_input  # dh_t / dx_t = k
        grad_x = torch.empty_like(h_seq)
        grad_v = torch.zeros_like(h_seq[0], dtype=torch.float32)
        grad_h = torch.empty_like(grad_v)
        dv_dh = torch.empty_like(grad_v)
        not_spiked = torch.empty(grad_v.shape, dtype=torch.bool, device=grad_v.device)
        grad_k = torch.zeros((), dtype=torch.float32, device=h_seq.device)
        for t in range(h_seq.shape[0] - 1, -1, -1):
            h = h_seq[t].float()
            sg = sg_fn(h - vth, spec.alpha)
            torch.lt(h, vth, out=not_spiked)
            torch.mul(grad_s_seq[t], sg, out=grad_h)
            if spec.hard_reset and spec.detach_reset:  # dv/dh = 1 - s
                grad_h.add_(grad_v.masked_fill_(~not_spiked, 0.0))
            elif spec.hard_reset:  # dv/dh = (1 - s) + (vr - h) * sg
                torch.mul(h, -1.0, out=dv_dh).add_(vr)
                grad_h.addcmul_(grad_v, dv_dh.mul_(sg).add_(not_spiked))
            elif spec.detach_reset:  # dv/dh = 1
                grad_h.add_(grad_v)
            else:  # dv/dh = 1 - vth * sg
                grad_h.addcmul_(grad_v, torch.mul(sg, -vth, out=dv_dh).add_(1.0))
            if k is not None:
                v_prev = v_init.float() if t == 0 else membrane_after_spike(spec, h_seq[t - 1].float())
                dh_dk = (h - v_prev).div_(decay) if spec.decay_input else (v_prev - vr).neg_()
                grad_k = grad_k + torch.dot(grad_h.flatten(), dh_dk.flatten())
            torch.mul(grad_h, decay, out=grad_x[t]) if scale_x else grad_x[t].copy_(grad_h)
            torch.mul(grad_h, leak, out=grad_v)
        return grad_x, None, (grad_k.to(k.dtype) if k is not None else None), None


def multistep_torch(x_seq: torch.Tensor, v_init: torch.Tensor, k: Optional[torch.Tensor], spec: NeuronSpec):
    """Run the neuron over all T steps with the torch kernel."""
    return MultiStepNeuronFunction.apply(x_seq, v_init, k, spec)
