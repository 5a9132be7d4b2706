"""``Distiller``: a student SNN, a frozen teacher and one distillation recipe in one module.

``out = distiller(x, labels)`` returns a dict with ``'loss'`` (the total to backpropagate),
each term *as it enters the total* (weights applied) and ``'logits'`` (the student's).
Optimise ``distiller.trainable_parameters()``: the student plus the loss modules (BKD's
align/restore, SAKD's stage transforms).

Methods and their default weights (override any of them as keyword arguments):
    none    CE                                           ce_weight=1
    kd      CE + kd_weight * kd_loss(tau)                 kd_weight=1, tau=2
    bkd     CE + BKD                                      alpha=2e-3, blur_prob=0.15
    mixed   CE + BKD + beta * WSLD(tau)  (BKDSNN)         alpha=2e-3, blur_prob=0.15, beta=1, tau=2
    sakd    CE + 10 * stage features + 10 * KD(tau=1)     feature_weight=10, kd_weight=10, tau=1
    hetero  CE + kd_weight * hetero KD + spike term       kd_weight=1, tau_student=1, tau_teacher=4,
                                                          spike_weight=0  (our definition, hetero.py)
Every method also takes ``ce_weight`` (1).

Features. Student and teacher features are the map right before global pooling, averaged over
time (``forward_features``), and the logits come from the head on the same features. For an
snn_zoo ``SpikingModel`` the head is applied to the feature *sequence* (exact even for a
non-linear head); any other model (a timm ANN teacher) uses ``forward_features`` +
``forward_head``. A teacher whose ``forward_features`` returns tokens [B, N, D] (timm ViT) gives
BKD its pooled vector ``forward_head(f, pre_logits=True)`` (BKDSNN's transformer variant).
SAKD stage features are captured with forward hooks on the modules named in ``feature_info``
of both models (paired by module name when the student's names all exist in the teacher, else
in order; or pass ``stage_pairs=[(student_module, teacher_module), ...]``).

Teacher input. The teacher always gets a static image [B, C, H, W]: ``x`` itself, or, when the
student input is event frames [T, B, C, H, W], the frames summed over T (the event count image).
The teacher is frozen: eval mode (kept by ``train()``), ``requires_grad=False``, run under
``torch.no_grad()``.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from ..models._base import SpikingModel
from .bkd import BKDLoss
from .hetero import SpikeRateRegularizer
from .logit import hetero_kd_loss, kd_loss, wsld_loss
from .sakd import SAKD_WEIGHTS, StageFeatureKD

__all__ = ["Distiller", "METHODS", "METHOD_DEFAULTS"]

METHOD_DEFAULTS: dict[str, dict[str, float]] = {
    "none": dict(ce_weight=1.0),
    "kd": dict(ce_weight=1.0, kd_weight=1.0, tau=2.0),
    "bkd": dict(ce_weight=1.0, alpha=2e-3, blur_prob=0.15),
    "mixed": dict(ce_weight=1.0, alpha=2e-3, blur_prob=0.15, beta=1.0, tau=2.0),
    "sakd": dict(SAKD_WEIGHTS),
    "hetero": dict(ce_weight=1.0, kd_weight=1.0, tau_student=1.0, tau_teacher=4.0, spike_weight=0.0),
}
METHODS = tuple(METHOD_DEFAULTS)


def _features_and_logits(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(time-averaged pre-pooling feature, logits) of one forward pass."""
    if isinstance(model, SpikingModel):
        functional.reset_net(model)
        seq = model.forward_features_seq(model.to_sequence(x))
        return seq.mean(0), model.head_seq(seq).mean(0)
    feat = model.forward_features(x)
    return feat, model.forward_head(feat)


def _feature_info(model: nn.Module, role: str) -> list[dict]:
    info = getattr(model, "feature_info", None)
    if info is None:
        raise ValueError(f"SAKD needs stage features, but the {role} ({type(model).__name__}) has no feature_info.")
    return [dict(i) for i in info]


