"""One rule for the time axis: sequences are time-first, ``[T, B, ...]``.

A batch of images is either a static batch ``[B, C, H, W]`` (4-D) or a time-first
sequence of event frames / feature maps ``[T, B, C, H, W]`` (5-D).  The loaders of
``snn_zoo.data`` yield exactly these two layouts, so no code has to guess which axis
is time; every module asks these helpers instead of testing tensor ranks itself.
Shapes cannot tell ``[T, B, ...]`` from a batch-first ``[B, T, ...]`` when ``B == T``: the layout is
the contract (convert with :func:`from_batch_first`); zoo models also refuse a sequence whose leading
size is not their ``T``, which is how a batch-first tensor with ``B != T`` shows.
"""

from __future__ import annotations

import torch

__all__ = [
    "batch_size",
    "first_samples",
    "from_batch_first",
    "is_sequence",
    "mean_over_time",
    "sum_over_time",
    "to_sequence",
]

_STATIC_DIMS = 4  # [B, C, H, W]
_SEQUENCE_DIMS = 5  # [T, B, C, H, W]


def _check_layout(x: torch.Tensor) -> None:
    if x.dim() not in (_STATIC_DIMS, _SEQUENCE_DIMS):
        raise ValueError(
            f"Expected a static image batch [B, C, H, W] or time-first event frames [T, B, C, H, W], "
            f"got a tensor of shape {tuple(x.shape)}."
        )


def is_sequence(x: torch.Tensor) -> bool:
    """True for a time-first sequence ``[T, B, C, H, W]``, False for anything else (e.g. ``[B, C, H, W]``)."""
    return x.dim() == _SEQUENCE_DIMS


def to_sequence(x: torch.Tensor, T: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[T, B, C, H, W]`` (the image repeated T times, a view); a sequence passes through.

    Raises:
        ValueError: ``x`` is neither 4-D nor 5-D.
    """
    _check_layout(x)
    return x if is_sequence(x) else x.unsqueeze(0).expand(T, *x.shape)


def from_batch_first(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, C, H, W]`` (PyTorch's default collate of ``[T, C, H, W]`` items) -> ``[T, B, C, H, W]``.

    Anything that is not 5-D (a static batch ``[B, C, H, W]``, labels) passes through.
    """
    return x.transpose(0, 1).contiguous() if is_sequence(x) else x


def batch_size(x: torch.Tensor) -> int:
    """Number of samples in a static batch ``[B, ...]`` or a time-first sequence ``[T, B, ...]``."""
    _check_layout(x)
    return int(x.shape[1] if is_sequence(x) else x.shape[0])


def first_samples(x: torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` samples of a static batch or a time-first sequence (all time steps kept)."""
    _check_layout(x)
    return x[:, :n] if is_sequence(x) else x[:n]


def mean_over_time(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, ...]`` -> ``[B, ...]`` (mean over T); anything that is not a sequence passes through."""
    return x.mean(0) if is_sequence(x) else x


def sum_over_time(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, ...]`` -> ``[B, ...]`` (e.g. event frames -> event-count image); non-sequences pass through."""
    return x.sum(0) if is_sequence(x) else x
