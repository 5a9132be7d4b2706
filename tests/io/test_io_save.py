"""save_pretrained / atomic writes: what lands on disk, and what a failed write leaves behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.io import atomic_write_bytes, atomic_write_text, save_pretrained


def _tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()


def _x() -> torch.Tensor:
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(123)) * 4


def test_save_pretrained_writes_only_safetensors_and_config(tmp_path: Path) -> None:
    model = _tiny()
    out = save_pretrained(model, tmp_path / "run")
    assert out == tmp_path / "run"
    # Exactly two files, no pickle, no leftover ".staging-*" folder or ".*.tmp" file.
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == "spiking_cnn_tiny"
    assert config["model_args"]["T"] == 2 and config["model_args"]["neuron"] == "lif"

    loaded = snn_zoo.create_model(f"local-dir:{out}", pretrained=True).eval()
    assert loaded.T == 2
    with torch.no_grad():
        expected, got = model(_x()), loaded(_x())
    assert expected.abs().sum() > 0  # the input drives spikes, so the comparison means something
    assert torch.equal(expected, got)


def test_save_pretrained_overwrites_in_place(tmp_path: Path) -> None:
    first, second = _tiny(0), _tiny(1)
    save_pretrained(first, tmp_path)
    save_pretrained(second, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = snn_zoo.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    with torch.no_grad():
        assert torch.equal(loaded(_x()), second(_x()))


def test_save_pretrained_failure_leaves_no_staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm.models as save_mod

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(save_mod, "save_for_hf", boom)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained(_tiny(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_roundtrip(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "héllo")
    assert target.read_text(encoding="utf-8") == "héllo"
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.txt"]


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old contents")

    # 1) the write itself fails (the file object's write raises).
    real_fdopen = os.fdopen

    class BrokenFile:
        def __init__(self, f):
            self._f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

        def write(self, data):
            self._f.write(data[: len(data) // 2])  # half of it reaches the temp file...
            raise OSError("write failed midway")  # ...then the disk "fails"

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: BrokenFile(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="midway"):
        atomic_write_bytes(target, b"new contents that never land")
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # temp file cleaned up

    # 2) the final rename fails.
    def no_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        atomic_write_bytes(target, b"new contents that never land")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
