"""Issue 22, Hub / pretrained / port items: nothing leaks, nothing is silently wrong, every refusal says what to do."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.hub import CheckpointError, push_to_hub, save_pretrained

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "official"
SEW_FILE = FIXTURES / "sew_resnet18_sew_official.pth"
TINY = {"widths": [4, 8, 16, 32], "num_classes": 7}


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_hardening", REPO_ROOT / "hub_scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_pretrained(snn_zoo.create_model("spiking_cnn_tiny", T=2).eval(), tmp_path / "run")


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


# -- 1. links leaving the run folder are never staged or uploaded -------------------------------------
@pytest.mark.parametrize("name", ["leak.csv", "README.md", "results.json", "model.safetensors"])
def test_push_refuses_links_leaving_the_folder(tmp_path, local_hub, capsys, name):
    run = _run_folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("hf_secret_token_value")
    if (run / name).exists():
        (run / name).unlink()
    os.symlink(secret, run / name)
    assert _script("push_to_hub").main([str(run), "--repo-id", "org/leak", "--dry-run"]) == 2
    err = _one_error(capsys)
    assert f"{name} -> {secret}" in err and "symbolic links that leave it" in err
    assert not (run / "hub_upload").exists()
    with pytest.raises(CheckpointError, match="leave it"):
        push_to_hub(run, "org/leak", token=local_hub.token)
    assert not local_hub.repos  # nothing was sent, not even the repo creation


def test_push_follows_links_inside_the_folder_as_their_content(tmp_path):
    run = _run_folder(tmp_path)
    (run / "seed0").mkdir()
    shutil.move(run / "model.safetensors", run / "seed0" / "model.safetensors")
    os.symlink("seed0/model.safetensors", run / "model.safetensors")
    stage = tmp_path / "stage"
    push_to_hub(run, "org/inside", dry_run_dir=stage)
    staged = stage / "model.safetensors"
    assert not staged.is_symlink() and staged.read_bytes() == (run / "seed0" / "model.safetensors").read_bytes()


def test_broken_link_is_refused_by_name(tmp_path, capsys):
    run = _run_folder(tmp_path)
    os.symlink(tmp_path / "gone.png", run / "curves.png")
    assert _script("push_to_hub").main([str(run), "--repo-id", "org/x", "--dry-run"]) == 2
    assert "curves.png ->" in _one_error(capsys)


def test_staging_folder_that_is_a_link_or_a_file(tmp_path, capsys):
    run = _run_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    os.symlink(elsewhere, run / "hub_upload")
    assert _script("push_to_hub").main([str(run), "--repo-id", "org/x", "--dry-run"]) == 2
    err = _one_error(capsys)
    assert f"{run / 'hub_upload'}" in err and "symbolic link" in err
    assert (elsewhere / "keep.txt").read_text() == "keep"
    (run / "hub_upload").unlink()
    (run / "hub_upload").write_text("a file")
    assert _script("push_to_hub").main([str(run), "--repo-id", "org/x", "--dry-run"]) == 2
    assert "is a file" in _one_error(capsys)


# -- 4. port_official --output: never into another run, stale files never kept ------------------------
def _port(out: Path, *extra: str) -> int:
    args = ["sew_resnet18.sew_in1k", str(SEW_FILE), "--output", str(out), "--model-kwargs", json.dumps(TINY)]
    return _script("port_official").main([*args, *extra])


def test_port_refuses_another_models_run_folder(tmp_path, capsys):
    other = _run_folder(tmp_path)  # spiking_cnn_tiny's folder
    (other / "results.json").write_text(json.dumps({"name": "spiking_cnn_tiny.t2", "top1": 50.0}))
    (other / "train_log.csv").write_text("epoch,loss\n")
    before = (other / "model.safetensors").read_bytes()
    assert _port(other) == 2
    err = _one_error(capsys)
    assert "already holds the run of 'spiking_cnn_tiny.t2'" in err and "train_log.csv" in err
    assert (other / "model.safetensors").read_bytes() == before
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "notes.txt").write_text("mine")
    assert _port(unknown) == 2
    assert "already holds other files (notes.txt)" in _one_error(capsys)


def test_port_replaces_an_earlier_port_of_the_same_tag_whole(tmp_path, capsys):
    out = tmp_path / "run"
    assert _port(out) == 0
    (out / "train_log.csv").write_text("stale\n")
    capsys.readouterr()
    assert _port(out) == 0
    assert "replacing the earlier port of sew_resnet18.sew_in1k" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "results.json"]


def test_port_output_that_is_a_file_and_bad_data_dirs(tmp_path, capsys):
    file = tmp_path / "out.txt"
    file.write_text("x")
    assert _port(file) == 2
    assert "is a file" in _one_error(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _port(tmp_path / "a", "--data-dir", str(empty)) == 2
    assert "is empty" in _one_error(capsys) and not (tmp_path / "a").exists()
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "img.png").write_bytes(b"")
    assert _port(tmp_path / "b", "--data-dir", str(flat)) == 2
    assert "has no class folders" in _one_error(capsys)
    hollow = tmp_path / "hollow"
    (hollow / "c0").mkdir(parents=True)
    assert _port(tmp_path / "c", "--data-dir", str(hollow)) == 2
    assert "class folders without images: ['c0']" in _one_error(capsys)


def test_port_model_kwargs_must_be_json(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _script("port_official").main(
            ["sew_resnet18.sew_in1k", str(SEW_FILE), "--output", str(tmp_path / "o"), "--model-kwargs", "widths=4"]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected a JSON object such as" in err and '"num_classes": 7' in err and "'widths=4'" in err


def test_port_follows_an_input_link_and_records_its_target(tmp_path):
    link = tmp_path / "sew18_checkpoint_319.pth"
    os.symlink(SEW_FILE, link)
    assert _port_via(link, tmp_path / "run") == 0
    source = json.loads((tmp_path / "run" / "results.json").read_text())["ported_from"]
    assert source["file"] == link.name and source["resolved"] == SEW_FILE.name
    assert str(tmp_path) not in (tmp_path / "run" / "results.json").read_text()  # no local path is published


def _port_via(checkpoint: Path, out: Path) -> int:
    args = ["sew_resnet18.sew_in1k", str(checkpoint), "--output", str(out), "--model-kwargs", json.dumps(TINY)]
    return _script("port_official").main(args)


# -- 10 and the unclear create_model cases ---------------------------------------------------------------
def test_overlay_file_without_pretrained_is_refused():
    with pytest.raises(ValueError, match="only with pretrained=True.*random weights"):
        snn_zoo.create_model("sew_resnet18", pretrained_cfg_overlay=dict(file=str(SEW_FILE)), **TINY)


def test_missing_overlay_file_is_reported_missing(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist; check the path") as info:
        snn_zoo.create_model(
            "sew_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(tmp_path / "no.pth"))
        )
    assert "corrupt" not in str(info.value)
    with pytest.raises(CheckpointError, match="is a folder"):
        snn_zoo.create_model("sew_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(tmp_path)))


def test_overlay_file_with_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copy(SEW_FILE, tmp_path / "sew.pth")
    model = snn_zoo.create_model(
        "sew_resnet18.sew_in1k", pretrained=True, pretrained_cfg_overlay=dict(file="~/sew.pth", num_classes=7), **TINY
    )
    assert model.pretrained_cfg["file"] == str(tmp_path / "sew.pth")


def test_unknown_tag_without_pretrained_lists_the_tags():
    with pytest.raises(ValueError, match=r"No pretrained checkpoint 'sew_resnet18.bogus'.*sew_resnet18.sew_in1k"):
        snn_zoo.create_model("sew_resnet18.bogus")


def test_local_dir_with_tilde(tmp_path, monkeypatch):
    run = _run_folder(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    model = snn_zoo.create_model("local-dir:~/run", pretrained=True)
    assert model.T == 2 and (run / "config.json").is_file()


@pytest.mark.parametrize(
    "extra, needle",
    [
        ({"foo": 1}, "does not accept"),
        ({"checkpoint_path": "/etc/passwd"}, "['checkpoint_path']"),
        ({"pretrained_cfg_overlay": {"file": "/etc/passwd"}}, "['pretrained_cfg_overlay']"),
    ],
)
def test_config_model_args_errors_name_the_config_file(tmp_path, extra, needle):
    run = _run_folder(tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["model_args"].update(extra)
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as info:
        snn_zoo.create_model(f"local-dir:{run}", pretrained=True)
    assert f"{run}/config.json" in str(info.value) and needle in str(info.value)


def test_ported_folder_without_card_gets_the_ported_card_on_push(tmp_path):
    out = tmp_path / "run"
    assert _port(out) == 0
    (out / "README.md").unlink()
    push_to_hub(out, "snn-zoo/sew_resnet18.sew_in1k", dry_run_dir=tmp_path / "stage")
    card = (tmp_path / "stage" / "README.md").read_text()
    assert "**Status:** ported, not yet re-validated" in card and "63.18" in card
