"""Builders of the embedded datasets, which need no files: digits, digits_dvs and synthetic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import Dataset

from ..dataset_info import DatasetInfo
from ..digits import DigitsDataset
from ..digits_dvs import DigitsDVSDataset
from ..synthetic import SyntheticDataset
from ..transforms_factory import resize_transform
from .common import BuildRequest, InputSize, check_kwargs, check_T, normalize_input_size

__all__ = ["build_digits", "build_digits_dvs", "build_synthetic", "describe_synthetic"]


def build_digits(req: BuildRequest, kwargs: dict[str, Any]) -> Dataset:
    """:class:`DigitsDataset`; kwargs ``val_fraction``.  No augmentation."""
    check_kwargs(req.name, kwargs, ("val_fraction",))
    size = normalize_input_size(req.input_size, req.info.input_size)
    transform = resize_transform(req.info.input_size, size)
    return DigitsDataset(req.split, transform=transform, seed=req.seed, val_fraction=kwargs.get("val_fraction", 0.2))


def build_digits_dvs(req: BuildRequest, kwargs: dict[str, Any]) -> Dataset:
    """:class:`DigitsDVSDataset`; kwargs ``val_fraction``, ``contrast_threshold``.  No augmentation."""
    check_kwargs(req.name, kwargs, ("val_fraction", "contrast_threshold"))
    size = normalize_input_size(req.input_size, req.info.input_size)
    return DigitsDVSDataset(
        req.split,
        T=req.T,
        seed=req.seed,
        val_fraction=kwargs.get("val_fraction", 0.2),
        transform=resize_transform(req.info.input_size, size),
        contrast_threshold=kwargs.get("contrast_threshold"),
    )


def _synthetic_size(input_size: InputSize | None) -> tuple[int, int, int]:
    """Synthetic data has no native size: any (C, H, W) is accepted, default (3, 32, 32)."""
    if isinstance(input_size, Sequence) and len(input_size) == 3:
        return tuple(int(s) for s in input_size)  # type: ignore[return-value]
    return normalize_input_size(input_size, (3, 32, 32))


def build_synthetic(req: BuildRequest, kwargs: dict[str, Any]) -> Dataset:
    """:class:`SyntheticDataset`; kwargs ``num_samples`` (train 256, val 64), ``num_classes`` (10),
    ``event_rate``; with ``T`` the inputs are ``[T, C, H, W]`` event-like frames."""
    check_kwargs(req.name, kwargs, ("num_samples", "num_classes", "event_rate"))
    T = None if req.T is None else check_T(req.name, req.T, None)
    size = _synthetic_size(req.input_size)
    return SyntheticDataset(
        num_samples=int(kwargs.get("num_samples", 256 if req.split == "train" else 64)),
        input_shape=size if T is None else (T, *size),
        num_classes=int(kwargs.get("num_classes", 10)),
        seed=req.seed if req.split == "train" else req.seed + 1,  # different samples in train and val
        event_rate=float(kwargs.get("event_rate", 0.1)),
    )


def describe_synthetic(name: str, root: Any, layout: str | None, kwargs: dict[str, Any]) -> DatasetInfo:
    """Info of ``synthetic`` from ``num_classes`` (10), ``input_size`` ((3, 32, 32)) and ``T`` (None = static)."""
    shape = _synthetic_size(kwargs.get("input_size"))
    T = kwargs.get("T")
    c = shape[0]
    return DatasetInfo(
        name,
        int(kwargs.get("num_classes", 10)),
        c,
        shape,
        (0.0,) * c,
        (1.0,) * c,
        is_event=T is not None,
        default_T=T,
        needs_data_dir=False,
    )
