"""Top-1 / top-5 / loss of a classifier over a loader, single process or with accelerate."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import functional
from tqdm.auto import tqdm

from ..layers import from_batch_first

__all__ = ["evaluate", "to_time_first", "topk_correct"]


def topk_correct(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Per-sample 0/1 tensor: is ``target`` among the ``k`` largest logits (k clamped to the classes)."""
    k = max(1, min(int(k), logits.shape[-1]))
    top = logits.topk(k, dim=-1).indices
    return (top == target.unsqueeze(-1)).any(dim=-1)


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(batch, dict):
        return batch["input"] if "input" in batch else batch["x"], batch["target"] if "target" in batch else batch["y"]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(f"evaluate expects (input, target) batches, got {type(batch).__name__}.")


def to_time_first(x: torch.Tensor, batch_first: bool = False) -> torch.Tensor:
    """Event frames -> the models' [T, B, C, H, W]; static images (4-D) pass through.

    ``snn_zoo.data.create_loader`` already yields time-first event batches (``batch_first=False``,
    nothing to do); PyTorch's default collate of ``[T, C, H, W]`` items gives [B, T, C, H, W]
    (``batch_first=True``). The layout is stated, never guessed from the sizes (T may equal B).
    """
    return from_batch_first(x) if batch_first else x


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    accelerator: Any | None = None,
    max_batches: int | None = None,
    progress: bool = True,
    *,
    amp_dtype: torch.dtype | None = None,
    device: torch.device | None = None,
    batch_first: bool = False,
    desc: str = "eval",
) -> dict[str, float]:
    """Evaluate ``model`` on ``loader``: ``dict(top1, top5, loss, num_samples)``, accuracies in percent.

    Batches are ``(input, target)``; input [B, C, H, W] (static) or event frames [T, B, C, H, W]
    (as ``snn_zoo.data.create_loader`` collates them) or [B, T, C, H, W] (see ``batch_first``).
    Neuron state is reset before every batch. Top-5 clamps k to the number of classes; ``loss`` is the mean
    cross-entropy per sample.

    Args:
        model: the classifier (train/eval mode is restored afterwards).
        loader: an iterable of batches; with ``accelerator``, one prepared by ``accelerator.prepare`` (each
            process sees its shard; ``gather_for_metrics`` drops the padded tail, so the metrics equal a
            single-process run).
        accelerator: an ``accelerate.Accelerator`` or ``None``; max_batches: per process.
        progress: a tqdm bar (main process only); amp_dtype: autocast dtype of the forward (loss in fp32).
        device: where to put inputs (default: the accelerator's device, else the model's).
        batch_first: layout of 5-D event inputs: ``False`` = [T, B, C, H, W] (``create_loader``'s),
            ``True`` = [B, T, C, H, W] (PyTorch's default collate).
        desc: progress bar label.
    """
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}.")
    if device is None:
        device = accelerator.device if accelerator is not None else _model_device(model)
    device = torch.device(device)
    main = accelerator is None or accelerator.is_main_process
    try:
        total = len(loader)  # type: ignore[arg-type]
    except TypeError:
        total = None
    if max_batches is not None and total is not None:
        total = min(total, max_batches)

    autocast = (
        torch.autocast(device_type=device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
    )
    was_training = model.training
    model.eval()
    top1 = top5 = num = 0
    loss_sum = 0.0
    try:
        bar = tqdm(loader, total=total, desc=desc, disable=not (progress and main), leave=False)
        for i, batch in enumerate(bar):
            if max_batches is not None and i >= max_batches:
                break
            x, y = _split_batch(batch)
            x = to_time_first(x.to(device, non_blocking=True), batch_first=batch_first)
            y = y.to(device, non_blocking=True)
            functional.reset_net(model)
            with autocast:
                logits = model(x)
            logits = logits.float()
            # Per-sample results, so gather_for_metrics can drop the duplicated tail samples.
            loss = F.cross_entropy(logits, y, reduction="none")
            c1, c5 = topk_correct(logits, y, 1), topk_correct(logits, y, 5)
            if accelerator is not None:
                loss, c1, c5 = accelerator.gather_for_metrics((loss, c1, c5))
            loss_sum += loss.double().sum().item()
            top1 += int(c1.sum().item())
            top5 += int(c5.sum().item())
            num += int(c1.numel())
            if num:
                bar.set_postfix(top1=f"{100.0 * top1 / num:.2f}")
    finally:
        model.train(was_training)
    if num == 0:
        raise ValueError("evaluate got an empty loader: no samples were evaluated.")
    return dict(top1=100.0 * top1 / num, top5=100.0 * top5 / num, loss=loss_sum / num, num_samples=num)
