"""Knowledge distillation for SNNs: BKD (as published), logit KD / WSLD, SAKD,
heterogeneous-temperature KD and noisy single-step training, wrapped by ``Distiller``."""
from .bkd import BKDLoss, resize_to
from .distiller import METHOD_DEFAULTS, METHODS, Distiller
from .hetero import HeteroKDLoss, SpikeRateRegularizer
from .logit import hetero_kd_loss, kd_loss, wsld_loss
from .noisy import NoisySingleStep, input_gain, noisy_single_step, to_multi_step
from .sakd import SAKD_WEIGHTS, StageFeatureKD, TransferReport, transfer_ann_weights

__all__ = [
    "BKDLoss", "Distiller", "HeteroKDLoss", "METHODS", "METHOD_DEFAULTS", "NoisySingleStep", "SAKD_WEIGHTS",
    "SpikeRateRegularizer", "StageFeatureKD", "TransferReport", "hetero_kd_loss", "input_gain", "kd_loss",
    "noisy_single_step", "resize_to", "to_multi_step", "transfer_ann_weights", "wsld_loss",
]
