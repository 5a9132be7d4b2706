"""timm's training pipeline in distill.py (mixup, EMA, schedulers), the method table's recipe settings
(SAKD weight transfer, hetero, single-step noise), the input a run picks, and the errors for bad input.
Toy size: synthetic data, a few steps."""

import json

import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import load_file

import snn_zoo
from snn_zoo.data import dataset_info
from snn_zoo.distill import Distiller
from snn_zoo.train import Recipe, loop
from snn_zoo.train.loop import _target_fn
from snn_zoo.train.plan import RunPlan

SYNTH = {"num_classes": 4, "num_samples": 16, "input_size": [1, 8, 8]}
TOY = [
    "--model",
    "spiking_cnn_tiny",
    "--teacher",
    "spiking_cnn_tiny",
    "--T",
    "2",
    "--batch-size",
    "8",
    "--teacher-epochs",
    "1",
    "--log-with",
    "none",
    "--dataset",
    "synthetic",
    "--data-kwargs",
    json.dumps(SYNTH),
]


def _run(distill_main, out, *extra):
    return distill_main(TOY + ["--output", str(out), *extra])


def _results(out):
    return json.loads((out / "results.json").read_text())


def test_mixup_with_mixed_kd_trains_and_records_input(distill_main, tmp_path):
    out = tmp_path / "run"
    assert (
        _run(
            distill_main,
            out,
            "--method",
            "mixed",
            "--epochs",
            "2",
            "--mixup",
            "0.5",
            "--cutmix",
            "1.0",
            "--smoothing",
            "0.1",
            "--mixup-off-epoch",
            "1",
            "--warmup-epochs",
            "1",
            "--min-lr",
            "1e-5",
        )
        == 0
    )
    r = _results(out)
    assert r["method"] == "mixed" and r["recipe"]["mixup"] == 0.5 and r["recipe"]["mixup_off_epoch"] == 1
    assert r["input"]["input_size"] == [1, 8, 8] and r["input"]["source"] == "data_kwargs"
    assert r["history"][0]["lr"] > r["history"][-1]["lr"] >= 1e-5  # warmup then cosine to min_lr


def test_mixup_of_event_frames_mixes_whole_samples():
    recipe = Recipe(mixup=1.0, mixup_prob=1.0, smoothing=0.0)
    mix = _target_fn(recipe, num_classes=3)
    x = torch.arange(2 * 4 * 1 * 2 * 2, dtype=torch.float).reshape(2, 4, 1, 2, 2)  # [T, B, C, H, W]
    y = torch.tensor([0, 1, 2, 0])
    torch.manual_seed(0)
    mixed, target = mix(x, y, epoch=0)
    assert mixed.shape == x.shape and target.shape == (4, 3)
    lam = target[1, 1].item()  # sample 1 (class 1) is mixed with the reversed batch's sample 2 (class 2)
    torch.testing.assert_close(mixed[:, 1], lam * x[:, 1] + (1 - lam) * x[:, 2])  # every frame, the same lambda
    off = _target_fn(Recipe(mixup=1.0, mixup_off_epoch=1), num_classes=3)
    same, _ = off(x, y, epoch=1)
    assert torch.equal(same, x)


def test_teacher_sees_the_mixed_image_and_wsld_takes_soft_targets():
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2, num_classes=3)
    teacher = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu", num_classes=3)
    seen = []
    to_sequence = teacher.to_sequence
    teacher.to_sequence = lambda x: (seen.append(x.clone()), to_sequence(x))[1]  # the teacher's input
    d = Distiller(student, teacher, "mixed")
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    mixed, soft = _target_fn(Recipe(mixup=1.0), num_classes=3)(x, y, epoch=0)
    out = d(mixed, soft)
    assert torch.equal(seen[-1], mixed)
    assert out["wsld"] > 0 and torch.isfinite(out["loss"])


