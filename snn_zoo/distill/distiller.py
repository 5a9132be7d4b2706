"""``Distiller``: a student SNN, a frozen teacher and one distillation recipe in one module.

``out = distiller(x, labels)`` returns a dict with ``'loss'`` (the total to backpropagate),
each term *as it enters the total* (weights applied) and ``'logits'`` (the student's).
Optimise ``distiller.trainable_parameters()``: the student plus the loss modules (BKD's
align/restore, SAKD's stage transforms).

Methods, their default weights and loss terms come from ``methods.METHOD_TABLE`` (override any
weight as a keyword argument):
    none    CE                                           ce_weight=1
    kd      CE + kd_weight * kd_loss(tau)                 kd_weight=1, tau=2
    bkd     CE + BKD                                      alpha=2e-3, blur_prob=0.15
    mixed   CE + BKD + beta * WSLD(tau)  (BKDSNN)         alpha=2e-3, blur_prob=0.15, beta=1, tau=2
    sakd    CE + 10 * stage features + 10 * KD(tau=1)     feature_weight=10, kd_weight=10, tau=1,
                                                          feature_warm_batches=0, feature_weight_late=0.01
    hetero  CE + kd_weight * hetero KD + spike term       kd_weight=1, tau_student=1, tau_teacher=4,
                                                          spike_weight=1, spike_per_layer=1  (ours, hetero.py)
Every method also takes ``ce_weight`` (1).

Targets. ``labels`` are class indices [B] or soft targets [B, K] (timm's ``Mixup`` / label
smoothing). With soft targets CE is timm's soft-target cross-entropy and WSLD's per-sample weight
uses the soft-target CEs of student and teacher, as BKDSNN's code does with mixed targets.

SAKD schedule. SAKD's official code weights the stage-feature term with ``feature_weight`` only
while the batch index within the epoch is <= 10 and with 0.01 afterwards; set
``feature_warm_batches=10`` (and ``feature_weight_late=0.01``) to reproduce it. The training loop
sets ``distiller.batch_index`` before every step; 0 (the default) keeps the constant weight.

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
student input is event frames [T, B, C, H, W], the frames summed over T (the event count image);
``teacher_input_size`` resizes it first (BKDSNN's CIFAR ViT-S/16 teacher sees 32 -> 224, bicubic).
The teacher is frozen: eval mode (kept by ``train()``), ``requires_grad=False``, run under
``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional

from ..layers import sum_over_time
from ..models._base import SpikingModel
from .bkd import BKDLoss
from .hetero import SpikeRateRegularizer
from .logit import hetero_kd_loss, kd_loss, wsld_loss
from .methods import METHOD_DEFAULTS, METHODS, check_loss_weights, get_method
from .sakd import StageFeatureKD

__all__ = ["METHODS", "METHOD_DEFAULTS", "Distiller", "ResizedInput", "teacher_input"]


def teacher_input(x: torch.Tensor, size: int | None = None, interpolation: str = "bicubic") -> torch.Tensor:
    """The teacher's static image for a student input: event frames [T, B, C, H, W] summed over T,
    resized to ``size`` x ``size`` with ``interpolation`` when given."""
    x = sum_over_time(x)
    if size and tuple(x.shape[-2:]) != (size, size):
        align = False if interpolation in ("bilinear", "bicubic") else None
        x = F.interpolate(x, size=(size, size), mode=interpolation, align_corners=align)
    return x


class ResizedInput(nn.Module):
    """``model`` seen through ``teacher_input``: to train and evaluate a teacher on the image it gets while
    distilling (e.g. a ViT at 224 on 32x32 data). Exposes ``forward_features`` / ``forward_head``."""

    def __init__(self, model: nn.Module, size: int | None, interpolation: str = "bicubic"):
        super().__init__()
        self.model, self.size, self.interpolation = model, size, interpolation
        self.num_classes = getattr(model, "num_classes", None)
        self.num_features = getattr(model, "num_features", None)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(teacher_input(x, self.size, self.interpolation))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.model.forward_head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(teacher_input(x, self.size, self.interpolation))


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """CE on class indices [B], or timm's soft-target CE on [B, K] targets (mixup / label smoothing)."""
    if targets.dim() == 2:
        return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()
    return F.cross_entropy(logits, targets)


