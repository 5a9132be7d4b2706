"""A run folder belongs to one run (issue 22, cases 5 and the disk-full class).

- a fresh run refuses a folder holding another run's files; --resume continues that run;
- a second writer is refused while the first holds the folder;
- a disk that fills up during training ends with one error line, exit 2, no ``state.tmp`` left behind and the
  last good state intact (a real full tmpfs, where the machine lets root mount one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snn_zoo.train import Recipe
from snn_zoo.train.run_folder import RunFolder, RunFolderError

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--model", "spiking_cnn_tiny", "--method", "none", "--T", "2", "-b", "8", "--epochs", "1"]
TINY += ["--max-steps-per-epoch", "2", "--log-with", "none", "--mixed-precision", "no"]


def test_fresh_run_into_another_runs_folder_is_refused(distill_main, tmp_path, capsys):
    out = tmp_path / "run"
    assert distill_main([*TINY, "--output", str(out)]) == 0
    before = (out / "results.json").read_text()
    capsys.readouterr()
    assert distill_main([*TINY, "--epochs", "2", "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds another run" in err and "--resume" in err and "results.json" in err
    assert (out / "results.json").read_text() == before  # nothing of the old run was touched
    # An interrupted fresh run cannot exist in a finished run's folder, so --resume reports the real run:
    assert distill_main([*TINY, "--output", str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
    recipe = Recipe(model="spiking_cnn_tiny", output=str(tmp_path / "run"))
    first = RunFolder(recipe)
    assert first.claim() == ""
    try:
        with pytest.raises(RunFolderError, match=f"in use by pid {os.getpid()}"):
            RunFolder(recipe).claim()
    finally:
        first.release()
    second = RunFolder(recipe)
    assert second.claim() == ""  # free again once the first let go
    second.release()


def test_lock_is_released_when_the_process_dies(tmp_path):
    out = tmp_path / "run"
    code = (
        "from snn_zoo.train import Recipe; from snn_zoo.train.run_folder import RunFolder; import os; "
        f"RunFolder(Recipe(model='spiking_cnn_tiny', output={str(out)!r})).claim(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    folder = RunFolder(Recipe(model="spiking_cnn_tiny", output=str(out)))
    assert folder.claim() == ""
    folder.release()


@pytest.fixture
def full_disk(tmp_path):
    """A 160 KiB tmpfs: room for the recipe and logs, not for a training state."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a tiny tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_training_is_one_clear_error(full_disk):
    out = full_disk / "run"
    args = [*TINY, "--model", "spiking_cnn_base", "--output", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "hub_scripts" / "distill.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=str(ROOT),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no space left on device" in errors[0], done.stderr[-2000:]
    assert not (out / "state.tmp").exists() and not list(out.glob(".staging-*"))
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["model"] == "spiking_cnn_base"
