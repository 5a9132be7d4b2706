"""hub_scripts/release.py end to end against the local Hub server (issue 20).

The authors' files are the golden fixtures of tests/fixtures/official (made by running the authors'
own code, saved as their scripts save), one tag per family, laid out in ``--from`` as a release owner
would: under the authors' file name where the manifest knows it, else in ``DIR/<tag>/``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import snn_zoo
from snn_zoo.hub import release as release_mod
from snn_zoo.hub.release import release, release_table
from snn_zoo.models._authors_files import AUTHORS_FILES, AuthorsFile

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "official"
CASES = {
    json.loads(m.read_text())["family"]: {c["case"]: c for c in json.loads(m.read_text())["cases"]}
    for m in FIXTURES.glob("manifest_*.json")
}
# tag -> (family, fixture case): one ported tag of every family that has ported tags.
FAMILY_TAGS = {
    "sew_resnet18.sew_in1k": ("sew_resnet", "sew_resnet18_sew_official"),
    "spikformer_4_384_cifar.official_cifar10": ("spikformer", "spikformer_cifar_official"),
    "spikingformer_cml_4_384_cifar.bkd_cifar10": ("spikingformer", "spikingformer_cml_cifar10_bkdsnn"),
    "qkformer_4_384_cifar.official_cifar10": ("qkformer", "qkformer_cifar_official"),
    "spike_driven_transformer_8_384.official_in1k": ("spike_driven_transformer", "sdt_imagenet_official"),
    "meta_spikeformer_55m.official_kd_in1k": ("meta_spikeformer", "meta_spikeformer_kd_official"),
}


def _case(tag: str) -> dict:
    family, case = FAMILY_TAGS[tag]
    return CASES[family][case]


def _authors_dir(root: Path, tags) -> Path:
    """--from DIR as downloaded: the manifest's file name where it has one, else DIR/<tag>/<file>."""
    root.mkdir(parents=True, exist_ok=True)
    for tag in tags:
        src = FIXTURES / _case(tag)["checkpoint"]
        names = AUTHORS_FILES.get(tag, AuthorsFile()).names
        if names:
            shutil.copy(src, root / names[0])
        else:
            (root / tag).mkdir()
            shutil.copy(src, root / tag / src.name)
    return root


def _kwargs(tags) -> dict:
    return {tag: dict(_case(tag)["model_kwargs"]) for tag in tags}


def _run(tmp_path, tags, token, **kw):
    return release(
        kw.pop("from_dir", None) or _authors_dir(tmp_path / "authors", tags),
        tmp_path / "work",
        only=list(tags),
        token=token,
        model_kwargs=_kwargs(tags),
        workers=0,
        log=lambda line: None,
        **kw,
    )


def _repo_ids(hub) -> list[str]:
    return sorted(repo_id for _, repo_id in hub.repos)


def _rows(rows) -> dict:
    return {r.tag: r for r in rows}


def test_release_every_family_then_load_from_the_hub(tmp_path, local_hub):
    tags = list(FAMILY_TAGS)
    rows = _rows(_run(tmp_path, tags, local_hub.token, cards_dir=tmp_path / "cards"))
    for tag in tags:
        assert rows[tag].pushed == "yes", (tag, rows[tag])
        assert rows[tag].ported == "yes" and rows[tag].validated == "no"
        files = local_hub.files(f"snn-zoo/{tag}")
        assert {"model.safetensors", "config.json", "README.md", "results.json"} <= set(files)
        assert b"**Status:** ported, not yet re-validated" in files["README.md"]
        assert (tmp_path / "cards" / f"{tag}.md").read_bytes() == files["README.md"]
        # the registered tag, loaded from that Hub, reproduces the authors' logits
        case = _case(tag)
        io = load_file(str(FIXTURES / case["io"]))
        # tiny fixture sizes: the overlay says the file has the fixture's 7 classes (else timm drops the head)
        overlay = dict(num_classes=case["model_kwargs"]["num_classes"])
        model = snn_zoo.create_model(tag, pretrained=True, pretrained_cfg_overlay=overlay, **case["model_kwargs"])
        model.eval()
        with torch.no_grad():
            diff = (model(io["input"]) - io["logits"]).abs().max().item()
        assert diff <= 1e-5, (tag, diff)
    other = [r for r in rows.values() if r.tag not in tags]
    assert other and all(r.why == "not in --only" and r.pushed == "-" for r in other)
    table = release_table(rows.values())
    assert table.count("\n") == len(snn_zoo.list_pretrained()) + 2
    assert json.loads((tmp_path / "work" / "release.json").read_text())[0]["tag"] == snn_zoo.list_pretrained()[0]


def test_killed_release_resumes(tmp_path, local_hub, monkeypatch):
    tags = ["sew_resnet18.sew_in1k", "spikformer_4_384_cifar.official_cifar10", "qkformer_4_384_cifar.official_cifar10"]
    real, calls = release_mod.upload_staged, []

    def dies_on_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is killed mid-release
        return real(*args, **kwargs)

    monkeypatch.setattr(release_mod, "upload_staged", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, tags, local_hub.token)
    first, killed, last = [t for t in snn_zoo.list_pretrained() if t in tags]  # release order
    assert _repo_ids(local_hub) == [f"snn-zoo/{first}"] and calls[1] == f"snn-zoo/{killed}"
    monkeypatch.setattr(release_mod, "upload_staged", real)
    rows = _rows(_run(tmp_path, tags, local_hub.token, from_dir=tmp_path / "authors"))
    assert rows[first].pushed == "skipped" and "already match" in rows[first].why
    assert rows[first].ported == rows[killed].ported == "yes (reused)"  # the ports survived the kill
    assert rows[killed].pushed == rows[last].pushed == "yes"
    assert _repo_ids(local_hub) == sorted(f"snn-zoo/{t}" for t in tags)


