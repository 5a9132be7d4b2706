"""Kill-and-resume of hub_scripts/distill.py for every method with a teacher (issue 11, case 1).

A kill is simulated in-process right after a phase has saved its first epoch's state (the state
folder is swapped in atomically, so this is exactly what a kill -9 at any later moment leaves);
``--resume`` must then finish with the same weights, history and accuracy as an uninterrupted run
with the same seed. A resumed finished run reports that it is complete and changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

import snn_zoo.train.loop as loop
from snn_zoo.distill.methods import METHOD_TABLE

# Tiny and fast: 48 random 1x8x8 images in 4 classes, 2 steps per epoch, 2 teacher + 2 student epochs.
TINY = [
    "--model",
    "spiking_cnn_tiny",
    "--teacher",
    "spiking_cnn_tiny",
    "--T",
    "2",
    "--batch-size",
    "16",
    "--dataset",
    "synthetic",
    "--data-kwargs",
    '{"num_classes": 4, "input_size": [1, 8, 8], "num_samples": 48}',
    "--max-steps-per-epoch",
    "2",
    "--teacher-epochs",
    "2",
    "--epochs",
    "2",
    "--log-with",
    "none",
    "--seed",
    "1",
]
TEACHER_METHODS = sorted(name for name, spec in METHOD_TABLE.items() if spec.needs_teacher)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the run catches it."""


def _kill_after_first_save(monkeypatch: pytest.MonkeyPatch, phase_dir_name: str) -> None:
    """Raise Killed right after the first state save in the phase whose output folder is named so."""
    real = loop.save_run_state

    def save_then_die(accelerator, output, meta):
        real(accelerator, output, meta)
        if Path(output).name == phase_dir_name:
            raise Killed

    monkeypatch.setattr(loop, "save_run_state", save_then_die)


def _outcome(out: Path) -> tuple:
    results = json.loads((out / "results.json").read_text())
    weights = load_file(str(out / "model.safetensors"))
    strip = ("epoch_seconds",)
    history = [{k: v for k, v in row.items() if k not in strip} for row in results["history"]]
    return results["top1"], results["teacher_top1"], history, weights


def _same(a: tuple, b: tuple) -> None:
    assert a[:3] == b[:3]
    assert a[3].keys() == b[3].keys()
    for key in a[3]:
        assert a[3][key].equal(b[3][key]), key


def _run(distill_main, args) -> int:
    return distill_main(TINY + args)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, distill_main):
    """Uninterrupted run per method (same seed), made once."""
    cache: dict = {}

    def get(method: str) -> tuple:
        if method not in cache:
            out = tmp_path_factory.mktemp(f"full_{method}") / "run"
            assert _run(distill_main, ["--method", method, "--output", str(out)]) == 0
            cache[method] = (out, _outcome(out))
        return cache[method]

    return get


@pytest.mark.parametrize("phase", ["teacher", "student"])
@pytest.mark.parametrize("method", TEACHER_METHODS)
def test_kill_then_resume_matches_uninterrupted(distill_main, reference, tmp_path, monkeypatch, capsys, method, phase):
    _, expected = reference(method)
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _kill_after_first_save(m, "teacher" if phase == "teacher" else out.name)
        with pytest.raises(Killed):
            _run(distill_main, ["--method", method, "--output", str(out)])
    assert not (out / "results.json").exists()
    assert (out / "state").is_dir() == (phase == "student")
    state = out / ("teacher" if phase == "teacher" else "") / "state" / "meta.json"
    seconds_before_kill = json.loads(state.read_text())["run_seconds"]
    assert seconds_before_kill > 0
    capsys.readouterr()
    assert _run(distill_main, ["--method", method, "--output", str(out), "--resume"]) == 0, capsys.readouterr().err
    log = capsys.readouterr().out
    assert f"[{phase}] resumed from" in log, log
    _same(_outcome(out), expected)
    # train_seconds is the whole run's wall time: the killed process's saved seconds plus the resumed ones.
    assert json.loads((out / "results.json").read_text())["train_seconds"] > seconds_before_kill


@pytest.mark.parametrize("method", TEACHER_METHODS)
def test_resume_of_a_finished_run_reports_complete(distill_main, reference, capsys, method):
    out, expected = reference(method)
    before = (out / "results.json").read_text()
    capsys.readouterr()
    assert _run(distill_main, ["--method", method, "--output", str(out), "--resume"]) == 0
    log = capsys.readouterr().out
    assert "already complete" in log, log
    assert (out / "results.json").read_text() == before
    _same(_outcome(out), expected)
