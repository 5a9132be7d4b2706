"""Multi-step ([T, B, ...]) stand-ins for NIR's pooling and flatten nodes, used both ways.

Export puts them in the traced step graph where our models pool or flatten with tensor methods
(the head's ``x.mean(dim=(-2, -1))``, a max-pool of spikes); import builds them from NIR nodes.
NIR counts dimensions per sample (no batch, no time): ``Flatten(start_dim=0)`` on a [C, H, W] sample.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

_LEAD = 2  # [T, B] in front of every per-sample shape


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    values = [int(v) for v in (value.tolist() if hasattr(value, "tolist") else value)]
    if len(values) == 1:
        return (values[0], values[0])
    return (values[0], values[1])


class Pool2d(nn.Module):
    """NIR ``AvgPool2d`` (``kind='avg'``) or ``SumPool2d`` (``kind='sum'``) on [T, B, C, H, W].

    Zero padding counts in the window (``count_include_pad``), so a sum pool is the average times k*k.
    """

    def __init__(self, kind: str, kernel_size, stride=None, padding=0):
        super().__init__()
        if kind not in ("avg", "sum"):
            raise ValueError(f"kind must be 'avg' or 'sum', got {kind!r}.")
        self.kind = kind
        self.kernel_size = _pair(kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(stride)
        self.padding = _pair(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(0, _LEAD - 1)
        divisor = 1 if self.kind == "sum" else None
        out = F.avg_pool2d(flat, self.kernel_size, self.stride, self.padding, divisor_override=divisor)
        return out.reshape(*x.shape[:_LEAD], *out.shape[1:])

    def extra_repr(self) -> str:
        return f"{self.kind}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Flatten(nn.Module):
    """NIR ``Flatten``: ``start_dim`` / ``end_dim`` count per-sample dimensions; [T, B] stay."""

    def __init__(self, start_dim: int = 0, end_dim: int = -1):
        super().__init__()
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.start_dim + _LEAD if self.start_dim >= 0 else self.start_dim
        end = self.end_dim + _LEAD if self.end_dim >= 0 else self.end_dim
        return x.flatten(start, end)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class MultiStep(nn.Module):
    """Applies a per-sample torch layer (conv, linear) to every step of [T, B, ...]."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer(x.flatten(0, _LEAD - 1))
        return out.reshape(*x.shape[:_LEAD], *out.shape[1:])
