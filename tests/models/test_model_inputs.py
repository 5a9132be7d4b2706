"""Bad constructor arguments and bad forward inputs give one clear error (issue 11, cases 8-10)."""

from __future__ import annotations

import json

import pytest
import torch

import snn_zoo
from snn_zoo.io import save_pretrained


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


# -- issue 22: soft reset on every route, settings of every type checked, event layout -----------------
def _membrane_after_one_spike(model) -> float:
    """Drive the model's first neuron with one step of 1.5 (threshold 1, IF): soft reset keeps 1.5 - 1 = 0.5,
    a hard reset to 0 keeps 0. The dynamics tell the reset apart, not the recorded settings."""
    from snn_zoo.neurons import MultiStepNeuron

    neuron = next(m for m in model.modules() if isinstance(m, MultiStepNeuron))
    neuron.reset()
    spikes = neuron(torch.full((1, 1, 3), 1.5))
    assert spikes.sum() == 3  # it fired
    return float(neuron.v.flatten()[0])


SOFT = dict(T=2, neuron="if", v_threshold=1.0)


def _soft_routes(tmp_path):
    """Every route README names for a soft reset: None and 'soft', snn_zoo and timm, entrypoint, config.json."""
    import json

    import timm
    from timm.models import model_entrypoint

    from snn_zoo.io import save_pretrained

    yield "snn_zoo.create_model(v_reset=None)", snn_zoo.create_model("spiking_cnn_tiny", v_reset=None, **SOFT)
    yield "snn_zoo.create_model(v_reset='soft')", snn_zoo.create_model("spiking_cnn_tiny", v_reset="soft", **SOFT)
    yield "timm.create_model(v_reset='soft')", timm.create_model("spiking_cnn_tiny", v_reset="soft", **SOFT)
    yield "entrypoint(v_reset=None)", model_entrypoint("spiking_cnn_tiny")(v_reset=None, **SOFT)
    # distill.py --model-kwargs '{"v_reset": null}' reaches snn_zoo.create_model as this dict.
    cli = json.loads('{"v_reset": null}')
    yield "--model-kwargs null", snn_zoo.create_model("spiking_cnn_tiny", **cli, **SOFT)
    saved = save_pretrained(snn_zoo.create_model("spiking_cnn_tiny", v_reset=None, **SOFT), tmp_path / "soft")
    assert json.loads((saved / "config.json").read_text())["model_args"]["v_reset"] == "soft"
    yield "local-dir (snn_zoo)", snn_zoo.create_model(f"local-dir:{saved}", pretrained=True)
    yield "local-dir (timm)", timm.create_model(f"local-dir:{saved}", pretrained=True)
    # A config.json written before 'soft' existed records null: still a soft reset.
    config = json.loads((saved / "config.json").read_text())
    config["model_args"]["v_reset"] = None
    (saved / "config.json").write_text(json.dumps(config))
    yield "local-dir, config null", snn_zoo.create_model(f"local-dir:{saved}", pretrained=True)


def test_soft_reset_reaches_the_neurons_on_every_route(tmp_path):
    hard = snn_zoo.create_model("spiking_cnn_tiny", v_reset=0.0, **SOFT)
    assert _membrane_after_one_spike(hard) == 0.0  # the probe tells hard from soft
    for route, model in _soft_routes(tmp_path):
        assert _membrane_after_one_spike(model) == pytest.approx(0.5), route
        assert model.snn_args["v_reset"] == "soft", route


@pytest.mark.parametrize("flag", ["detach_reset", "decay_input"])
@pytest.mark.parametrize("value", ["no", "False", "true", "1", 1, 0.0])
def test_booleans_must_be_booleans(flag, value):
    with pytest.raises(ValueError, match=f"{flag} must be True or False"):
        snn_zoo.create_model("spiking_cnn_tiny", **{flag: value})


