"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 through torchvision, read from disk and never downloaded."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..dataset_info import DatasetError, DatasetInfo
from ..transforms_factory import timm_transform, timm_transform_kwargs, torchvision_transform
from .common import BuildRequest, check_kwargs, normalize_input_size

__all__ = ["CIFAR_TIMM_DEFAULTS", "build_torchvision"]

#: The official Spikformer / Spikingformer / BKDSNN CIFAR configs (``cifar10.yml``): timm's create_transform on
#: the whole 32x32 image (scale and ratio 1: no crop), bicubic, horizontal flip 0.5; a recipe adds aa / reprob.
CIFAR_TIMM_DEFAULTS = {"scale": (1.0, 1.0), "ratio": (1.0, 1.0), "crop_pct": 1.0, "interpolation": "bicubic"}


def torchvision_data_config(info: DatasetInfo, size: tuple[int, int, int], kwargs: dict[str, Any]) -> dict:
    """timm's data config of the evaluation transform :func:`build_torchvision` makes at ``size``."""
    if kwargs:  # timm's pipeline with the official CIFAR defaults
        options = {**CIFAR_TIMM_DEFAULTS, **kwargs}
        return dict(interpolation=options["interpolation"], crop_pct=options["crop_pct"], crop_mode="center")
    return dict(interpolation="bilinear", crop_pct=1.0, crop_mode="center")  # tvt.Resize, no crop


def build_torchvision(
    req: BuildRequest, kwargs: dict[str, Any], *, dataset_cls: str, folder: str, crop_padding: int, hflip: bool
) -> Dataset:
    """``torchvision.datasets.<dataset_cls>(root=data_dir, download=False)``; the official test set is ``"val"``.

    Args:
        dataset_cls: class name in ``torchvision.datasets``.
        folder: the folder torchvision reads under ``data_dir`` (named in errors).
        crop_padding: padding of the random crop used as training augmentation.
        hflip: also flip horizontally when augmenting (natural images only: flips change digits).

    Natural images (``hflip``) also take ``timm.data.create_transform`` kwargs (``auto_augment``, ``re_prob``,
    ...): with any of them the images go through timm's pipeline with :data:`CIFAR_TIMM_DEFAULTS`, as the
    official CIFAR recipes do; without, through the padded random crop + flip.
    """
    import torchvision.datasets as tvd

    check_kwargs(req.name, kwargs, timm_transform_kwargs() if hflip else ())
    size = normalize_input_size(req.input_size, req.info.input_size)
    if kwargs:
        options = {**CIFAR_TIMM_DEFAULTS, "mean": req.info.mean, "std": req.info.std, **kwargs}
        transform = timm_transform(size, req.augment, **options)
    else:
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
