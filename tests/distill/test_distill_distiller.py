"""Distiller: frozen teacher, error checks, method terms."""

import pytest
import timm
import torch

import snn_zoo
from snn_zoo.distill import Distiller


def _pair(**student_kwargs):
    torch.manual_seed(0)
    student = snn_zoo.create_model("spiking_cnn_tiny", T=2, **student_kwargs)
    teacher = snn_zoo.create_model("spiking_cnn_small", neuron="relu")
    return student, teacher


X, Y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])


def test_teacher_frozen_eval_and_gets_no_grad():
    student, teacher = _pair()
    d = Distiller(student, teacher, "mixed").train()
    assert d.training and student.training and not teacher.training
    out = d(X, Y)
    assert set(out) == {"loss", "ce", "bkd", "wsld", "logits"}
    torch.testing.assert_close(out["loss"], out["ce"] + out["bkd"] + out["wsld"])
    out["loss"].backward()
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in d.bkd.parameters())
    assert student.fc.weight.grad is not None
    trainable = {id(p) for p in d.trainable_parameters()}
    assert {id(p) for p in d.bkd.parameters()} <= trainable
    assert not trainable & {id(p) for p in teacher.parameters()}
    assert d.extra_modules() == [d.bkd] and d.bkd.align.in_channels == 32 and d.bkd.align.out_channels == 64


def test_class_mismatch_names_both():
    student, _ = _pair()
    teacher = snn_zoo.create_model("spiking_cnn_small", neuron="relu", num_classes=7)
    with pytest.raises(ValueError, match=r"num_classes=7.*num_classes=10"):
        Distiller(student, teacher, "kd")


def test_non_finite_term_names_it():
    student, teacher = _pair()
    with torch.no_grad():
        teacher.fc.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="'kd'"):
        Distiller(student, teacher, "kd")(X, Y)


def test_unknown_weight_and_method():
    student, teacher = _pair()
    with pytest.raises(ValueError, match="beta"):
        Distiller(student, teacher, "kd", beta=1.0)
    with pytest.raises(ValueError, match="method"):
        Distiller(student, teacher, "fitnet")
    with pytest.raises(ValueError, match="teacher"):
        Distiller(student, None, "kd")
    assert set(Distiller(student, None, "none")(X, Y)) == {"loss", "ce", "logits"}


def test_event_frames_teacher_gets_summed_frames():
    student, teacher = _pair()
    seen = []
    teacher.stem.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    frames = torch.rand(2, 4, 1, 8, 8)  # [T, B, ...] at the student's T=2
    Distiller(student, teacher, "kd")(frames, Y)
    torch.testing.assert_close(seen[0][0], frames.sum(0))  # teacher sequence [1, B, C, H, W]


def test_sakd_and_hetero_terms():
    student, teacher = _pair()
    d = Distiller(student, teacher, "sakd")
    assert [(s, t) for s, t in d.stage_pairs] == [("stage1", "stage1"), ("stage2", "stage2"), ("stage3", "stage3")]
    out = d.train()(X, Y)
    assert set(out) == {"loss", "ce", "kd", "feature", "logits"} and out["feature"] > 0
    out["loss"].backward()
    assert d.stage_kd.transforms[0][0].weight.grad is not None
    d.remove_hooks()

    d = Distiller(student, teacher, "hetero", spike_weight=0.5, tau_teacher=3.0)
    out = d.train()(X, Y)
    assert {"kd", "spike"} <= set(out) and 0 < out["spike"] <= 0.5
    student(X)  # outside the Distiller: nothing is recorded
    assert d.spike_reg.rate() is None


def test_timm_teachers_resnet_stages_and_vit_tokens():
    torch.manual_seed(0)
    student = snn_zoo.create_model("sew_resnet18", num_classes=10, in_chans=1, T=1, neuron="if")
    teacher = timm.create_model("resnet18", num_classes=10, in_chans=1)
    d = Distiller(student, teacher, "sakd")
    assert [s for s, _ in d.stage_pairs] == ["layer1", "layer2", "layer3", "layer4"]  # teacher's act1 skipped
    out = d(torch.rand(2, 1, 32, 32), torch.tensor([1, 2]))
    assert torch.isfinite(out["loss"])
    d.remove_hooks()

    vit = timm.create_model("vit_tiny_patch16_224", img_size=8, patch_size=4, depth=1, num_classes=10, in_chans=1)
    small = snn_zoo.create_model("spiking_cnn_tiny", T=2)
    out = Distiller(small, vit, "bkd")(X, Y)  # tokens -> pooled vector: transformer variant
    assert torch.isfinite(out["bkd"]) and out["bkd"] > 0
