"""Energy of one SNN inference, counted with spikingjelly 2.0's ``op_counter``
(github.com/fangwei123456/spikingjelly, ``activation_based/op_counter``).

Convention (45 nm, fp32; Horowitz 2014, the numbers of ``SimpleEnergyCostConfig.fp32()``)::

    energy = macs * E_MAC + acs * E_AC          E_MAC = 4.6 pJ, E_AC = 0.9 pJ
    macs   = multiply-accumulates of conv / matmul ops whose input is real-valued
             (the encoding conv of a directly encoded image, a head fed by pooled rates, ...)
    acs    = synaptic operations (SynOps) of conv / matmul ops fed by spikes
             (= FLOPs x firing rate, summed over the T time steps)
    ann    = the ANN twin (every neuron -> ReLU, T = 1): all conv / matmul MACs of one pass

BatchNorm is left out of every count (it folds into the preceding conv at inference), and so
are element-wise adds, pooling and the neurons' own updates, as in the SNN papers.

What spikingjelly's counters count (checked in ``tests/metrics/test_energy.py``):

* ``MACCounter``: for ``convolution`` / ``mm`` / ``addmm`` / ``bmm`` / ``baddbmm`` the dense
  MAC count (``C_in/groups * k*k * H_out*W_out * C_out * N``; ``m*n*k`` for a matmul, bias
  not counted) when neither operand is binary, and **0 when either operand is binary** ({0, 1}
  or bool). It also counts BatchNorm's affine step (``numel``) as MACs; we ignore BN modules.
* ``SynOpCounter``: the same ops, **only when an operand is binary**: a linear layer gives
  ``nnz(input) * out_features``; a conv gives the exact number of weight uses, i.e. for every
  input spike the number of output positions it reaches (border- and stride-aware) times
  ``C_out/groups``. That equals FLOPs x firing rate when every input position reaches the
  same number of outputs (1x1 convs, matmuls) and is slightly lower at zero-padded borders.
  Real-valued inputs give 0 SynOps.
* ``ACCounter``: SynOps plus BN internals, add/sub, reductions and sigmoids; not used here.
* Neither knows about time. Our multi-step layers fold [T, B, ...] into [T*B, ...] before
  the aten op, so every count is the sum over all T steps and the whole batch; dividing by
  B gives the per-image value summed over T, which is what we report. No correction needed.

Spike-driven attention (Spike-driven Transformer, QKFormer, Meta-SpikeFormer) is counted as
additions only: an element-wise product of two binary tensors is a mask (an AND, no arithmetic:
0 operations, as neither counter counts ``mul``), and a sum over a binary or spike-count tensor
(``aten.sum``) is one accumulate per spike (its nnz, weighted by the counts), added to ``acs``.
A spike matmul (Meta-SpikeFormer's ``q (k^T v)``) is spikingjelly's SynOp rule.

Two corrections we apply on top (both switchable, both covered by tests):

1. ``integer_spikes_as_acs`` (default on). SEW-ResNet's ADD connection emits spike *counts*
   ({0, 1, 2, ...}: a block output plus its spiking shortcut). Such a tensor is not binary, so
   spikingjelly counts the next conv as fully dense MACs (every weight, 4.6 pJ each) and 0
   SynOps. A count of k is k spikes arriving on the same synapse, i.e. k accumulates; we count
   non-negative integer-valued inputs as ACs weighted by the count (spikingjelly's own
   weight-use function evaluated on the counts) and 0 MACs. Event-camera frames (event counts
   per bin) fall under the same rule.
2. ``encoding_once`` (default on). With direct encoding the static image is repeated T times,
   so the encoding conv runs T times on identical input and ``MACCounter`` counts it T times.
   Its output is the same at every step (it can be computed once and fed to the neuron T
   times), and the usual SNN energy formula (Spikformer / Spike-driven Transformer:
   ``E_MAC * FL_conv1 + E_AC * SOPs``) counts it once. A real-valued input of a counted op
   whose T slices (of the [T*B, ...] layout) are all equal is counted once.

Firing rates come from :class:`snn_zoo.metrics.SpikeCounter` (every ``MultiStepNeuron``):
per layer ``spikes / (neurons * T * images)``; the model's mean rate is total spikes over total
neuron-time-steps (neuron-weighted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from math import prod
from typing import Any

import torch
import torch.nn as nn
from spikingjelly.activation_based.op_counter import (
    DispatchCounterMode,
    MACCounter,
    SimpleEnergyConfig,
    SimpleEnergyCostConfig,
    SynOpCounter,
    estimate_simple_energy,
)

# spikingjelly's per-op rules: we wrap them (corrections above) instead of rewriting them.
from spikingjelly.activation_based.op_counter import ac as _sj_ac
from spikingjelly.activation_based.op_counter import mac as _sj_mac
from spikingjelly.activation_based.op_counter.neuromorphic_memory_access import (
    _spike_conv_weight_uses_from_tensors,
)

from ..layers import batch_size, is_sequence
from .spikes import SpikeCounter

__all__ = ["EnergyReport", "energy_report"]

aten = torch.ops.aten
_PJ_PER_MJ = 1e9
_BN_TYPES = [nn.modules.batchnorm._BatchNorm]


@dataclass
class EnergyReport:
    """Per-image operation counts and energy of one SNN forward (see the module docstring).

    Attributes:
        macs: MACs on real-valued inputs per image (encoding layer once, see ``encoding_once``).
        acs: synaptic operations (accumulates fed by spikes) per image, summed over T.
        energy_mj: ``macs * e_mac_pj + acs * e_ac_pj`` in mJ per image.
        ann_macs: MACs per image of the ANN twin (one T=1 pass, every conv/matmul dense).
        ann_energy_mj: ``ann_macs * e_mac_pj`` in mJ per image.
        mean_firing_rate: total spikes / total neuron-time-steps over every spiking layer.
        firing_rates: neuron module name -> spikes / (neurons * T), averaged over the batch.
        spikes_per_image: spikes emitted by all layers per image (summed over T).
        param_count: number of parameters of the model.
        T: time steps of the forward; batch_size: images in ``example_input``.
        e_mac_pj, e_ac_pj: the energy costs used.
        layer_ops: module name -> {'macs', 'acs'} per image, for layers with a non-zero count.
        sj_simple_energy_mj: spikingjelly's ``estimate_simple_energy`` total per image (it adds
            BN, element-wise adds and memory traffic); only with ``include_sj_simple=True``.
    """

    macs: float
    acs: float
    energy_mj: float
    ann_macs: float
    ann_energy_mj: float
    mean_firing_rate: float
    firing_rates: dict[str, float]
    spikes_per_image: float
    param_count: int
    T: int
    batch_size: int
    e_mac_pj: float
    e_ac_pj: float
    layer_ops: dict[str, dict[str, float]] = field(default_factory=dict)
    sj_simple_energy_mj: float | None = None

    @property
    def sops(self) -> float:
        """Synaptic operations per image (same as ``acs``)."""
        return self.acs

    @property
    def energy_ratio(self) -> float:
        """ANN twin energy / SNN energy (``inf`` for an SNN that spends nothing)."""
        return self.ann_energy_mj / self.energy_mj if self.energy_mj > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every field plus the ``*_per_image`` names used in results rows."""
        d = asdict(self)
        d.update(
            sops_per_image=self.acs,
            macs_per_image=self.macs,
            energy_mj_per_image=self.energy_mj,
            ann_macs_per_image=self.ann_macs,
            ann_energy_mj_per_image=self.ann_energy_mj,
            energy_ratio=self.energy_ratio,
        )
        return d


