"""The run folder: one run owns it, a fresh run never mixes with another run's files, ``--resume`` is safe.

Checked before any work: the folder is writable (not a file, not under a file); a fresh run is refused
where another run left its files (``--resume`` continues that run); a second process writing the same
folder is refused while the first holds its lock; on ``--resume`` the saved recipe must match.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..io import atomic_write_text
from .recipe import Recipe
from .state import find_run_state

RECIPE_FILE = "recipe.json"
LOCK_FILE = ".lock"
#: Files and folders a run leaves: a fresh run refuses a folder holding any of them.
RUN_FILES = (
    "recipe.json",
    "results.json",
    "model.safetensors",
    "config.json",
    "train_log.csv",
    "state",
    "state.old",
    "teacher",
)
#: Fields that never change what a run computes: they may differ on --resume without a word.
RESUME_IGNORED = frozenset({"output", "log_with", "num_workers", "data_dir"})
#: Fields --allow-recipe-change may change on --resume (the rest would mix two runs' optimizer states).
RESUME_SAFE_CHANGES = frozenset({"epochs", "teacher_epochs", "max_steps_per_epoch", "cooldown_epochs"})

__all__ = ["RESUME_SAFE_CHANGES", "RunClock", "RunFolder", "RunFolderError"]


class RunFolderError(ValueError):
    """The run folder cannot be used as asked; the message says what to do instead."""


def _changed_fields(saved: dict, recipe: Recipe) -> dict:
    now = json.loads(json.dumps(recipe.to_dict()))  # same JSON types as the saved copy
    keys = (set(saved) | set(now)) - RESUME_IGNORED
    return {k: (saved.get(k), now.get(k)) for k in sorted(keys) if saved.get(k) != now.get(k)}


class RunFolder:
    """``recipe.output_dir`` as one run's property. Use :meth:`claim` first, :meth:`release` at the end."""

    def __init__(self, recipe: Recipe, path: Path | None = None, main_process: bool = True) -> None:
        self.recipe, self.main = recipe, main_process
        self.path = Path(path) if path is not None else recipe.output_dir
        self._lock = None

    def check_writable(self) -> None:
        """The folder is (or can become) a writable folder: not a file, not under a file."""
        output = self.path
        for parent in [output, *output.parents]:
            if parent.exists():
                if not parent.is_dir():
                    where = "is a file" if parent == output else f"is under {str(parent)!r}, which is a file"
                    raise RunFolderError(f"--output {str(output)!r} {where}; choose a folder path.")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise RunFolderError(
                        f"--output {str(output)!r} is not writable ({str(parent)!r} does not allow writing for "
                        f"this user); choose another folder."
                    )
                break

    def _saved_recipe(self) -> dict | None:
        file = self.path / RECIPE_FILE
        if not file.is_file():
            return None
        try:
            return json.loads(file.read_text())
        except json.JSONDecodeError as e:
            raise RunFolderError(f"{str(file)!r} is corrupt ({e}); start a new --output.") from e

    def check_resume(self, allow_changes: Iterable[str] = ()) -> dict | None:
        """The saved recipe must match, except safe fields named in ``allow_changes``; returns it (None if none)."""
        saved = self._saved_recipe()
        allowed = set(allow_changes)
        unsafe = sorted(allowed - RESUME_SAFE_CHANGES)
        if unsafe:
            raise RunFolderError(
                f"--allow-recipe-change {','.join(unsafe)}: only {sorted(RESUME_SAFE_CHANGES)} may change on resume; "
                f"the others would mix two runs."
            )
        if saved is None:
            return None
        changed = {k: v for k, v in _changed_fields(saved, self.recipe).items() if k not in allowed}
        if changed:
            listing = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            safe = sorted(set(changed) & RESUME_SAFE_CHANGES)
            hint = (
                f" To continue with new {', '.join(safe)} pass --allow-recipe-change {','.join(safe)}." if safe else ""
            )
            raise RunFolderError(
                f"--resume of {str(self.path)!r} with a different recipe ({listing}); resume with the saved values "
                f"or start a new --output.{hint}"
            )
        return saved

    def check_fresh(self) -> None:
        """A fresh run refuses a folder holding another run's files (they would mix into its outputs)."""
        found = [name for name in RUN_FILES if (self.path / name).exists()]
        if found:
            raise RunFolderError(
                f"--output {str(self.path)!r} holds another run ({', '.join(found)}). Continue that run with "
                f"--resume, or choose a new --output (or delete the folder to start over)."
            )

    def _acquire_lock(self) -> None:
        """One writer at a time: an exclusive, non-blocking lock the OS drops when the process dies."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderError(
                f"--output {str(self.path)!r} is in use by {owner}; wait for it to finish or choose another --output."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def claim(self, resume: bool = False, allow_changes: Iterable[str] = ()) -> str:
        """Check the folder for this run and take it. Returns 'complete' for a finished run being resumed, a
        note to print, or ''. The main process holds the lock and checks that a fresh run's folder is free;
        every process checks a resume, so all of them agree on what to do."""
        self.check_writable()
        if self.main:
            self._acquire_lock()
        try:
            if not resume:
                if self.main:  # the other processes start after it may have written recipe.json
                    self.check_fresh()
                return ""
            saved = self.check_resume(allow_changes)  # every process: each must see 'complete' alike
        except BaseException:
            self.release()
            raise
        out = self.path
        unchanged = saved is None or not _changed_fields(saved, self.recipe)
        if unchanged and (out / "results.json").is_file() and find_run_state(out) is not None:
            return "complete"
        if find_run_state(out) is None and find_run_state(out / "teacher") is None:
            return f"--resume: no saved state in {str(out)!r}; starting from scratch."
        return ""

    def save_recipe(self) -> None:
        """The recipe a run was started with, compared on every --resume."""
        if self.main:
            atomic_write_text(self.path / RECIPE_FILE, json.dumps(self.recipe.to_dict(), indent=2))

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


class RunClock:
    """Wall seconds of the whole run across resumes: what the saved states recorded plus this process's.

    Time between the last saved epoch and a kill is lost with that epoch's work."""

    def __init__(self, previous: float = 0.0) -> None:
        self.previous, self.start = previous, time.perf_counter()

    def __call__(self) -> float:
        return self.previous + time.perf_counter() - self.start

    @classmethod
    def resumed(cls, output: Path) -> RunClock:
        from .state import read_meta

        seconds = 0.0
        for folder in (output, output / "teacher"):
            state = find_run_state(folder)
            if state is not None:
                seconds = max(seconds, float(read_meta(state).get("run_seconds") or 0.0))
        return cls(seconds)
