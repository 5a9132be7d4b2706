"""The one table of distillation methods: name -> teacher?, default weights, loss terms, model-card text.

Recipe validation (``snn_zoo.train.Recipe``), the ``Distiller`` and the model cards all read
``METHOD_TABLE``; adding a method means adding one ``MethodSpec`` here (and, for a new loss term,
one entry in ``Distiller``'s term table).

Terms (computed by ``Distiller``; each enters the total with its weight applied):
    ce      cross-entropy on the labels (soft-target CE when the targets are mixup / smoothed)
    bkd     BKDSNN's blurred feature loss (``BKDLoss``)
    wsld    BKDSNN's weighted soft-label distillation (``wsld_loss``)
    kd      Hinton KD (``kd_loss``)
    stage   SAKD's stage-feature loss (``StageFeatureKD``), optionally with the official batch-index schedule
    hetero  KD with different teacher / student temperatures and an optional spike-rate term (our definition)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["METHODS", "METHOD_DEFAULTS", "METHOD_TABLE", "MethodSpec", "check_loss_weights", "get_method"]

_BKD_CITATION = (
    "@inproceedings{xu2024bkdsnn,\n  title={BKDSNN: Enhancing the Performance of Learning-based Spiking Neural "
    "Networks Training with Blurred Knowledge Distillation},\n  author={Xu, Zekai and You, Kang and Guo, Qinghai "
    "and Wang, Xiang and He, Zhezhi},\n  booktitle={ECCV},\n  year={2024}\n}"
)
_SAKD_CITATION = (
    "@article{sakd2024,\n  title={Self-architectural knowledge distillation for spiking neural networks},\n"
    "  journal={Neural Networks},\n  year={2024}\n}"
)


@dataclass(frozen=True)
class MethodSpec:
    """One distillation method.

    Attributes:
        name: the recipe / CLI name.
        needs_teacher: a frozen teacher is built (and trained first unless weights are given).
        defaults: the default loss weights; ``Distiller`` accepts exactly these keys.
        terms: the loss terms ``Distiller`` computes, in order (see the module docstring).
        card: one sentence for the model card.
        transfers_weights: SAKD level 1, the teacher's weights are copied into the student by name before training.
        citation: BibTeX for the card ('' when the method is ours).
    """

    name: str
    needs_teacher: bool
    defaults: dict = field(default_factory=dict)
    terms: tuple = ("ce",)
    card: str = ""
    transfers_weights: bool = False
    citation: str = ""


METHOD_TABLE: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "none",
            False,
            dict(ce_weight=1.0),
            ("ce",),
            "plain training with cross-entropy (no distillation; the baseline)",
        ),
        MethodSpec(
            "kd",
            True,
            dict(ce_weight=1.0, kd_weight=1.0, tau=2.0),
            ("ce", "kd"),
            "logit knowledge distillation (KL at temperature tau, x tau^2)",
        ),
        MethodSpec(
            "bkd",
            True,
            dict(ce_weight=1.0, alpha=2e-3, blur_prob=0.15),
            ("ce", "bkd"),
            "blurred knowledge distillation (BKDSNN, ECCV 2024): the student's time-averaged feature map is "
            "aligned to the teacher's channels, channels are dropped at random (probability blur_prob) and a "
            "Conv3x3-ReLU-Conv3x3 block restores the teacher feature; loss = alpha * SSE / batch",
            citation=_BKD_CITATION,
        ),
        MethodSpec(
            "mixed",
            True,
            dict(ce_weight=1.0, alpha=2e-3, blur_prob=0.15, beta=1.0, tau=2.0),
            ("ce", "bkd", "wsld"),
            "cross-entropy + BKD + beta * weighted soft-label distillation (WSLD, tau=2), as in BKDSNN's code",
            citation=_BKD_CITATION,
        ),
        # SAKD ImageNet: CE + 10 * stage features + 10 * logits at temperature 1. The official code applies the
        # feature weight only to the first batches of every epoch (batch index <= 10) and 0.01 afterwards:
        # set feature_warm_batches=10 (0 keeps the constant weight the paper states).
        MethodSpec(
            "sakd",
            True,
            dict(
                ce_weight=1.0,
                feature_weight=10.0,
                kd_weight=10.0,
                tau=1.0,
                feature_warm_batches=0.0,
                feature_weight_late=0.01,
            ),
            ("ce", "stage", "kd"),
            "self-architectural KD (SAKD, Neural Networks 2024): the same-architecture ANN's weights are copied "
            "into the SNN by name before training, then stage-feature KD (Conv1x1 + BN, MSE) and logit KD",
            transfers_weights=True,
            citation=_SAKD_CITATION,
        ),
        # hetero's defaults come from the sweep in docs/hetero_and_noisy.md (recipes/experiments/hetero_sweep, 3 seeds
        # each on digits, digits at 4x4 and digits_dvs): the mean per-layer rate at weight 1 is the strongest spike
        # term whose top-1 stayed >= KD's on all three (fewer SOPs than KD on each); weight 2 halves KD's SOPs on
        # digits but fell below KD's top-1 on digits at 4x4.
        MethodSpec(
            "hetero",
            True,
            dict(ce_weight=1.0, kd_weight=1.0, tau_student=1.0, tau_teacher=4.0, spike_weight=1.0, spike_per_layer=1.0),
            ("ce", "hetero"),
            "KD with different teacher and student temperatures plus a firing-rate penalty (the mean of the "
            "per-layer rates, weight spike_weight), which cuts spikes (our definition; see snn_zoo.distill.hetero)",
        ),
    )
}
METHODS = tuple(METHOD_TABLE)
METHOD_DEFAULTS: dict[str, dict[str, float]] = {name: dict(spec.defaults) for name, spec in METHOD_TABLE.items()}

#: Card text for the single-step noise training setting (a recipe setting, combinable with any method).
SINGLE_STEP_NOISE_CARD = (
    "trained single-step (T=1) with uniform membrane noise (IF neurons, soft reset, v_init = v_threshold / 2) and "
    "run at T=N afterwards with the same weights (our conversion rule; see snn_zoo.distill.noisy)"
)


def get_method(name: str) -> MethodSpec:
    """The ``MethodSpec`` called ``name``; a clear error listing the valid names otherwise."""
    if name == "noisy":
        raise ValueError(
            "method 'noisy' is now the recipe setting single_step_noise (the noise width): use "
            "method: none (or any method) with single_step_noise: 1.0, neuron: if and "
            "model_kwargs: {v_reset: soft, v_init: 0.5}."
        )
    try:
        return METHOD_TABLE[name]
    except KeyError:
        raise ValueError(f"Unknown distillation method {name!r}; choose one of {list(METHODS)}.") from None


def check_loss_weights(method: str, weights: dict) -> None:
    """Loss-weight names must be ``method``'s (its ``MethodSpec.defaults``) and values finite numbers: one ValueError
    naming the wrong ones and the valid names. Recipes and ``Distiller`` both check through here."""
    known = get_method(method).defaults
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"Unknown loss weight(s) {unknown} for method {method!r}; valid: {sorted(known)}.")
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"loss weight {key!r} must be a finite number, got {value!r} ({type(value).__name__}).")
