"""One measurement of a spiking classifier: accuracy, firing rates, synaptic operations and energy.

:func:`measure` is the single place where a results row is computed: the training run's final
results, ``hub_scripts/validate.py`` and the re-validation of ported checkpoints all call it, so a
number in results.json, a validation CSV and a model card means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from ..layers import batch_size, first_samples, is_sequence
from .evaluate import evaluate

__all__ = ["ENERGY_SAMPLES", "MEASURE_KEYS", "SPIKE_KEYS", "energy_batch", "measure"]

#: Images (from the start of the loader) whose spikes and operations are counted.
ENERGY_SAMPLES = 64
#: The spike and operation counts of a row (per image, summed over T; from ``energy_report``).
SPIKE_KEYS = (
    "mean_firing_rate",
    "firing_rates",
    "sops_per_image",
    "macs_per_image",
    "energy_mj_per_image",
    "ann_energy_mj_per_image",
)
#: Keys of the row :func:`measure` returns.
MEASURE_KEYS = ("top1", "top5", "loss", "num_samples", "T", "param_count", *SPIKE_KEYS)


def energy_batch(loader: Iterable, samples: int = ENERGY_SAMPLES) -> torch.Tensor:
    """The first ``samples`` inputs of ``loader`` as one batch (time-first sequences stay time-first)."""
    parts, have = [], 0
    for batch in loader:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch["input"]
        parts.append(first_samples(x, samples - have))
        have += batch_size(parts[-1])
        if have >= samples:
            break
    if not parts:
        raise ValueError("measure got an empty loader: there is nothing to count spikes on.")
    return torch.cat(parts, dim=1 if is_sequence(parts[0]) else 0)


def measure(
    model: nn.Module,
    loader: Iterable,
    *,
    accelerator: Any | None = None,
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    max_batches: int | None = None,
    energy: bool = True,
    energy_samples: int = ENERGY_SAMPLES,
    progress: bool = False,
    desc: str = "eval",
) -> dict[str, Any]:
    """Evaluate ``model`` on ``loader`` and count its spikes and operations: one results row.

    Accuracy (``top1``/``top5`` in percent, mean cross-entropy ``loss``) covers the whole loader (or
    ``max_batches``), sharded and gathered when ``accelerator`` is given; the spike and operation
    counts (:func:`snn_zoo.metrics.energy_report`, fp32, per image, summed over T) cover its first
    ``energy_samples`` images. With ``energy=False`` those keys are ``None``.
    Returns a dict with the keys of :data:`MEASURE_KEYS`.
    """
    from ..metrics import energy_report

    metrics = evaluate(
        model,
        loader,
        accelerator=accelerator,
        max_batches=max_batches,
        progress=progress,
        amp_dtype=amp_dtype,
        device=device,
        desc=desc,
    )
    row: dict[str, Any] = dict.fromkeys(MEASURE_KEYS)
    row.update(
        top1=round(metrics["top1"], 4),
        top5=round(metrics["top5"], 4),
        loss=round(metrics["loss"], 6),
        num_samples=metrics["num_samples"],
        T=int(getattr(model, "T", 1) or 1),
        param_count=sum(p.numel() for p in model.parameters()),
    )
    if energy:
        rep = energy_report(model, energy_batch(loader, energy_samples)).to_dict()
        row.update({key: rep[key] for key in SPIKE_KEYS}, T=rep["T"])
    return row