# -- tensor classification -----------------------------------------------------------------------
def _is_binary(x: torch.Tensor) -> bool:
    if x.dtype == torch.bool:
        return True
    return bool((x.eq(0) | x.eq(1)).all().item())


def _is_spike_counts(x: torch.Tensor) -> bool:
    """Non-negative integer-valued float tensor that is not binary (SEW ADD output, event frames)."""
    if not x.is_floating_point() or _is_binary(x):
        return False
    return bool(((x >= 0) & (x == torch.round(x))).all().item())


def _repeated_over_time(x: torch.Tensor, T: int, B: int) -> bool:
    """True if ``x`` is [T*B, ...] with the same content at every one of the T steps."""
    if T <= 1 or x.dim() == 0 or x.shape[0] != T * B:
        return False
    xs = x.reshape(T, B, -1)
    return bool(xs.eq(xs[:1]).all().item())


# -- counting rules (wrapping spikingjelly's) ------------------------------------------------------
_MATMUL_OPS = ("mm", "addmm", "bmm", "baddbmm")


def _operands(op: str, args: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """(input/activation, weight-or-second operand) of a counted op."""
    if op in ("addmm", "baddbmm"):
        return args[1], args[2]
    return args[0], args[1]


def _count_weighted_synops(op: str, args: tuple) -> int:
    """SynOps when an operand holds spike counts: each count of k is k accumulates."""
    x, y = _operands(op, args)
    if op == "convolution":
        x, w, _, stride, padding, dilation, transposed, _output_padding, groups = args[:9]
        if transposed:  # rare in SNNs: fall back to FLOPs x mean count
            return int(x.sum().item() * prod(w.shape[1:]))
        return _spike_conv_weight_uses_from_tensors(x, w, stride, padding, dilation, groups)
    if op in ("mm", "addmm"):
        return int(x.sum().item()) * y.shape[1] if _is_spike_counts(x) else int(y.sum().item()) * x.shape[0]
    return int(x.sum().item()) * y.shape[2] if _is_spike_counts(x) else int(y.sum().item()) * x.shape[1]


def _has_counts(op: str, args: tuple) -> bool:
    x, y = _operands(op, args)
    # A binary operand is handled by spikingjelly's rules; counts only matter when neither is binary.
    return not (_is_binary(x) or _is_binary(y)) and (_is_spike_counts(x) or _is_spike_counts(y))


def _make_rules(T: int, B: int, integer_spikes_as_acs: bool, encoding_once: bool) -> tuple[dict, dict]:
    """(MAC rules, SynOp rules) for MACCounter / SynOpCounter's ``extra_rules``."""
    mac_rules: dict[Any, Callable] = {}
    syn_rules: dict[Any, Callable] = {}
    for op in ("convolution", *_MATMUL_OPS):
        key = getattr(aten, op).default
        sj_mac = getattr(_sj_mac, f"_mac_{op}")
        sj_syn = getattr(_sj_ac, f"_spike_{op}")

        def mac_rule(args, kwargs, out, op=op, sj_mac=sj_mac):
            if integer_spikes_as_acs and _has_counts(op, args):
                return 0
            n = sj_mac(args, kwargs, out)
            if n and encoding_once and _repeated_over_time(_operands(op, args)[0], T, B):
                n //= T
            return n

        def syn_rule(args, kwargs, out, op=op, sj_syn=sj_syn):
            if integer_spikes_as_acs and _has_counts(op, args):
                return _count_weighted_synops(op, args)
            return sj_syn(args, kwargs, out)

        mac_rules[key], syn_rules[key] = mac_rule, syn_rule
    for key in (aten.sum.dim_IntList, aten.sum.default):
        syn_rules[key] = _spike_sum_rule
    return mac_rules, syn_rules


def _spike_sum_rule(args, kwargs, out) -> int:
    """A sum of spikes (spike-driven attention: Spike-driven Transformer's column sum of K * V,
    QKFormer's per-token sum of Q) is one accumulate per spike: nnz, weighted by the count for
    spike-count tensors. Sums of real values (BN statistics, losses) are not synaptic: 0."""
    x = args[0]
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return 0
    if _is_binary(x) or _is_spike_counts(x):
        return int(x.sum().item())
    return 0


def _dense_conv(args, kwargs, out):
    x, w, transposed = args[0], args[1], args[6]
    spatial = x.shape[2:] if transposed else out.shape[2:]
    return prod(w.shape) * prod(spatial) * x.shape[0]


def _dense_mm(args, kwargs, out):
    x, y = args[:2]
    return x.shape[0] * x.shape[1] * y.shape[1]


def _dense_addmm(args, kwargs, out):
    return _dense_mm(args[1:], kwargs, out)


def _dense_bmm(args, kwargs, out):
    x, y = args[:2]
    return x.shape[0] * x.shape[1] * x.shape[2] * y.shape[2]


def _dense_baddbmm(args, kwargs, out):
    return _dense_bmm(args[1:], kwargs, out)


# MACCounter's own formulas without its "0 if an operand is binary" test: the value-independent
# MAC count that the ANN twin (ReLU, which never gives a binary tensor) executes.
_DENSE_RULES = {
    aten.convolution.default: _dense_conv,
    aten.mm.default: _dense_mm,
    aten.addmm.default: _dense_addmm,
    aten.bmm.default: _dense_bmm,
    aten.baddbmm.default: _dense_baddbmm,
}


def _time_and_batch(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(T, B) of the forward on ``x`` under the SpikingModel input contract."""
    try:
        B = batch_size(x)
    except ValueError as e:
        raise ValueError(f"energy_report's example_input: {e}") from None
    return (int(x.shape[0]) if is_sequence(x) else int(getattr(model, "T", 1) or 1)), B


def _layer_ops(mac: MACCounter, syn: SynOpCounter, model: nn.Module, B: int) -> dict[str, dict[str, float]]:
    """Per leaf module (named as in ``named_modules``) MACs/ACs per image, non-zero only."""
    root = type(model).__name__ + "."
    leaves = {name for name, m in model.named_modules() if name and not any(True for _ in m.children())}
    out: dict[str, dict[str, float]] = {}
    for kind, counter in (("macs", mac), ("acs", syn)):
        for scope, ops in counter.get_counts().items():
            name = scope[len(root) :] if scope.startswith(root) else None
            total = sum(ops.values())
            if name in leaves and total:
                out.setdefault(name, {"macs": 0.0, "acs": 0.0})[kind] = total / B
    return out


def energy_report(
    model: nn.Module,
    example_input: torch.Tensor,
    e_mac_pj: float = SimpleEnergyCostConfig.fp32().e_mac_pj,
    e_ac_pj: float = SimpleEnergyCostConfig.fp32().e_ac_pj,
    *,
    integer_spikes_as_acs: bool = True,
    encoding_once: bool = True,
    include_sj_simple: bool = False,
) -> EnergyReport:
    """Count MACs, SynOps and spikes of one forward of ``model`` on ``example_input``.

    Runs in eval mode under ``torch.no_grad()`` (the model's train/eval mode is restored) on the
    model's device. ``example_input`` is a batch [B, C, H, W] (direct encoding, T = ``model.T``)
    or event frames [T, B, C, H, W]; every number is per image (averaged over B), summed over T.

    Args:
        model: an snn_zoo ``SpikingModel`` (or any module with the same input contract).
        example_input: the batch to run; the counts depend on its spikes, so use real data.
        e_mac_pj, e_ac_pj: energy per MAC / AC in pJ (default: fp32, 45 nm).
        integer_spikes_as_acs: count spike-count tensors (SEW ADD, event frames) as ACs.
        encoding_once: count a conv/matmul on input repeated identically over T once.
        include_sj_simple: also run spikingjelly's ``estimate_simple_energy`` (a second forward)
            and report its total (compute incl. BN/adds + memory traffic) as ``sj_simple_energy_mj``.
    """
    SimpleEnergyCostConfig(e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj)  # validates: finite, >= 0
    T, B = _time_and_batch(model, example_input)
    mac_rules, syn_rules = _make_rules(T, B, integer_spikes_as_acs, encoding_once)
    mac = MACCounter(extra_rules=mac_rules, extra_ignore_modules=_BN_TYPES)
    syn = SynOpCounter(extra_rules=syn_rules, extra_ignore_modules=_BN_TYPES)
    dense = MACCounter(extra_rules=_DENSE_RULES, extra_ignore_modules=_BN_TYPES)
    dense.rules.pop(aten.native_batch_norm.default, None)

    param = next(model.parameters(), None)
    x = example_input.to(param.device) if param is not None else example_input
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), SpikeCounter(model) as spikes, DispatchCounterMode([mac, syn, dense]):
            model(x)
        sj_simple = None
        if include_sj_simple:
            cfg = SimpleEnergyConfig(cost_config=SimpleEnergyCostConfig(e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj))
            sj_simple = estimate_simple_energy(model, x, config=cfg).energy_total_pj / B / _PJ_PER_MJ
    finally:
        model.train(was_training)

    summary = spikes.summary()
    macs, acs = mac.get_total() / B, syn.get_total() / B
    ann_macs = dense.get_total() / (T * B)  # each conv/matmul ran once per step: / T = one ANN pass
    return EnergyReport(
        macs=macs,
        acs=acs,
        energy_mj=(macs * e_mac_pj + acs * e_ac_pj) / _PJ_PER_MJ,
        ann_macs=ann_macs,
        ann_energy_mj=ann_macs * e_mac_pj / _PJ_PER_MJ,
        mean_firing_rate=float(summary["firing_rate"]),
        firing_rates={name: float(v["firing_rate"]) for name, v in summary["layers"].items()},
        spikes_per_image=float(summary["spikes_per_sample"]),
        param_count=sum(p.numel() for p in model.parameters()),
        T=T,
        batch_size=B,
        e_mac_pj=float(e_mac_pj),
        e_ac_pj=float(e_ac_pj),
        layer_ops=_layer_ops(mac, syn, model, B),
        sj_simple_energy_mj=sj_simple,
    )
