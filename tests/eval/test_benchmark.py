"""benchmark_model at toy size, spikingjelly parity, and benchmark.py --help."""
import importlib.util
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.eval.benchmark import benchmark_model, benchmark_models, spikingjelly_equivalent


def test_benchmark_model_toy_size():
    r = benchmark_model("spiking_cnn_tiny", T=2, batch_size=2, num_warm_iter=1, num_bench_iter=2)
    assert r["infer_samples_per_sec"] > 0 and r["train_samples_per_sec"] > 0
    assert (r["T"], r["batch_size"], r["img_size"]) == (2, 2, 8)
    only = benchmark_model("spiking_cnn_tiny", T=1, batch_size=2, num_warm_iter=0, num_bench_iter=1, train=False)
    assert "train_samples_per_sec" not in only and only["infer_step_time_ms"] > 0
    pair = benchmark_models({"a": "spiking_cnn_tiny", "b": "spiking_cnn_small"}, T=1, batch_size=2,
                            num_warm_iter=0, num_bench_iter=2, train=False)
    assert pair["a"]["param_count"] < pair["b"]["param_count"] and pair["b"]["infer_step_time_ms_median"] > 0


def test_spikingjelly_equivalent_matches_ours():
    ours = snn_zoo.create_model("sew_resnet18_cifar", T=2)
    sj = spikingjelly_equivalent("sew_resnet18_cifar", T=2)
    assert sum(p.numel() for p in sj.parameters()) == sum(p.numel() for p in ours.parameters())
    sj.net.load_state_dict(ours.state_dict())  # same parameter names, too
    from spikingjelly.activation_based import neuron

    sn = sj.net.layer1[0].sn1
    assert isinstance(sn, neuron.LIFNode) and sn.tau == 2.0 and sn.step_mode == "m"
    x = torch.rand(1, 3, 32, 32) * 4
    with torch.no_grad():
        torch.testing.assert_close(sj.eval()(x), ours.eval()(x))
    with pytest.raises(NotImplementedError, match="No spikingjelly equivalent"):
        spikingjelly_equivalent("spiking_cnn_tiny")


def test_benchmark_script_help(capsys):
    path = Path(__file__).resolve().parents[2] / "hub_scripts" / "benchmark.py"
    spec = importlib.util.spec_from_file_location("hub_script_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--compare" in out and "--kd-overhead" in out
