"""snn_zoo.io: the one checkpoint layer (finding, reading, validating, loading, atomic writing)."""

from __future__ import annotations

import argparse
import collections
import errno
import json
import os
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import snn_zoo
from snn_zoo.io import (
    CheckpointError,
    NoSpaceError,
    atomic_directory,
    atomic_write_bytes,
    check_finite,
    find_checkpoint,
    load_weights,
    read_config,
    read_state_dict,
    save_pretrained,
)
from snn_zoo.models import SNN_MODELS


def _tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()


# -- config.json --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, message",
    [
        ('{"architecture": "spiking_cnn_tiny", "num_cl', "not valid JSON"),
        ('["spiking_cnn_tiny"]', "holds a JSON list, not an object"),
        ('{"architecture": "resnet18"}', "names architecture 'resnet18', which is not an snn_zoo model"),
        ('{"architecture": "spiking_cnn_tiny", "model_args": 3}', "'model_args' must be an object"),
    ],
)
def test_bad_config_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(CheckpointError, match=message) as e:
        read_config(tmp_path, SNN_MODELS)
    assert str(tmp_path / "config.json") in str(e.value)


def test_config_of_another_architecture(tmp_path: Path) -> None:
    save_pretrained(_tiny(), tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint of 'spiking_cnn_tiny', not of 'spiking_cnn_small'"):
        read_config(tmp_path, SNN_MODELS, expected="spiking_cnn_small")
    with pytest.raises(CheckpointError, match="has no config.json"):
        read_config(tmp_path / "nowhere")


# -- safetensors --------------------------------------------------------------------------------------
def test_malformed_and_truncated_safetensors_name_the_file(tmp_path: Path) -> None:
    save_pretrained(_tiny(), tmp_path)
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated") as e:
        read_state_dict(weights)
    assert str(weights) in str(e.value)
    weights.write_bytes((20).to_bytes(8, "little") + b"{not json at all!!!}" + data[40:])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        read_state_dict(weights)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        snn_zoo.create_model(f"local-dir:{tmp_path}", pretrained=True)


def test_non_finite_tensors_are_named_everywhere(tmp_path: Path) -> None:
    model = _tiny()
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    state["fc.weight"][0, : 250 // 10] = float("nan")
    bn = next(k for k in state if k.endswith("running_var"))
    state[bn][0] = float("inf")
    save_pretrained(model, tmp_path)
    save_file(state, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=rf"non-finite .* 2 tensor\(s\): .*{bn}.*fc.weight|fc.weight.*{bn}"):
        read_state_dict(tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="fc.weight"):  # local-dir: preflight (issue 11, case 11)
        snn_zoo.create_model(f"local-dir:{tmp_path}", pretrained=True)
    with pytest.raises(CheckpointError, match="fc.weight"):
        load_weights(_tiny(), tmp_path)
    with pytest.raises(CheckpointError, match="fc.weight"):
        check_finite(state)


def test_save_pretrained_refuses_non_finite_weights_and_buffers(tmp_path: Path) -> None:
    model = snn_zoo.create_model("spiking_cnn_small")
    bn = next(n for n, _ in model.named_buffers() if n.endswith("running_var"))
    model.get_buffer(bn).fill_(float("inf"))
    with pytest.raises(CheckpointError, match=bn):
        save_pretrained(model, tmp_path / "run")
    assert not (tmp_path / "run" / "model.safetensors").exists()


# -- pickles -------------------------------------------------------------------------------------------
def test_pickles_read_with_a_narrow_allowlist(tmp_path: Path) -> None:
    model = _tiny(3)
    state = model.state_dict()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    # timm-style .pth.tar: state_dict + EMA + argparse args (the allowlisted metadata).
    torch.save(
        {"epoch": 3, "arch": "x", "args": argparse.Namespace(lr=0.1), "state_dict": state, "state_dict_ema": ema},
        tmp_path / "checkpoint.pth.tar",
    )
    got = read_state_dict(tmp_path / "checkpoint.pth.tar")
    assert torch.equal(got["fc.weight"], ema["fc.weight"])  # timm's order: the EMA weights first
    raw = read_state_dict(tmp_path / "checkpoint.pth.tar", use_ema=False)
    assert torch.equal(raw["fc.weight"], state["fc.weight"])
    # SEW-style .pth: {'model': ...} with DDP 'module.' prefixes.
    torch.save(
        {"model": collections.OrderedDict((f"module.{k}", v) for k, v in state.items()), "epoch": 1},
        tmp_path / "sew.pth",
    )
    fresh = _tiny(4)
    assert load_weights(fresh, tmp_path / "sew.pth", allow_pickle=True).name == "sew.pth"
    assert torch.equal(fresh.fc.weight, model.fc.weight)
    torch.save(state, tmp_path / "pytorch_model.bin")
    assert set(read_state_dict(tmp_path / "pytorch_model.bin")) == set(state)


class Meta:  # a harmless-looking class that is still not on the allowlist
    lr = 0.1


class Payload:  # anything outside the allowlist: refused by name, never constructed
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickle_with_foreign_objects_is_refused_by_name(tmp_path: Path) -> None:
    torch.save({"state_dict": _tiny().state_dict(), "extra": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match=r"evil.pth.*(posix|os|nt)\.system"):
        read_state_dict(tmp_path / "evil.pth")
    torch.save({"state_dict": _tiny().state_dict(), "opt": Meta()}, tmp_path / "meta.pth")
    with pytest.raises(CheckpointError, match=r"meta.pth.*'test_io_checkpoint.Meta'"):
        read_state_dict(tmp_path / "meta.pth")
    (tmp_path / "trunc.pth").write_bytes((tmp_path / "evil.pth").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="trunc.pth"):
        read_state_dict(tmp_path / "trunc.pth")


def test_find_checkpoint(tmp_path: Path) -> None:
    torch.save(_tiny().state_dict(), tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match="is a pickle.*allow_pickle=True"):
        find_checkpoint(tmp_path / "w.pth")
    with pytest.raises(CheckpointError, match=r"no model.safetensors. It holds pickle checkpoints \['w.pth'\]"):
        find_checkpoint(tmp_path)
    assert find_checkpoint(tmp_path, allow_pickle=True).name == "w.pth"
    with pytest.raises(CheckpointError, match="does not exist"):
        find_checkpoint(tmp_path / "nope")


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    save_pretrained(snn_zoo.create_model("spiking_cnn_small"), tmp_path)
    with pytest.raises(CheckpointError, match="does not fit .*shape mismatch"):
        load_weights(_tiny(), tmp_path)


# -- atomic writes -------------------------------------------------------------------------------------
def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
        save_pretrained(_tiny(), tmp_path / "run")
        with atomic_directory(tmp_path / "state") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    for path in (
        tmp_path / "a.json",
        tmp_path / "run" / "model.safetensors",
        tmp_path / "run" / "config.json",
        tmp_path / "state" / "x",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o755


def test_disk_full_says_so_and_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    target.write_text(json.dumps({"top1": 1}))
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(NoSpaceError, match="no space left on device") as e:
        atomic_write_bytes(target, b"x" * 100)
    assert str(target) in str(e.value) and "intact" in str(e.value)
    with pytest.raises(NoSpaceError, match="no space left on device"):
        save_pretrained(_tiny(), tmp_path / "run")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert json.loads(target.read_text()) == {"top1": 1}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "run") == ["results.json"]


def test_atomic_directory_swaps_whole(tmp_path: Path) -> None:
    with atomic_directory(tmp_path / "state") as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "state") as tmp:
        (tmp / "a").write_text("2")
        raise RuntimeError("killed")
    assert (tmp_path / "state" / "a").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_config_that_disagrees_with_the_weights(tmp_path: Path) -> None:
    run = save_pretrained(snn_zoo.create_model("spiking_cnn_small"), tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["architecture"] = "spiking_cnn_tiny"
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=f"(?s){run}/config.json.*size mismatch"):
        snn_zoo.create_model(f"local-dir:{run}", pretrained=True)


def test_validate_refuses_a_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    from snn_zoo.eval.validate import validate_model

    run = save_pretrained(_tiny(), tmp_path / "run")
    with pytest.raises(CheckpointError, match="holds a 'spiking_cnn_tiny' checkpoint.*not 'spiking_cnn_small'"):
        validate_model("spiking_cnn_small", checkpoint=run, energy=False, max_batches=1, progress=False, device="cpu")


# -- issue 22: dtypes, EMA choice, tied weights, a full disk inside safetensors ---------------------------
def _int8_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights under the right names, floats stored as int8 (what a quantized export holds)."""
    return {
        k: (v.round().clamp(-128, 127).to(torch.int8) if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }


def test_integer_tensors_for_float_weights_are_refused_on_every_route(tmp_path: Path) -> None:
    model = _tiny()
    save_pretrained(model, tmp_path)
    save_file(_int8_copy(model), str(tmp_path / "model.safetensors"))
    message = r"another dtype kind than the model's \(.*torch.int8 vs model torch.float32"
    with pytest.raises(CheckpointError, match=message):
        load_weights(_tiny(), tmp_path)  # validate.py --checkpoint, distill.py's teacher
    with pytest.raises(CheckpointError, match=message) as e:
        snn_zoo.create_model(f"local-dir:{tmp_path}", pretrained=True)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(CheckpointError, match=message) as e:
        snn_zoo.create_model(
            "spiking_cnn_tiny",
            T=2,
            pretrained=True,
            pretrained_cfg_overlay=dict(file=str(tmp_path / "model.safetensors")),
        )
    assert "model.safetensors" in str(e.value)
    import timm

    with pytest.raises(CheckpointError, match=message):
        timm.create_model(f"local-dir:{tmp_path}", pretrained=True)


def test_other_float_precisions_are_cast(tmp_path: Path) -> None:
    """The one documented cast: floating-point tensors of another precision load into the model's dtype."""
    model = _tiny(5)
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(half, str(tmp_path / "model.safetensors"))
    fresh = _tiny(6)
    load_weights(fresh, tmp_path)
    assert fresh.fc.weight.dtype == torch.float32
    assert torch.equal(fresh.fc.weight, model.fc.weight.half().float())


def test_ema_and_raw_weights_in_one_pickle_log_which_is_loaded(tmp_path: Path, caplog) -> None:
    state = _tiny().state_dict()
    torch.save({"state_dict": state, "state_dict_ema": state}, tmp_path / "both.pth.tar")
    with caplog.at_level("WARNING", logger="snn_zoo.io"):
        read_state_dict(tmp_path / "both.pth.tar")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "loading 'state_dict_ema'" in lines[0] and "use_ema=False" in lines[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="snn_zoo.io"):
        read_state_dict(tmp_path / "both.pth.tar", use_ema=False)
    assert ["loading 'state_dict'" in r.getMessage() for r in caplog.records] == [True]
    caplog.clear()
    torch.save({"state_dict": state}, tmp_path / "one.pth.tar")
    with caplog.at_level("WARNING", logger="snn_zoo.io"):
        read_state_dict(tmp_path / "one.pth.tar")
    assert not caplog.records  # nothing to choose: nothing said


def test_tied_weights_are_refused_and_leave_no_folder(tmp_path: Path) -> None:
    model = _tiny()
    model.head_copy = torch.nn.Linear(model.fc.in_features, model.fc.out_features)
    model.head_copy.weight = model.fc.weight  # tied
    with pytest.raises(
        CheckpointError, match=r"tensors share memory \(tied weights\) \[\['fc.weight', 'head_copy.weight'\]\]"
    ):
        save_pretrained(model, tmp_path / "new" / "run")
    assert list(tmp_path.iterdir()) == []  # neither 'new' nor 'run' left behind


def test_disk_full_inside_safetensors_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """safetensors raises its own SafetensorError (not an OSError) for ENOSPC; the message is the one it
    gives on a full tmpfs (safetensors 0.8)."""
    import safetensors.torch
    from safetensors import SafetensorError

    save_pretrained(_tiny(0), tmp_path / "run")
    before = (tmp_path / "run" / "model.safetensors").read_bytes()

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(NoSpaceError, match="no space left on device") as e:
        save_pretrained(_tiny(1), tmp_path / "run")
    assert str(tmp_path / "run" / "model.safetensors") in str(e.value) and "previous file" in str(e.value)
    assert "intact" in str(e.value)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "model.safetensors"]
    with pytest.raises(NoSpaceError, match="nothing was written"):
        save_pretrained(_tiny(1), tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_torch_save_on_a_full_disk_is_reported_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save says only "unexpected pos ..." (a RuntimeError) when the disk fills: the free space decides."""
    import shutil
    from collections import namedtuple

    Usage = namedtuple("Usage", "total used free")

    def write_state():
        with atomic_directory(tmp_path / "state") as tmp:
            (tmp / "part").write_bytes(b"x")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

    with pytest.raises(RuntimeError, match="unexpected pos"):  # space left: not a full disk, passed on as is
        write_state()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100, 100, 0))
    with pytest.raises(NoSpaceError, match="no space left on device while writing .*state'; nothing was written"):
        write_state()
    assert list(tmp_path.iterdir()) == []
    # Only RuntimeErrors are judged by the free space.
    with pytest.raises(ValueError, match="not a disk error"), atomic_directory(tmp_path / "state"):
        raise ValueError("not a disk error")
