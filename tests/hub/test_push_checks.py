"""push_to_hub / push_to_hub.py on bad input and failures (issue 11): one error line, exit 2, nothing sent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import metadata_load
from safetensors.torch import save_file

import snn_zoo
from snn_zoo.hub import CheckpointError, PushError, push_to_hub, save_pretrained

REPO_ROOT = Path(__file__).resolve().parents[2]


def _cli():
    spec = importlib.util.spec_from_file_location(
        "push_to_hub_cli_checks", REPO_ROOT / "hub_scripts" / "push_to_hub.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny() -> torch.nn.Module:
    torch.manual_seed(0)
    return snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def test_invalid_repo_id_is_refused(tmp_path, capsys):
    run = save_pretrained(_tiny(), tmp_path / "run")
    assert _cli().main([str(run), "--repo-id", "not a/valid/repo id", "--dry-run"]) == 2
    assert "Invalid --repo-id 'not a/valid/repo id'" in _one_error(capsys)
    assert not (run / "hub_upload").exists()
    with pytest.raises(CheckpointError, match="namespace/name"):
        push_to_hub(run, "just-a-name", dry_run_dir=tmp_path / "stage")


def test_non_finite_checkpoint_is_refused_by_push_validate_and_load(tmp_path, capsys):
    run = save_pretrained(_tiny(), tmp_path / "run")
    state = snn_zoo.create_model("spiking_cnn_tiny", T=2).state_dict()
    state = {k: v.clone().contiguous() for k, v in state.items()}
    state["stem.bn.running_var"] = torch.full_like(state["stem.bn.running_var"], float("inf"))
    save_file(state, str(run / "model.safetensors"))
    assert _cli().main([str(run), "--repo-id", "org/name", "--dry-run"]) == 2
    assert "stem.bn.running_var" in _one_error(capsys)
    with pytest.raises(CheckpointError, match="stem.bn.running_var"):
        snn_zoo.create_model(f"local-dir:{run}", pretrained=True)
    from snn_zoo.eval.validate import validate_model

    with pytest.raises(CheckpointError, match="stem.bn.running_var"):
        validate_model("spiking_cnn_tiny", checkpoint=run, energy=False, max_batches=1, progress=False, device="cpu")


def test_every_push_carries_a_card(tmp_path, local_hub):
    # A save_pretrained folder (no results.json): the card comes from config.json.
    run = save_pretrained(_tiny(), tmp_path / "run")
    stage = tmp_path / "stage"
    push_to_hub(run, "org/tiny", dry_run_dir=stage)
    card = (stage / "README.md").read_text()
    meta = metadata_load(stage / "README.md")
    assert meta["library_name"] == "timm" and "spiking-neural-network" in meta["tags"] and meta["license"]
    params = sum(p.numel() for p in _tiny().parameters())
    assert "`spiking_cnn_tiny`" in card and f"{params:,}" in card and "| T | `2` |" in card
    assert 'snn_zoo.create_model("hf-hub:org/tiny", pretrained=True)' in card and "timm.create_model" in card
    # A model object pushed for real: README.md is among the uploaded files.
    push_to_hub(_tiny(), "org/tiny-model", token=local_hub.token)
    files = local_hub.files("org/tiny-model")
    assert "README.md" in files and b"spiking_cnn_tiny" in files["README.md"]


def test_hub_refusal_and_no_network_are_one_error_line(tmp_path, local_hub, capsys, monkeypatch):
    run = save_pretrained(_tiny(), tmp_path / "run")
    local_hub.require_token = True
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert _cli().main([str(run), "--repo-id", "org/refused"]) == 2
    err = _one_error(capsys)
    assert "the Hub refused the push to 'org/refused'" in err and "hf_wrong" not in err
    # No network: the endpoint points at a closed port.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", "http://127.0.0.1:9")
    with pytest.raises(PushError, match="could not reach the Hugging Face Hub"):
        push_to_hub(run, "org/offline", token="hf_x")
    assert _cli().main([str(run), "--repo-id", "org/offline"]) == 2
    assert "could not reach the Hugging Face Hub" in _one_error(capsys)


def test_dry_run_lists_what_is_left_out(tmp_path, capsys):
    run = save_pretrained(_tiny(), tmp_path / "run")
    torch.save({}, run / "optimizer.bin")
    (run / "state").mkdir()
    assert _cli().main([str(run), "--repo-id", "org/name", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Left out (stay on your disk): optimizer.bin (pickle: never uploaded), state/" in out
    assert json.loads((run / "hub_upload" / "config.json").read_text())["architecture"] == "spiking_cnn_tiny"
