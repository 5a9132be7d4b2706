"""Shared pieces of the families' ``checkpoint_filter_fn``: official checkpoints -> our layout.

Each family file lists its key renames (regex -> replacement) and its training-only keys; this
module applies them, converts the layers the official code stores differently (Linear / Conv1d
weights that are our 1x1 convs, a conv bias right before a BatchNorm that our variant omits), and
validates the result against the model **before** anything is copied: keys that match nothing,
keys the model needs but the checkpoint lacks, and shapes of another size are one error that names
the checkpoint's family / size and the model's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn as nn

from ..io import CheckpointError

StateDict = dict[str, torch.Tensor]
Rule = tuple[str, str]  # (regex on the full key, replacement)

# Official layouts, recognised by keys only they have (for errors that name what a file is).
_SIGNATURES: Sequence[tuple[str, Callable[[Mapping[str, torch.Tensor]], bool]]] = (
    (
        "Spikformer (official CML tokenizer, BKDSNN)",
        lambda sd: "patch_embed.block1_conv.weight" in sd and "patch_embed.rpe_conv.weight" in sd,
    ),
    ("Spike-driven Transformer (official)", lambda sd: any(k.endswith("attn.talking_heads.weight") for k in sd)),
    (
        "Spike-driven Transformer (snn_zoo)",
        lambda sd: "patch_embed.rpe_conv.weight" in sd and "patch_embed.stages.3.conv.weight" in sd,
    ),
    ("Spikformer (official)", lambda sd: "patch_embed.rpe_conv.weight" in sd),
    ("QKFormer (official)", lambda sd: "patch_embed1.proj_res_conv.weight" in sd),
    ("QKFormer (snn_zoo)", lambda sd: "patch_embeds.0.shortcut.conv.weight" in sd),
    ("Meta-SpikeFormer (official)", lambda sd: "downsample1_1.encode_conv.weight" in sd),
    ("Meta-SpikeFormer (snn_zoo)", lambda sd: "stages.0.downsample.conv.weight" in sd),
    ("Spikformer (snn_zoo)", lambda sd: "patch_embed.rpe.conv.weight" in sd),
    ("Spikingformer (official CIFAR)", lambda sd: "patch_embed.block0_conv.weight" in sd),
    ("Spikingformer / Spikingformer-CML (official)", lambda sd: "patch_embed.proj4_conv.weight" in sd),
    ("Spikingformer (snn_zoo)", lambda sd: "patch_embed.stages.4.conv.weight" in sd),
    ("ResNet-19 (SAKD)", lambda sd: "fc_.weight" in sd),
    ("ResNet-19 (snn_zoo)", lambda sd: "fc2.weight" in sd and "layer3.0.conv1.weight" in sd),
    ("SEW-ResNet (official, old spikingjelly keys)", lambda sd: any(".downsample.0.module." in k for k in sd)),
    ("Spiking-ResNet (official, old spikingjelly keys)", lambda sd: any(".downsample.module." in k for k in sd)),
    ("SEW / Spiking ResNet (old spikingjelly keys)", lambda sd: any(re.search(r"\.conv\d\.module\.", k) for k in sd)),
    ("SEW / Spiking ResNet (torchvision keys)", lambda sd: "layer1.0.conv1.weight" in sd),
    ("a layout not recognised here", lambda sd: True),
)


def describe_layout(state: Mapping[str, torch.Tensor]) -> str:
    """The family a state dict looks like, plus its size (blocks / widths / classes)."""
    family = next(name for name, test in _SIGNATURES if test(state))
    return f"{family}, {describe_size(state)}"


def describe_size(state: Mapping[str, torch.Tensor]) -> str:
    """Depth, width and classes as far as the keys tell them."""
    blocks = {int(m.group(1)) for k in state for m in [re.match(r"^blocks?\.(\d+)\.", k)] if m}
    stages = {}
    for k in state:
        m = re.match(r"^layer(\d+)\.(\d+)\.", k)
        if m:
            stages[int(m.group(1))] = max(stages.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    head = next((state[k] for k in ("head.weight", "fc.weight", "fc_.weight", "fc2.weight") if k in state), None)
    parts = []
    if blocks:
        parts.append(f"{max(blocks) + 1} blocks")
    if stages:
        parts.append(f"blocks per stage {[stages[i] for i in sorted(stages)]}")
    if head is not None and head.dim() == 2:
        parts.append(f"width {head.shape[1]}, {head.shape[0]} classes")
    return ", ".join(parts) or f"{len(state)} tensors"


def rename(state: Mapping[str, torch.Tensor], rules: Iterable[Rule]) -> StateDict:
    """Apply every rule, in order, to every key (``block.3.attn.q_linear`` needs two)."""
    compiled = [(re.compile(p), r) for p, r in rules]
    out: StateDict = {}
    for key, value in state.items():
        for pattern, repl in compiled:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


def drop(state: Mapping[str, torch.Tensor], patterns: Iterable[str]) -> StateDict:
    """Remove keys the official model carries for training only (KD transforms, unused LayerNorms)."""
    compiled = [re.compile(p) for p in patterns]
    return {k: v for k, v in state.items() if not any(p.search(k) for p in compiled)}


def fold_conv_bias_into_bn(state: StateDict, model_state: Mapping[str, torch.Tensor]) -> StateDict:
    """A conv bias our variant omits (``x_conv.bias`` absent from the model) right before its
    BatchNorm ``x_bn``: BN(conv(x) + b) == BN'(conv(x)) with running_mean' = running_mean - b, exact
    in eval. The bias is dropped and the BN's running mean shifted."""
    for key in [k for k in state if k.endswith("_conv.bias") and k not in model_state]:
        bn = key[: -len("_conv.bias")] + "_bn.running_mean"
        if bn in state and f"{key[:-5]}.weight" in model_state and state[bn].shape == state[key].shape:
            state[bn] = state[bn] - state.pop(key)
    return state


