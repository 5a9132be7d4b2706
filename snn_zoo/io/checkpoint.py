"""The one checkpoint layer: find, read, validate and load weights (safetensors first, pickles guarded).

Everything in snn_zoo that touches a checkpoint file goes through here: ``create_model``'s
pre-flight for ``hf-hub:`` / ``local-dir:`` names, ``validate.py --checkpoint``, the teacher loader
of ``distill.py`` and the push staging. Every failure is a :class:`CheckpointError` that names the
file (or Hub repo) and says how to fix it.

Pickled checkpoints (``.pth``, ``.pth.tar``, ``.bin``, ...) are read with
``torch.load(weights_only=True)``: no code runs, and besides tensors and plain containers only the
metadata official training scripts store is allowed (``argparse.Namespace``, the ``args`` of
timm-style ``.pth.tar`` files). Anything else is refused with its name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pickle
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .atomic import PathLike

_logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: File endings of pickled (torch.save) checkpoints: read only through torch.load(weights_only=True), never uploaded.
PICKLE_SUFFIXES = (".pth.tar", ".pth", ".pt", ".bin", ".ckpt", ".tar", ".pkl", ".pickle")
#: Pickle weight files a Hub repo may hold instead of model.safetensors (timm / transformers names).
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.pth", "model.pth")
#: The only non-tensor objects a pickled checkpoint may contain: timm-style scripts store their
#: command-line ``args`` (an argparse.Namespace) next to the weights.
SAFE_PICKLE_GLOBALS = (argparse.Namespace,)
#: Where training scripts nest the weights, in the order they are looked for (timm's
#: ``load_state_dict(use_ema=True)`` order: the EMA weights are what timm's train.py validates
#: and reports when EMA is on; SEW-ResNet's scripts use ``model``).
EMA_KEYS = ("state_dict_ema", "model_ema")
STATE_KEYS = ("state_dict", "model", "module")
#: Wrapper prefixes stripped when every key carries them (DDP, torch.compile).
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

__all__ = [
    "CONFIG_NAME",
    "PICKLE_SUFFIXES",
    "PICKLE_WEIGHTS",
    "SAFE_PICKLE_GLOBALS",
    "WEIGHTS_NAME",
    "CheckpointError",
    "check_dtypes",
    "check_finite",
    "check_fits",
    "check_safetensors",
    "config_num_classes",
    "find_checkpoint",
    "is_pickle",
    "load_weights",
    "non_finite_tensors",
    "preflight_hub",
    "preflight_local",
    "read_config",
    "read_state_dict",
    "save_pretrained",
    "unwrap_state_dict",
]


class CheckpointError(ValueError):
    """A checkpoint (file, folder or Hub repo) that cannot be loaded; the message names it and says why."""


def is_pickle(path: PathLike) -> bool:
    """True for a pickled (torch.save) checkpoint file name."""
    return str(path).lower().endswith(PICKLE_SUFFIXES)


# -- finding ------------------------------------------------------------------------------------------
def find_checkpoint(path: PathLike, allow_pickle: bool = False) -> Path:
    """The weights file of ``path`` (a run folder or a file).

    A folder gives its ``model.safetensors``, else its only ``*.safetensors``; with
    ``allow_pickle`` its only pickle (``pytorch_model.bin`` first). A file must be safetensors
    (or, with ``allow_pickle``, a pickle).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"Checkpoint {str(path)!r} does not exist.")
    if path.is_dir():
        if (path / WEIGHTS_NAME).is_file():
            return path / WEIGHTS_NAME
        found = sorted(path.glob("*.safetensors"))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise CheckpointError(
                f"Folder {str(path)!r} has no {WEIGHTS_NAME} but several .safetensors files "
                f"{[p.name for p in found]}; pass the one to load as a file path."
            )
        pickles = sorted(p for p in path.iterdir() if p.is_file() and is_pickle(p))
        if pickles and allow_pickle:
            preferred = [p for p in pickles if p.name in PICKLE_WEIGHTS]
            if len(preferred) == 1 or len(pickles) == 1:
                return (preferred or pickles)[0]
            raise CheckpointError(
                f"Folder {str(path)!r} holds several pickle checkpoints {[p.name for p in pickles]}; "
                f"pass the one to load as a file path."
            )
        hint = (
            f" It holds pickle checkpoints {[p.name for p in pickles]}, which load only when you trust them "
            f"(allow_pickle=True; read with torch.load(weights_only=True)) or after converting them with "
            f"safetensors.torch.save_file."
            if pickles
            else ""
        )
        raise CheckpointError(f"Folder {str(path)!r} has no {WEIGHTS_NAME}.{hint}")
    if path.suffix == ".safetensors" or (allow_pickle and is_pickle(path)):
        return path
    if is_pickle(path):
        raise CheckpointError(
            f"Checkpoint {str(path)!r} is a pickle, which can run code when loaded. Pass allow_pickle=True "
            f"(read with torch.load(weights_only=True)) if you trust it, or give a .safetensors file or a run "
            f"folder holding {WEIGHTS_NAME}."
        )
    raise CheckpointError(
        f"Checkpoint {str(path)!r} is neither a .safetensors file nor a torch pickle "
        f"({', '.join(PICKLE_SUFFIXES)}); pass a run folder holding {WEIGHTS_NAME} or the file itself."
    )


