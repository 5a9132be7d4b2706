"""SpikeCounter against spikes counted by hand."""

import torch
import torch.nn as nn

import snn_zoo
from snn_zoo.metrics import SpikeCounter, count_spikes
from snn_zoo.neurons import IFNode, MultiStepNeuron


def if_spikes(x: float, T: int, threshold: float = 1.0) -> list[int]:
    """Plain-python IF neuron with hard reset to 0, constant input x."""
    v, out = 0.0, []
    for _ in range(T):
        v += x
        s = int(v >= threshold)
        v = 0.0 if s else v
        out.append(s)
    return out


class Half(nn.Module):
    def forward(self, x):
        return 0.5 * x + 0.3


def test_counts_match_hand_computed_if_model():
    T, values = 4, [0.6, 1.2, 0.3]
    model = nn.Sequential(IFNode(), Half(), nn.ReLU(), IFNode())
    x = torch.tensor(values).repeat(T, 2, 1)  # [T, B=2, 3 neurons]
    layer1 = [if_spikes(v, T) for v in values]
    assert sum(map(sum, layer1)) == 7  # 0.6 -> 2, 1.2 -> 4, 0.3 -> 1
    layer2 = []
    for n in range(3):  # second IF sees 0.5 * spike + 0.3 step by step
        v, spikes = 0.0, 0
        for t in range(T):
            v += 0.5 * layer1[n][t] + 0.3
            if v >= 1.0:
                spikes, v = spikes + 1, 0.0
        layer2.append(spikes)
    with SpikeCounter(model) as counter:
        model(x)
    s = counter.summary()
    assert list(s["layers"]) == ["0", "3"]  # ReLU and the scaling layer are not counted
    l1, l2 = s["layers"]["0"], s["layers"]["3"]
    assert l1["spikes"] == 2 * 7 and l2["spikes"] == 2 * sum(layer2)
    assert l1["neurons"] == 3 and l1["time_steps"] == T and l1["samples"] == 2
    assert l1["firing_rate"] == 14 / (3 * T * 2) and l1["spikes_per_sample"] == 7
    assert s["spikes_per_sample"] == 7 + sum(layer2) and s["total_spikes"] == 14 + 2 * sum(layer2)
    model(x)  # hooks removed on exit: no change
    assert counter.summary()["total_spikes"] == s["total_spikes"]


def test_zoo_model_train_eval_reset_and_manual_hooks():
    torch.manual_seed(0)
    model = snn_zoo.create_model("spiking_cnn_tiny", T=3)
    x = torch.rand(5, 1, 8, 8) * 2
    manual = []
    handles = [
        m.register_forward_hook(lambda m, i, o: manual.append(o.sum().item()))
        for m in model.modules()
        if isinstance(m, MultiStepNeuron)
    ]
    counter = SpikeCounter(model)
    model.train()(x)
    model.eval()(x)
    s = counter.summary()
    assert s["total_spikes"] == sum(manual) and len(s["layers"]) == 4 and s["samples"] == 10
    assert s["layers"]["stem.sn"]["neurons"] == 8 * 8 * 8
    counter.reset()
    assert counter.summary()["total_spikes"] == 0
    counter.close()
    for h in handles:
        h.remove()


def test_relu_twin_reports_nothing():
    ann = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    s = count_spikes(ann, torch.rand(3, 1, 8, 8))
    assert s["layers"] == {} and s["total_spikes"] == 0 and s["spikes_per_sample"] == 0
