"""Multi-step neuron in plain torch (any device): the forward and backward walks over time.

Forward walks T steps writing into preallocated outputs (few full-size passes per step, no
per-step temporaries) and returns the charged membrane ``h`` (one T x N tensor) for backward;
with no gradient needed it allocates none. Backward recomputes spikes from ``h`` and walks time in
reverse with the surrogate gradient. The cupy kernel implements exactly this recurrence,
fused; the forward keeps its operation order so spikes match bit for bit. These functions
have no autograd: :mod:`snn_zoo.neurons.ops` registers them as the ``snn_zoo::multistep_*`` ops.
"""

from __future__ import annotations

import torch

from .kinds import get_neuron_kind
from .spec import NeuronSpec
from .surrogates import get_surrogate

Decay = float | torch.Tensor


def state_dtype(dtype: torch.dtype) -> torch.dtype:
    """dtype of the membrane v (and of every gradient inside the kernels) for inputs of ``dtype``:
    float64 for float64 inputs (float64 models run float64 dynamics), else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _charge_(spec: NeuronSpec, v: torch.Tensor, x: torch.Tensor, k: Decay, out: torch.Tensor) -> torch.Tensor:
    """Write h into ``out`` (the state dtype), in the same operation order as the CUDA kernel
    (:meth:`NeuronKind.charge <snn_zoo.neurons.kinds.NeuronKind.charge>` without temporaries)."""
    vr = spec.reset_value
    if not get_neuron_kind(spec.kind).leaky:
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


def forward(
    x_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec, save_h: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(spikes [T, ...], v_last [...] in the state dtype, h [T, ...] or an empty tensor when ``save_h`` is False)."""
    sd = state_dtype(x_seq.dtype)
    decay = k.to(sd) if k is not None else spec.k
    same = x_seq.dtype == sd  # fp32 (or fp64) storage: no rounding of h
    v = v_init.to(sd).expand(x_seq.shape[1:]).clone(memory_format=torch.contiguous_format)
    s_seq = torch.empty_like(x_seq)
    h_seq = torch.empty_like(x_seq) if save_h else x_seq.new_empty((0,))
    h_buf = torch.empty_like(v)
    spike = torch.empty(v.shape, dtype=torch.bool, device=v.device)
    for t in range(x_seq.shape[0]):
        x_t = x_seq[t] if same else x_seq[t].to(sd)
        h = h_seq[t] if save_h and same else h_buf  # charge straight into the saved tensor
        _charge_(spec, v, x_t, decay, out=h)
        if not same:  # round h to the storage dtype before firing, as the saved h will be
            h.copy_(h.to(x_seq.dtype))
            if save_h:
                h_seq[t].copy_(h)
        torch.ge(h, spec.v_threshold, out=spike)
        s_seq[t].copy_(spike)
        _reset_(spec, h, spike, v)
    return s_seq, v, h_seq


def backward(
    grad_s_seq: torch.Tensor, h_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """(grad_x [T, ...] in h's dtype, grad_k scalar in the state dtype) for the saved charged membrane ``h_seq``.

    Reverse walk over time into per-call buffers of one step each: no allocation per step
    (large per-step temporaries cost more in page faults than in arithmetic on CPU).
    """
    sg_fn = get_surrogate(spec.surrogate).grad
    sd = state_dtype(h_seq.dtype)
    decay = k.to(sd) if k is not None else spec.k
    vth, vr = spec.v_threshold, spec.reset_value
    leaky = get_neuron_kind(spec.kind).leaky
    leak = 1.0 - decay if leaky else 1.0  # dh_t / dv_{t-1}
    scale_x = leaky and spec.decay_input  # dh_t / dx_t = k
    grad_x = torch.empty_like(h_seq)
    grad_v = torch.zeros(h_seq.shape[1:], dtype=sd, device=h_seq.device)
    grad_h = torch.empty_like(grad_v)
    dv_dh = torch.empty_like(grad_v)
    not_spiked = torch.empty(grad_v.shape, dtype=torch.bool, device=grad_v.device)
    grad_k = torch.zeros((), dtype=sd, device=h_seq.device)
    for t in range(h_seq.shape[0] - 1, -1, -1):
        h = h_seq[t].to(sd)
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
            v_prev = v_init.to(sd) if t == 0 else membrane_after_spike(spec, h_seq[t - 1].to(sd))
            dh_dk = (h - v_prev).div_(decay) if spec.decay_input else (v_prev - vr).neg_()
            grad_k = grad_k + torch.dot(grad_h.flatten(), dh_dk.flatten())
        torch.mul(grad_h, decay, out=grad_x[t]) if scale_x else grad_x[t].copy_(grad_h)
        torch.mul(grad_h, leak, out=grad_v)
    return grad_x, grad_k


def forward_functional(
    x_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward as plain out-of-place ops (same values, same operation order as :func:`forward`).

    Slower, but made only of standard ops: exporters that do not know the custom op (ONNX)
    decompose it into this, unrolled over T. Returns (spikes, v_last, h).
    """
    kind, sd = get_neuron_kind(spec.kind), state_dtype(x_seq.dtype)
    decay = k.to(sd) if k is not None else spec.k
    vr = spec.reset_value
    v = v_init.to(sd).expand(x_seq.shape[1:])
    spikes, hs = [], []
    for t in range(x_seq.shape[0]):
        h = kind.charge(v, x_seq[t].to(sd), decay, vr, spec.decay_input)
        h = h.to(x_seq.dtype).to(sd)
        s = h >= spec.v_threshold
        spikes.append(s.to(x_seq.dtype))
        hs.append(h.to(x_seq.dtype))
        v = torch.where(s, torch.full_like(h, vr), h) if spec.hard_reset else h - s.to(sd) * spec.v_threshold
    return torch.stack(spikes), v, torch.stack(hs)
