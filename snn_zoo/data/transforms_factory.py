"""Transforms of the zoo's datasets: tensor resizing, event frames to tensors, torchvision and timm pipelines."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .dataset_info import DatasetInfo

__all__ = [
    "FramesToTensor",
    "ResizeTensor",
    "resize_transform",
    "timm_transform",
    "timm_transform_kwargs",
    "torchvision_transform",
]


class ResizeTensor:
    """Resize a ``[..., H, W]`` tensor (image or frame sequence) with area/bilinear interpolation."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = tuple(size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        lead = x.shape[:-2]
        flat = x.reshape(1, -1, *x.shape[-2:])
        # area keeps event counts' total roughly proportional when shrinking; bilinear when enlarging.
        shrink = self.size[0] <= x.shape[-2] and self.size[1] <= x.shape[-1]
        mode = "area" if shrink else "bilinear"
        kw = {} if shrink else {"align_corners": False}
        out = torch.nn.functional.interpolate(flat, size=self.size, mode=mode, **kw)
        return out.reshape(*lead, *self.size)

    def __repr__(self) -> str:
        return f"ResizeTensor(size={self.size})"


class FramesToTensor:
    """spikingjelly frames (numpy ``[T, 2, H, W]``) -> float32 tensor, optionally resized."""

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self.resize = ResizeTensor(size) if size is not None else None

    def __call__(self, frames: Any) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
        return self.resize(x) if self.resize is not None else x


def resize_transform(native: tuple[int, int, int], size: tuple[int, int, int]) -> ResizeTensor | None:
    """A :class:`ResizeTensor` to ``size`` (C, H, W), or None when ``size`` is the native size."""
    return ResizeTensor(size[1:]) if size != native else None


def torchvision_transform(
    info: DatasetInfo, size: tuple[int, int, int], augment: bool, crop_padding: int, hflip: bool
) -> Callable:
    """PIL image -> normalised tensor of ``size``; with ``augment``, a padded random crop (+ flip if ``hflip``)."""
    from torchvision import transforms as tvt

    ops: list[Callable] = []
    if size != info.input_size:
        ops.append(tvt.Resize(size[1:]))
    if augment:
        ops.append(tvt.RandomCrop(size[1:], padding=crop_padding))
        if hflip:
            ops.append(tvt.RandomHorizontalFlip())
    ops += [tvt.ToTensor(), tvt.Normalize(info.mean, info.std)]
    return tvt.Compose(ops)


def timm_transform_kwargs() -> list[str]:
    """Keyword arguments :func:`timm_transform` passes on to ``timm.data.create_transform``."""
    from timm.data import create_transform

    return [p for p in inspect.signature(create_transform).parameters if p not in ("input_size", "is_training")]


def timm_transform(size: tuple[int, int, int], augment: bool, **kwargs: Any) -> Callable:
    """timm's ImageNet-style pipeline (``timm.data.create_transform``) for ``size`` (C, H, W)."""
    from timm.data import create_transform

    return create_transform(size, is_training=augment, **kwargs)
