"""Official checkpoints load through timm's pretrained path and reproduce the authors' logits.

The fixtures (tests/fixtures/official, see its README) were made by running the authors' own model
code at tiny sizes with random weights; each case names the snn_zoo architecture that must load the
file as the authors saved it and reproduce their eval-mode logits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import snn_zoo
from snn_zoo.io import CheckpointError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "official"
ATOL = 1e-5
CASES = [
    case for manifest in sorted(FIXTURES.glob("manifest_*.json")) for case in json.loads(manifest.read_text())["cases"]
]


def _load(case: dict, **overrides) -> torch.nn.Module:
    kwargs = {**case["model_kwargs"], **overrides}
    return snn_zoo.create_model(
        case["arch"], pretrained=True, pretrained_cfg_overlay=dict(file=str(FIXTURES / case["checkpoint"])), **kwargs
    ).eval()


def _case(name: str) -> dict:
    return next(c for c in CASES if c["case"] == name)


def test_fixtures_present_and_small():
    families = {json.loads(m.read_text())["family"] for m in FIXTURES.glob("manifest_*.json")}
    assert {"sew_resnet", "resnet19", "spikformer", "spikingformer"} <= families
    for case in CASES:
        assert case["bytes"] < 1024 * 1024, case["case"]
        assert len(case["commit"]) == 40 and "/" in case["repo"]


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_official_checkpoint_reproduces_official_logits(case):
    io = load_file(str(FIXTURES / case["io"]))
    model = _load(case)
    with torch.no_grad():
        logits = model(io["input"])
    diff = (logits - io["logits"]).abs().max().item()
    assert diff <= ATOL, f"{case['case']}: max |logit diff| {diff:.2e}"
    assert model.pretrained_cfg["file"].endswith(case["checkpoint"])
    assert "state_dict" not in model.pretrained_cfg


def test_own_safetensors_pass_through(tmp_path):
    case = _case("spikformer_8_384_official")
    model = _load(case)
    file = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(file))
    again = snn_zoo.create_model(
        case["arch"], pretrained=True, pretrained_cfg_overlay=dict(file=str(file)), **case["model_kwargs"]
    )
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


# -- bad input: one clear error, raised before any weight is copied -----------------------------------
def _untouched(case: dict, expect: str, file: Path, **overrides):
    """Loading ``file`` into the case's architecture raises ``expect``; a fresh model's weights are untouched."""
    torch.manual_seed(0)
    reference = snn_zoo.create_model(case["arch"], **{**case["model_kwargs"], **overrides}).state_dict()
    copied = []
    original = torch.nn.Module.load_state_dict

    def spy(self, *args, **kwargs):
        copied.append(type(self).__name__)
        return original(self, *args, **kwargs)

    torch.nn.Module.load_state_dict = spy
    try:
        with pytest.raises(CheckpointError, match=expect):
            torch.manual_seed(0)
            snn_zoo.create_model(
                case["arch"],
                pretrained=True,
                pretrained_cfg_overlay=dict(file=str(file)),
                **{**case["model_kwargs"], **overrides},
            )
    finally:
        torch.nn.Module.load_state_dict = original
    assert not copied, "load_state_dict ran before the error"
    assert reference  # the model builds fine without the file


def test_truncated_file(tmp_path):
    case = _case("sew_resnet18_sew_official")
    data = (FIXTURES / case["checkpoint"]).read_bytes()
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(data[: len(data) // 2])
    _untouched(case, "truncated|corrupt|not a valid|cannot be read|failed", bad)


class Payload:
    def __reduce__(self):
        return (print, ("pickle payload ran",))


def test_pickle_with_arbitrary_objects(tmp_path, capsys):
    case = _case("sew_resnet18_sew_official")
    with torch.serialization.safe_globals([argparse.Namespace]):
        obj = torch.load(FIXTURES / case["checkpoint"], weights_only=True)
    obj["payload"] = Payload()
    bad = tmp_path / "evil.pth"
    torch.save(obj, bad)
    _untouched(case, "print|builtins|allow", bad)
    assert "pickle payload ran" not in capsys.readouterr().out


def test_spikformer_checkpoint_into_sew_resnet():
    spikformer = _case("spikformer_8_384_official")
    _untouched(_case("sew_resnet18_sew_official"), "Spikformer.*sew_resnet18", FIXTURES / spikformer["checkpoint"])


def test_8_512_checkpoint_into_8_384():
    case = _case("spikformer_8_384_official")
    # the same official ImageNet layout at another width (as an 8-512 file given to an 8-384 model)
    _untouched(case, "another size|width", FIXTURES / case["checkpoint"], embed_dim=48)


def test_extra_unknown_keys(tmp_path):
    case = _case("spikformer_cifar_official")
    with torch.serialization.safe_globals([argparse.Namespace]):
        obj = torch.load(FIXTURES / case["checkpoint"], weights_only=True)
    obj["state_dict"]["block.0.attn.extra_gate.weight"] = torch.zeros(3)
    bad = tmp_path / "extra.pth.tar"
    torch.save(obj, bad)
    _untouched(case, r"match nothing.*extra_gate", bad)


def test_other_head_size_says_num_classes():
    case = _case("sew_resnet18_sew_official")
    _untouched(case, "num_classes", FIXTURES / case["checkpoint"], num_classes=9)


# -- ported tags, CML variants ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tag, case, sizes",
    [
        ("sew_resnet18.sew_in1k", "sew_resnet18_sew_official", ("widths", "num_classes")),
        ("spiking_resnet50.sew_in1k", "spiking_resnet50_sew_official", ("widths", "num_classes")),
        ("sew_resnet50.sakd_in1k", "sew_resnet50_sakd_official", ("widths", "num_classes")),
        (
            "spikingformer_cml_8_512.bkd_in1k",
            "spikingformer_cml_8_512_bkdsnn",
            ("embed_dim", "depth", "num_heads", "num_classes"),
        ),
    ],
)
def test_tag_alone_sets_the_official_forward(tag, case, sizes):
    """The tag's cfg carries the authors' neuron and T: only the (tiny) sizes are passed here."""
    case = _case(case)
    io = load_file(str(FIXTURES / case["io"]))
    kwargs = {k: case["model_kwargs"][k] for k in sizes}
    file = str(FIXTURES / case["checkpoint"])
    model = snn_zoo.create_model(tag, pretrained=True, pretrained_cfg_overlay=dict(file=file), **kwargs).eval()
    with torch.no_grad():
        assert (model(io["input"]) - io["logits"]).abs().max().item() <= ATOL


def test_ported_tags_listed_with_provenance():
    from snn_zoo.models._ported import ported_weights

    ported = ported_weights()
    listed = set(snn_zoo.list_pretrained())
    expected = {f"sew_resnet{d}.sew_in1k" for d in (18, 34, 50, 101, 152)} | {
        "spikformer_8_384.official_in1k",
        "spikformer_8_512.official_in1k",
        "spikformer_8_768.official_in1k",
        "spikformer_4_384_cifar.official_cifar10",
        "spikingformer_8_768.official_in1k",
        "spikingformer_4_384_cifar.official_cifar10",
        "spikingformer_cml_8_768.bkd_in1k",
        "spikingformer_cml_4_384_cifar.bkd_cifar100",
        "sew_resnet50.bkd_in1k",
        "sew_resnet50.sakd_in1k",
    }
    assert expected <= set(ported) <= listed
    import timm

    for name, info in ported.items():
        cfg = timm.models.get_pretrained_cfg(name)
        assert cfg.hf_hub_id == f"snn-zoo/{name}" and cfg.origin_url == info["origin_url"] and cfg.paper_ids
        assert f"{info['top1']:.2f}" in cfg.notes and "re-validation pending" in cfg.notes
        assert info["snn_args"]["T"] == 4 and info["snn_args"]["neuron"] in ("if", "lif")


@pytest.mark.parametrize(
    "arch, params",
    [
        ("spikingformer_cml_8_384", 16.81),
        ("spikingformer_cml_8_512", 29.68),
        ("spikingformer_cml_8_768", 66.34),
        ("spikingformer_cml_4_256_cifar", 4.15),
        ("spikingformer_cml_2_384_cifar", 5.76),
        ("spikingformer_cml_4_384_cifar", 9.32),
        ("spikformer_cml_4_384_cifar", 9.32),
    ],
)
def test_cml_parameter_counts(arch, params):
    model = snn_zoo.create_model(arch)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == params
    assert all(s.pool_after_bn for s in model.patch_embed.stages)


@pytest.mark.parametrize(
    "case, plain",
    [
        ("spikingformer_cml_8_512_bkdsnn", "spikingformer_8_512"),
        ("spikingformer_cml_cifar10_bkdsnn", "spikingformer_4_384_cifar"),
        ("spikformer_cml_cifar_bkdsnn", "spikformer_4_384_cifar"),
    ],
)
def test_cml_fixture_tells_the_tokenizers_apart(case, plain):
    """The same weights in the non-CML architecture miss the official logits: the fixture checks the pool order."""
    case = _case(case)
    io = load_file(str(FIXTURES / case["io"]))
    model = _load(dict(case, arch=plain))
    with torch.no_grad():
        assert (model(io["input"]) - io["logits"]).abs().max().item() > 1e-3


def test_spikformer_cifar_projections_init_as_official():
    model = snn_zoo.create_model("spikformer_4_384_cifar", embed_dim=64, depth=1, num_heads=4)
    attn = model.blocks[0].attn
    for layer in (attn.q_conv, attn.proj_conv, model.blocks[0].mlp.fc1_conv):
        assert abs(layer.weight.std().item() - 0.02) < 0.004 and not layer.bias.any()