# -- config.json --------------------------------------------------------------------------------------
def read_config(path: PathLike, architectures: Collection[str] | None = None, expected: str | None = None) -> dict:
    """Read timm's ``config.json`` (``path`` is the file or its folder) and check what it says.

    ``architectures``: the names it may give (snn_zoo passes its registry); ``expected``: the
    architecture the caller is building. Missing, truncated, non-object or wrong-architecture
    files raise :class:`CheckpointError` naming the file.
    """
    path = Path(path)
    file = path / CONFIG_NAME if path.is_dir() else path
    if not file.is_file():
        raise CheckpointError(
            f"{str(file.parent)!r} has no {CONFIG_NAME}, so the architecture is unknown; save checkpoints with "
            f"snn_zoo.save_pretrained(model, dir) or hub_scripts/distill.py, which write it."
        )
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(
            f"{str(file)!r} is not valid JSON (truncated or corrupt: {e}); re-download or re-save the checkpoint."
        ) from e
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{str(file)!r} holds a JSON {type(config).__name__}, not an object with "
            f"'architecture' and 'model_args'; re-save the checkpoint with snn_zoo.save_pretrained."
        )
    arch = config.get("architecture")
    if architectures is not None and arch not in architectures:
        raise CheckpointError(
            f"{str(file)!r} names architecture {arch!r}, which is not an snn_zoo model; known: {sorted(architectures)}."
        )
    if expected is not None and arch is not None and arch != expected:
        raise CheckpointError(
            f"{str(file)!r} is a checkpoint of {arch!r}, not of {expected!r}; pass --model {arch} "
            f"(or load it with create_model('local-dir:{file.parent}'))."
        )
    if "model_args" in config and not isinstance(config["model_args"], dict):
        raise CheckpointError(f"{str(file)!r}: 'model_args' must be an object, got {config['model_args']!r}.")
    return config


# -- state dicts --------------------------------------------------------------------------------------
def check_safetensors(file: PathLike, where: str | None = None, finite: bool = True) -> None:
    """Open a safetensors file's header and every tensor, without keeping them: catches malformed
    headers, truncation and (``finite``) NaN/inf values, tensor by tensor."""
    from safetensors import safe_open

    file = Path(file)
    name = where or repr(str(file))
    bad: list[str] = []
    try:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                tensor = f.get_tensor(key)
                if finite and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                    bad.append(key)
    except Exception as e:  # safetensors raises its own error types for each corruption
        raise CheckpointError(f"{file.name} of {name} is corrupt or truncated ({e}); re-download or re-save it.") from e
    if bad:
        raise _non_finite_error(file, bad)


def _non_finite_error(file: PathLike, names: list[str]) -> CheckpointError:
    shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
    return CheckpointError(
        f"{str(file)!r} has non-finite values (NaN or inf) in {len(names)} tensor(s): {shown}. "
        f"The run that wrote it diverged; retrain (e.g. with a lower --lr) or use an earlier checkpoint."
    )


