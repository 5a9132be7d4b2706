"""hub_scripts/export.py, and the zoo carrying NIR: model.nir staged beside the weights, a line on the card."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("nir")
pytest.importorskip("nirtorch")

import torch

import snn_zoo
from snn_zoo.hub.card import render_config_card
from snn_zoo.hub.push import stage_upload
from snn_zoo.nir import NIR_NAME, from_nir

ROOT = Path(__file__).resolve().parents[2]
CNN = ROOT / "checkpoints" / "spiking_cnn_small.bkd_t4_digits"
SPIKFORMER = ROOT / "checkpoints" / "spikformer_2_64_digits.bkd_t4_digits"


def _script():
    spec = importlib.util.spec_from_file_location("export_script", ROOT / "hub_scripts" / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_a_nir_file_that_runs(tmp_path, capsys):
    out = tmp_path / "cnn.nir"
    assert _script().main([str(CNN), "--format", "nir", "--output", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    model = snn_zoo.create_model(f"local-dir:{CNN}", pretrained=True).eval()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(from_nir(out)(x), model(x))


def test_cli_refuses_in_one_line(tmp_path, capsys):
    if not SPIKFORMER.is_dir():
        pytest.skip("no spikformer checkpoint shipped")
    out = tmp_path / "x.nir"
    assert _script().main([str(SPIKFORMER), "--format", "nir", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: spikformer_2_64_digits: cannot export to NIR: Spikformer:") and "\n" not in err
    assert not out.exists()


def test_cli_onnx(tmp_path):
    pytest.importorskip("onnxscript")
    out = tmp_path / "cnn.onnx"
    assert _script().main(["spiking_cnn_tiny", "--format", "onnx", "--output", str(out)]) == 0
    assert out.stat().st_size > 0


def test_push_stages_model_nir_beside_the_weights(tmp_path):
    names = stage_upload(CNN, tmp_path / "cnn")
    assert NIR_NAME in names and "model.safetensors" in names
    if SPIKFORMER.is_dir():
        assert NIR_NAME not in stage_upload(SPIKFORMER, tmp_path / "spikformer")


def test_cards_say_whether_a_checkpoint_exports():
    config = json.loads((CNN / "config.json").read_text())
    assert "| Exports to NIR (neuromorphic hardware) | yes: `model.nir`" in render_config_card(config, 1)
    if SPIKFORMER.is_dir():
        config = json.loads((SPIKFORMER / "config.json").read_text())
        assert "| Exports to NIR (neuromorphic hardware) | no: Spikformer:" in render_config_card(config, 1)
