"""Atomic, resumable run state on top of accelerate's save_state/load_state."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from accelerate import Accelerator

from ..io import atomic_write_text
from ..io.atomic import disk_full_cause, make_readable, no_space_error, replace_directory

STATE_DIR = "state"
META_FILE = "meta.json"


def save_run_state(accelerator: Accelerator, output: Path, meta: dict) -> None:
    """Save accelerate's state + ``meta`` to ``output/state`` without ever exposing a half-written one.

    Everything goes to ``state.tmp`` first; the old state is swapped out only when the new
    one is complete, so a kill at any moment leaves the last good epoch loadable.
    """
    final, tmp = output / STATE_DIR, output / f"{STATE_DIR}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    try:
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            atomic_write_text(tmp / META_FILE, json.dumps(meta, indent=2))
            make_readable(tmp)  # safetensors writes 0600 files; state files are ordinary outputs
            replace_directory(tmp, final)  # final -> final.old, tmp -> final, drop final.old
    except Exception as e:  # nothing half-written stays behind, whatever failed
        full = disk_full_cause(e, tmp)  # before removing the staged files, which frees the space
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        if full is None:
            raise
        raise no_space_error(final, full) from None  # one message: the previous state is intact
    accelerator.wait_for_everyone()


def find_run_state(output: Path) -> Path | None:
    """The last complete state folder, also after a kill between the two renames above."""
    for name in (STATE_DIR, f"{STATE_DIR}.old"):
        candidate = output / name
        if (candidate / META_FILE).is_file():
            return candidate
    return None


def read_meta(state: Path) -> dict:
    """The meta.json of a saved state (epoch, history, model_ema, run_seconds)."""
    return json.loads((state / META_FILE).read_text())


def load_run_state(accelerator: Accelerator, state: Path) -> dict:
    """Restore model/optimizer/scheduler/RNG state; returns the saved meta (epoch, history)."""
    accelerator.load_state(str(state))
    return read_meta(state)


def write_history_csv(path: Path, history: list[dict]) -> None:
    """Per-epoch log as CSV, rewritten whole (and atomically) every epoch."""
    if not history:
        return
    keys = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())