def test_wrong_file_checksum_and_failing_revalidation_are_refused_before_upload(tmp_path, local_hub, monkeypatch):
    sew, sf, sdt = (
        "sew_resnet18.sew_in1k",
        "spikformer_4_384_cifar.official_cifar10",
        "spike_driven_transformer_8_384.official_in1k",
    )
    authors = tmp_path / "authors"
    (authors / sew).mkdir(parents=True)
    shutil.copy(FIXTURES / _case(sf)["checkpoint"], authors / sew / "model_best.pth.tar")  # Spikformer's file
    (authors / sf).mkdir()
    shutil.copy(FIXTURES / _case(sf)["checkpoint"], authors / sf / "model_best.pth.tar")
    (authors / sdt).mkdir()
    shutil.copy(FIXTURES / _case(sdt)["checkpoint"], authors / sdt / "checkpoint.pth.tar")
    # re-validation data: random images in 7 class folders; the authors report 72-96 %.
    data = tmp_path / "data"
    gen = torch.Generator().manual_seed(0)
    for key in ("cifar10", "imagenet"):
        for c in range(7):
            (data / key / "val" / f"c{c}").mkdir(parents=True)
            pixels = (torch.rand(36, 36, 3, generator=gen) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(data / key / "val" / f"c{c}" / "0.png")
    manifest = {sf: AuthorsFile(sha256="0" * 64)}
    tags = [sew, sf, sdt]
    rows = _rows(
        _run(
            tmp_path, tags, local_hub.token, from_dir=authors, manifest=manifest, data_dir=data, energy_samples=2,
            batch_size=7,
        )
    )  # fmt: skip
    assert rows[sew].why.startswith("refused: port failed") and "Spikformer" in rows[sew].why
    assert rows[sf].why.startswith("refused: checksum mismatch")
    assert rows[sdt].why.startswith("refused: measured top-1") and rows[sdt].ported == "yes"
    assert "reported 72.28%" in rows[sdt].validated
    assert all(rows[t].pushed == "-" for t in tags)
    assert _repo_ids(local_hub) == []  # nothing reached the Hub
    # --accept-drop publishes the measured numbers beside the reported ones
    rows = _rows(
        _run(
            tmp_path, [sdt], local_hub.token, from_dir=authors, data_dir=data, accept_drop=True, energy_samples=2,
            batch_size=7,
        )
    )  # fmt: skip
    assert (
        rows[sdt].pushed == "yes" and rows[sdt].ported == "yes (reused)" and "accepted: measured top-1" in rows[sdt].why
    )
    files = local_hub.files(f"snn-zoo/{sdt}")
    results = json.loads(files["results.json"])
    assert results["reported"]["top1"] == 72.28 and results["measured"]["num_samples"] == 7
    assert results["measured"]["sops_per_image"] > 0
    card = files["README.md"].decode()
    assert (
        "re-validated on ImageNet-1k (val/) (7 images)" in card
        and str(tmp_path) not in card
        and "SOPs per image (measured" in card
    )
    # far ABOVE the reported number is refused too: same shapes, another tag's file?
    below = results["measured"]["top1"] - 5.0
    low = {t: dict(i, top1=below) if t == sdt else i for t, i in release_mod.ported_weights().items()}
    monkeypatch.setattr(release_mod, "ported_weights", lambda: low)
    rows = _rows(
        _run(tmp_path, [sdt], local_hub.token, from_dir=authors, data_dir=data, energy_samples=2, batch_size=7)
    )
    assert (
        rows[sdt].why.startswith("refused: measured top-1 is")
        and f"5.00 points above the reported {below:.2f}%" in rows[sdt].why
    )


def test_dry_run_uploads_nothing_and_script_prints_the_table(tmp_path, local_hub, capsys):
    spec = importlib.util.spec_from_file_location("release_cli", REPO_ROOT / "hub_scripts" / "release.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    authors = _authors_dir(tmp_path / "authors", ["sew_resnet18.sew_in1k"])
    rc = cli.main(
        ["--from", str(authors), "--dry-run", "--only", "spiking_cnn_small.*", "--work", str(tmp_path / "w"),
         "--cards", str(tmp_path / "cards")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "| `spiking_cnn_small.bkd_t4_digits` |" in out and "would push" in out
    assert "| `sew_resnet18.sew_in1k` | - | - | - | - | not in --only |" in out
    assert "Dry run: nothing was uploaded." in out and _repo_ids(local_hub) == []
    assert cli.main(["--from", str(authors), "--only", "nothing_like_this*", "--dry-run"]) == 2
    assert "matches no pretrained tag" in capsys.readouterr().err


def test_ambiguous_files_and_missing_token_are_refused_before_any_work(tmp_path, local_hub, monkeypatch):
    from snn_zoo.io import CheckpointError

    tag = "sew_resnet18.sew_in1k"
    authors = _authors_dir(tmp_path / "authors", [tag])  # sew18_checkpoint_319.pth ...
    (authors / tag).mkdir()
    shutil.copy(FIXTURES / _case(tag)["checkpoint"], authors / tag / "other.pth")  # ... and a second candidate
    rows = _rows(_run(tmp_path, [tag], local_hub.token, from_dir=authors))
    assert rows[tag].found == "no" and rows[tag].why.startswith("refused: several files match") and rows[tag].refused
    assert _repo_ids(local_hub) == []
    with pytest.raises(CheckpointError, match="No Hugging Face token"):
        release(authors, tmp_path / "w2", only=[tag])  # the fixture removed HF_TOKEN; the token file is empty
    assert not (tmp_path / "w2").exists()
