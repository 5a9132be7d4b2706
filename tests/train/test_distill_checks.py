"""distill.py refuses bad input before any training, and guards what it saves (issue 11)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

import snn_zoo.train.loop as loop

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
    "1",
    "--epochs",
    "1",
    "--log-with",
    "none",
]


def _without(flags: list, keys: set) -> list:
    """``flags`` minus the --flag value pairs of recipe fields in ``keys`` (so the recipe's values count)."""
    drop = {"--" + k.replace("_", "-") for k in keys}
    out, i = [], 0
    while i < len(flags):
        if flags[i] in drop:
            i += 2
            continue
        out.append(flags[i])
        i += 1
    return out


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def _nothing_trained(out: Path) -> None:
    assert not (out / "state").exists() and not (out / "teacher").exists()


@pytest.mark.parametrize(
    "recipe_text, message",
    [
        ("epochs: ten\n", "'epochs' must be an integer, got 'ten'"),
        ('T: "4"\n', "'T' must be an integer, got '4'"),
        ("lr: fast\n", "'lr' must be a finite number, got 'fast'"),
        ("lr: .nan\n", "'lr' must be a finite number, got nan"),
        ("smoothing: .nan\n", "'smoothing' must be a finite number, got nan"),
        ("lr: .inf\n", "'lr' must be a finite number, got inf"),
        ("method: hetero\nloss_weights: {spike_weight: .nan}\n", "loss weight 'spike_weight' must be a finite number"),
        ("method: kd\nloss_weights: {tau: .inf}\n", "loss weight 'tau' must be a finite number"),
        ("loss_weights: 3\n", "'loss_weights' must be a mapping"),
        ("loss_weights: {gamma: 1}\n", "Unknown loss weight(s) ['gamma'] for method 'bkd'"),
        ("teacher: resnet9000\n", "Unknown teacher 'resnet9000'"),
        ("sched: foo\n", "'sched' is 'foo'; choose one of"),
        ("epochs: 3\nlr: [0.1\nT: 4\n", "is not valid YAML"),
    ],
)
def test_recipe_errors_before_training(distill_main, tmp_path, capsys, recipe_text, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text)
    out = tmp_path / "run"
    keys = {line.split(":")[0] for line in recipe_text.splitlines() if ":" in line}
    assert distill_main(["--recipe", str(recipe), *_without(TINY, keys), "--output", str(out)]) == 2
    err = _error(capsys)
    assert message in err and (str(recipe) in err or "teacher" in message), err
    _nothing_trained(out)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--sched", "foo"], "'sched' is 'foo'"),
        (["--grad-accum", "0"], "'grad_accum' must be >= 1, got 0"),
        (["--lr", "nan"], "'lr' must be a finite number, got nan"),
        (["--weight-decay", "inf"], "'weight_decay' must be a finite number, got inf"),
        (["--img-size", "-5"], "'img_size' must be >= 1, got -5"),
        (["--neuron", "lifx"], "Close matches: ['lif'"),
        (["--optimizer", "adamx"], "'optimizer' is 'adamx'"),
        (["--teacher", "resnet9000"], "Unknown teacher 'resnet9000'"),
        (["--model", "spiking_cnn_tinyy"], "Unknown student model 'spiking_cnn_tinyy'"),
        (["--loss-weights", "gamma=1"], "Unknown loss weight(s) ['gamma']"),
        (["--mixed-precision", "fp17"], "'mixed_precision' is 'fp17'"),
        (["--teacher-checkpoint", "{tmp}/nowhere"], "does not exist"),
    ],
)
def test_flag_errors_before_training(distill_main, tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    assert distill_main(TINY + flags + ["--output", str(out)]) == 2
    assert message in _error(capsys)
    _nothing_trained(out)


def test_output_that_is_a_file_or_under_one(distill_main, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert distill_main(TINY + ["--output", str(afile)]) == 2
    assert "is a file" in _error(capsys)
    assert distill_main(TINY + ["--output", str(afile / "run")]) == 2
    assert "which is a file" in _error(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_output_not_writable(distill_main, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert distill_main(TINY + ["--output", str(locked / "run")]) == 2
    assert "not writable" in _error(capsys)


def test_single_class_dataset_is_refused(distill_main, tmp_path, capsys):
    tiny = [a if "num_classes" not in a else a.replace('"num_classes": 4', '"num_classes": 1') for a in TINY]
    assert distill_main(tiny + ["--method", "none", "--output", str(tmp_path / "run")]) == 2
    assert "at least 2 classes" in _error(capsys)


def test_resume_refuses_a_changed_recipe(distill_main, tmp_path, capsys):
    out = tmp_path / "run"
    base = TINY + ["--method", "none", "--output", str(out)]
    assert distill_main(base) == 0
    capsys.readouterr()
    assert distill_main(base + ["--resume", "--epochs", "4", "--lr", "0.05"]) == 2
    err = _error(capsys)
    assert "epochs: 1 -> 4" in err and "lr: 0.005 -> 0.05" in err and "--allow-recipe-change epochs" in err
    assert distill_main(base + ["--resume", "--model", "spiking_cnn_small"]) == 2
    assert "model: 'spiking_cnn_tiny' -> 'spiking_cnn_small'" in _error(capsys)
    # An explicit, safe change: two more epochs on top of the saved state.
    assert distill_main(base + ["--resume", "--epochs", "3", "--allow-recipe-change", "epochs"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [row["epoch"] for row in results["history"]] == [1, 2, 3]
    assert distill_main(base + ["--resume", "--lr", "0.1", "--allow-recipe-change", "lr"]) == 2
    assert "only" in _error(capsys)


def test_resume_without_state_says_so(distill_main, tmp_path, capsys):
    assert distill_main(TINY + ["--method", "none", "--output", str(tmp_path / "run"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.count("no saved state") == 1 and "starting from scratch" in out


def test_non_finite_weights_or_buffers_stop_before_saving(distill_main, tmp_path, capsys, monkeypatch):
    """A finite loss can leave BN running_var at inf (issue 11, case 5): nothing non-finite is saved."""
    out = tmp_path / "run"
    evaluate = loop.evaluate

    def poison_then_evaluate(model, *args, **kwargs):  # after the epoch's optimizer steps, as a diverged run leaves it
        bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        bn.running_var.fill_(float("inf"))
        return evaluate(model, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", poison_then_evaluate)
    assert distill_main(TINY + ["--method", "none", "--output", str(out)]) == 3
    err = _error(capsys)
    assert "running_var" in err and "nothing was saved" in err
    assert not (out / "model.safetensors").exists() and not (out / "state").exists()


def test_summary_line_and_readable_outputs(distill_main, tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert distill_main(TINY + ["--method", "kd", "--output", str(out)]) == 0
    finally:
        os.umask(old)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    results = json.loads((out / "results.json").read_text())
    assert f"top-1 {results['top1']:.2f}% (teacher spiking_cnn_tiny {results['teacher_top1']:.2f}%)" in line, line
    for path in [p for p in out.rglob("*") if p.is_file()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert distill_main(TINY + ["--method", "none", "--output", str(tmp_path / "none")]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "teacher" not in line and "None" not in line, line


def test_disk_full_while_saving_state(distill_main, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    base = TINY + ["--method", "none", "--output", str(out)]
    assert distill_main(base) == 0
    good = (out / "state" / "meta.json").read_text()

    def full(self, *args, **kwargs):  # torch.save / safetensors hitting a full disk mid-write
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Accelerator, "save_state", full)
    assert distill_main(base + ["--resume", "--epochs", "2", "--allow-recipe-change", "epochs"]) == 2
    err = _error(capsys)
    assert "no space left on device" in err and str(out / "state") in err and "intact" in err
    assert (out / "state" / "meta.json").read_text() == good


def test_training_set_smaller_than_a_batch_is_refused(distill_main, tmp_path, capsys):
    """The training loader drops partial batches: 48 samples with a batch of 64 would train nothing."""
    out = tmp_path / "run"
    assert distill_main(TINY + ["--batch-size", "64", "--method", "none", "--output", str(out)]) == 2
    assert "fewer than one batch of 64" in _error(capsys)
    _nothing_trained(out)
