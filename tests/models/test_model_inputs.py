"""Bad constructor arguments and bad forward inputs give one clear error (issue 11, cases 8-10)."""

from __future__ import annotations

import pytest
import torch

import snn_zoo


@pytest.fixture(scope="module")
def model():
    return snn_zoo.create_model("spiking_cnn_tiny", T=2).eval()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(v_threshold=-1.0), "v_threshold must be a number > 0"),
        (dict(v_threshold=0.0), "v_threshold must be a number > 0"),
        (dict(v_reset=2.0), "v_reset must be below v_threshold"),
        (dict(num_classes=-3), "num_classes must be an integer >= 0"),
        (dict(in_chans=0), "in_chans must be an integer >= 1"),
        (dict(tau=0.5), "tau must be > 1"),
        (dict(T=0), "T \\(time steps\\) must be an integer >= 1"),
    ],
)
def test_bad_snn_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        snn_zoo.create_model("spiking_cnn_small", **kwargs)


def test_valid_edge_settings_still_build():
    assert snn_zoo.create_model("spiking_cnn_small", num_classes=0).num_classes == 0  # timm: no classifier
    assert snn_zoo.create_model("spiking_cnn_small", v_reset=None, v_threshold=0.5) is not None
    assert snn_zoo.create_model("spiking_cnn_small", neuron="relu", v_threshold=-1.0) is not None  # ANN twin: unused


@pytest.mark.parametrize(
    "x, error, message",
    [
        (
            torch.zeros(2, 1, 8, 8, dtype=torch.uint8),
            TypeError,
            r"expects floating-point input, got torch.uint8.*x.float\(\)",
        ),
        (torch.zeros(2, 1, 8, 8, dtype=torch.int64), TypeError, "expects floating-point input, got torch.int64"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.float64), TypeError, r"torch.float32 weights but got torch.float64.*x.to"),
        ([[0.0] * 8] * 8, TypeError, "expects a torch.Tensor, got list"),
        (torch.zeros(2, 1, 3, 3), ValueError, "smaller than SpikingCNN's minimum 4x4"),
        (torch.full((2, 1, 8, 8), float("nan")), ValueError, "128 NaN/inf value"),
        (torch.tensor([[[[float("inf")] * 8] * 8]]), ValueError, "NaN/inf"),
    ],
)
def test_bad_inputs_are_refused(model, x, error, message):
    with pytest.raises(error, match=message):
        model(x)


def test_checks_pass_valid_input_and_autocast(model):
    x = torch.rand(2, 1, 8, 8)
    assert model(x).shape == (2, 10)
    assert model(torch.rand(2, 2, 1, 8, 8)).shape == (2, 10)  # event frames [T, B, C, H, W]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x).shape == (2, 10)  # any float dtype under autocast
    model.check_inputs = False
    try:
        assert model(torch.full((1, 1, 8, 8), float("nan"))).shape == (1, 10)  # opt-out skips only the NaN check
    finally:
        model.check_inputs = True
