"""timm-style entry points restricted to snn_zoo's architectures."""

from __future__ import annotations

import difflib

import timm
import torch.nn as nn
from timm.models import split_model_name_tag

from .io import CheckpointError, preflight_hub, preflight_local
from .models import SNN_MODELS

_PASS_THROUGH_PREFIXES = ("hf-hub:", "hf_hub:", "local-dir:")


def list_models(filter: str | list = "", pretrained: bool = False) -> list[str]:
    """snn_zoo architecture names (``pretrained=True``: 'arch.tag' names with weights)."""
    names = timm.list_models(filter or "", pretrained=pretrained)
    return [n for n in names if split_model_name_tag(n)[0] in SNN_MODELS]


def list_pretrained(filter: str | list = "") -> list[str]:
    """'arch.tag' names of published checkpoints."""
    return [name for name in list_models(filter, pretrained=True) if split_model_name_tag(name)[1]]


def is_model(name: str) -> bool:
    """True if ``name`` (with or without a tag) is an snn_zoo architecture."""
    return split_model_name_tag(name)[0] in SNN_MODELS


def _preflight(model_name: str, pretrained: bool, allow_pickle: bool) -> None:
    """Check hub/local checkpoints before timm loads them, for errors that say what to do."""
    prefix, _, rest = model_name.partition(":")
    if prefix in ("hf-hub", "hf_hub"):
        preflight_hub(rest, SNN_MODELS, allow_pickle=allow_pickle)
    elif prefix == "local-dir":
        preflight_local(rest, SNN_MODELS)
    elif pretrained:
        cfg = timm.models.get_pretrained_cfg(model_name)
        if cfg is not None and cfg.hf_hub_id:
            preflight_hub(cfg.hf_hub_id, SNN_MODELS, allow_pickle=allow_pickle)


def create_model(model_name: str, pretrained: bool = False, allow_pickle: bool = False, **kwargs) -> nn.Module:
    """Create a spiking model by name, exactly like ``timm.create_model``.

    ``model_name`` is 'arch', 'arch.tag' (a pretrained checkpoint), 'hf-hub:org/name' or
    'local-dir:/path'. SNN kwargs: T, neuron ('if'|'lif'|'plif'|'relu'), surrogate, tau,
    v_threshold, detach_reset, backend ('auto'|'torch'|'cupy'); plus timm's num_classes, in_chans.
    Checkpoints load from safetensors; ``allow_pickle=True`` lets a pickle-only Hub repo load
    through ``torch.load(weights_only=True)``. ``pretrained=True,
    pretrained_cfg_overlay=dict(file=PATH)`` loads a local ``.safetensors`` / ``.pth`` / ``.pth.tar``,
    including the authors' official checkpoints (mapped by the family's ``checkpoint_filter_fn``).
    """
    if not model_name.startswith(_PASS_THROUGH_PREFIXES):
        arch, tag = split_model_name_tag(model_name)
        if arch not in SNN_MODELS:
            close = difflib.get_close_matches(arch, sorted(SNN_MODELS), n=3, cutoff=0.5)
            hint = f" Close matches: {close}." if close else ""
            raise ValueError(f"Unknown snn_zoo model {model_name!r}.{hint} See snn_zoo.list_models() for all names.")
        if tag and pretrained and f"{arch}.{tag}" not in list_pretrained(f"{arch}.*"):
            raise ValueError(
                f"No pretrained checkpoint {model_name!r}; available for {arch}: "
                f"{list_pretrained(f'{arch}.*') or 'none'}."
            )
    # A local file (pretrained_cfg_overlay=dict(file=...)) replaces the Hub weights: nothing to check there;
    # the model builder reads it with the checkpoint layer's restricted reader.
    local_file = bool((kwargs.get("pretrained_cfg_overlay") or {}).get("file"))
    if (pretrained and not local_file) or model_name.startswith(_PASS_THROUGH_PREFIXES):
        _preflight(model_name, pretrained, allow_pickle)
    try:
        return timm.create_model(model_name, pretrained=pretrained, **kwargs)
    except RuntimeError as e:
        if not (pretrained and model_name.startswith(_PASS_THROUGH_PREFIXES) and "state_dict" in str(e)):
            raise
        raise _mismatch_error(model_name, e) from e


def _mismatch_error(model_name: str, error: RuntimeError) -> CheckpointError:
    """timm's many-line load_state_dict error as one CheckpointError naming the checkpoint's config.json."""
    prefix, _, rest = model_name.partition(":")
    where = f"{rest}/config.json" if prefix == "local-dir" else f"config.json of Hub repo {rest!r}"
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    shown = "; ".join(lines[:3]) + (f"; ... ({len(lines)} problems in all)" if len(lines) > 3 else "")
    return CheckpointError(
        f"The weights do not fit the architecture {where} describes: {shown}. The config.json "
        f"and model.safetensors come from different models; re-save them together with "
        f"snn_zoo.save_pretrained(model, dir)."
    )
