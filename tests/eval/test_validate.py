"""validate_model / validate_models / write_results and the validate.py script."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import snn_zoo
from snn_zoo.eval.validate import (
    CheckpointError,
    ValidationError,
    expand_model_names,
    validate_model,
    validate_models,
    write_results,
)

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {
    "model",
    "top1",
    "top5",
    "T",
    "param_count",
    "mean_firing_rate",
    "firing_rates",
    "sops_per_image",
    "energy_mj_per_image",
    "ann_energy_mj_per_image",
    "num_samples",
}
FAST = dict(dataset="digits", batch_size=16, max_batches=2, progress=False, device="cpu")


def _script(name):
    spec = importlib.util.spec_from_file_location(f"hub_script_{name}", ROOT / "hub_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validate_model_returns_every_field_and_writes_csv_json(tmp_path):
    row = validate_model("spiking_cnn_tiny", T=2, firing_plot=tmp_path / "fr.png", **FAST)
    assert set(row) >= FIELDS
    assert row["model"] == "spiking_cnn_tiny" and row["T"] == 2 and row["num_samples"] == 32
    assert 0 <= row["top1"] <= row["top5"] <= 100
    assert row["param_count"] == sum(p.numel() for p in snn_zoo.create_model("spiking_cnn_tiny").parameters())
    assert set(row["firing_rates"]) == {"stem.sn", "stage1.0.sn", "stage2.0.sn", "stage3.sn"}
    assert 0 < row["energy_mj_per_image"] < row["ann_energy_mj_per_image"]
    assert (tmp_path / "fr.png").read_bytes()[:4] == b"\x89PNG"

    write_results([row], tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and FIELDS - {"firing_rates"} <= set(rows[0]) and "firing_rates" not in rows[0]
    write_results([row], tmp_path / "r.out", fmt="json")
    assert json.loads((tmp_path / "r.out").read_text())[0]["firing_rates"] == row["firing_rates"]


def test_validate_event_dataset():
    row = validate_model(
        "spiking_cnn_tiny", **{**FAST, "dataset": "digits_dvs", "batch_size": 8, "max_batches": 1}, T=3
    )
    assert row["T"] == 3 and row["num_samples"] == 8 and row["sops_per_image"] >= 0


def test_wildcards_expand_to_snn_zoo_models():
    assert expand_model_names("spiking_cnn_*") == ["spiking_cnn_base", "spiking_cnn_small", "spiking_cnn_tiny"]
    sew = expand_model_names("sew*")
    assert "sew_resnet18" in sew and "sew_resnet18_cifar" in sew and all(n.startswith("sew") for n in sew)
    assert expand_model_names("spiking_cnn_tiny") == ["spiking_cnn_tiny"]
    with pytest.raises(ValidationError, match="No snn_zoo models match"):
        expand_model_names("nothing_like_this*")
    rows = validate_models("spiking_cnn_t*", T=1, energy=False, **FAST)
    assert [r["model"] for r in rows] == ["spiking_cnn_tiny"] and rows[0]["energy_mj_per_image"] is None


def test_checkpoint_loading_and_errors(tmp_path):
    model = snn_zoo.create_model("spiking_cnn_tiny")
    with torch.no_grad():
        model.fc.bias.fill_(0.0)
        model.fc.bias[3] = 100.0  # every prediction is class 3
    run = tmp_path / "run"
    run.mkdir()
    save_file({f"module.{k}": v.contiguous() for k, v in model.state_dict().items()}, str(run / "model.safetensors"))
    row = validate_model("spiking_cnn_tiny", checkpoint=run, energy=False, **FAST)
    assert row["top1"] == pytest.approx(100 * sum(1 for i in range(32) if _digits_label(i) == 3) / 32)
    with pytest.raises(CheckpointError, match="does not fit"):
        validate_model("spiking_cnn_small", checkpoint=run / "model.safetensors", energy=False, **FAST)
    (tmp_path / "w.pth").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a pickle"):
        validate_model("spiking_cnn_tiny", checkpoint=tmp_path / "w.pth", energy=False, **FAST)
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        validate_model("spiking_cnn_tiny", checkpoint=tmp_path, energy=False, **FAST)
    with pytest.raises(ValidationError, match="Unknown dataset"):
        validate_model("spiking_cnn_tiny", **{**FAST, "dataset": "cifar11"})


def _digits_label(i):
    from snn_zoo.data import create_dataset

    return int(create_dataset("digits", split="val")[i][1])


def test_validate_script_help_and_run(tmp_path, capsys):
    script = _script("validate")
    with pytest.raises(SystemExit) as e:
        script.main(["--help"])
    assert e.value.code == 0 and "--results-format" in capsys.readouterr().out
    out = tmp_path / "r.json"
    assert (
        script.main(
            [
                "--model",
                "spiking_cnn_tiny",
                "--T",
                "1",
                "--max-batches",
                "1",
                "-b",
                "8",
                "--results-file",
                str(out),
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())[0]["num_samples"] == 8
    assert script.main(["--model", "no_such_model", "--no-progress"]) == 2
    assert "Unknown snn_zoo model" in capsys.readouterr().err


def test_data_from_uses_a_runs_recorded_validation_data(tmp_path):
    # A module (e.g. a wrapped run model) validated on the data a run folder recorded, its split seed included.
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")  # random weights: the loss depends on the images
    rows = {}
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        run.mkdir()
        eval_data = {
            "dataset": "digits",
            "data_dir": None,
            "kwargs": {"input_size": [1, 8, 8], "T": None, "seed": seed},
        }
        (run / "results.json").write_text(json.dumps({"eval_data": eval_data}))
        rows[seed] = validate_model(model, data_from=run, energy=False, progress=False)
    default = validate_model(model, energy=False, progress=False)  # digits, split seed 0
    assert rows[0]["loss"] == pytest.approx(default["loss"], rel=1e-6)
    assert rows[1]["loss"] != pytest.approx(default["loss"], rel=1e-6)
