"""Shared checks of the timm model contract for the spiking-transformer family tests (tiny builds)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

import snn_zoo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "official"


def param_count(name: str, **kwargs) -> int:
    """Parameters of ``name`` built on the meta device (no memory, no init time)."""
    with torch.device("meta"):
        model = snn_zoo.create_model(name, **kwargs)
    return sum(p.numel() for p in model.parameters())


def fixture_cases(family: str) -> list[dict]:
    return json.loads((FIXTURES / f"manifest_{family}.json").read_text())["cases"]


def fixture_max_diff(case: dict, **overrides) -> float:
    """Load an official fixture through timm's pretrained path; max |our logits - official logits|."""
    io = load_file(str(FIXTURES / case["io"]))
    file = str(FIXTURES / case["checkpoint"])
    model = snn_zoo.create_model(
        case["arch"], pretrained=True, pretrained_cfg_overlay=dict(file=file), **{**case["model_kwargs"], **overrides}
    ).eval()
    with torch.no_grad():
        return (model(io["input"]) - io["logits"]).abs().max().item()


def check_contract(model: torch.nn.Module, size: tuple, num_classes: int, linear_head: bool) -> None:
    """[B, C, H, W] and [T, B, C, H, W] inputs, forward_features / forward_head / pre_logits,
    get_classifier / reset_classifier, as every zoo model."""
    model.eval()
    B, T = 2, model.T
    x = torch.rand(B, *size)
    with torch.no_grad():
        y = model(x)
        assert y.shape == (B, num_classes) and torch.isfinite(y).all()
        assert torch.allclose(model(x.unsqueeze(0).expand(T, *x.shape)), y)  # repeated frames == direct encoding
        feats = model.forward_features(x)
        assert feats.dim() == 4 and feats.shape[:2] == (B, model.num_features)
        if linear_head:  # time-averaged map -> head is exact when the head is linear
            assert torch.allclose(model.forward_head(feats), y, atol=1e-5)
        assert model.forward_head(feats, pre_logits=True).shape == (B, model.num_features)
    assert model.get_classifier() is model.head
    feats_list = model.forward_intermediates(x, intermediates_only=True)  # timm feature extraction
    assert [f.shape[1] for f in feats_list] == [info["num_chs"] for info in model.feature_info]
    assert [size[-1] // f.shape[-1] for f in feats_list] == [info["reduction"] for info in model.feature_info]
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(x).shape == (B, 3)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (B, model.num_features)
