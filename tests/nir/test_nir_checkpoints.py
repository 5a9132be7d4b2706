"""Every shipped checkpoint (checkpoints/) of a NIR-covered family: exported, run in snntorch and norse on the
360 digits validation images, same top-1 as snn_zoo; the others are refused in one line."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

pytest.importorskip("nirtorch")
pytest.importorskip("snntorch")
pytest.importorskip("norse")

import torch
from nir_peers import compare, norse_outputs, snntorch_outputs

import snn_zoo
from snn_zoo.data import create_dataset
from snn_zoo.nir import NIRExportError, export_nir, from_nir, nir_support

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
SHIPPED = sorted(p.name for p in CHECKPOINTS.glob("*") if (p / "config.json").is_file())


@cache
def _load(name: str):
    model = snn_zoo.create_model(f"local-dir:{CHECKPOINTS / name}", pretrained=True).eval()
    results = json.loads((CHECKPOINTS / name / "results.json").read_text())
    data = create_dataset(results["dataset"], split="val", T=results["T"])
    images = torch.stack([data[i][0] for i in range(len(data))])
    x = images.transpose(0, 1).contiguous() if images.dim() == 5 else images  # frames: [T, B, C, H, W]
    labels = torch.tensor(data.targets)
    with torch.no_grad():
        logits = model(x)
    return model, x, labels, logits, results


def _top1(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * (logits.argmax(-1) == labels).float().mean().item()


def _covered(name: str) -> bool:
    config = json.loads((CHECKPOINTS / name / "config.json").read_text())
    with torch.device("meta"):  # structure only, no weights
        return nir_support(snn_zoo.create_model(config["architecture"], **config["model_args"])) is None


EXPORTED = [name for name in SHIPPED if _covered(name)]
REFUSED = [name for name in SHIPPED if name not in EXPORTED]


def test_some_checkpoints_ship():
    assert EXPORTED, f"no shipped checkpoint of a NIR-covered family in {CHECKPOINTS}"


@pytest.mark.parametrize("name", EXPORTED)
def test_peers_reproduce_shipped_checkpoint(name):
    model, x, labels, logits, results = _load(name)
    ours = _top1(logits, labels)
    assert len(labels) == 360 and ours == pytest.approx(
        results["top1"], abs=1e-3
    )  # as measured (results.json: 4 decimals)
    T = model.T
    peers = {
        "snntorch": snntorch_outputs(export_nir(model, x), x, T).mean(0),
        "norse": norse_outputs(export_nir(model, x, pool="sum"), x, T).mean(0),
        "snn_zoo.from_nir": from_nir(export_nir(model, x))(x),
    }
    for peer, peer_logits in peers.items():
        found = compare(logits, peer_logits)
        assert _top1(peer_logits, labels) == ours, (peer, found)
        assert found["max_abs_diff"] <= 1e-5, (peer, found)


@pytest.mark.parametrize("name", REFUSED)
def test_other_checkpoints_are_refused_in_one_line(name):
    model = _load(name)[0]
    with pytest.raises(NIRExportError, match=r"^\w+: cannot export to NIR: .+: .+$"):
        export_nir(model, torch.zeros(1, *model.pretrained_cfg["input_size"]))