def _read_pickle(file: Path) -> Any:
    try:
        with torch.serialization.safe_globals(list(SAFE_PICKLE_GLOBALS)):
            return torch.load(str(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL)\s+([\w.]+)", str(e))
        obj = found.group(1) if found else None
        if obj or "Weights only load failed" in str(e):
            what = f"the object {obj!r}" if obj else "an object"
            raise CheckpointError(
                f"{str(file)!r} contains {what}, which is not allowed in a checkpoint (only tensors, plain containers "
                f"and {[g.__module__ + '.' + g.__qualname__ for g in SAFE_PICKLE_GLOBALS]}); loading it would run "
                f"code. Re-save just the weights: safetensors.torch.save_file(state_dict, 'model.safetensors')."
            ) from e
        raise CheckpointError(f"{str(file)!r} is not a readable torch checkpoint ({e}).") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{str(file)!r} is corrupt or truncated and cannot be read as a torch checkpoint "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); re-download it."
        ) from e


def unwrap_state_dict(obj: Any, file: PathLike = "checkpoint", use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The tensor dict inside a loaded checkpoint.

    Training scripts nest the weights: ``state_dict`` (timm), ``model`` (SEW-ResNet, DeiT),
    ``state_dict_ema`` / ``model_ema`` (EMA copies). With ``use_ema`` (timm's default in
    ``timm.models.load_checkpoint``) an EMA copy wins, because it is the model timm's train.py
    evaluates and reports when EMA is on; otherwise the raw weights. ``module.`` / ``_orig_mod.``
    prefixes (DDP, torch.compile) are stripped when every key has them.
    """
    keys = (*EMA_KEYS, *STATE_KEYS) if use_ema else (*STATE_KEYS, *EMA_KEYS)
    while isinstance(obj, Mapping) and not _is_tensor_dict(obj):
        found = [k for k in keys if isinstance(obj.get(k), Mapping)]
        if not found:
            raise CheckpointError(
                f"{str(file)!r} holds no state dict: top-level keys {sorted(map(str, obj))[:10]}; "
                f"expected tensors or one of {list(keys)}."
            )
        if any(k in EMA_KEYS for k in found) and any(k in STATE_KEYS for k in found):
            _logger.warning(
                "%r holds both EMA and raw weights (%s); loading %r%s.",
                str(file),
                ", ".join(found),
                found[0],
                " (timm's default; use_ema=False loads the raw weights)" if use_ema else " (use_ema=False)",
            )
        obj = obj[found[0]]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{str(file)!r} holds a {type(obj).__name__}, not a state dict of tensors.")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _is_tensor_dict(obj: Mapping) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def read_state_dict(file: PathLike, use_ema: bool = True, finite: bool = True) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors or pickle checkpoint file, on the CPU; see :func:`unwrap_state_dict`.

    ``finite``: refuse NaN/inf tensors (naming them)."""
    file = Path(file)
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(file), device="cpu")
        except Exception as e:  # safetensors raises its own error types for each corruption
            raise CheckpointError(f"{str(file)!r} is corrupt or truncated ({e}); re-download or re-save it.") from e
        state = unwrap_state_dict(state, file, use_ema)
    elif is_pickle(file):
        state = unwrap_state_dict(_read_pickle(file), file, use_ema)
    else:
        raise CheckpointError(
            f"{str(file)!r} is neither .safetensors nor a torch pickle ({', '.join(PICKLE_SUFFIXES)})."
        )
    if finite:
        check_finite(state, file)
    return state


