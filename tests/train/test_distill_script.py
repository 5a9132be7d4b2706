"""End-to-end runs of hub_scripts/distill.py at toy size."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch
from PIL import Image

import snn_zoo
from snn_zoo.distill import Distiller

ROOT = Path(__file__).resolve().parents[2]
# Small and fast: a few optimizer steps per epoch on the tiny digit SNN.
TOY = [
    "--model",
    "spiking_cnn_tiny",
    "--teacher",
    "spiking_cnn_tiny",
    "--T",
    "2",
    "--batch-size",
    "32",
    "--max-steps-per-epoch",
    "4",
    "--teacher-epochs",
    "1",
    "--log-with",
    "none",
]

RESULT_FIELDS = {
    "model",
    "method",
    "T",
    "top1",
    "top5",
    "teacher",
    "teacher_top1",
    "param_count",
    "mean_firing_rate",
    "sops_per_image",
    "energy_mj_per_image",
    "train_seconds",
}


def test_embedded_default_end_to_end(distill_main, tmp_path):
    out = tmp_path / "run"
    assert distill_main(TOY + ["--epochs", "2", "--output", str(out)]) == 0
    for name in (
        "model.safetensors",
        "config.json",
        "results.json",
        "train_log.csv",
        "curves.png",
        "firing_rates.png",
        "README.md",
    ):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp")), "no temporary files may be left behind"
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= RESULT_FIELDS
    assert results["method"] == "bkd" and results["T"] == 2 and 0 <= results["top1"] <= 100
    assert len((out / "train_log.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    x = torch.rand(3, 1, 8, 8)
    ours = snn_zoo.create_model(f"local-dir:{out}", pretrained=True).eval()
    theirs = timm.create_model(f"local-dir:{out}", pretrained=True).eval()
    assert ours.T == 2 and torch.equal(ours(x), theirs(x))
    card = (out / "README.md").read_text()
    assert "spiking-neural-network" in card and f"{results['top1']:.2f}" in card


def test_imagefolder_dataset(distill_main, tmp_path):
    root = tmp_path / "folder"
    for split in ("train", "val"):
        for label in ("cat", "dog", "emu"):
            (root / split / label).mkdir(parents=True)
            for i in range(6):
                Image.new("RGB", (12, 12), color=(40 * i, 80, 30 * len(label))).save(root / split / label / f"{i}.png")
    out = tmp_path / "run"
    # 18 training images: a batch of 6 (TOY's 32 would be larger than the set, and is refused).
    args = TOY + [
        "--batch-size",
        "6",
        "--dataset",
        "imagefolder",
        "--data-dir",
        str(root),
        "--img-size",
        "8",
        "--method",
        "none",
        "--epochs",
        "1",
        "--output",
        str(out),
    ]
    assert distill_main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_val_samples"] == 18
    assert snn_zoo.create_model(f"local-dir:{out}").num_classes == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dataset", "cifar10"], "data-dir"),
        (["--dataset", "imagefolder", "--data-dir", "{tmp}"], "train"),
        (["--teacher-checkpoint", "{tmp}/teacher5"], "predicts 5 classes"),
    ],
)
def test_bad_input_stops_with_a_clear_message(distill_main, tmp_path, capsys, extra, message):
    snn_zoo.save_pretrained(
        snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", num_classes=5), tmp_path / "teacher5"
    )
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    code = distill_main(TOY + extra + ["--epochs", "1", "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and message in err


def test_non_finite_loss_keeps_last_good_checkpoint(distill_main, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    base = TOY + ["--method", "none", "--output", str(out)]
    assert distill_main(base + ["--epochs", "1"]) == 0
    good = (out / "state" / "meta.json").read_text()
    forward = Distiller.forward
    monkeypatch.setattr(
        Distiller, "forward", lambda self, x, y: {**forward(self, x, y), "loss": torch.tensor(float("nan"))}
    )
    code = distill_main(base + ["--epochs", "2", "--resume", "--allow-recipe-change", "epochs"])
    assert code == 3 and "non-finite loss" in capsys.readouterr().err
    assert (out / "state" / "meta.json").read_text() == good


def _launch(args, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "accelerate.commands.launch", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    # The default method (BKD, with a teacher phase first), SIGKILLed once the student phase has saved state.
    common = [
        "--num_processes",
        "1",
        "--cpu",
        "hub_scripts/distill.py",
        *TOY,
        "--epochs",
        "3",
        "--max-steps-per-epoch",
        "6",
        "--mixed-precision",
        "no",
    ]
    full = _launch(common + ["--output", str(tmp_path / "full")])
    assert full.wait(timeout=300) == 0, full.stdout.read()
    out = tmp_path / "killed"
    proc = _launch(common + ["--output", str(out)], start_new_session=True)
    deadline = time.time() + 300
    while not (out / "state" / "meta.json").is_file():  # the student's first epoch saved
        assert proc.poll() is None and time.time() < deadline, (
            proc.stdout.read() if proc.poll() is not None else "timeout"
        )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    resumed = _launch(common + ["--output", str(out), "--resume"])
    log = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0 and "[student] resumed from" in log, log
    a = json.loads((tmp_path / "full" / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    assert len(b["history"]) == 3
    assert (a["top1"], a["teacher_top1"]) == (b["top1"], b["teacher_top1"])
    from safetensors.torch import load_file

    wa, wb = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # same seed: the same weights as the uninterrupted run


def test_two_process_ddp_matches_one_process(tmp_path):
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"np{n}"
        # accelerate's torchrun launcher; without CUDA snn_zoo's Accelerator runs gloo CPU DDP.
        launcher = ["--multi_gpu", "--num_processes", "2"] if n == 2 else ["--num_processes", "1", "--cpu"]
        proc = _launch(
            [
                *launcher,
                "hub_scripts/distill.py",
                *TOY,
                "--method",
                "kd",
                "--epochs",
                "2",
                "--max-steps-per-epoch",
                "0",
                "--batch-size",
                "64",
                "--output",
                str(out),
            ]
        )
        log = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, log
        runs[n] = json.loads((out / "results.json").read_text())
    assert runs[2]["num_processes"] == 2 and runs[2]["num_val_samples"] == runs[1]["num_val_samples"] == 360
    assert abs(runs[1]["top1"] - runs[2]["top1"]) <= 10.0, (runs[1]["top1"], runs[2]["top1"])
    assert abs(runs[1]["history"][-1]["train_loss"] - runs[2]["history"][-1]["train_loss"]) <= 0.25
