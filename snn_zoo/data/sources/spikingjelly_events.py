"""CIFAR10-DVS and DVS128 Gesture through spikingjelly 2.0, integrated into ``T`` frames; never downloaded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Subset

from ..constants import CIFAR10_DVS_VAL_FRACTION
from ..dataset_info import DatasetError
from ..transforms_factory import FramesToTensor
from .common import BuildRequest, check_kwargs, normalize_input_size

__all__ = ["build_cifar10_dvs", "build_dvs128_gesture"]


class _SplitSubset(Subset):
    """``Subset`` that keeps ``targets`` and ``classes`` (plain Subset drops them)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int], classes: Sequence[str]) -> None:
        super().__init__(dataset, list(indices))
        base_targets = dataset.targets
        self.targets: list[int] = [int(base_targets[i]) for i in self.indices]
        self.classes: list[str] = list(classes)


def _check_root(req: BuildRequest, sj_cls: Any, split_by: str) -> None:
    """Fail early, before spikingjelly touches ``root``.

    spikingjelly 2.0 writes a ``*.building`` marker into ``root`` before it tries
    to download; if that fails (no internet, or a dataset it cannot download) the
    marker stays and every later attempt fails with a confusing RuntimeError.
    """
    name, root = req.name, req.root
    markers = [root / "events_np.building", root / f"frames_number_{req.T}_split_by_{split_by}.building"]
    for marker in markers:
        if marker.exists():
            target = marker.with_suffix("")
            raise DatasetError(
                f"A previous spikingjelly preparation of {name!r} was interrupted: found {str(marker)!r}. "
                f"Delete {str(target)!r} and {str(marker)!r} (and {str(root / 'extract')!r} if it is "
                f"incomplete), then retry."
            )
    if (root / "events_np").is_dir():
        return
    download = root / "download"
    expected = [fname for fname, _url, _md5 in sj_cls.resource_url_md5()]
    missing = [f for f in expected if not (download / f).is_file()]
    if missing:
        shown = ", ".join(missing[:6]) + (f", ... ({len(missing)} files)" if len(missing) > 6 else "")
        found = sorted(p.name for p in root.iterdir())
        raise DatasetError(
            f"Dataset {name!r} not found in {str(root)!r} (found: {', '.join(found[:20]) or 'nothing'}). "
            f"Expected layout: {req.layout}. Missing in {str(download)!r}: {shown}. "
            f"Nothing is downloaded here; copy the files in, then spikingjelly converts them once."
        )


def _frame_args(req: BuildRequest, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Checked keyword arguments of spikingjelly's frame datasets (before spikingjelly is imported)."""
    check_kwargs(req.name, kwargs, ("split_by",))
    split_by = kwargs.get("split_by", "number")
    size = normalize_input_size(req.input_size, req.info.input_size)
    if split_by not in ("number", "time"):
        raise DatasetError(f"split_by must be 'number' or 'time', got {split_by!r}.")
    transform = FramesToTensor(size[1:] if size != req.info.input_size else None)
    return dict(data_type="frame", frames_number=req.T, split_by=split_by, transform=transform)


def build_dvs128_gesture(req: BuildRequest, kwargs: dict[str, Any]) -> Dataset:
    """DVS128 Gesture with its official train/test split (test = ``"val"``); kwarg ``split_by``."""
    args = _frame_args(req, kwargs)
    from spikingjelly.datasets.dvs128_gesture import DVS128Gesture

    _check_root(req, DVS128Gesture, args["split_by"])
    return DVS128Gesture(str(req.root), train=req.split == "train", **args)


def build_cifar10_dvs(req: BuildRequest, kwargs: dict[str, Any]) -> Dataset:
    """CIFAR10-DVS, which has no official split; kwarg ``split_by``.

    Per class, the samples (in sorted file order) are shuffled with
    ``numpy.random.default_rng(seed)`` and the first ``CIFAR10_DVS_VAL_FRACTION``
    (rounded) form ``"val"``, the rest ``"train"``.
    """
    args = _frame_args(req, kwargs)
    from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS

    _check_root(req, CIFAR10DVS, args["split_by"])
    full = CIFAR10DVS(str(req.root), **args)  # takes no `train`: there is no official split
    num_classes = req.info.num_classes
    if len(full.classes) != num_classes:
        raise DatasetError(
            f"Expected {num_classes} class folders in {str(full.root)!r} but found {full.classes}; "
            f"remove folders that are not CIFAR10-DVS classes (e.g. train/ and test/ left by "
            f"CIFAR10DVSTEBNSplit)."
        )
    targets = np.asarray(full.targets)
    rng = np.random.default_rng(req.seed)
    picked: list[int] = []
    for c in range(num_classes):
        idx = np.flatnonzero(targets == c)  # file order is sorted by DatasetFolder: deterministic
        idx = idx[rng.permutation(len(idx))]
        n_val = round(len(idx) * CIFAR10_DVS_VAL_FRACTION)
        picked.extend((idx[n_val:] if req.split == "train" else idx[:n_val]).tolist())
    return _SplitSubset(full, sorted(picked), full.classes)