class Distiller(nn.Module):
    """Student + frozen teacher + distillation losses (see the module docstring).

    Args:
        student: the model being trained (an snn_zoo SNN, or any timm-contract model).
        teacher: the frozen teacher (timm ANN or SNN); may be ``None`` only for ``method='none'``.
        method: one of ``METHODS``.
        student_channels / teacher_channels: BKD feature channels (default: ``num_features``).
        stage_pairs: SAKD (student module, teacher module) names (default: from ``feature_info``).
        **loss_weights: overrides of ``METHOD_DEFAULTS[method]``.
    """

    def __init__(self, student: nn.Module, teacher: Optional[nn.Module], method: str = "bkd", *,
                 student_channels: Optional[int] = None, teacher_channels: Optional[int] = None,
                 stage_pairs: Optional[Sequence[tuple[str, str]]] = None, **loss_weights: float):
        super().__init__()
        if method not in METHOD_DEFAULTS:
            raise ValueError(f"Unknown distillation method {method!r}; choose one of {list(METHODS)}.")
        unknown = set(loss_weights) - set(METHOD_DEFAULTS[method])
        if unknown:
            raise TypeError(f"Distiller(method={method!r}) got unknown weight(s) {sorted(unknown)}; "
                            f"accepted: {sorted(METHOD_DEFAULTS[method])}.")
        if teacher is None and method != "none":
            raise ValueError(f"method={method!r} needs a teacher.")
        self.method = method
        self.weights = {**METHOD_DEFAULTS[method], **{k: float(v) for k, v in loss_weights.items()}}
        self.student = student
        self.teacher = teacher
        if teacher is not None:
            s_cls, t_cls = getattr(student, "num_classes", None), getattr(teacher, "num_classes", None)
            if s_cls is not None and t_cls is not None and s_cls != t_cls:
                raise ValueError(f"Teacher num_classes={t_cls} != student num_classes={s_cls}; "
                                 f"distillation needs the same label space.")
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)

        self.bkd: Optional[BKDLoss] = None
        if method in ("bkd", "mixed"):
            cs = student_channels or getattr(student, "num_features", None)
            ct = teacher_channels or getattr(teacher, "num_features", None)
            if cs is None or ct is None:
                raise ValueError("BKD needs student_channels / teacher_channels (no num_features attribute).")
            self.bkd = BKDLoss(cs, ct, alpha=self.weights["alpha"], blur_prob=self.weights["blur_prob"])

        self.stage_kd: Optional[StageFeatureKD] = None
        self._stage_cache: dict[str, torch.Tensor] = {}
        self._capturing = False
        self._hook_handles: list = []
        if method == "sakd":
            self._setup_stages(stage_pairs)

        self.spike_reg: Optional[SpikeRateRegularizer] = None
        if method == "hetero" and self.weights["spike_weight"] > 0:
            self.spike_reg = SpikeRateRegularizer(student)
            self.spike_reg.enabled = False  # records only inside Distiller.forward

    # -- SAKD stage hooks ------------------------------------------------------------------------
    def _setup_stages(self, stage_pairs: Optional[Sequence[tuple[str, str]]]) -> None:
        s_info, t_info = _feature_info(self.student, "student"), _feature_info(self.teacher, "teacher")
        s_chs = {i["module"]: i["num_chs"] for i in s_info}
        t_chs = {i["module"]: i["num_chs"] for i in t_info}
        if stage_pairs is None:
            s_names, t_names = list(s_chs), list(t_chs)
            if all(n in t_chs for n in s_names):
                stage_pairs = [(n, n) for n in s_names]
            elif len(s_names) == len(t_names):
                stage_pairs = list(zip(s_names, t_names))
            else:
                raise ValueError(f"Cannot pair student stages {s_names} with teacher stages {t_names}; "
                                 f"pass stage_pairs=[(student_module, teacher_module), ...].")
        self.stage_pairs = [tuple(p) for p in stage_pairs]
        s_mods, t_mods = dict(self.student.named_modules()), dict(self.teacher.named_modules())
        for s_name, t_name in self.stage_pairs:
            if s_name not in s_chs or t_name not in t_chs or s_name not in s_mods or t_name not in t_mods:
                raise ValueError(f"Stage pair ({s_name!r}, {t_name!r}) must name modules listed in the "
                                 f"feature_info of the student {list(s_chs)} and the teacher {list(t_chs)}.")
            self._hook_handles.append(s_mods[s_name].register_forward_hook(self._capture(f"s:{s_name}")))
            self._hook_handles.append(t_mods[t_name].register_forward_hook(self._capture(f"t:{t_name}")))
        self.stage_kd = StageFeatureKD([s_chs[s] for s, _ in self.stage_pairs],
                                       [t_chs[t] for _, t in self.stage_pairs])

    def _capture(self, key: str):
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if self._capturing:  # only during Distiller.forward: no stale references otherwise
                self._stage_cache[key] = output
        return hook

    def remove_hooks(self) -> None:
        """Remove the SAKD stage hooks and the spike regulariser from the student and teacher."""
        for h in self._hook_handles:
            h.remove()
        self._hook_handles.clear()
        if self.spike_reg is not None:
            self.spike_reg.remove()

    # -- nn.Module --------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen teacher: BN statistics and dropout never switch to training
        return self

    def extra_modules(self) -> list[nn.Module]:
        """Loss modules with trainable parameters (BKD align/restore, SAKD transforms)."""
        return [m for m in (self.bkd, self.stage_kd) if m is not None]

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Student parameters plus those of ``extra_modules()`` (give these to the optimizer)."""
        for module in (self.student, *self.extra_modules()):
            for p in module.parameters():
                if p.requires_grad:
                    yield p

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        w = self.weights
        self._stage_cache.clear()
        self._capturing = self.stage_kd is not None
        try:
            if self.spike_reg is not None:
                self.spike_reg.reset()
                self.spike_reg.enabled = True
            s_feat, s_logits = _features_and_logits(self.student, x)
            t_feat = t_logits = None
            if self.teacher is not None:
                t_in = x.sum(0) if x.dim() == 5 else x  # event frames -> event-count image
                with torch.no_grad():
                    t_feat, t_logits = _features_and_logits(self.teacher, t_in)
            stages = dict(self._stage_cache)
        finally:
            self._capturing = False
            if self.spike_reg is not None:
                self.spike_reg.enabled = False
            self._stage_cache.clear()

        terms: dict[str, torch.Tensor] = {"ce": w["ce_weight"] * F.cross_entropy(s_logits, labels)}
        if self.bkd is not None:
            if t_feat.dim() == 3:  # tokens [B, N, D]: the transformer variant uses the pooled vector
                with torch.no_grad():
                    t_feat = self.teacher.forward_head(t_feat, pre_logits=True)
            terms["bkd"] = self.bkd(s_feat, t_feat)
        if self.method == "mixed":
            terms["wsld"] = w["beta"] * wsld_loss(s_logits, t_logits, labels, tau=w["tau"])
        if self.method in ("kd", "sakd"):
            terms["kd"] = w["kd_weight"] * kd_loss(s_logits, t_logits, tau=w["tau"])
        if self.method == "sakd":
            s_list = [stages[f"s:{s}"] for s, _ in self.stage_pairs]
            t_list = [stages[f"t:{t}"] for _, t in self.stage_pairs]
            terms["feature"] = w["feature_weight"] * self.stage_kd(s_list, t_list)
        if self.method == "hetero":
            terms["kd"] = w["kd_weight"] * hetero_kd_loss(s_logits, t_logits, w["tau_student"], w["tau_teacher"])
            if self.spike_reg is not None:
                rate = self.spike_reg.rate()
                if rate is not None:
                    terms["spike"] = w["spike_weight"] * rate
                self.spike_reg.reset()

        for name, value in terms.items():
            if not torch.isfinite(value).all():
                raise FloatingPointError(
                    f"Distiller(method={self.method!r}): loss term {name!r} is not finite ({value.detach().item()})."
                )
        total = sum(terms.values())
        return {"loss": total, **terms, "logits": s_logits}

    def extra_repr(self) -> str:
        return f"method={self.method!r}, weights={self.weights}"
