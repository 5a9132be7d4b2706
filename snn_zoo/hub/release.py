"""Publish every pretrained tag in one resumable command: find, port, re-validate, push, report.

:func:`release` walks ``list_pretrained()``. A ported tag's file is looked up in ``--from DIR`` by
the names of the authors' files manifest (:mod:`snn_zoo.models._authors_files`), as
``DIR/<tag>.pth`` / ``.pth.tar`` / ``.safetensors``, or as the only checkpoint in ``DIR/<tag>/``;
its SHA-256 is checked where the manifest records one; it is ported into ``WORK/<tag>``
(:func:`snn_zoo.hub.port.port_checkpoint`) and, with ``data_dir``, re-validated on
``data_dir/<imagenet|cifar10|cifar100>`` (an ImageFolder of the validation split). A measured top-1
more than ``margin`` points below the authors' (or above it: a file of another tag trained on the same
data and architecture has the same shapes) is not pushed unless ``accept_drop``. The zoo's own
tags are pushed from ``zoo_dir/<tag>`` (their numbers were measured by the training run).

Resumable: a port whose source file (by SHA-256) and data are unchanged is reused; a repo whose
remote files already equal the staged ones is skipped; each repo is one commit, which the Hub applies
whole or not at all. So a killed release loses nothing and a rerun finishes the rest. Every step that
can refuse (file, checksum, port, re-validation, staging checks) runs before that tag's upload.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..factory import list_pretrained
from ..io import PICKLE_SUFFIXES, CheckpointError, atomic_write_text
from ..models import ported_weights
from ..models._authors_files import AUTHORS_FILES, AuthorsFile, dataset_key
from ..models._builder import HUB_ORG
from ..nir.write import NIR_NAME
from .port import PORT_MARK, data_id, port_checkpoint, sha256_of
from .push import PushError, _is_transport_error, stage_upload, upload_staged

__all__ = ["DEFAULT_MARGIN", "ReleaseRow", "find_authors_file", "release", "release_table", "remote_matches"]

#: Points of top-1 a re-validated port may fall short of the authors' number and still be pushed.
#: Re-measuring with another torch / spikingjelly, image decoder and resize gives a few tenths.
DEFAULT_MARGIN = 1.0
_CHECKPOINT_SUFFIXES = (*PICKLE_SUFFIXES, ".safetensors")
#: Staged files computed from model.safetensors + config.json (the NIR graph): compared by presence only.
DERIVED_FILES = (NIR_NAME,)


@dataclass
class ReleaseRow:
    """What happened to one tag: each column says done / not done, ``why`` says why it stopped."""

    tag: str
    found: str = "-"
    ported: str = "-"
    validated: str = "-"
    pushed: str = "-"
    why: str = ""

    @property
    def refused(self) -> bool:
        """The tag was refused (file, checksum, port, re-validation) or a step failed: nothing was pushed."""
        return self.why.startswith("refused:") or "failed:" in self.why

    def note(self, text: str) -> None:
        """Add a reason to ``why`` (a pushed tag may carry several: not re-validated; up to date)."""
        self.why = f"{self.why}; {text}" if self.why else text


def find_authors_file(from_dir: Path, tag: str, entry: AuthorsFile) -> tuple[Path | None, str]:
    """The authors' file of ``tag`` in ``from_dir``: (path, '') or (None, what was looked for / why refused)."""
    candidates: list[Path] = []
    folder = from_dir / tag
    if folder.is_dir():
        inside = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(_CHECKPOINT_SUFFIXES))
        if len(inside) > 1:
            return None, f"{folder} holds several checkpoints ({', '.join(p.name for p in inside)}); keep one"
        candidates += inside
    candidates += [from_dir / f"{tag}{suffix}" for suffix in (".pth", ".pth.tar", ".safetensors")]
    candidates += [from_dir / name for name in entry.names]
    found = {p.resolve(): p for p in candidates if p.is_file()}
    if len(found) > 1:
        return None, f"several files match: {', '.join(str(p) for p in found.values())}; keep one"
    if found:
        return next(iter(found.values())), ""
    looked = [*(entry.names), f"{tag}.pth", f"{tag}/<any checkpoint>"]
    return None, f"no file in --from (looked for {', '.join(looked)})"


