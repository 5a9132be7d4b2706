"""benchmark_model at toy size (modes, memory, floor), spikingjelly parity, the scripts' CLIs."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.eval.benchmark import (
    RunMode,
    benchmark_model,
    benchmark_models,
    kd_overhead,
    peak_step_memory_mb,
    relu_floor,
)
from snn_zoo.eval.sj_adapter import sj_multistep, spikingjelly_equivalent

SCRIPTS = Path(__file__).resolve().parents[2] / "hub_scripts"


def _script(name):
    spec = importlib.util.spec_from_file_location(f"hub_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_model_toy_size():
    r = benchmark_model("spiking_cnn_tiny", T=2, batch_size=2, num_warm_iter=1, num_bench_iter=2)
    assert r["infer_samples_per_sec"] > 0 and r["train_samples_per_sec"] > 0
    assert (r["T"], r["batch_size"], r["img_size"], r["mode"]) == (2, 2, 8, "eager+fp32")
    assert r["train_peak_mem_mb"] is None or r["train_peak_mem_mb"] >= 0
    only = benchmark_model("spiking_cnn_tiny", T=1, batch_size=2, num_warm_iter=0, num_bench_iter=1, train=False)
    assert "train_samples_per_sec" not in only and only["infer_step_time_ms"] > 0
    pair = benchmark_models(
        {"a": "spiking_cnn_tiny", "b": "spiking_cnn_small"},
        T=1,
        batch_size=2,
        num_warm_iter=0,
        num_bench_iter=2,
        train=False,
        measure_memory=False,
    )
    assert pair["a"]["param_count"] < pair["b"]["param_count"] and pair["b"]["infer_step_time_ms_median"] > 0


def test_modes_and_floor():
    floor, T = relu_floor("spiking_cnn_tiny", T=3)
    assert T == 3 and floor.neuron == "relu"
    modes = {
        "bf16": RunMode(amp_dtype=torch.bfloat16, channels_last=True, grad_checkpointing="packed"),
        "floor": RunMode(),
    }
    rows = benchmark_models(
        {"bf16": "spiking_cnn_tiny", "floor": floor},
        T=3,
        batch_size=2,
        num_warm_iter=0,
        num_bench_iter=1,
        modes=modes,
        batch_sizes={"floor": 6},
        measure_memory=False,
    )
    assert rows["bf16"]["mode"] == "eager+bfloat16+channels_last+ckpt-packed"
    assert rows["floor"]["batch_size"] == 6 and rows["floor"]["T"] == 1


def test_peak_step_memory_sees_a_large_tensor():
    mb = peak_step_memory_mb(lambda: torch.ones(16 * 2**20, dtype=torch.float32).sum(), torch.device("cpu"))
    if mb is None:
        pytest.skip("no /proc/self/clear_refs on this system")
    assert mb >= 48  # a 64 MiB tensor (RSS counts pages as they are touched)


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


@pytest.mark.parametrize("api", ["functional", "module"])
def test_sj_multistep_matches_our_lif(api):
    from snn_zoo.neurons.ops import multistep_torch
    from snn_zoo.neurons.spec import NeuronSpec

    x = (torch.randn(4, 3, 5) + 0.5).requires_grad_(True)
    v0 = torch.zeros(3, 5)
    run, inputs = sj_multistep("lif", x, v0, torch.tensor(0.0), api=api)
    spikes, _ = multistep_torch(x, v0, None, NeuronSpec(kind="lif", k=0.5))
    assert torch.equal(run(), spikes) and inputs[0] is x


def test_benchmark_script(capsys, tmp_path):
    module = _script("benchmark")
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for flag in (
        "--compare",
        "--kd-overhead",
        "--compile",
        "--amp",
        "--channels-last",
        "--grad-checkpointing",
        "--floor",
        "--modes",
        "--readme",
    ):
        assert flag in out
    assert module.parse_mode("compile+bf16+ckpt-block") == RunMode(True, torch.bfloat16, False, "block")
    with pytest.raises(ValueError, match="unknown part"):
        module.parse_mode("eager+fp8")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{module.README_START}\nold\n{module.README_END}\nrest\n")
    rc = module.main(
        [
            "--model",
            "spiking_cnn_tiny",
            "--T",
            "2",
            "-b",
            "2",
            "--num-warm-iter",
            "0",
            "--num-bench-iter",
            "1",
            "--floor",
            "--modes",
            "eager,eager+bf16",
            "--readme",
            str(readme),
            "--results-file",
            str(tmp_path / "rows.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "ReLU floor" in out
    text = readme.read_text()
    assert "old" not in text and text.endswith("rest\n")
    assert "| spiking_cnn_tiny | relu floor | eager+bfloat16 |" in text
    assert "- spiking_cnn_tiny" in text and "ReLU floor" in text  # the ratio lines come with the table
    assert "--readme" not in text and "--results-file" not in text  # the command shows what was measured
    assert "Generated on 20" in text and "torch " in text  # date, machine and torch version


def test_kd_overhead_builds_a_zoo_teacher_as_its_ann_twin():
    r = kd_overhead(
        "spiking_cnn_tiny", T=2, batch_size=2, num_warm_iter=0, num_bench_iter=1, teacher="spiking_cnn_small"
    )
    assert r["teacher"] == "spiking_cnn_small (neuron='relu' twin)"  # as distill.py builds it, not a spiking teacher
    assert r["ce_step_time_ms"] > 0 and r["kd_step_time_ms"] > 0
    assert r["kd_overhead"] == pytest.approx(r["kd_step_time_ms"] / r["ce_step_time_ms"])


def test_benchmark_neurons_script_without_gpu(capsys):
    module = _script("benchmark_neurons")
    assert module.main(["--allow-cpu"]) == 0
    from snn_zoo.eval.neuron_benchmark import bytes_moved  # the measuring lives in the package, the script is a CLI

    assert bytes_moved(4, 10, 2, False) == 10 * (6 * 4 * 2 + 8)