def check_finite(state: Mapping[str, torch.Tensor], file: PathLike = "state dict") -> None:
    """Raise :class:`CheckpointError` naming every floating tensor with NaN or inf values."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise _non_finite_error(file, bad)


def non_finite_tensors(module: nn.Module) -> list[str]:
    """Names of the parameters and buffers of ``module`` holding NaN or inf (what a save would write)."""
    return [
        k
        for k, v in module.state_dict().items()
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def _dtype_kind(dtype: torch.dtype) -> str:
    if dtype.is_floating_point:
        return "floating-point"
    if dtype.is_complex:
        return "complex"
    return "boolean" if dtype == torch.bool else "integer"


def check_dtypes(
    model: nn.Module | Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], file: PathLike = "checkpoint"
) -> None:
    """Refuse tensors whose dtype is of another kind than the model's (integer / boolean / complex vs
    floating point): ``load_state_dict`` would copy int8 values into float weights as plain numbers.

    Floating-point tensors of another precision (fp16, bf16, fp64) are cast to the model's dtype, as
    ``load_state_dict`` does; that is the one cast allowed. ``model``: a module or its state dict.
    """
    own = model.state_dict() if isinstance(model, nn.Module) else model
    bad = [
        f"{k}: {v.dtype} vs model {own[k].dtype}"
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and k in own and _dtype_kind(v.dtype) != _dtype_kind(own[k].dtype)
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
        raise CheckpointError(
            f"Checkpoint {str(file)!r} holds tensors of another dtype kind than the model's ({shown}); they would "
            f"load as plain numbers (a quantized or mislabelled export). Only floating-point precisions are cast. "
            f"Save the model's own weights: snn_zoo.save_pretrained(model, dir)."
        )


def check_fits(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    file: PathLike = "checkpoint",
    strict: bool = True,
    hint: str = "",
) -> dict[str, torch.Tensor]:
    """Match ``state`` to ``model``: returns the dict to load, or raises naming the keys and shapes that differ.

    A state dict saved from a ``Distiller`` (``student.*`` keys) gives its student part.
    """
    own = model.state_dict()
    state = dict(state)
    if not any(k in own for k in state) and any(k.startswith("student.") for k in state):
        state = {k[len("student.") :]: v for k, v in state.items() if k.startswith("student.")}
    check_dtypes(own, state, file)
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if shapes or (strict and (missing or unexpected)):
        parts = []
        if shapes:
            parts.append(f"shape mismatch ({len(shapes)}): {shapes[:5]}")
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {unexpected[:5]}")
        raise CheckpointError(
            f"Checkpoint {str(file)!r} does not fit {type(model).__name__}: "
            + "; ".join(parts)
            + "."
            + (f" {hint}" if hint else "")
        )
    return state


def load_weights(
    model: nn.Module,
    checkpoint: PathLike,
    strict: bool = True,
    allow_pickle: bool = False,
    use_ema: bool = True,
    hint: str = "",
) -> Path:
    """Find, read, check (finite, fits) and load a checkpoint into ``model``; returns the file loaded."""
    file = find_checkpoint(checkpoint, allow_pickle=allow_pickle)
    state = check_fits(model, read_state_dict(file, use_ema=use_ema), file, strict=strict, hint=hint)
    model.load_state_dict(state, strict=strict)
    return file


def config_num_classes(config: Mapping[str, Any]) -> int | None:
    """The class count a timm config.json records (top level, else in model_args)."""
    value = config.get("num_classes", (config.get("model_args") or {}).get("num_classes"))
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# -- folders and Hub repos, checked before timm loads them ---------------------------------------------
def preflight_local(path: PathLike, architectures: Collection[str] | None = None) -> dict:
    """Check a checkpoint folder (config.json + model.safetensors, all tensors finite); returns its config."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(f"folder {str(folder)!r} does not exist.")
    config = read_config(folder, architectures)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if is_pickle(p))
        raise CheckpointError(
            f"folder {str(folder)!r} has no {WEIGHTS_NAME}"
            + (f" (only pickles {pickles})" if pickles else "")
            + "; write one with snn_zoo.save_pretrained(model, dir)."
        )
    check_safetensors(weights, f"folder {str(folder)!r}")
    return config


