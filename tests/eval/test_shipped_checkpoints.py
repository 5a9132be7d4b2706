"""The published checkpoints in checkpoints/: registered, loadable, and as accurate as their results.json says."""

import json
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.eval.validate import validate_model

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
RESULTS = sorted(CHECKPOINTS.glob("*/results.json"))


def test_every_pretrained_tag_has_a_shipped_checkpoint_and_back():
    shipped = {p.parent.name for p in RESULTS}
    assert shipped, "checkpoints/ holds the zoo's published checkpoints"
    ported = set(snn_zoo.models.ported_weights())  # official weights ported from the authors, not shipped here
    assert set(snn_zoo.list_pretrained()) - ported == shipped


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.parent.name)
def test_validation_accuracy_equals_results_json(path):
    results = json.loads(path.read_text())
    row = validate_model(
        f"local-dir:{path.parent}",
        dataset=results["dataset"],
        T=results["T"],
        pretrained=True,
        batch_size=128,
        energy=False,
        progress=False,
    )
    assert row["num_samples"] == results["num_val_samples"]
    assert row["top1"] == pytest.approx(results["top1"], abs=1e-3)
    assert row["top5"] == pytest.approx(results["top5"], abs=1e-3)


@pytest.mark.parametrize("path", RESULTS[:1], ids=lambda p: p.parent.name)
def test_tag_settings_match_the_checkpoint(path):
    config = json.loads((path.parent / "config.json").read_text())
    model = snn_zoo.create_model(path.parent.name)  # the tag's cfg, no weights
    assert config["model_args"]["T"] == model.T and model.neuron == config["model_args"]["neuron"]
    assert model.pretrained_cfg["hf_hub_id"] == f"snn-zoo/{path.parent.name}"
    shipped = snn_zoo.create_model(f"local-dir:{path.parent}", pretrained=True)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in shipped.state_dict().items()}
    assert torch.isfinite(next(shipped.parameters())).all()
