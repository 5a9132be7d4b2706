"""Publish a run folder or a model to the Hugging Face Hub: safetensors, config, card, results."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch.nn as nn
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError

from ..factory import create_model
from ..io import WEIGHTS_NAME, CheckpointError, atomic_write_text, is_pickle, preflight_local, save_pretrained
from ..models import SNN_MODELS
from ..nir.write import NIR_NAME, write_nir_beside
from .card import render_card

# What a published repo holds; everything else in a run folder (optimizer state, logs) stays home.
UPLOAD_PATTERNS = (WEIGHTS_NAME, "config.json", "README.md", "results.json", "*.png", "*.csv", NIR_NAME)


class PushError(RuntimeError):
    """The Hub could not be reached or refused the upload; nothing (more) was sent."""


def _is_transport_error(error: Exception) -> bool:
    """A connection-level failure (OSError, or an error of the HTTP client huggingface_hub uses)."""
    module = type(error).__module__.split(".")[0]
    return isinstance(error, OSError) or module in ("httpx", "httpx2", "httpcore", "requests", "urllib3")


def check_repo_id(repo_id: str) -> None:
    """'namespace/name' as the Hub accepts it (huggingface_hub's own validator), before any work."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise CheckpointError(f"Invalid --repo-id {repo_id!r}: {str(e).split('. Use')[0]}.") from e
    if "/" not in repo_id:
        raise CheckpointError(
            f"Invalid --repo-id {repo_id!r}: give it as 'namespace/name' (your user or org name "
            f"first), e.g. snn-zoo/{repo_id}."
        )


def left_out(run_dir: str | Path) -> list[str]:
    """Names in a run folder that a push does not upload (pickles, state/, logs), pickles marked."""
    run_dir = Path(run_dir)
    kept = {p.name for pattern in UPLOAD_PATTERNS for p in run_dir.glob(pattern)}
    return sorted(
        f"{p.name}{'/' if p.is_dir() else ''}{' (pickle: never uploaded)' if is_pickle(p) else ''}"
        for p in run_dir.iterdir()
        if p.name not in kept and not p.name.startswith(".")
    )


def upload_candidates(run_dir: str | Path) -> list[Path]:
    """The files of ``run_dir`` a push would upload (``UPLOAD_PATTERNS``), links checked.

    A symbolic link is uploaded as the file it points to only when that file lies inside the run
    folder (e.g. ``model.safetensors -> seed0/model.safetensors``); a link leaving the folder
    (``leak.csv -> /etc/passwd``, ``README.md -> ~/.cache/huggingface/token``) or a broken one is
    refused by name, so a push can never carry a file from elsewhere on the machine.
    """
    run_dir = Path(run_dir)
    root = run_dir.resolve()
    files, refused = [], []
    for pattern in UPLOAD_PATTERNS:
        for path in sorted(run_dir.glob(pattern)):
            if path.is_symlink():
                target = path.resolve()
                if not target.is_file() or not target.is_relative_to(root):
                    refused.append(f"{path.name} -> {os.readlink(path)}")
                    continue
            if path.is_file():
                files.append(path)
    if refused:
        raise CheckpointError(
            f"Run folder {str(run_dir)!r} holds symbolic links that leave it (or are broken): {', '.join(refused)}. "
            f"A push uploads only files inside the run folder; replace each link by a copy of the file you mean "
            f"to publish, or remove it. Nothing was staged or uploaded."
        )
    return files


def _param_count(folder: Path) -> int:
    """Parameters of the model in ``folder``, counted by building it (buffers excluded)."""
    return sum(p.numel() for p in create_model(f"local-dir:{folder}", pretrained=False).parameters())


def stage_upload(source: nn.Module | str | Path, folder: str | Path, repo_id: str | None = None) -> list[str]:
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
            pickles = sorted(p.name for p in run_dir.iterdir() if is_pickle(p))
            raise CheckpointError(
                f"{str(run_dir)!r} has no {WEIGHTS_NAME}"
                + (f" (only pickles {pickles}, never uploaded)" if pickles else "")
                + "; write one with snn_zoo.save_pretrained(model, dir)."
            )
        uploads = upload_candidates(run_dir)  # links leaving the folder are refused before anything is read
        preflight_local(
            run_dir, SNN_MODELS
        )  # check the source first, so errors name the user's folder, not the staging copy
        for path in uploads:
            shutil.copyfile(path, folder / path.name)  # the content (of a link inside the folder: its target)
    config = preflight_local(folder, SNN_MODELS)
    results_path = folder / "results.json"
    if not (folder / "README.md").exists():  # every push carries a card
        if results_path.exists():
            card = render_card(json.loads(results_path.read_text()), repo_id=repo_id)
        else:
            model = source if isinstance(source, nn.Module) else None
            count = sum(p.numel() for p in model.parameters()) if model is not None else _param_count(folder)
            card = render_card(config=config, repo_id=repo_id, param_count=count)
        atomic_write_text(folder / "README.md", card)
    _check_loadable(folder)
    write_nir_beside(folder)  # model.nir when NIR can express the model and snn_zoo[nir] is installed
    return sorted(p.name for p in folder.iterdir())


def _check_loadable(folder: Path) -> None:
    """Build the model from the staged folder: wrong tensor shapes fail here, before any upload."""
    try:
        create_model(f"local-dir:{folder}", pretrained=True)
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"The staged checkpoint does not load into its architecture: {e}") from e


def push_to_hub(
    source: nn.Module | str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    commit_message: str = "Add snn_zoo checkpoint",
    dry_run_dir: str | Path | None = None,
) -> str:
    """Upload a zoo model or run folder to ``repo_id``; returns the commit URL (or the dry-run folder).

    The token comes from ``token`` or huggingface_hub's usual sources (HF_TOKEN, the login
    cache); it is never printed. With ``dry_run_dir`` the exact upload folder is written
    there and nothing is sent.
    """
    check_repo_id(repo_id)
    if dry_run_dir is not None:
        stage_upload(source, dry_run_dir, repo_id)
        return str(dry_run_dir)
    token = token or get_token()
    if not token:
        raise CheckpointError(
            "No Hugging Face token found: run `hf auth login`, set HF_TOKEN, or pass token=...; nothing was uploaded."
        )
    with tempfile.TemporaryDirectory(prefix="snn_zoo_push_") as tmp:
        stage_upload(source, tmp, repo_id)
        return upload_staged(tmp, repo_id, token, private=private, revision=revision, commit_message=commit_message)


def upload_staged(
    folder: str | Path,
    repo_id: str,
    token: str,
    private: bool = False,
    revision: str | None = None,
    commit_message: str = "Add snn_zoo checkpoint",
) -> str:
    """Upload a folder made by :func:`stage_upload` as one commit (the Hub applies it whole or not at
    all); returns the commit URL. Refusals and transport failures are one :class:`PushError`."""
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            revision=revision,
            commit_message=commit_message,
        )
    except HfHubHTTPError as e:  # 401 / 403 / 404 / 5xx: the first line says what happened
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PushError(f"the Hub refused the push to {repo_id!r}: {first}") from e
    except Exception as e:  # no network, DNS, proxy, TLS, offline mode: the HTTP client's transport errors
        if not _is_transport_error(e):
            raise
        raise PushError(
            f"could not reach the Hugging Face Hub to push {repo_id!r} ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no details'}); check the network "
            f"(or HF_HUB_OFFLINE / HF_ENDPOINT) and retry. Nothing was uploaded."
        ) from e
    return str(info.commit_url)