def _git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def remote_matches(folder: Path, repo_id: str, token: str | None, revision: str | None = None) -> bool:
    """True when the Hub repo already holds every file of ``folder`` with the same content
    (LFS files by SHA-256, regular files by git blob id)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        remote = {f.path: f for f in HfApi(token=token).list_repo_tree(repo_id, revision=revision, recursive=True)}
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return False
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        entry = remote.get(path.name)
        if entry is None or not hasattr(entry, "blob_id"):
            return False
        if path.name in DERIVED_FILES:  # re-derived from the weights on every staging, not byte-stable
            continue
        lfs = getattr(entry, "lfs", None)
        same = lfs.sha256 == sha256_of(path) if lfs else entry.blob_id == _git_blob_sha(path.read_bytes())
        if not same:
            return False
    return True


def _select(tags: list[str], only: Iterable[str] | None) -> set[str]:
    if not only:
        return set(tags)
    chosen: set[str] = set()
    for pattern in only:
        hits = fnmatch.filter(tags, pattern)
        if not hits:
            raise ValueError(f"--only {pattern!r} matches no pretrained tag; see snn_zoo.list_pretrained().")
        chosen.update(hits)
    return chosen


def _val_folder(data_dir: Path | None, key: str) -> Path | None:
    if data_dir is None:
        return None
    for candidate in (data_dir / key / "val", data_dir / key):
        if candidate.is_dir():
            return candidate
    return None


def _reusable(work: Path, sha256: str, val: Path | None) -> dict | None:
    """results.json of an earlier port in ``work`` from the same file (and measured on the same data)."""
    try:
        results = json.loads((work / "results.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(results, dict) or (results.get(PORT_MARK) or {}).get("sha256") != sha256:
        return None
    measured = results.get("measured")
    if (val is None) != (measured is None) or (measured and measured.get("data_id") != data_id(val)):
        return None
    return results


def release(
    from_dir: str | Path,
    work_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    zoo_dir: str | Path | None = None,
    cards_dir: str | Path | None = None,
    dry_run: bool = False,
    only: Iterable[str] | None = None,
    accept_drop: bool = False,
    margin: float = DEFAULT_MARGIN,
    token: str | None = None,
    org: str = HUB_ORG,
    manifest: Mapping[str, AuthorsFile] | None = None,
    model_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    max_batches: int | None = None,
    workers: int = 4,
    energy_samples: int = 16,
    log: Callable[[str], None] = print,
) -> list[ReleaseRow]:
    """Release every pretrained tag (or those matching ``only``); returns one row per tag.

    ``work_dir`` keeps the ported folders (and ``release.json``, the last table) between runs;
    ``cards_dir`` (e.g. the repo's model_cards/) receives each ported tag's card; ``manifest`` and
    ``model_kwargs`` (per tag, e.g. tiny test sizes) override the package's manifest and the
    registered sizes. Bad arguments raise before any tag is touched; a tag's own failure is its row.
    """
    from huggingface_hub import get_token

    from_dir, work_dir = Path(from_dir).expanduser(), Path(work_dir).expanduser()
    if not from_dir.is_dir():
        raise ValueError(f"--from {str(from_dir)!r} is not a folder; give the folder holding the authors' files.")
    data_dir = Path(data_dir).expanduser() if data_dir is not None else None
    if data_dir is not None and not data_dir.is_dir():
        raise ValueError(f"--data-dir {str(data_dir)!r} is not a folder (it holds imagenet/, cifar10/, cifar100/).")
    zoo_dir = Path(zoo_dir).expanduser() if zoo_dir is not None else None
    if margin < 0:
        raise ValueError(f"--margin must be >= 0 points, got {margin}.")
    if not dry_run:
        token = token or get_token()
        if not token:
            raise CheckpointError("No Hugging Face token found: run `hf auth login` or set HF_TOKEN; nothing was done.")
    tags = list_pretrained()
    selected = _select(tags, only)
    manifest = AUTHORS_FILES if manifest is None else manifest
    ported = ported_weights()
    work_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for tag in tags:
        row = ReleaseRow(tag)
        rows.append(row)
        if tag not in selected:
            row.why = "not in --only"
            continue
        try:
            if tag in ported:
                folder = _prepare_ported(
                    tag, row, from_dir, work_dir, data_dir, manifest.get(tag, AuthorsFile()), ported[tag],
                    accept_drop, margin, dict((model_kwargs or {}).get(tag, {})),
                    dict(device=device, batch_size=batch_size, max_batches=max_batches, workers=workers,
                         energy_samples=energy_samples, log=log),
                )  # fmt: skip
                if folder is not None and cards_dir is not None and not dry_run:  # a dry run writes only WORK
                    Path(cards_dir).mkdir(parents=True, exist_ok=True)
                    atomic_write_text(Path(cards_dir) / f"{tag}.md", (folder / "README.md").read_text())
            else:
                folder = _prepare_zoo(tag, row, zoo_dir)
            if folder is not None:
                _push(folder, f"{org}/{tag}", row, token, dry_run)
        except (CheckpointError, PushError, ValueError, OSError) as e:
            row.note(f"failed: {' '.join(str(e).split())}")
        log(f"{tag}: found {row.found}, ported {row.ported}, validated {row.validated}, pushed {row.pushed}"
            + (f" ({row.why})" if row.why else ""))  # fmt: skip
    atomic_write_text(work_dir / "release.json", json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return rows


def _prepare_ported(
    tag: str,
    row: ReleaseRow,
    from_dir: Path,
    work_dir: Path,
    data_dir: Path | None,
    entry: AuthorsFile,
    info: Mapping[str, Any],
    accept_drop: bool,
    margin: float,
    kwargs: dict[str, Any],
    options: dict[str, Any],
) -> Path | None:
    """Find, check, port and re-validate one ported tag; the folder to push, or None (row says why)."""
    file, why = find_authors_file(from_dir, tag, entry)
    if file is None:  # not downloaded (a plain skip), or several candidates (refused: which one is it?)
        row.found, row.why = "no", why if why.startswith("no file") else f"refused: {why}"
        return None
    row.found = file.name
    sha = sha256_of(file)
    options["log"](f"{tag}: {file} sha256 {sha}")  # what the manifest can record once the file is trusted
    if entry.sha256 and sha != entry.sha256.lower():
        row.why = f"refused: checksum mismatch for {file.name} (manifest {entry.sha256[:12]}..., file {sha[:12]}...)"
        return None
    key = dataset_key(info)
    val = _val_folder(data_dir, key)
    work = work_dir / tag
    results = _reusable(work, sha, val)
    if results is not None:
        row.ported = "yes (reused)"
    else:
        if work.is_symlink():
            row.why = f"refused: the work folder {work} is a symbolic link; remove it (the release writes there)"
            return None
        try:
            if work.exists():  # an earlier port from another file or data: the new port replaces it whole
                shutil.rmtree(work)
            results = port_checkpoint(tag, file, work, data_dir=val, model_kwargs=kwargs, **options)
        except (CheckpointError, ValueError) as e:
            row.ported, row.why = "no", f"refused: port failed: {' '.join(str(e).split())}"
            return None
        row.ported = "yes"
    measured, reported = results.get("measured"), float(info["top1"])
    if measured is None:
        row.validated = "no"
        row.why = f"not re-validated: no {key}/ in --data-dir" if data_dir is not None else "not re-validated"
        return work
    gap = reported - float(measured["top1"])
    row.validated = f"{measured['top1']:.2f}% (reported {reported:.2f}%)"
    if abs(gap) > margin:  # far above the authors' number is as suspect as below: another tag's file?
        where = f"{gap:.2f} points below" if gap > 0 else f"{-gap:.2f} points above"
        if not accept_drop:
            row.why = (
                f"refused: measured top-1 is {where} the reported {reported:.2f}% (margin {margin:g}); check the "
                f"data, the transform and that the file is this tag's, or pass --accept-drop"
            )
            return None
        row.note(f"accepted: measured top-1 {where} the reported (--accept-drop)")
    return work


def _prepare_zoo(tag: str, row: ReleaseRow, zoo_dir: Path | None) -> Path | None:
    """One of the zoo's own tags: its run folder, measured by the training run."""
    folder = zoo_dir / tag if zoo_dir is not None else None
    if folder is None or not folder.is_dir():
        row.found, row.why = "no", f"no run folder {folder}" if folder is not None else "no --zoo-dir"
        return None
    row.found, row.ported = str(folder), "n/a (own)"
    try:
        top1 = json.loads((folder / "results.json").read_text())["top1"]
        row.validated = f"{float(top1):.2f}% (training run)"
    except (OSError, ValueError, KeyError, TypeError):
        row.validated = "no results.json"
    return folder


def _push(folder: Path, repo_id: str, row: ReleaseRow, token: str | None, dry_run: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="snn_zoo_release_") as tmp:
        stage_upload(folder, tmp, repo_id)  # the push's own checks: config, finite weights, loads, card
        if dry_run:
            row.pushed = "would push"
            return
        try:
            same = remote_matches(Path(tmp), repo_id, token)
        except Exception as e:  # no network, DNS, proxy: one line in the row, the next tag is tried
            if not _is_transport_error(e):
                raise
            raise PushError(f"could not reach the Hugging Face Hub to compare {repo_id!r} ({type(e).__name__})") from e
        if same:
            row.pushed = "skipped"
            row.note("remote files already match")
            return
        upload_staged(tmp, repo_id, token, commit_message=f"Release {repo_id.split('/')[-1]} (hub_scripts/release.py)")
        row.pushed = "yes"


def release_table(rows: Iterable[ReleaseRow]) -> str:
    """The closing markdown table: found / ported / validated / pushed / skipped and why."""
    lines = ["| Tag | Found | Ported | Validated | Pushed | Skipped / why |", "|---|---|---|---|---|---|"]
    lines += [f"| `{r.tag}` | {r.found} | {r.ported} | {r.validated} | {r.pushed} | {r.why or '-'} |" for r in rows]
    return "\n".join(lines) + "\n"
