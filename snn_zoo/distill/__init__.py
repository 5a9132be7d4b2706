"""Knowledge distillation for SNNs (one table of methods in ``methods``): BKD (as published), logit KD / WSLD, SAKD,
heterogeneous-temperature KD and noisy single-step training, wrapped by ``Distiller``."""

from .bkd import BKDLoss, resize_to
from .distiller import Distiller, ResizedInput, teacher_input
from .hetero import HeteroKDLoss, SpikeRateRegularizer
from .logit import hetero_kd_loss, kd_loss, wsld_loss
from .methods import (
    METHOD_DEFAULTS,
    METHOD_TABLE,
    METHODS,
    SINGLE_STEP_NOISE_CARD,
    MethodSpec,
    check_loss_weights,
    get_method,
)
from .noisy import (
    CONVERSION_NEURON,
    NoiseAveraged,
    NoisySingleStep,
    conversion_neuron_problems,
    noisy_single_step,
    to_multi_step,
)
from .sakd import SAKD_WEIGHTS, StageFeatureKD, TransferReport, transfer_ann_weights

__all__ = [
    "CONVERSION_NEURON",
    "METHODS",
    "METHOD_DEFAULTS",
    "METHOD_TABLE",
    "SAKD_WEIGHTS",
    "SINGLE_STEP_NOISE_CARD",
    "BKDLoss",
    "Distiller",
    "HeteroKDLoss",
    "MethodSpec",
    "NoiseAveraged",
    "NoisySingleStep",
    "ResizedInput",
    "SpikeRateRegularizer",
    "StageFeatureKD",
    "TransferReport",
    "check_loss_weights",
    "conversion_neuron_problems",
    "get_method",
    "hetero_kd_loss",
    "kd_loss",
    "noisy_single_step",
    "resize_to",
    "teacher_input",
    "to_multi_step",
    "transfer_ann_weights",
    "wsld_loss",
]
