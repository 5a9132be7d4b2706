"""hub_scripts/port_official.py: an official checkpoint -> a run folder push_to_hub.py publishes unchanged."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import snn_zoo

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "official"
TINY = {"widths": [4, 8, 16, 32], "num_classes": 7}  # the sizes of the SEW fixture (see its manifest)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_cli", REPO_ROOT / "hub_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def port_official():
    return _script("port_official")


def test_run_folder_publishes_and_reloads(tmp_path, port_official):
    out = tmp_path / "run"
    rc = port_official.main(
        [
            "sew_resnet18.sew_in1k",
            str(FIXTURES / "sew_resnet18_sew_official.pth"),
            "--output",
            str(out),
            "--model-kwargs",
            json.dumps(TINY),
        ]
    )
    assert rc == 0
    assert {"model.safetensors", "config.json", "README.md", "results.json"} <= {p.name for p in out.iterdir()}
    card = (out / "README.md").read_text()
    assert "fangwei123456/Spike-Element-Wise-ResNet" in card and "MPL-2.0" in card and "63.18" in card
    assert "**Status:** ported, not yet re-validated" in card
    results = json.loads((out / "results.json").read_text())
    assert results["reported"]["top1"] == 63.18 and results["measured"] is None
    assert results["model_args"]["neuron"] == "if" and results["model_args"]["T"] == 4

    # the folder reloads with the authors' settings and reproduces their logits
    io = load_file(str(FIXTURES / "sew_resnet18_sew_official.io.safetensors"))
    model = snn_zoo.create_model(f"local-dir:{out}", pretrained=True).eval()
    with torch.no_grad():
        assert (model(io["input"]) - io["logits"]).abs().max().item() <= 1e-5

    # push_to_hub.py stages it unchanged (dry run: nothing leaves the machine)
    staged = tmp_path / "staged"
    assert (
        _script("push_to_hub").main([str(out), "--repo-id", "snn-zoo/sew_resnet18.sew_in1k", "--dry-run", str(staged)])
        == 0
    )
    for name in ("model.safetensors", "config.json", "README.md", "results.json"):
        assert (staged / name).read_bytes() == (out / name).read_bytes(), name


def test_measures_on_an_image_folder(tmp_path, port_official):
    val = tmp_path / "val"
    gen = torch.Generator().manual_seed(0)
    for c in range(7):
        (val / f"class{c}").mkdir(parents=True)
        for i in range(2):
            pixels = (torch.rand(40, 40, 3, generator=gen) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(val / f"class{c}" / f"{i}.png")
    out = tmp_path / "run"
    rc = port_official.main(
        [
            "sew_resnet18.sew_in1k",
            str(FIXTURES / "sew_resnet18_sew_official.pth"),
            "--output",
            str(out),
            "--data-dir",
            str(val),
            "--workers",
            "0",
            "--batch-size",
            "7",
            "--energy-samples",
            "4",
            "--model-kwargs",
            json.dumps(TINY),
        ]
    )
    assert rc == 0
    measured = json.loads((out / "results.json").read_text())["measured"]
    assert measured["num_samples"] == 14 and 0 <= measured["top1"] <= 100 and measured["top5"] >= measured["top1"]
    assert measured["sops_per_image"] > 0 and 0 < measured["mean_firing_rate"] < 1
    assert json.loads((out / "results.json").read_text())["eval_transform"]["crop_pct"] == 0.875  # the tag's own
    card = (out / "README.md").read_text()
    assert "Measured by this port" in card and f"top-1 {measured['top1']:.2f}%" in card


def test_bad_tag_and_bad_checkpoint(tmp_path, port_official, capsys):
    assert (
        port_official.main(
            ["sew_resnet18", str(FIXTURES / "sew_resnet18_sew_official.pth"), "--output", str(tmp_path / "a")]
        )
        == 2
    )
    assert "not a ported official checkpoint" in capsys.readouterr().err
    assert (
        port_official.main(
            [
                "sew_resnet18.sew_in1k",
                str(FIXTURES / "spikformer_8_384_official.pth.tar"),
                "--output",
                str(tmp_path / "b"),
                "--model-kwargs",
                json.dumps(TINY),
            ]
        )
        == 2
    )
    assert "Spikformer" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
