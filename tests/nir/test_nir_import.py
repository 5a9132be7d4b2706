"""A NIR file written by snntorch (its own exporter) runs in snn_zoo and gives snntorch's outputs."""

from __future__ import annotations

import contextlib
import io
import warnings

import pytest

nir = pytest.importorskip("nir")
pytest.importorskip("nirtorch")
snn = pytest.importorskip("snntorch")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from snn_zoo.neurons import LIFNode  # noqa: E402
from snn_zoo.nir import from_nir  # noqa: E402
from snn_zoo.nir.neurons import ThresholdUnit  # noqa: E402

T = 6


def _snntorch_net() -> nn.Sequential:
    """Conv -> Leaky -> Flatten -> Linear -> Leaky -> Linear, reset to zero (what NIR's LIF means).

    Per-neuron beta / threshold tensors: with scalars snntorch 1.0.0 writes 0-d neuron parameters that its
    own export_to_nir then rejects in nir 1.0.8's type inference (conv output [4, 4, 4] -> LIF input []).
    """
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        snn.Leaky(
            beta=torch.full((4, 4, 4), 0.8), threshold=torch.ones(4, 4, 4), init_hidden=True, reset_mechanism="zero"
        ),
        nn.Flatten(),
        nn.Linear(64, 6),
        snn.Leaky(
            beta=torch.full((6,), 0.9), threshold=torch.full((6,), 0.5), init_hidden=True, reset_mechanism="zero"
        ),
        nn.Linear(6, 3),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[3].weight.mul_(3.0)
    return net.eval()


def test_snntorch_file_runs_in_snn_zoo(tmp_path):
    from snntorch.export_nir import export_to_nir

    net = _snntorch_net()
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, x[:1], model_name="snntorch", ignore_dims=[0])  # NIR shapes exclude the batch
    path = tmp_path / "snntorch.nir"
    nir.write(path, graph)

    reference = []
    for module in net.modules():
        if hasattr(module, "reset_mem"):
            module.reset_mem()
    with torch.no_grad():
        for _ in range(T):
            reference.append(net(x))
    reference = torch.stack(reference)

    model = from_nir(path, T=T)
    neurons = [m for m in model.modules() if isinstance(m, LIFNode)]
    assert len(neurons) == 2 and all(not n.decay_input for n in neurons)  # snntorch writes r = tau: input undivided
    assert not any(isinstance(m, ThresholdUnit) for m in model.modules())
    rates = []
    for neuron in neurons:
        neuron.register_forward_hook(lambda m, i, o: rates.append(float(o.mean())))
    with torch.no_grad():
        ours = model.forward_seq(x.unsqueeze(0).expand(T, *x.shape))
    assert all(0.0 < rate < 1.0 for rate in rates), rates  # both layers spike: the comparison is not vacuous
    assert (ours - reference).abs().max().item() <= 1e-5