def match_conv_shapes(state: StateDict, model_state: Mapping[str, torch.Tensor]) -> StateDict:
    """Linear [out, in] or Conv1d [out, in, 1] weights stored for what our model holds as a 1x1
    conv of the same numbers (or the reverse): reshape, never re-order."""
    for key, value in state.items():
        target = model_state.get(key)
        if (
            target is not None
            and value.shape != target.shape
            and value.numel() == target.numel()
            and key.endswith(".weight")
            and value.dim() in (2, 3, 4)
            and target.dim() in (2, 3, 4)
            and value.shape[:2] == target.shape[:2]
        ):
            state[key] = value.reshape(target.shape)
    return state


def _pretrained_mismatch_ok(model: nn.Module) -> tuple[set, set]:
    """Keys timm itself adapts after the filter: the classifier when the model's class count differs
    from the pretrained cfg's (timm drops it), the first conv when in_chans differs (timm adapts it)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    skip_shape, skip_missing = set(), set()
    classifier = cfg.get("classifier")
    if classifier and cfg.get("num_classes") not in (None, getattr(model, "num_classes", None)):
        names = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        skip_shape |= {f"{n}.{p}" for n in names for p in ("weight", "bias")}
        skip_missing |= skip_shape
    first_conv = cfg.get("first_conv")
    input_size = cfg.get("input_size") or (None,)
    if first_conv and input_size[0] not in (None, getattr(model, "in_chans", None)):
        names = (first_conv,) if isinstance(first_conv, str) else tuple(first_conv)
        skip_shape |= {f"{n}.weight" for n in names}
    return skip_shape, skip_missing


def validate(state: StateDict, model: nn.Module, source: Mapping[str, torch.Tensor], arch: str) -> StateDict:
    """Raise one :class:`CheckpointError` for unknown keys, missing keys or other sizes; else return ``state``.

    ``source`` is the checkpoint as read (before renaming), used to say what the file looks like.
    """
    model_state = model.state_dict()
    skip_shape, skip_missing = _pretrained_mismatch_ok(model)
    unknown = sorted(k for k in state if k not in model_state)
    missing = sorted(k for k in model_state if k not in state and k not in skip_missing)
    wrong = sorted(
        k
        for k in state
        if k in model_state and k not in skip_shape and tuple(state[k].shape) != tuple(model_state[k].shape)
    )
    if not (unknown or missing or wrong):
        return state
    what = f"the checkpoint looks like {describe_layout(source)}; the model is {arch} ({describe_size(model_state)})"
    if wrong and not unknown and not missing:
        shapes = ", ".join(f"{k} {tuple(state[k].shape)} vs {tuple(model_state[k].shape)}" for k in wrong[:5])
        hint = ""
        head = [k for k in wrong if k.endswith(("head.weight", "fc.weight", "fc2.weight"))]
        if head and all(k.rsplit(".", 1)[0] == head[0].rsplit(".", 1)[0] for k in wrong):
            hint = f" Only the classifier differs: pass num_classes={state[head[0]].shape[0]}."
        raise CheckpointError(
            f"Checkpoint does not fit {arch}: {what}. Tensors of another size (checkpoint vs "
            f"model): {shapes}{' ...' if len(wrong) > 5 else ''}.{hint} Nothing was loaded."
        )
    lines = []
    if unknown:
        lines.append(f"{len(unknown)} keys match nothing in {arch}: {unknown[:8]}{' ...' if len(unknown) > 8 else ''}")
    if missing:
        lines.append(f"{len(missing)} keys of {arch} are missing: {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    if wrong:
        lines.append(f"{len(wrong)} tensors have another size: {wrong[:5]}")
    raise CheckpointError(
        f"Checkpoint does not fit {arch}: {what}. "
        + "; ".join(lines)
        + ". Pick the architecture this checkpoint was trained as (see snn_zoo.list_models()). "
        "Nothing was loaded."
    )


def port_state_dict(
    state: Mapping[str, torch.Tensor],
    model: nn.Module,
    rules: Iterable[Rule] = (),
    training_only: Iterable[str] = (),
    arch: str | None = None,
) -> StateDict:
    """Rename, drop training-only keys, reshape Linear/Conv1d weights, fold pre-BN conv biases,
    then :func:`validate`. A checkpoint already in our layout passes through unchanged."""
    arch = arch or getattr(model, "pretrained_cfg", {}).get("architecture") or type(model).__name__
    model_state = model.state_dict()
    out = drop(rename(state, rules), training_only)
    out = match_conv_shapes(fold_conv_bias_into_bn(out, model_state), model_state)
    return validate(out, model, state, arch)


# -- ported tags --------------------------------------------------------------------------------------
#: 'arch.tag' -> what the authors released and reported, for READMEs, cards and hub_scripts/port_official.py.
PORTED: dict[str, dict[str, object]] = {}
PORTED_STATUS = "ported, not yet re-validated"  # the card (model_cards/<tag>.md) holds the current status


def ported_cfg(
    name: str,
    *,
    repo: str,
    origin_url: str,
    top1: float,
    dataset: str,
    license: str,
    source_license: str,
    snn_args: Mapping[str, object],
    reported_in: str,
    paper_ids=(),
    **cfg,
) -> dict[str, object]:
    """Cfg of an official checkpoint ported to snn_zoo ('arch.tag').

    ``hf_hub_id`` is ``snn-zoo/arch.tag`` (where :mod:`hub_scripts.port_official` output is pushed);
    ``snn_args`` holds the authors' neuron settings and T so that the tag alone reproduces their
    forward; ``top1`` is the accuracy the authors report (``reported_in`` says where), not one we measured.
    ``license`` is the Hub license id of the weights ('other' where none fits), ``source_license`` the
    source repository's license as it states it.
    """
    from ._builder import HUB_ORG, snn_cfg

    PORTED[name] = dict(
        repo=repo,
        origin_url=origin_url,
        top1=top1,
        dataset=dataset,
        license=license,
        source_license=source_license,
        reported_in=reported_in,
        snn_args=dict(snn_args),
    )
    notes = (
        f"Ported from the authors ({repo}); reported top-1 {top1:.2f}% on {dataset} ({reported_in}); "
        f"upload and re-validation pending."
    )
    return snn_cfg(
        hf_hub_id=f"{HUB_ORG}/{name}",
        origin_url=origin_url,
        paper_ids=paper_ids,
        license=license,
        notes=notes,
        snn_args=dict(snn_args),
        **cfg,
    )


def ported_weights() -> dict[str, dict[str, object]]:
    """Every ported official checkpoint: 'arch.tag' -> repo, origin_url, top1, dataset, license,
    source_license, reported_in, snn_args."""
    return {name: dict(info) for name, info in PORTED.items()}


__all__ = [
    "PORTED_STATUS",
    "describe_layout",
    "describe_size",
    "drop",
    "fold_conv_bias_into_bn",
    "match_conv_shapes",
    "port_state_dict",
    "ported_cfg",
    "ported_weights",
    "rename",
    "validate",
]
