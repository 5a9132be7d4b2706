"""timm-style entry points restricted to snn_zoo's architectures."""

from __future__ import annotations

import difflib
from pathlib import Path

import timm
import torch.nn as nn
from timm.models import split_model_name_tag

from .io import CONFIG_NAME, CheckpointError, preflight_hub, preflight_local
from .models import SNN_MODELS
from .models._availability import check_registered_tag, probe_hub
from .neurons.spec import SOFT_RESET

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


#: model_args a config.json may not carry: they would choose the weights (or read a local file) themselves.
_RESERVED_MODEL_ARGS = ("pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path", "cache_dir")


def _where(model_name: str) -> str:
    prefix, _, rest = model_name.partition(":")
    return f"{rest}/{CONFIG_NAME}" if prefix == "local-dir" else f"{CONFIG_NAME} of Hub repo {rest!r}"


def _check_model_args(model_name: str, config: dict) -> None:
    """A config.json's model_args may not pick weights or files (timm would merge them into its own call)."""
    reserved = sorted(k for k in (config.get("model_args") or {}) if k in _RESERVED_MODEL_ARGS)
    if reserved:
        raise CheckpointError(
            f"{_where(model_name)}: model_args holds {reserved}, which choose weights or files and are never read "
            f"from a checkpoint's config; remove them from model_args (re-save with snn_zoo.save_pretrained)."
        )


def _preflight(model_name: str, pretrained: bool, allow_pickle: bool) -> None:
    """Check hub/local checkpoints before timm loads them, for errors that say what to do."""
    from timm.models._hub import hf_split  # timm's own "org/name@revision" parser

    prefix, _, rest = model_name.partition(":")
    if prefix in ("hf-hub", "hf_hub"):
        repo_id, revision = hf_split(rest)
        probe_hub(repo_id, revision, lambda reason: CheckpointError(f"Hub repo {repo_id!r} {reason}."), False)
        _check_model_args(model_name, preflight_hub(rest, SNN_MODELS, allow_pickle=allow_pickle))
    elif prefix == "local-dir":
        _check_model_args(model_name, preflight_local(rest, SNN_MODELS))
    elif pretrained:
        cfg = timm.models.get_pretrained_cfg(model_name)
        if cfg is not None and cfg.hf_hub_id:
            check_registered_tag(model_name)  # one probe, no retries: a missing / unreachable repo fails at once
            preflight_hub(cfg.hf_hub_id, SNN_MODELS, allow_pickle=allow_pickle)


def _overlay_file(kwargs: dict, model_name: str, pretrained: bool) -> bool:
    """Check ``pretrained_cfg_overlay=dict(file=...)`` before any work: it needs pretrained=True, and the
    file must exist (``~`` expanded). Returns whether a local file replaces the Hub weights."""
    overlay = kwargs.get("pretrained_cfg_overlay") or {}
    if not isinstance(overlay, dict) or not overlay.get("file"):
        return False
    file = Path(str(overlay["file"])).expanduser()
    if not pretrained:
        raise ValueError(
            f"pretrained_cfg_overlay=dict(file={str(file)!r}) loads weights only with pretrained=True; without it "
            f"{model_name!r} would have random weights. Pass pretrained=True, or drop file=."
        )
    if not file.exists():
        raise CheckpointError(f"pretrained_cfg_overlay file {str(file)!r} does not exist; check the path.")
    if file.is_dir():
        raise CheckpointError(
            f"pretrained_cfg_overlay file {str(file)!r} is a folder; pass the checkpoint file in it, or load a "
            f"save_pretrained folder with create_model('local-dir:{file}', pretrained=True)."
        )
    kwargs["pretrained_cfg_overlay"] = {**overlay, "file": str(file)}
    return True


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
        if tag and f"{arch}.{tag}" not in list_pretrained(f"{arch}.*"):  # with or without pretrained=True
            raise ValueError(
                f"No pretrained checkpoint {model_name!r}; available for {arch}: "
                f"{list_pretrained(f'{arch}.*') or 'none'}."
            )
    elif model_name.startswith("local-dir:"):  # one expansion of ~ for the preflight and timm alike
        model_name = "local-dir:" + str(Path(model_name[len("local-dir:") :]).expanduser())
    if "v_reset" in kwargs and kwargs["v_reset"] is None:  # timm drops None kwargs; None means a soft reset
        kwargs["v_reset"] = SOFT_RESET
    # A local file (pretrained_cfg_overlay=dict(file=...)) replaces the Hub weights: nothing to check there;
    # the model builder reads it with the checkpoint layer's restricted reader.
    local_file = _overlay_file(kwargs, model_name, pretrained)
    if (pretrained and not local_file) or model_name.startswith(_PASS_THROUGH_PREFIXES):
        _preflight(model_name, pretrained, allow_pickle)
    try:
        return timm.create_model(model_name, pretrained=pretrained, **kwargs)
    except TypeError as e:  # a config.json's model_args the architecture does not take
        if not model_name.startswith(_PASS_THROUGH_PREFIXES) or "argument" not in str(e):
            raise
        raise CheckpointError(
            f"{_where(model_name)} has model_args the architecture does not accept ({e}); remove them, or "
            f"re-save the checkpoint with snn_zoo.save_pretrained(model, dir)."
        ) from e
    except RuntimeError as e:
        if not (pretrained and model_name.startswith(_PASS_THROUGH_PREFIXES) and "state_dict" in str(e)):
            raise
        raise _mismatch_error(model_name, e) from e


def _mismatch_error(model_name: str, error: RuntimeError) -> CheckpointError:
    """timm's many-line load_state_dict error as one CheckpointError naming the checkpoint's config.json."""
    where = _where(model_name)
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    shown = "; ".join(lines[:3]) + (f"; ... ({len(lines)} problems in all)" if len(lines) > 3 else "")
    return CheckpointError(
        f"The weights do not fit the architecture {where} describes: {shown}. The config.json "
        f"and model.safetensors come from different models; re-save them together with "
        f"snn_zoo.save_pretrained(model, dir)."
    )
