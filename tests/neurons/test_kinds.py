"""The NeuronKind table: one entry per neuron module, read by kernels and the spikingjelly adapter."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron_module

from snn_zoo.eval.sj_adapter import sj_neuron
from snn_zoo.neurons import NEURON_KIND_TABLE, NEURONS, cupy_kernel, get_neuron_kind, torch_kernel
from snn_zoo.neurons.spec import NeuronSpec


def test_one_module_class_per_kind():
    assert tuple(NEURONS) == tuple(NEURON_KIND_TABLE)
    assert [kind.kernel_id for kind in NEURON_KIND_TABLE.values()] == [0, 1, 2]  # KIND in csrc/multistep.cu


def test_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match=r"choose one of \['if', 'lif', 'plif'\]. Did you mean \['lif'"):
        get_neuron_kind("lfi")
    assert get_neuron_kind("PLIF").learned_decay


@pytest.mark.parametrize("name", list(NEURON_KIND_TABLE))
def test_spikingjelly_counterparts_exist(name):
    kind = get_neuron_kind(name)
    cls, kwargs = sj_neuron(name, tau=3.0)
    assert cls is getattr(sj_neuron_module, kind.sj_class)
    assert callable(getattr(sj_functional, kind.sj_functional))
    assert (kind.sj_tau_kwarg in kwargs) == kind.leaky and ("decay_input" in kwargs) == kind.leaky
    cls(**kwargs)  # builds


@pytest.mark.parametrize("name", list(NEURON_KIND_TABLE))
@pytest.mark.parametrize("decay_input", [True, False])
def test_charge_matches_the_kernel(name, decay_input):
    g = torch.Generator().manual_seed(0)
    v, x = torch.randn(50, generator=g), torch.randn(50, generator=g)
    spec = NeuronSpec(kind=name, v_reset=-0.2, decay_input=decay_input, k=1.0 / 3.0)
    out = torch.empty(50)
    torch_kernel._charge_(spec, v, x, spec.k, out)
    assert torch.equal(get_neuron_kind(name).charge(v, x, spec.k, -0.2, decay_input), out)


def test_kernel_variants_follow_the_table():
    leaky = {v.kind: v.decay_input for v in cupy_kernel.all_variants() if not v.decay_input}
    assert set(leaky) == {k for k, kind in NEURON_KIND_TABLE.items() if kind.leaky}
