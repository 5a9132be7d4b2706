"""What every source builder receives (:class:`BuildRequest`) and the argument checks they share."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..dataset_info import DatasetError, DatasetInfo

__all__ = ["BuildRequest", "InputSize", "PathLike", "check_T", "check_kwargs", "normalize_input_size"]

PathLike = str | os.PathLike
InputSize = int | Sequence[int]


@dataclass(frozen=True)
class BuildRequest:
    """A checked ``create_dataset`` call, as handed to a source builder.

    Attributes:
        name: canonical dataset name.
        split: ``"train"`` or ``"val"``.
        info: the dataset's static :class:`DatasetInfo`, or None where it depends on the call.
        layout: expected files under ``data_dir`` (for error messages); None for embedded datasets.
        root: the existing data directory; None for embedded datasets.
        T: number of time bins; already checked for event datasets with static info.
        input_size: the caller's ``input_size`` (unchecked).
        augment: apply training augmentation (``is_training and augment``).
        seed: seed of deterministic splits / synthetic data.
    """

    name: str
    split: str
    info: DatasetInfo | None
    layout: str | None
    root: Path | None
    T: int | None
    input_size: InputSize | None
    augment: bool
    seed: int


def normalize_input_size(input_size: InputSize | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    """``None``, ``int``, ``(H, W)`` or ``(C, H, W)`` -> ``(C, H, W)``; only the spatial size may change."""
    if input_size is None:
        return default
    if isinstance(input_size, int):
        return (default[0], input_size, input_size)
    size = tuple(int(s) for s in input_size)
    if len(size) == 2:
        return (default[0], size[0], size[1])
    if len(size) == 3:
        if size[0] != default[0]:
            raise DatasetError(
                f"input_size {size} has {size[0]} channels but the dataset has {default[0]}; "
                f"only the spatial size can be changed, e.g. input_size=({default[0]}, {size[1]}, {size[2]})."
            )
        return size  # type: ignore[return-value]
    raise DatasetError(f"input_size must be an int, (H, W) or (C, H, W); got {input_size!r}.")


def check_T(name: str, T: int | None, default_T: int | None) -> int:
    """``T`` as a positive int; a missing ``T`` names the dataset's customary value."""
    if T is None:
        raise DatasetError(
            f"Dataset {name!r} is an event dataset and needs the number of time bins: pass T=<int> "
            f"(e.g. T={default_T}, customary for {name}; DatasetInfo.default_T holds it)."
        )
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T <= 0:
        raise DatasetError(f"T must be a positive integer, got {T!r}.")
    return int(T)


def check_kwargs(name: str, kwargs: dict[str, Any], allowed: Sequence[str]) -> None:
    """Reject keyword arguments the dataset does not take, suggesting close matches."""
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        close = [m for u in unknown for m in difflib.get_close_matches(u, allowed, n=1, cutoff=0.6)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DatasetError(
            f"Unexpected argument(s) for dataset {name!r}: {', '.join(unknown)}.{hint} Accepted: {accepted}."
        )


def tensor_data_config(info: Any, size: tuple[int, int, int], kwargs: dict[str, Any]) -> dict:
    """timm's data config of sources that yield tensors as they are (embedded digits, event frames): no
    normalisation (mean 0, std 1 in timm's terms), resized without a crop."""
    return dict(interpolation="bilinear", crop_pct=1.0, crop_mode="center", mean=(0.0,) * size[0], std=(1.0,) * size[0])
