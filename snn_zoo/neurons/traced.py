"""The multi-step neuron as plain, traceable torch: what ``torch.compile`` sees, so Inductor can fuse it.

Eagerly a neuron is one ``snn_zoo::multistep_*`` custom op (:mod:`.ops`): fast, but opaque to the
compiler, which then cannot fuse it with the convolution, BN and add around it. Under
``torch.compile`` (:func:`use_traced` decides, in :func:`snn_zoo.neurons.ops.multistep`) the neuron
is instead a loop over T of one small ``autograd.Function`` per step made of elementwise ops,
which Inductor fuses with its neighbours (C++ on CPU, Triton on CUDA) in forward and backward.

Same numbers as the torch kernel: the charge in the kernels' operation order
(:meth:`NeuronKind.charge <snn_zoo.neurons.kinds.NeuronKind.charge>`), h rounded to the storage
dtype before firing, the reset and the surrogate-gradient recurrence written op for op like
:func:`snn_zoo.neurons.torch_kernel.backward` (the gradient of v stays in the state dtype). Without
Inductor (``backend="aot_eager"``) values and gradients equal eager bit for bit; Inductor's own
fusion changes rounding only.
"""

from __future__ import annotations

import torch

from .kinds import get_neuron_kind
from .spec import NeuronSpec
from .surrogates import get_surrogate
from .torch_kernel import state_dtype


def use_traced(backend: str) -> bool:
    """True while ``torch.compile`` traces (not ``torch.export``, which keeps the custom op) and the
    user did not ask for the cupy kernel."""
    return backend != "cupy" and torch.compiler.is_compiling() and not torch.compiler.is_exporting()


class _Step(torch.autograd.Function):
    """One time step: (v_{t-1}, x_t, k) -> (s_t in x's dtype, v_t), backward in torch_kernel.backward's
    operation order, so compiled gradients equal eager ones bit for bit (before Inductor's own fusion)."""

    @staticmethod
    def forward(v, x_t, decay, spec: NeuronSpec):
        sd = v.dtype
        h = get_neuron_kind(spec.kind).charge(v, x_t.to(sd), decay, spec.reset_value, spec.decay_input)
        if x_t.dtype != sd:  # round h to the storage dtype before firing, as the kernels do
            h = h.to(x_t.dtype).to(sd)
        spike = h >= spec.v_threshold
        if spec.hard_reset:
            v_next = torch.where(spike, torch.full_like(h, spec.reset_value), h)
        else:
            v_next = h - spike.to(sd) * spec.v_threshold
        return spike.to(x_t.dtype), v_next, h

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        v, x_t, decay, spec = inputs
        ctx.spec, ctx.x_dtype = spec, x_t.dtype
        ctx.decay_is_tensor = isinstance(decay, torch.Tensor)
        h = output[2]
        ctx.mark_non_differentiable(h)
        if ctx.decay_is_tensor:
            ctx.save_for_backward(h, v, decay)
        else:
            ctx.decay = decay
            ctx.save_for_backward(h)

    @staticmethod
    def backward(ctx, grad_s, grad_v, _grad_h_out):
        spec = ctx.spec
        if ctx.decay_is_tensor:
            h, v_prev, decay = ctx.saved_tensors
        else:
            (h,), v_prev, decay = ctx.saved_tensors, None, ctx.decay
        vth, vr = spec.v_threshold, spec.reset_value
        sg = get_surrogate(spec.surrogate).grad(h - vth, spec.alpha)
        not_spiked = h < vth
        grad_h = grad_s * sg
        if spec.hard_reset and spec.detach_reset:  # dv/dh = 1 - s
            grad_h = grad_h + grad_v.masked_fill(~not_spiked, 0.0)
        elif spec.hard_reset:  # dv/dh = (1 - s) + (vr - h) * sg
            grad_h = grad_h.addcmul(grad_v, ((h * -1.0) + vr) * sg + not_spiked)
        elif spec.detach_reset:  # dv/dh = 1
            grad_h = grad_h + grad_v
        else:  # dv/dh = 1 - vth * sg
            grad_h = grad_h.addcmul(grad_v, (sg * -vth) + 1.0)
        leaky = get_neuron_kind(spec.kind).leaky
        grad_x = grad_h * decay if leaky and spec.decay_input else grad_h
        grad_v_prev = grad_h * (1.0 - decay) if leaky else grad_h * 1.0
        grad_decay = None
        if ctx.decay_is_tensor and ctx.needs_input_grad[2]:
            dh_dk = (h - v_prev) / decay if spec.decay_input else (v_prev - vr).neg()
            grad_decay = torch.dot(grad_h.flatten(), dh_dk.flatten()).reshape(decay.shape)
        return grad_v_prev, grad_x.to(ctx.x_dtype), grad_decay, None


def multistep(
    x_seq: torch.Tensor, v_init: torch.Tensor, k: torch.Tensor | None, spec: NeuronSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """(spikes [T, ...] in x's dtype, v_last [...] in the state dtype), differentiable by autograd."""
    sd = state_dtype(x_seq.dtype)
    decay = k.to(sd) if k is not None else spec.k
    v = v_init.to(sd).expand(x_seq.shape[1:])
    spikes = []
    for t in range(x_seq.shape[0]):
        s, v, _ = _Step.apply(v, x_seq[t], decay, spec)
        spikes.append(s)
    return torch.stack(spikes), v