@pytest.mark.parametrize("name", ["tau", "v_threshold", "v_reset"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "2.0", True])
def test_numbers_must_be_finite_numbers(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a (finite )?number"):
        snn_zoo.create_model("spiking_cnn_tiny", **{name: value})


def test_relu_twin_checks_types_but_not_ranges():
    assert snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", v_threshold=-1.0, v_reset=5.0) is not None
    with pytest.raises(ValueError, match="detach_reset must be True or False"):
        snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", detach_reset="no")
    with pytest.raises(ValueError, match="tau must be a finite number"):
        snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", tau=float("inf"))


@pytest.mark.parametrize(
    "model_args, message",
    [
        ({"detach_reset": "no"}, "detach_reset must be True or False"),
        ({"tau": "Infinity"}, "tau must be a number"),
        ({"v_reset": "hard"}, "v_reset must be a number .hard reset. or 'soft'"),
        ({"T": 2.5}, "T .time steps. must be an integer"),
    ],
)
def test_config_json_model_args_are_checked(tmp_path, model_args, message):
    import json

    from snn_zoo.io import save_pretrained

    saved = save_pretrained(snn_zoo.create_model("spiking_cnn_tiny", T=2), tmp_path)
    config = json.loads((saved / "config.json").read_text())
    config["model_args"].update(model_args)
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        snn_zoo.create_model(f"local-dir:{saved}", pretrained=True)


def test_integral_numbers_are_accepted_and_saved_as_ints(tmp_path):
    import json

    import numpy as np

    from snn_zoo.io import save_pretrained

    model = snn_zoo.create_model(
        "spiking_cnn_tiny", T=np.int64(3), num_classes=np.int32(5), tau=np.float32(3.0), detach_reset=np.bool_(True)
    )
    assert model.T == 3 and type(model.T) is int and model.num_classes == 5
    args = json.loads((save_pretrained(model, tmp_path) / "config.json").read_text())["model_args"]
    assert (args["T"], args["num_classes"], args["tau"], args["detach_reset"]) == (3, 5, 3.0, True)
    for bad in (4.0, "4", True):
        with pytest.raises(ValueError, match="T .time steps. must be an integer >= 1"):
            snn_zoo.create_model("spiking_cnn_tiny", T=bad)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 0"):
        snn_zoo.create_model("spiking_cnn_tiny", num_classes=10.0)


def test_event_frames_of_another_length_are_refused(model):
    x = torch.rand(5, 2, 1, 8, 8)  # batch-first [B=5, T=2, ...] for a T=2 model
    with pytest.raises(ValueError, match=r"leading size 5\).*from_batch_first"):
        model(x)
    with pytest.raises(ValueError, match=r"time-first .* 2 time steps, got \(3, 4, 1, 8, 8\)"):
        model.forward_features(torch.rand(3, 4, 1, 8, 8))
    from snn_zoo.layers import from_batch_first

    assert model(from_batch_first(x)).shape == (5, 10)


def test_img_size_and_timm_wide_options_say_what_to_do():
    with pytest.raises(ValueError, match="takes no img_size: snn_zoo models accept any input size"):
        snn_zoo.create_model("sew_resnet18_cifar", img_size=64)
    with pytest.raises(ValueError, match=r"has no argument drop_rate=0.1; it takes \[.*'width'"):
        snn_zoo.create_model("spiking_cnn_tiny", drop_rate=0.1)


@pytest.mark.parametrize(
    "out_indices, message",
    [
        ((-9,), r"invalid entries \[-9\]; SpikingCNN has 4 feature levels: indices 0..3 \(or -4..-1\)"),
        ((), "non-empty list of levels, got \\(\\)"),
        (("a",), r"invalid entries \['a'\]"),
        (0, "must be >= 1, got 0"),
    ],
)
def test_bad_out_indices_name_the_levels(out_indices, message):
    with pytest.raises(ValueError, match=message):
        snn_zoo.create_model("spiking_cnn_tiny", features_only=True, out_indices=out_indices)


def test_setting_T_later_is_checked_too():
    model = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    import numpy as np

    model.T = np.int64(3)  # to_multi_step / noisy single-step training set T after construction
    assert model.T == 3 and type(model.T) is int and model(torch.rand(3, 1, 1, 8, 8)).shape == (1, 10)
    for bad in (0, 2.5, "4"):
        with pytest.raises(ValueError, match="T .time steps. must be an integer >= 1"):
            model.T = bad  # T = 0 used to give NaN logits (the mean over no time steps)


def test_family_size_and_switch_arguments_are_typed(tmp_path):
    import json

    import numpy as np

    from snn_zoo.io import save_pretrained

    with pytest.raises(ValueError, match=r"spiking_cnn_tiny: width must be an integer, got '16' \(str\)"):
        snn_zoo.create_model("spiking_cnn_tiny", width="16")
    with pytest.raises(ValueError, match="spikformer_2_64_digits: depth must be an integer, got 1.5"):
        snn_zoo.create_model("spikformer_2_64_digits", depth=1.5)
    with pytest.raises(ValueError, match="qkv_bias must be True or False, got 'no'"):
        snn_zoo.create_model("spikformer_2_64_digits", qkv_bias="no")
    with pytest.raises(ValueError, match="mlp_ratio must be a finite number"):
        snn_zoo.create_model("spikformer_2_64_digits", mlp_ratio=float("inf"))
    model = snn_zoo.create_model("spiking_cnn_tiny", width=np.int64(8))  # numpy integers are integers
    args = json.loads((save_pretrained(model, tmp_path) / "config.json").read_text())["model_args"]
    assert args["width"] == 8


def test_reset_classifier_checks_num_classes():
    import numpy as np

    model = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    model.reset_classifier(np.int64(3))
    assert model.num_classes == 3 and type(model.num_classes) is int and model.fc.out_features == 3
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="num_classes must be an integer >= 0"):
            model.reset_classifier(bad)


def test_T_lives_in_one_place(tmp_path):
    """``model.T`` is the one record of the time steps: set later (single-step training, to_multi_step), it is what
    config.json saves and what the reloaded model runs at."""
    model = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    model.T = 5
    assert model.snn_args["T"] == 5
    save_pretrained(model, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model_args"]["T"] == 5
    assert snn_zoo.create_model(f"local-dir:{tmp_path / 'run'}").T == 5
    twin = snn_zoo.create_model("spiking_cnn_tiny", T=3, neuron="relu")
    assert twin.T == 1 and twin.snn_args["T"] == 3  # the twin runs once, and records its SNN's T