def _fetch(repo_id: str, filename: str, revision: str | None) -> Path | None:
    """Download (or take from cache) one file of a Hub repo; None when the repo has no such file."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except RemoteEntryNotFoundError:
        return None
    except RevisionNotFoundError as e:
        raise CheckpointError(f"Hub repo {repo_id!r} has no revision {revision!r}.") from e
    except RepositoryNotFoundError as e:
        raise CheckpointError(f"Hub repo {repo_id!r} was not found (revision {revision or 'main'}).") from e
    except LocalEntryNotFoundError as e:
        raise CheckpointError(
            f"{filename!r} of {repo_id!r} (revision {revision or 'main'}) is not in the local Hugging Face "
            f"cache and the Hub cannot be reached (HF_HUB_OFFLINE is set or there is no network). Fetch it "
            f"once while online: `hf download {repo_id} {filename}"
            f"{f' --revision {revision}' if revision else ''}` (or run without HF_HUB_OFFLINE=1)."
        ) from e


def preflight_hub(repo: str, architectures: Collection[str] | None = None, allow_pickle: bool = False) -> dict:
    """Check an 'org/name[@revision]' Hub repo before timm loads it; returns its config."""
    from timm.models._hub import hf_split  # timm's own "org/name@revision" parser

    repo_id, revision = hf_split(repo)
    where = f"Hub repo {repo_id!r} (revision {revision or 'main'})"
    config_file = _fetch(repo_id, CONFIG_NAME, revision)
    if config_file is None:
        raise CheckpointError(
            f"{where} has no {CONFIG_NAME}, so the architecture is unknown; save checkpoints with "
            f"snn_zoo.save_pretrained(model, dir) or hub_scripts/distill.py, which write it."
        )
    try:
        config = read_config(config_file, architectures)
    except CheckpointError as e:
        raise CheckpointError(f"{where}: {e}") from e
    weights = _fetch(repo_id, WEIGHTS_NAME, revision)
    if weights is None:
        pickles = [name for name in PICKLE_WEIGHTS if _fetch(repo_id, name, revision) is not None]
        if not pickles:
            raise CheckpointError(f"{where} has no {WEIGHTS_NAME}.")
        if not allow_pickle:
            raise CheckpointError(
                f"{where} only has pickle weights {pickles}; snn_zoo loads safetensors. Pass "
                f"allow_pickle=True to load them with torch.load(weights_only=True) if you trust the repo."
            )
        for name in pickles[:1]:
            read_state_dict(_fetch(repo_id, name, revision))  # allowlisted unpickling, finite values
    else:
        check_safetensors(weights, where)
    return config


# -- writing -------------------------------------------------------------------------------------------
def save_pretrained(model: nn.Module, directory: PathLike, model_args: dict | None = None) -> Path:
    """Save ``model`` so ``create_model("local-dir:<directory>")`` rebuilds it, in snn_zoo or timm.

    Writes ``model.safetensors`` (never a pickle) and timm's ``config.json`` whose ``model_args``
    carry the SNN settings (T, neuron, surrogate, ...). Refuses a model with NaN/inf parameters or
    buffers. Files are staged in the folder and moved into place one by one, so a crash (or a full
    disk) never leaves a half-written file and keeps the previous ones intact.
    """
    import shutil

    from timm.models import save_for_hf

    from .atomic import no_space_error, stage_files_into

    bad = non_finite_tensors(model)
    if bad:
        raise _non_finite_error(Path(directory) / WEIGHTS_NAME, bad)
    _check_untied(model, Path(directory) / WEIGHTS_NAME)
    # The model's own normalised SNN settings win over the raw kwargs timm recorded (numpy numbers, None),
    # and numpy numbers among the rest (sizes given as np.int64) become the JSON numbers they stand for.
    recorded = {k: v.item() for k, v in getattr(model, "_model_args", {}).items() if isinstance(v, np.generic)}
    model_args = {**recorded, **getattr(model, "snn_args", {}), **(model_args or {})}
    directory = Path(directory)
    created = [p for p in (directory, *directory.parents) if not p.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        save_for_hf(model, staging, model_args=model_args, safe_serialization=True)
        stage_files_into(staging, directory)
    except BaseException as e:
        # Asked before the staged files go: safetensors reports a full disk as its own SafetensorError.
        error = no_space_error(directory / WEIGHTS_NAME, e)
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # leave no empty folder behind that this call made
            with contextlib.suppress(OSError):
                folder.rmdir()
        if error is e:
            raise
        raise error from e
    shutil.rmtree(staging, ignore_errors=True)
    return directory


def _check_untied(model: nn.Module, file: Path) -> None:
    """safetensors stores every tensor once: refuse tensors that share memory, naming them, before writing."""
    groups: dict[tuple, list[str]] = {}
    for name, tensor in model.state_dict(keep_vars=False).items():
        if isinstance(tensor, torch.Tensor) and tensor.numel() and tensor.device.type != "meta":
            storage = tensor.untyped_storage()
            groups.setdefault((tensor.device, storage.data_ptr()), []).append(name)
    shared = [names for names in groups.values() if len(names) > 1]
    if shared:
        raise CheckpointError(
            f"Cannot save {str(file)!r}: tensors share memory (tied weights) {shared[:3]}; safetensors stores "
            f"each tensor once. Untie them before saving: b.weight = nn.Parameter(a.weight.detach().clone())."
        )
