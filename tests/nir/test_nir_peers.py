"""Our NIR graphs run in two other simulators (snntorch, norse) and give our logits, for tiny random models
of every covered family and every exported neuron setting.

Tolerance: max |logit difference| <= 1e-5 over T=4 steps on 8 random images. Logits are the time-average
of the classifier's output, so they agree to this level only if every spike of the last layers agrees;
the peers compute the membrane in another order (snntorch scales it by tau), so a float rounding near the
threshold could flip a spike, which this bound would catch.
"""

from __future__ import annotations

import pytest

pytest.importorskip("nirtorch")
pytest.importorskip("snntorch")
pytest.importorskip("norse")

import torch
from nir_peers import FAMILIES, NEURONS, firing_rates, norse_outputs, snntorch_outputs, tiny_model

from snn_zoo.nir import export_nir

TOL = 1e-5

# Peer limitations found here, each stated where it applies (a skip, not a silent pass):
SNNTORCH_IF = (
    "snntorch 1.0.0 imports nir.IF as a Leaky with beta=0.9 and subtractive reset and asserts r == 1 "
    "(snntorch PR #452); norse runs our IF graphs"
)
NORSE_R = (
    "norse 1.1.0's LIFBox drops NIR's r (it warns that r != 1): decay_input=False (r = tau) cannot run there; "
    "snntorch and snn_zoo.from_nir run it"
)
NORSE_PADDED_POOL = (
    "norse 1.1.0 maps SumPool2d to LPPool2d without padding (and has no AvgPool2d): the ImageNet stem's "
    "padded 3x3/2 max-pool cannot run there; snntorch and snn_zoo.from_nir run it"
)


def _reference(model, x):
    rates = firing_rates(model, x)
    assert 0.02 < sum(rates) / len(rates) < 0.9 and rates[-1] > 0, f"vacuous test: firing rates {rates}"
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("neuron", sorted(NEURONS))
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_snntorch_reproduces_logits(family, neuron):
    if neuron == "if":
        pytest.skip(SNNTORCH_IF)
    model, x = tiny_model(family, neuron)
    reference = _reference(model, x)
    logits = snntorch_outputs(export_nir(model, x), x, model.T).mean(0)
    assert (logits - reference).abs().max().item() <= TOL


@pytest.mark.parametrize("neuron", sorted(NEURONS))
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_norse_reproduces_logits(family, neuron):
    if "imagenet_stem" in family:
        pytest.skip(NORSE_PADDED_POOL)
    if neuron == "lif_no_decay_input":
        pytest.skip(NORSE_R)
    model, x = tiny_model(family, neuron)
    reference = _reference(model, x)
    logits = norse_outputs(export_nir(model, x, pool="sum"), x, model.T).mean(0)
    assert (logits - reference).abs().max().item() <= TOL


def test_batched_peer_run_equals_one_sample_at_a_time():
    """The Flatten shift that lets peers run a batch changes nothing: same outputs as unbatched samples."""
    model, x = tiny_model("sew_resnet", "lif")
    graph = export_nir(model, x)
    batched = snntorch_outputs(graph, x[:3], model.T)
    single = snntorch_outputs(graph, x[:3], model.T, batched=False)
    assert torch.allclose(batched, single, atol=1e-6)  # batched and unbatched convs round differently


def test_norse_from_nir_public_api():
    """norse's own from_nir (deprecated nirtorch.load inside) on a graph without residual joins."""
    import norse.torch as norse_torch

    model, x = tiny_model("spiking_cnn", "lif")
    reference = _reference(model, x)
    net = norse_torch.from_nir(export_nir(model, x, pool="sum"), dt=1e-4)
    with torch.no_grad():
        per_sample = []
        for image in x:  # unbatched: its Flatten keeps NIR's per-sample dims
            state, total = None, 0
            for _ in range(model.T):
                out, state = net(image, state)
                total = total + out
            per_sample.append(total / model.T)
    assert (torch.stack(per_sample) - reference).abs().max().item() <= TOL


def test_frames_input_runs_in_peers():
    """Event frames [T, B, C, H, W]: one frame per step in every simulator."""
    model, x = tiny_model("spiking_cnn", "lif")
    frames = torch.rand(model.T, 4, *x.shape[1:], generator=torch.Generator().manual_seed(3)) * 2
    with torch.no_grad():
        reference = model(frames)
    graph = export_nir(model, frames)
    assert (snntorch_outputs(graph, frames, model.T).mean(0) - reference).abs().max().item() <= TOL
    sum_graph = export_nir(model, frames, pool="sum")
    assert (norse_outputs(sum_graph, frames, model.T).mean(0) - reference).abs().max().item() <= TOL


def test_peer_comparison_is_sensitive():
    """A 10 % change of one layer's threshold in the graph moves the peers' logits: the agreement above is
    not an artefact of outputs that ignore the neurons."""
    model, x = tiny_model("sew_resnet", "lif")
    with torch.no_grad():
        reference = model(x)
    for run, graph in ((snntorch_outputs, export_nir(model, x)), (norse_outputs, export_nir(model, x, pool="sum"))):
        graph.nodes["layer3_0_sn1"].v_threshold = graph.nodes["layer3_0_sn1"].v_threshold * 1.1
        assert (run(graph, x, model.T).mean(0) - reference).abs().max().item() > 1e-3
