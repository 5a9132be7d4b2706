"""Gradient checkpointing of spiking blocks, optionally keeping binary block inputs at 1 bit each.

Training memory of an SNN grows with T: every block keeps its [T, B, ...] activations for the
backward. Checkpointing keeps only each block's input and recomputes the block in backward.
A block input that holds spikes (only 0 and 1) is exact at one bit per value, so with
``pack_spikes`` it is stored bit-packed (32x smaller than fp32); inputs holding small
non-negative integers (SEW's ADD residual sums spikes: 0, 1, 2) are stored as uint8; anything
else is stored as is. Values are recovered exactly, so gradients equal plain BPTT's.

The recompute runs with the BatchNorm running statistics the forward saw (see
:class:`_Recompute`), and resets the block's neurons first: in multi-step mode each neuron runs once per
forward and the model resets every neuron at the start of it, so a reset block recomputes the
same spikes (spikingjelly's state lives on the module, not in the graph).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from spikingjelly.activation_based import base as sj_base
from torch.utils.checkpoint import checkpoint

Block = nn.Module | Sequence[nn.Module]


def block_modules(block: Block) -> tuple[nn.Module, ...]:
    """A block is one module or a tuple of modules applied in order."""
    return (block,) if isinstance(block, nn.Module) else tuple(block)


def run_block(block: Block, x: torch.Tensor) -> torch.Tensor:
    for module in block_modules(block):
        x = module(x)
    return x


def _rerun(block: Block, x: torch.Tensor) -> torch.Tensor:
    for module in block_modules(block):
        for m in module.modules():
            if isinstance(m, sj_base.MemoryModule):
                m.reset()
    return run_block(block, x)


class _Recompute:
    """The block's function for checkpointing: the first call runs it; later calls (the backward's
    recompute) run it with every BatchNorm's running statistics as they were before the first call,
    then put the updated ones back. So the recompute sees what the forward saw (layers that read
    the running statistics in training give the same values) and the statistics update once."""

    def __init__(self, block: Block):
        self.block = block
        self.norms = [
            m
            for mod in block_modules(block)
            for m in mod.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
        ]
        self.before = [self._stats(m) for m in self.norms]
        self.calls = 0

    _NAMES = ("running_mean", "running_var", "num_batches_tracked")

    @classmethod
    def _stats(cls, m: nn.Module) -> tuple:
        return tuple(getattr(m, n).clone() for n in cls._NAMES)

    @classmethod
    def _swap(cls, m: nn.Module, stats: tuple) -> tuple:
        """Install ``stats`` as the module's buffers (new tensor objects, so nothing autograd saved is
        modified in place); returns the buffers it replaced."""
        old = tuple(getattr(m, n) for n in cls._NAMES)
        for n, t in zip(cls._NAMES, stats):
            setattr(m, n, t)
        return old

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1 or not self.norms:
            return _rerun(self.block, x)
        current = [self._swap(m, tuple(t.clone() for t in stats)) for m, stats in zip(self.norms, self.before)]
        try:
            return _rerun(self.block, x)
        finally:
            for m, stats in zip(self.norms, current):
                self._swap(m, stats)


# -- exact compact storage ----------------------------------------------------------------------
def _bit_weights(device: torch.device) -> torch.Tensor:
    return torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=device)


def pack(x: torch.Tensor) -> tuple:
    """(kind, payload, shape, dtype): 'bits' for 0/1 tensors, 'uint8' for integers in 0..255, else 'raw'."""
    if x.is_floating_point() and x.numel() > 0:
        is_int = bool(torch.all((x == x.round()) & (x >= 0) & (x <= 255)))
        if is_int:
            if bool(torch.all(x <= 1)):
                bits = (x.detach().reshape(-1) != 0).to(torch.uint8)
                pad = (-bits.numel()) % 8
                if pad:
                    bits = torch.cat([bits, bits.new_zeros(pad)])
                packed = (bits.view(-1, 8) * _bit_weights(x.device)).sum(-1, dtype=torch.uint8)
                return "bits", packed, x.shape, x.dtype
            return "uint8", x.detach().to(torch.uint8), x.shape, x.dtype
    return "raw", x.detach(), x.shape, x.dtype


def unpack(packed: tuple) -> torch.Tensor:
    kind, payload, shape, dtype = packed
    if kind == "raw":
        return payload
    if kind == "uint8":
        return payload.to(dtype)
    bits = (payload.unsqueeze(-1) & _bit_weights(payload.device)).ne(0)
    return bits.reshape(-1)[: shape.numel()].reshape(shape).to(dtype)


def _devices() -> tuple[str, ...]:
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


class _PackedCheckpoint(torch.autograd.Function):
    """Checkpoint that stores the block input packed; parameters are explicit inputs so their
    gradients flow through ``torch.autograd.grad`` (and the function is differentiable even when
    the input is not, e.g. the stem)."""

    @staticmethod
    def forward(ctx, block, x, *params):
        ctx.block = block
        ctx.run = _Recompute(block)
        ctx.x_requires_grad = x.requires_grad
        ctx.packed = pack(x)
        ctx.rng_state = torch.get_rng_state()
        ctx.autocast = {dev: (torch.is_autocast_enabled(dev), torch.get_autocast_dtype(dev)) for dev in _devices()}
        with torch.no_grad():
            return ctx.run(x)

    @staticmethod
    def backward(ctx, grad_out):
        x = unpack(ctx.packed).detach().requires_grad_(ctx.x_requires_grad)
        params = [p for m in block_modules(ctx.block) for p in m.parameters() if p.requires_grad]
        with contextlib.ExitStack() as stack:  # recompute under the forward's autocast and RNG state
            for dev, (enabled, dtype) in ctx.autocast.items():
                stack.enter_context(torch.autocast(dev, dtype=dtype, enabled=enabled))
            stack.enter_context(torch.random.fork_rng(devices=[]))
            stack.enter_context(torch.enable_grad())
            torch.set_rng_state(ctx.rng_state)
            out = ctx.run(x)
        inputs = ([x] if ctx.x_requires_grad else []) + params
        grads = torch.autograd.grad(out, inputs, grad_out, allow_unused=True) if inputs else ()
        grad_x = grads[0] if ctx.x_requires_grad else None
        return (None, grad_x, *grads[1 if ctx.x_requires_grad else 0 :])


def checkpoint_block(block: Block, x: torch.Tensor, pack_spikes: bool = False) -> torch.Tensor:
    """Run ``block`` on ``x`` keeping only its input for backward (packed when ``pack_spikes``)."""
    if not pack_spikes:
        return checkpoint(_Recompute(block), x, use_reentrant=False)
    params = [p for m in block_modules(block) for p in m.parameters() if p.requires_grad]
    return _PackedCheckpoint.apply(block, x, *params)


def run_blocks(
    blocks: Sequence[Block], x: torch.Tensor, grad_checkpointing: bool | str = False, run: Callable = run_block
) -> torch.Tensor:
    """Run ``blocks`` in order; with checkpointing (True or 'packed') each block is one checkpoint."""
    if not grad_checkpointing or not torch.is_grad_enabled():
        for block in blocks:
            x = run(block, x)
        return x
    for block in blocks:
        x = checkpoint_block(block, x, pack_spikes=grad_checkpointing == "packed")
    return x
