"""Publish a run folder or a model to the Hugging Face Hub: safetensors, config, card, results."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

import torch.nn as nn
from huggingface_hub import HfApi, get_token

from .card import render_model_card
from .load import CheckpointError, WEIGHTS_NAME, preflight_local
from .save import PICKLE_SUFFIXES, save_pretrained

# What a published repo holds; everything else in a run folder (optimizer state, logs) stays home.
UPLOAD_PATTERNS = (WEIGHTS_NAME, "config.json", "README.md", "results.json", "*.png", "*.csv")


def stage_upload(source: Union[nn.Module, str, Path], folder: Union[str, Path]) -> list[str]:
    """Fill ``folder`` with exactly the files a push uploads; returns their names.

    ``source`` is a zoo model or a run folder from hub_scripts/distill.py. Pickled weights
    are never staged; a folder whose weights are only a pickle is refused.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, nn.Module):
        save_pretrained(source, folder)
    else:
        run_dir = Path(source)
        if not run_dir.is_dir():
            raise CheckpointError(f"Run folder {str(run_dir)!r} does not exist.")
        if not (run_dir / WEIGHTS_NAME).is_file():
            pickles = sorted(p.name for p in run_dir.iterdir() if p.suffix in PICKLE_SUFFIXES)
            raise CheckpointError(
                f"{str(run_dir)!r} has no {WEIGHTS_NAME}" + (f" (only pickles {pickles}, never uploaded)" if pickles else "")
                + "; write one with snn_zoo.save_pretrained(model, dir)."
            )
        preflight_local(str(run_dir))  # check the source first, so errors name the user's folder, not the staging copy
        for pattern in UPLOAD_PATTERNS:
            for path in run_dir.glob(pattern):
                shutil.copy2(path, folder / path.name)
    results_path = folder / "results.json"
    if not (folder / "README.md").exists() and results_path.exists():
        (folder / "README.md").write_text(render_model_card(json.loads(results_path.read_text())))
    preflight_local(str(folder))
    _check_loadable(folder)
    return sorted(p.name for p in folder.iterdir())


def _check_loadable(folder: Path) -> None:
    """Build the model from the staged folder: wrong tensor shapes fail here, before any upload."""
    from ..factory import create_model

    try:
        create_model(f"local-dir:{folder}", pretrained=True)
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"The staged checkpoint does not load into its architecture: {e}") from e


def push_to_hub(
    source: Union[nn.Module, str, Path],
    repo_id: str,
    token: Optional[str] = None,
    private: bool = False,
    revision: Optional[str] = None,
    commit_message: str = "Add snn_zoo checkpoint",
    dry_run_dir: Optional[Union[str, Path]] = None,
) -> str:
    """Upload a zoo model or run folder to ``repo_id``; returns the commit URL (or the dry-run folder).

    The token comes from ``token`` or huggingface_hub's usual sources (HF_TOKEN, the login
    cache); it is never printed. With ``dry_run_dir`` the exact upload folder is written
    there and nothing is sent.
    """
    if dry_run_dir is not None:
        stage_upload(source, dry_run_dir)
        return str(dry_run_dir)
    token = token or get_token()
    if not token:
        raise CheckpointError(
            "No Hugging Face token found: run `hf auth login`, set HF_TOKEN, or pass token=...; nothing was uploaded."
        )
    with tempfile.TemporaryDirectory(prefix="snn_zoo_push_") as tmp:
        stage_upload(source, tmp)
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        info = api.upload_folder(
            folder_path=tmp, repo_id=repo_id, revision=revision, commit_message=commit_message,
        )
    return str(info.commit_url)
