"""export_nir / from_nir: the graph NIR gets, the exact round trip, the dt / threshold conventions, refusals."""

from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")
pytest.importorskip("nirtorch")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from nir_peers import FAMILIES, NEURONS, tiny_model  # noqa: E402

import snn_zoo  # noqa: E402
from snn_zoo.layers import MaxPool2d  # noqa: E402
from snn_zoo.neurons import IFNode, LIFNode, PLIFNode  # noqa: E402
from snn_zoo.nir import NIR_DT, NIRExportError, export_nir, from_nir  # noqa: E402
from snn_zoo.nir.neurons import neuron_from_nir, neuron_to_nir, threshold_to_nir  # noqa: E402

# Every family with LIF, every neuron setting on the SEW ResNet (test_nir_peers covers the full grid).
ROUND_TRIP = [(family, "lif") for family in sorted(FAMILIES)] + [
    ("sew_resnet", n) for n in sorted(NEURONS) if n != "lif"
]


@pytest.mark.parametrize("family, neuron", ROUND_TRIP)
def test_round_trip_is_exact(family, neuron, tmp_path):
    """snn_zoo -> NIR file -> snn_zoo gives the model's logits bit for bit (BN folding included)."""
    model, x = tiny_model(family, neuron)
    with torch.no_grad():
        reference = model(x)
    path = tmp_path / "model.nir"
    nir.write(path, export_nir(model, x))
    with torch.no_grad():
        assert torch.equal(from_nir(path)(x), reference)


def test_graph_nodes_edges_and_metadata():
    model, x = tiny_model("sew_resnet", "lif")
    graph = export_nir(model, x)
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds == {"Input", "Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "Output"}  # BN folded away
    fan_in = [dst for dst in {d for _, d in graph.edges} if sum(d2 == dst for _, d2 in graph.edges) > 1]
    assert "layer1_1_conv1" in fan_in  # SEW ADD: block output + shortcut summed by NIR at the next block
    meta = graph.metadata
    assert meta["dt"] == NIR_DT and meta["time_steps"] == model.T and meta["input_encoding"].startswith("direct")
    assert list(meta["input_shape"]) == [1, 8, 8]
    frames = export_nir(model, torch.rand(model.T, 2, 1, 8, 8)).metadata["input_encoding"]
    assert frames.startswith("frames")


def test_spiking_resnet_adds_before_the_neuron():
    model, x = tiny_model("spiking_resnet", "lif")
    graph = export_nir(model, x)
    sources = sorted(src for src, dst in graph.edges if dst == "layer1_0_sn2")
    assert sources == ["layer1_0_conv2", "sn1"]  # residual (stem spikes) + conv2, summed into the neuron


def test_bn_folded_with_eval_statistics():
    model, x = tiny_model("spiking_cnn", "lif")
    conv, bn = model.stem.conv, model.stem.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    node = export_nir(model, x).nodes["stem_conv"]
    expected_w = (conv.weight * scale[:, None, None, None]).detach().numpy()
    expected_b = (bn.bias - bn.running_mean * scale).detach().numpy()
    np.testing.assert_allclose(node.weight, expected_w, rtol=1e-6)
    np.testing.assert_allclose(node.bias, expected_b, rtol=1e-6, atol=1e-7)


def test_max_pool_of_spikes_becomes_window_sum_and_threshold():
    model, x = tiny_model("spiking_cnn", "lif")
    graph = export_nir(model, x, pool="sum")
    pool, unit = graph.nodes["stage1_1_0"], graph.nodes["stage1_1_1"]
    assert isinstance(pool, nir.SumPool2d) and list(pool.kernel_size) == [2, 2]
    assert isinstance(unit, nir.LIF) and np.all(unit.tau == NIR_DT) and np.all(unit.v_threshold == 0.5)
    avg_unit = export_nir(model, x).nodes["stage1_1_1"]
    assert np.all(avg_unit.v_threshold == 0.5 / 4)  # average of a 2x2 window: any spike gives >= 1/4


@pytest.mark.parametrize(
    "make", [lambda: LIFNode(tau=2.0), lambda: LIFNode(tau=3.0, decay_input=False), lambda: IFNode()]
)
def test_dt_mapping(make):
    """tau_nir = tau * dt, r = 1 (decay_input) or tau, v_leak = v_reset; IF: r = 1 / dt."""
    node = neuron_to_nir(make(), (2,), dt=1e-3)
    if isinstance(node, nir.IF):
        np.testing.assert_allclose(node.r, 1e3)
    else:
        tau = 2.0 if np.allclose(node.r, 1.0) else 3.0
        np.testing.assert_allclose(node.tau, tau * 1e-3)
        np.testing.assert_allclose(node.v_leak, 0.0)


def test_neuron_parameters_round_trip_exactly():
    plif = PLIFNode(tau=2.0)
    with torch.no_grad():
        plif.w.fill_(-0.37)
    for module in (LIFNode(tau=2.0), LIFNode(tau=3.7, decay_input=False, v_reset=-0.25), IFNode(v_threshold=0.8), plif):
        back = neuron_from_nir(neuron_to_nir(module, (3,)))
        # the same float32 threshold: what the kernel compares against
        assert np.float32(back.v_threshold) == np.float32(module.v_threshold) and back.v_reset == module.v_reset
        if not isinstance(module, IFNode):
            assert back.decay_input == module.decay_input
            assert np.float32(1.0 / back.tau) == np.float32(
                module._decay_value() if isinstance(module, LIFNode) else plif.w.sigmoid().item()
            )


def test_threshold_tie_fires_in_every_simulator():
    """A membrane landing exactly on the threshold: we fire (>=); the exported v_threshold is one float32 ulp
    lower, so NIR's > fires too, in norse and in from_nir."""
    norse = pytest.importorskip("norse.torch")
    neuron = IFNode(v_threshold=1.0)
    x = torch.tensor([[[1.0, 0.5]], [[0.0, 0.5]], [[1.0, 0.25]]])  # [T=3, B=1, 2]
    ours = neuron(x)
    assert ours[:, 0, 0].tolist() == [1.0, 0.0, 1.0] and ours[:, 0, 1].tolist() == [0.0, 1.0, 0.0]
    node = neuron_to_nir(neuron, (2,))
    assert node.v_threshold[0] == threshold_to_nir(1.0) < 1.0
    graph = nir.NIRGraph.from_list(node)
    assert torch.equal(from_nir(graph, T=3).forward_seq(x), ours)
    iaf = norse.IAFCell(norse.IAFParameters(v_th=torch.as_tensor(node.v_threshold, dtype=torch.float32)))
    state, spikes = None, []
    for x_t in x:
        z, state = iaf(x_t, state)
        spikes.append(z)
    assert torch.equal(torch.stack(spikes), ours)


# -- refusals: one line naming the module and why ------------------------------------------------------
def _meta(name: str, **kwargs):
    with torch.device("meta"):
        return snn_zoo.create_model(name, **kwargs)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("spikformer_2_64_digits", {}, "Spikformer: spiking self-attention multiplies spike tensors"),
        ("spikingformer_2_64_digits", {}, "Spikingformer: spiking self-attention"),
        ("qkformer_4_384_cifar", {}, "QKFormer: Q-K attention masks spike tensors"),
        ("spike_driven_transformer_2_256_cifar", {}, "SpikeDrivenTransformer: spike-driven self-attention"),
        ("meta_spikeformer_15m", {}, "MetaSpikeFormer: spike-driven self-attention"),
        ("sew_resnet18_cifar", dict(connect="AND"), "layer1.0 (BasicBlock): SEW connect='AND' computes out * identity"),
        ("sew_resnet18_cifar", dict(connect="IAND"), "SEW connect='IAND' computes identity * (1 - out)"),
        ("spiking_cnn_tiny", dict(v_reset=None), "stem.sn (LIFNode): soft reset (v_reset=None)"),
        ("spiking_cnn_tiny", dict(neuron="relu"), "neuron='relu': the ANN twin"),
    ],
)
def test_refusals_name_the_module_and_why(name, kwargs, expected):
    with pytest.raises(NIRExportError) as info:
        export_nir(_meta(name, **kwargs), torch.zeros(1, 3, 32, 32))
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{name}: cannot export to NIR: ") and expected in message