def _features_and_logits(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(time-averaged pre-pooling feature, logits) of one forward pass."""
    if isinstance(model, SpikingModel):
        functional.reset_net(model)
        seq = model.forward_features_seq(model.to_sequence(x))
        return seq.mean(0), model.head_seq(seq).mean(0)
    feat = model.forward_features(x)
    return feat, model.forward_head(feat)


def _output_module(module: nn.Module) -> nn.Module:
    """The module whose output is ``module``'s output: a Sequential's last element (recursively). Models may
    run a stage's blocks one by one (e.g. for per-block checkpointing), so the stage itself is never called."""
    while isinstance(module, nn.Sequential) and len(module):
        module = module[-1]
    return module


#: Module names of a stem that timm-style feature_info lists before the stages (ResNets: act1; ours: sn1, stem).
_STEM_MODULES = ("stem", "sn1", "act1")


def _stages(info: list[dict]) -> list[dict]:
    """feature_info without a leading stem entry: SAKD distils the output of every *stage* (4 for ResNets)."""
    if len(info) > 1 and info[0]["module"] in _STEM_MODULES:
        return info[1:]
    return info


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
        teacher_input_size / teacher_interpolation: resize the teacher's image (see ``teacher_input``).
        **loss_weights: overrides of ``METHOD_DEFAULTS[method]``.
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module | None,
        method: str = "bkd",
        *,
        student_channels: int | None = None,
        teacher_channels: int | None = None,
        stage_pairs: Sequence[tuple[str, str]] | None = None,
        teacher_input_size: int | None = None,
        teacher_interpolation: str = "bicubic",
        **loss_weights: float,
    ):
        super().__init__()
        spec = get_method(method)
        check_loss_weights(method, loss_weights)
        if teacher is None and spec.needs_teacher:
            raise ValueError(f"method={method!r} needs a teacher.")
        self.method, self.spec = method, spec
        self.weights = {**spec.defaults, **{k: float(v) for k, v in loss_weights.items()}}
        self.teacher_input_size, self.teacher_interpolation = teacher_input_size, teacher_interpolation
        self.batch_index = 0  # batch index within the epoch (set by the training loop; SAKD's schedule)
        self.student = student
        self.teacher = teacher
        if teacher is not None:
            s_cls, t_cls = getattr(student, "num_classes", None), getattr(teacher, "num_classes", None)
            if s_cls is not None and t_cls is not None and s_cls != t_cls:
                raise ValueError(
                    f"Teacher num_classes={t_cls} != student num_classes={s_cls}; "
                    f"distillation needs the same label space."
                )
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)

        self.bkd: BKDLoss | None = None
        if "bkd" in spec.terms:
            cs = student_channels or getattr(student, "num_features", None)
            ct = teacher_channels or getattr(teacher, "num_features", None)
            if cs is None or ct is None:
                raise ValueError("BKD needs student_channels / teacher_channels (no num_features attribute).")
            self.bkd = BKDLoss(cs, ct, alpha=self.weights["alpha"], blur_prob=self.weights["blur_prob"])

        self.stage_kd: StageFeatureKD | None = None
        self._stage_cache: dict[str, torch.Tensor] = {}
        self._capturing = False
        self._hook_handles: list = []
        if "stage" in spec.terms:
            self._setup_stages(stage_pairs)

        self.spike_reg: SpikeRateRegularizer | None = None
        if "hetero" in spec.terms and self.weights["spike_per_layer"] not in (0, 1):
            raise ValueError(
                f"spike_per_layer is a switch: 0 (one overall firing rate) or 1 (the mean of per-layer rates), "
                f"got {self.weights['spike_per_layer']!r}."
            )
        if "hetero" in spec.terms and self.weights["spike_weight"] > 0:
            self.spike_reg = SpikeRateRegularizer(student, per_layer=bool(self.weights["spike_per_layer"]))
            self.spike_reg.enabled = False  # records only inside Distiller.forward

    # -- SAKD stage hooks ------------------------------------------------------------------------
    def _setup_stages(self, stage_pairs: Sequence[tuple[str, str]] | None) -> None:
        s_info = _stages(_feature_info(self.student, "student"))
        t_info = _stages(_feature_info(self.teacher, "teacher"))
        s_chs = {i["module"]: i["num_chs"] for i in s_info}
        t_chs = {i["module"]: i["num_chs"] for i in t_info}
        if stage_pairs is None:
            s_names, t_names = list(s_chs), list(t_chs)
            if all(n in t_chs for n in s_names):
                stage_pairs = [(n, n) for n in s_names]
            elif len(s_names) == len(t_names):
                stage_pairs = list(zip(s_names, t_names))
            else:
                raise ValueError(
                    f"Cannot pair student stages {s_names} with teacher stages {t_names}; "
                    f"pass stage_pairs=[(student_module, teacher_module), ...]."
                )
        self.stage_pairs = [tuple(p) for p in stage_pairs]
        s_mods, t_mods = dict(self.student.named_modules()), dict(self.teacher.named_modules())
        for s_name, t_name in self.stage_pairs:
            if s_name not in s_chs or t_name not in t_chs or s_name not in s_mods or t_name not in t_mods:
                raise ValueError(
                    f"Stage pair ({s_name!r}, {t_name!r}) must name modules listed in the "
                    f"feature_info of the student {list(s_chs)} and the teacher {list(t_chs)}."
                )
            self._hook_handles.append(
                _output_module(s_mods[s_name]).register_forward_hook(self._capture(f"s:{s_name}"))
            )
            self._hook_handles.append(
                _output_module(t_mods[t_name]).register_forward_hook(self._capture(f"t:{t_name}"))
            )
        self.stage_kd = StageFeatureKD([s_chs[s] for s, _ in self.stage_pairs], [t_chs[t] for _, t in self.stage_pairs])

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
    def train(self, mode: bool = True) -> Distiller:
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
        self._stage_cache.clear()
        self._capturing = self.stage_kd is not None
        try:
            if self.spike_reg is not None:
                self.spike_reg.reset()
                self.spike_reg.enabled = True
            s_feat, s_logits = _features_and_logits(self.student, x)
            t_feat = t_logits = None
            if self.teacher is not None:
                t_in = teacher_input(x, self.teacher_input_size, self.teacher_interpolation)
                with torch.no_grad():
                    t_feat, t_logits = _features_and_logits(self.teacher, t_in)
            stages = dict(self._stage_cache)
        finally:
            self._capturing = False
            if self.spike_reg is not None:
                self.spike_reg.enabled = False
            self._stage_cache.clear()

        outputs = dict(s_feat=s_feat, s_logits=s_logits, t_feat=t_feat, t_logits=t_logits, labels=labels, stages=stages)
        terms: dict[str, torch.Tensor] = {}
        for term in self.spec.terms:
            terms.update(getattr(self, f"_term_{term}")(**outputs))
        for name, value in terms.items():
            if not torch.isfinite(value).all():
                raise FloatingPointError(
                    f"Distiller(method={self.method!r}): loss term {name!r} is not finite ({value.detach().item()})."
                )
        total = sum(terms.values())
        return {"loss": total, **terms, "logits": s_logits}

    # -- loss terms (one per name in METHOD_TABLE[...].terms); each returns {name: weighted value} ------
    def _term_ce(self, s_logits, labels, **_) -> dict[str, torch.Tensor]:
        return {"ce": self.weights["ce_weight"] * _cross_entropy(s_logits, labels)}

    def _term_bkd(self, s_feat, t_feat, **_) -> dict[str, torch.Tensor]:
        if t_feat.dim() == 3:  # tokens [B, N, D]: the transformer variant uses the pooled vector
            with torch.no_grad():
                t_feat = self.teacher.forward_head(t_feat, pre_logits=True)
        return {"bkd": self.bkd(s_feat, t_feat)}

    def _term_wsld(self, s_logits, t_logits, labels, **_) -> dict[str, torch.Tensor]:
        return {"wsld": self.weights["beta"] * wsld_loss(s_logits, t_logits, labels, tau=self.weights["tau"])}

    def _term_kd(self, s_logits, t_logits, **_) -> dict[str, torch.Tensor]:
        return {"kd": self.weights["kd_weight"] * kd_loss(s_logits, t_logits, tau=self.weights["tau"])}

    def feature_weight(self) -> float:
        """SAKD's stage-feature weight at ``self.batch_index`` (constant unless feature_warm_batches > 0)."""
        w = self.weights
        if w["feature_warm_batches"] > 0 and self.batch_index > w["feature_warm_batches"]:
            return w["feature_weight_late"]
        return w["feature_weight"]

    def _term_stage(self, stages, **_) -> dict[str, torch.Tensor]:
        s_list = [stages[f"s:{s}"] for s, _ in self.stage_pairs]
        t_list = [stages[f"t:{t}"] for _, t in self.stage_pairs]
        return {"feature": self.feature_weight() * self.stage_kd(s_list, t_list)}

    def _term_hetero(self, s_logits, t_logits, **_) -> dict[str, torch.Tensor]:
        w = self.weights
        out = {"kd": w["kd_weight"] * hetero_kd_loss(s_logits, t_logits, w["tau_student"], w["tau_teacher"])}
        if self.spike_reg is not None:
            rate = self.spike_reg.rate()
            if rate is not None:
                out["spike"] = w["spike_weight"] * rate
            self.spike_reg.reset()
        return out

    def extra_repr(self) -> str:
        return f"method={self.method!r}, weights={self.weights}"
