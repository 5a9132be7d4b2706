"""Pre-flight checks for Hub and local checkpoints, so bad repos fail with a clear message.

timm does the actual loading; these checks run first and turn the failures a user can
meet (offline without the file, no config.json, unknown architecture, pickle-only repo,
truncated or mismatched weights) into errors that say what is wrong and how to fix it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import (
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import safe_open
from timm.models._hub import hf_split

from ..models import SNN_MODELS

WEIGHTS_NAME = "model.safetensors"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.pth", "model.pth")


class CheckpointError(RuntimeError):
    """A checkpoint (Hub repo or folder) that cannot be loaded as an snn_zoo model."""


def _fetch(repo_id: str, filename: str, revision: Optional[str]) -> Optional[Path]:
    """Download (or take from cache) one file; None when the repo has no such file."""
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


def check_config(config_path: Optional[Path], where: str) -> dict:
    """Read a timm config.json and check that it names an snn_zoo architecture."""
    if config_path is None or not config_path.is_file():
        raise CheckpointError(
            f"{where} has no config.json, so the architecture is unknown; save checkpoints with "
            f"snn_zoo.save_pretrained(model, dir) or hub_scripts/distill.py, which write it."
        )
    config = json.loads(config_path.read_text())
    arch = config.get("architecture")
    if arch not in SNN_MODELS:
        raise CheckpointError(
            f"config.json of {where} names architecture {arch!r}, which is not an snn_zoo model; "
            f"known: {sorted(SNN_MODELS)}."
        )
    return config


def check_safetensors(path: Path, where: str) -> None:
    """Open the safetensors header and every tensor: catches truncated or corrupt files."""
    try:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                f.get_slice(key).get_shape()
    except Exception as e:  # safetensors raises its own error types for each corruption
        raise CheckpointError(f"{path.name} of {where} is corrupt or truncated ({e}); re-download or re-save it.") from e


def preflight_hub(repo: str, allow_pickle: bool = False) -> dict:
    """Check an 'org/name[@revision]' repo before timm loads it; returns its config."""
    repo_id, revision = hf_split(repo)  # timm's own "org/name@revision" parser
    where = f"Hub repo {repo_id!r} (revision {revision or 'main'})"
    config = check_config(_fetch(repo_id, "config.json", revision), where)
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
    else:
        check_safetensors(weights, where)
    return config


def preflight_local(path: str) -> dict:
    """Check a local checkpoint folder before timm loads it; returns its config."""
    folder = Path(path)
    where = f"folder {str(folder)!r}"
    if not folder.is_dir():
        raise CheckpointError(f"{where} does not exist.")
    config = check_config(folder / "config.json", where)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{where} has no {WEIGHTS_NAME}.")
    check_safetensors(weights, where)
    return config