def test_max_pool_of_non_spikes_is_refused():
    model, x = tiny_model("spiking_cnn", "lif")
    model.stem = nn.Sequential(model.stem.conv, MaxPool2d(1), model.stem.bn, model.stem.sn)
    with pytest.raises(NIRExportError, match=r"stem.1 \(MaxPool2d\): max pooling of a non-spike tensor"):
        export_nir(model, x)


def test_bad_arguments():
    model, x = tiny_model("spiking_cnn", "lif")
    with pytest.raises(ValueError, match="pool must be one of"):
        export_nir(model, x, pool="max")
    with pytest.raises(ValueError, match=r"sample_input must be \[B, C, H, W\]"):
        export_nir(model, x[0, 0])
    with pytest.raises(NIRExportError, match="not an snn_zoo SpikingModel"):
        export_nir(nn.Conv2d(1, 1, 1), x)


def test_from_nir_refuses_what_it_cannot_run():
    lif = nir.LIF(tau=np.full(2, 2e-4), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    cyclic = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "lif": lif,
            "w": nir.Linear(np.eye(2)),
            "output": nir.Output(np.array([2])),
        },
        edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")],
    )
    with pytest.raises(ValueError, match="recurrent"):
        from_nir(cyclic)
    cuba = nir.NIRGraph.from_list(
        nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    )
    with pytest.raises(ValueError, match=r"'cubalif' \(CubaLIF\): snn_zoo.from_nir cannot run it"):
        from_nir(cuba)
    with pytest.raises(FileNotFoundError):
        from_nir("no/such/file.nir")


def test_unknown_operation_is_refused_by_name():
    import types

    model, x = tiny_model("spiking_cnn", "lif")
    model.head_seq = types.MethodType(
        lambda self, x_seq, pre_logits=False: self.fc(x_seq.mean(dim=(-2, -1)) * 2.0), model
    )
    with pytest.raises(NIRExportError, match=r"cannot export to NIR: model \(mul\): no NIR node for this operation"):
        export_nir(model, x)
