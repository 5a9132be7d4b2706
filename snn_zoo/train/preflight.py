"""Checks that run before any training starts, and the run-level bookkeeping that makes resume safe.

``distill.py`` must fail in its first second on bad input, not after a 30-epoch teacher: names of
the student and teacher, the teacher checkpoint, the output folder (a file, under a file, not
writable) and, on ``--resume``, that the saved run was made with the same recipe.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..factory import is_model, list_models
from ..io import CheckpointError, atomic_write_text, find_checkpoint, read_config
from .recipe import Recipe
from .state import find_run_state

RECIPE_FILE = "recipe.json"
#: Fields that never change what a run computes: they may differ on --resume without a word.
RESUME_IGNORED = frozenset({"output", "log_with", "num_workers", "data_dir"})
#: Fields --allow-recipe-change may change on --resume (the rest would mix two runs' optimizer states).
RESUME_SAFE_CHANGES = frozenset({"epochs", "teacher_epochs", "max_steps_per_epoch", "cooldown_epochs"})

__all__ = ["RESUME_SAFE_CHANGES", "RunClock", "check_names", "check_output_dir", "check_resume", "preflight"]


class PreflightError(ValueError):
    """Bad input found before training; the message says what is wrong and how to fix it."""


def _close(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    return f" Close matches: {close}." if close else ""


def check_names(recipe: Recipe) -> None:
    """The student is an snn_zoo architecture; the teacher is 'twin', an snn_zoo or a timm model."""
    import timm
    from timm.models import split_model_name_tag

    if not is_model(recipe.model):
        raise PreflightError(
            f"Unknown student model {recipe.model!r}.{_close(recipe.model, list_models())} See snn_zoo.list_models()."
        )
    if get_needs_teacher(recipe) and recipe.teacher != "twin" and not is_model(recipe.teacher):
        arch = split_model_name_tag(recipe.teacher)[0]
        if not timm.is_model(arch):
            raise PreflightError(
                f"Unknown teacher {recipe.teacher!r}: not 'twin', an snn_zoo model or a timm model."
                f"{_close(arch, [*list_models(), *timm.list_models()])}"
            )
    if get_needs_teacher(recipe) and recipe.teacher_checkpoint:
        try:
            file = find_checkpoint(recipe.teacher_checkpoint, allow_pickle=True)
        except CheckpointError as e:
            raise CheckpointError(f"--teacher-checkpoint: {e}") from e
        if (file.parent / "config.json").is_file():
            read_config(file.parent)  # truncated / not an object -> CheckpointError naming the file


def get_needs_teacher(recipe: Recipe) -> bool:
    from ..distill import get_method

    return get_method(recipe.method).needs_teacher


def check_output_dir(output: Path) -> None:
    """``output`` is (or can become) a writable folder: not a file, not under a file."""
    for parent in [output, *output.parents]:
        if parent.exists():
            if not parent.is_dir():
                where = "is a file" if parent == output else f"is under {str(parent)!r}, which is a file"
                raise PreflightError(f"--output {str(output)!r} {where}; choose a folder path.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PreflightError(
                    f"--output {str(output)!r} is not writable ({str(parent)!r} does not allow "
                    f"writing for this user); choose another folder."
                )
            break


def check_classes(recipe: Recipe, info) -> None:
    """Classification needs at least two classes (one class gives a meaningless 100 % top-1)."""
    if info.num_classes < 2:
        where = f" in {recipe.data_dir!r}" if recipe.data_dir else ""
        raise PreflightError(
            f"Dataset {recipe.dataset!r}{where} has {info.num_classes} class(es); classification "
            f"needs at least 2 classes (one sub-folder per class for an image folder)."
        )


def check_batches(recipe: Recipe, num_train: int, num_processes: int = 1) -> None:
    """At least one full training batch per process: the training loader drops the last partial batch,
    so a set smaller than the batch would train zero steps and still report a result."""
    per_process = max(1, recipe.batch_size // num_processes)
    if num_train // num_processes < per_process:
        raise PreflightError(
            f"The training set has {num_train} sample(s), fewer than one batch of {recipe.batch_size} "
            f"({per_process} per process x {num_processes}); partial batches are dropped, so nothing "
            f"would be trained. Lower --batch-size or add data."
        )


def _changed_fields(saved: dict, recipe: Recipe) -> dict:
    now = json.loads(json.dumps(recipe.to_dict()))  # same JSON types as the saved copy
    keys = (set(saved) | set(now)) - RESUME_IGNORED
    return {k: (saved.get(k), now.get(k)) for k in sorted(keys) if saved.get(k) != now.get(k)}


def check_resume(recipe: Recipe, allow_changes: Iterable[str] = ()) -> dict | None:
    """On --resume: the saved recipe must match (except fields in ``allow_changes`` that are safe).

    Returns the saved recipe (None for a run without one)."""
    file = recipe.output_dir / RECIPE_FILE
    if not file.is_file():
        return None
    try:
        saved = json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise PreflightError(f"{str(file)!r} is corrupt ({e}); start a new --output.") from e
    allowed = set(allow_changes)
    unsafe = sorted(allowed - RESUME_SAFE_CHANGES)
    if unsafe:
        raise PreflightError(
            f"--allow-recipe-change {','.join(unsafe)}: only {sorted(RESUME_SAFE_CHANGES)} may change "
            f"on resume; the others would mix two runs."
        )
    changed = {k: v for k, v in _changed_fields(saved, recipe).items() if k not in allowed}
    if changed:
        listing = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        safe = sorted(set(changed) & RESUME_SAFE_CHANGES)
        hint = f" To continue with new {', '.join(safe)} pass --allow-recipe-change {','.join(safe)}." if safe else ""
        raise PreflightError(
            f"--resume of {str(recipe.output_dir)!r} with a different recipe ({listing}); resume with "
            f"the saved values or start a new --output.{hint}"
        )
    return saved


def save_recipe(recipe: Recipe) -> None:
    """The recipe a run was started with, compared on every --resume."""
    atomic_write_text(recipe.output_dir / RECIPE_FILE, json.dumps(recipe.to_dict(), indent=2))


def preflight(recipe: Recipe, resume: bool = False, allow_changes: Iterable[str] = ()) -> str:
    """Every check that needs no data or model weights; returns a one-line note about resuming ('' if none)."""
    check_output_dir(recipe.output_dir)
    check_names(recipe)
    if not resume:
        return ""
    saved = check_resume(recipe, allow_changes)
    out = recipe.output_dir
    unchanged = saved is None or not _changed_fields(saved, recipe)
    if unchanged and (out / "results.json").is_file() and find_run_state(out) is not None:
        return "complete"
    if find_run_state(out) is None and find_run_state(out / "teacher") is None:
        return f"--resume: no saved state in {str(out)!r}; starting from scratch."
    return ""


class RunClock:
    """Wall seconds of the whole run across resumes: what the saved states recorded plus this process's.

    Time between the last saved epoch and a kill is lost with that epoch's work."""

    def __init__(self, previous: float = 0.0) -> None:
        self.previous, self.start = previous, time.perf_counter()

    def __call__(self) -> float:
        return self.previous + time.perf_counter() - self.start

    @classmethod
    def resumed(cls, output: Path) -> RunClock:
        seconds = 0.0
        for folder in (output, output / "teacher"):
            state = find_run_state(folder)
            if state is not None:
                seconds = max(seconds, float(json.loads((state / "meta.json").read_text()).get("run_seconds") or 0.0))
        return cls(seconds)