def test_ema_state_resumes_with_the_run(distill_main, tmp_path, monkeypatch):
    ema = ["--method", "none", "--model-ema", "--model-ema-decay", "0.5", "--epochs", "2"]
    full, split = tmp_path / "full", tmp_path / "split"
    assert _run(distill_main, full, *ema) == 0
    save = loop.save_run_state

    def save_then_stop(*args, **kwargs):  # a run killed right after its first epoch was saved
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_run_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        _run(distill_main, split, *ema)
    monkeypatch.setattr(loop, "save_run_state", save)
    assert list((split / "state").glob("custom_checkpoint_0.*")), "the EMA is part of the saved state"
    assert _run(distill_main, split, *ema, "--resume") == 0
    a, b = load_file(str(full / "model.safetensors")), load_file(str(split / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)  # an EMA restarted from the live weights would differ
    assert _results(split)["model_ema"] is True


def test_resume_with_another_ema_setting_is_refused(distill_main, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(distill_main, out, "--method", "none", "--epochs", "1") == 0
    assert _run(distill_main, out, "--method", "none", "--epochs", "2", "--model-ema", "--resume") == 2
    assert "model_ema" in capsys.readouterr().err


def test_sakd_copies_the_twin_weights_and_logs_it(distill_main, tmp_path):
    out = tmp_path / "run"
    assert (
        _run(
            distill_main,
            out,
            "--method",
            "sakd",
            "--teacher",
            "twin",
            "--epochs",
            "1",
            "--loss-weights",
            "feature_warm_batches=1",
        )
        == 0
    )
    log = (out / "weight_transfer.txt").read_text()
    n = len(snn_zoo.create_model("spiking_cnn_tiny", num_classes=4, in_chans=1).state_dict())
    assert f"copied {n}/{n}" in log
    assert _results(out)["weight_transfer"]["copied"] == n


def test_sakd_with_another_architecture_stops_before_training(distill_main, tmp_path, capsys):
    code = _run(distill_main, tmp_path / "run", "--method", "sakd", "--teacher", "spiking_cnn_small", "--epochs", "1")
    err = capsys.readouterr().err
    assert code == 2 and "copies the teacher's weights" in err
    assert not (tmp_path / "run" / "teacher" / "model.safetensors").exists()


def test_sakd_official_batch_schedule():
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    teacher = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    d = Distiller(student, teacher, "sakd", feature_warm_batches=10)
    weights = []
    for i in (0, 10, 11, 50):
        d.batch_index = i
        weights.append(d.feature_weight())
    assert weights == [10.0, 10.0, 0.01, 0.01]
    assert Distiller(student, teacher, "sakd").feature_weight() == 10.0  # paper: constant


def test_hetero_runs_end_to_end_with_the_spike_term(distill_main, tmp_path):
    out = tmp_path / "run"
    assert _run(distill_main, out, "--method", "hetero", "--loss-weights", "spike_weight=0.5", "--epochs", "1") == 0
    r = _results(out)
    assert r["method"] == "hetero" and r["recipe"]["loss_weights"] == {"spike_weight": 0.5}
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    teacher = snn_zoo.create_model("spiking_cnn_tiny", neuron="relu")
    terms = Distiller(student, teacher, "hetero", spike_weight=0.5)(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    assert set(terms) == {"loss", "ce", "kd", "spike", "logits"} and terms["spike"] > 0


RULE = ["--neuron", "if", "--model-kwargs", "v_reset=soft,v_init=0.5"]  # snn_zoo.distill.CONVERSION_NEURON


def test_single_step_noise_is_a_recipe_setting(distill_main, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        _run(
            distill_main,
            out,
            "--method",
            "none",
            "--single-step-noise",
            "1.0",
            "--epochs",
            "1",
            "--mixup",
            "0.5",
            *RULE,
        )
        == 0
    )
    model = snn_zoo.create_model(f"local-dir:{out}")
    assert model.T == 2 and model.snn_args["v_init"] == 0.5 and _results(out)["single_step_noise"] == 1.0
    assert distill_main(TOY + ["--method", "noisy", "--output", str(tmp_path / "x")]) == 2
    assert "single_step_noise" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--mixup", "0.8", "--batch-size", "7"], "even batch"),
        (["--single-step-noise", "0.3", "--data-kwargs", json.dumps({**SYNTH, "event": True})], "event frames"),
        (["--single-step-noise", "1.0"], "neuron 'lif' is not 'if'"),
        (["--single-step-noise", "1.0", "--neuron", "if", "--model-kwargs", "v_reset=soft"], "v_init=0.0 is not"),
        (
            ["--teacher", "vit_tiny_patch16_224", "--teacher-kwargs", "num_heads=1,depth=1,embed_dim=16"],
            "cannot take the image",
        ),
    ],
)
def test_bad_input_stops_before_training(distill_main, tmp_path, capsys, extra, message):
    code = distill_main(TOY + ["--method", "kd", "--epochs", "1", "--output", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "run" / "teacher" / "model.safetensors").exists()


def test_teacher_input_size_makes_a_vit_teacher_fit():
    vit = timm.create_model("vit_tiny_patch16_224", num_classes=4, in_chans=1, depth=1, num_heads=1, embed_dim=16)
    sample = torch.rand(1, 8, 8)
    with pytest.raises(ValueError, match="teacher_input_size"):
        RunPlan.from_recipe(Recipe(teacher="vit_tiny_patch16_224")).check_teacher(vit, sample)
    RunPlan.from_recipe(Recipe(teacher="vit_tiny_patch16_224", teacher_input_size=224)).check_teacher(vit, sample)


def _gray_folder(root, size=(12, 10)):
    for split in ("train", "val"):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(4):
                Image.new("L", size, color=30 * i + 60 * len(label)).save(root / split / label / f"{i}.png")


def test_imagefolder_without_img_size_uses_the_native_size_and_channels(distill_main, tmp_path):
    root, out = tmp_path / "folder", tmp_path / "run"
    _gray_folder(root)
    args = [
        "--model",
        "spiking_cnn_tiny",
        "--T",
        "2",
        "--batch-size",
        "4",
        "--log-with",
        "none",
        "--method",
        "none",
        "--epochs",
        "1",
        "--dataset",
        "imagefolder",
        "--data-dir",
        str(root),
        "--output",
        str(out),
    ]
    assert distill_main(args) == 0
    r = _results(out)
    assert r["input"]["input_size"] == [1, 10, 12] and r["input"]["source"] == "native size of the images"
    model = snn_zoo.create_model(f"local-dir:{out}")
    assert model.num_classes == 2 and model(torch.rand(1, 1, 10, 12)).shape == (1, 2)
    assert dataset_info("imagefolder", data_dir=root).num_classes == 2


def test_timm_augmentation_fields_reach_only_the_datasets_that_take_them(capsys):
    plan = RunPlan.from_recipe(Recipe(dataset="digits", aa="rand-m9-n1-mstd0.4-inc1", reprob=0.25))
    train, _ = plan.build_datasets()
    assert plan.info.name == "digits" and len(train) > 0
    note = " ".join(plan.notes)
    assert "['auto_augment', 're_prob']" in note and "cifar10" in note and "'digits' keeps its own transform" in note


def test_event_teacher_trains_on_the_summed_frames_it_distils_from(distill_main, tmp_path, monkeypatch):
    """The teacher's training, its top-1 and the distillation all feed it the same static image: the T event
    frames summed (a teacher trained frame by frame and then shown the sum misleads the student)."""
    seen = []
    real_build = RunPlan.build_teacher

    def build_and_watch(*args, **kwargs):
        teacher = real_build(*args, **kwargs)
        to_sequence = teacher.to_sequence  # every forward path of a zoo model starts here

        def watched(x):
            seen.append((torch.is_grad_enabled(), tuple(x.shape)))
            return to_sequence(x)

        teacher.to_sequence = watched
        return teacher

    monkeypatch.setattr(RunPlan, "build_teacher", build_and_watch)
    event = json.dumps({**SYNTH, "event": True, "num_samples": 8})
    args = [*TOY, "--data-kwargs", event, "--epochs", "1", "--method", "kd", "--output", str(tmp_path / "run")]
    assert distill_main(args) == 0
    assert {grad for grad, _ in seen} == {True, False}  # its own training; its evaluation and the distillation
    assert all(len(shape) == 4 and shape[1:] == (1, 8, 8) for _, shape in seen), seen
