"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 through torchvision, read from disk and never downloaded."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..dataset_info import DatasetError
from ..transforms_factory import torchvision_transform
from .common import BuildRequest, check_kwargs, normalize_input_size

__all__ = ["build_torchvision"]


def build_torchvision(
    req: BuildRequest, kwargs: dict[str, Any], *, dataset_cls: str, folder: str, crop_padding: int, hflip: bool
) -> Dataset:
    """``torchvision.datasets.<dataset_cls>(root=data_dir, download=False)``; the official test set is ``"val"``.

    Args:
        dataset_cls: class name in ``torchvision.datasets``.
        folder: the folder torchvision reads under ``data_dir`` (named in errors).
        crop_padding: padding of the random crop used as training augmentation.
        hflip: also flip horizontally when augmenting (natural images only: flips change digits).
    """
    import torchvision.datasets as tvd

    check_kwargs(req.name, kwargs, ())
    size = normalize_input_size(req.input_size, req.info.input_size)
    transform = torchvision_transform(req.info, size, req.augment, crop_padding, hflip)
    root = req.root
    try:
        return getattr(tvd, dataset_cls)(
            root=str(root), train=req.split == "train", transform=transform, download=False
        )
    except (RuntimeError, FileNotFoundError, OSError) as e:
        hint = ""
        if root.name == folder:
            hint = f" data_dir points at the {folder!r} folder itself; pass its parent {str(root.parent)!r}."
        elif (root / folder).exists():
            hint = f" {str(root / folder)!r} exists but is incomplete or corrupted."
        raise DatasetError(
            f"Could not load {req.name!r} from {str(root)!r} (torchvision: {e}).{hint} "
            f"Expected layout: {req.layout}. "
            f"This machine cannot download it; on a machine with internet run "
            f"torchvision.datasets.{dataset_cls}(root, download=True) and copy root here."
        ) from e
