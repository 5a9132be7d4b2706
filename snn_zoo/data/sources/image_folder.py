"""Image classification folders (``train/<class>/...``, ``val/<class>/...``) with timm's transforms."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import default_loader

from ..constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..dataset_info import DatasetError, DatasetInfo
from ..transforms_factory import timm_transform, timm_transform_kwargs
from .common import BuildRequest, check_kwargs, normalize_input_size

__all__ = ["IMAGE_FOLDER_LAYOUT", "build_image_folder", "describe_image_folder", "image_folder_data_config"]

IMAGE_FOLDER_LAYOUT = (
    "<data_dir>/train/<class_name>/<image files> and <data_dir>/val/<class_name>/<image files> "
    "('validation/' is accepted instead of 'val/')"
)
_DEFAULT_SIZE = (3, 224, 224)


def _default_size(input_size: Any) -> tuple[int, int, int]:
    """(3, 224, 224), or (1, 224, 224) when a (1, H, W) input is asked for (grayscale images, see
    ``snn_zoo.data.native_input_size``): an image folder is read as RGB or as one grayscale channel."""
    if isinstance(input_size, (tuple, list)) and len(input_size) == 3 and int(input_size[0]) == 1:
        return (1, *_DEFAULT_SIZE[1:])
    return _DEFAULT_SIZE


def _grayscale_loader(path: str) -> Any:
    """PIL image of ``path`` as one channel ('L'); module-level so that it pickles for spawn workers."""
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("L")


def _normalization(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """ImageNet mean / std; for one grayscale channel, the average of the three."""
    if channels == 1:
        return (sum(IMAGENET_DEFAULT_MEAN) / 3,), (sum(IMAGENET_DEFAULT_STD) / 3,)
    return IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD


class _NamedErrorLoader:
    """Calls ``loader`` and turns an unreadable image into a DatasetError naming the file (picklable)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __call__(self, path: str) -> Any:
        try:
            return self.loader(path)
        except (OSError, SyntaxError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
            raise DatasetError(
                f"Cannot read image {path!r} ({type(e).__name__}: {e}); delete or replace the file and run again."
            ) from e


class _ClassListImageFolder(ImageFolder):
    """ImageFolder whose classes are given (train/'s), so val/ labels match train/ labels
    even when val/ lacks some classes.  Module-level so that it pickles for spawn workers."""

    def __init__(self, root: str, classes: Sequence[str], **kwargs: Any) -> None:
        self._given_classes = list(classes)
        super().__init__(root, **kwargs)

    def find_classes(self, directory: str | Path) -> tuple[list[str], dict[str, int]]:
        return list(self._given_classes), {c: i for i, c in enumerate(self._given_classes)}


def _class_dirs(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir())


def _find_split_dirs(name: str, root: Path, layout: str) -> tuple[Path, Path]:
    """Locate ``train/`` and ``val/`` (or ``validation/``) under an ImageFolder root."""
    train = root / "train"
    val = next((root / v for v in ("val", "validation") if (root / v).is_dir()), None)
    if train.is_dir() and val is not None:
        return train, val
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    shown = ", ".join(found[:20]) + (f", ... ({len(found)} entries)" if len(found) > 20 else "")
    missing = [d for d, ok in (("train/", train.is_dir()), ("val/ (or validation/)", val is not None)) if not ok]
    hint = ""
    if val is None and any(f.rstrip("/").lower() in ("test", "valid", "eval") for f in found):
        hint = " Rename the held-out folder to 'val/'."
    elif not train.is_dir() and found and all(f.endswith("/") for f in found):
        hint = " If these folders are the classes, move them into train/<class>/ and val/<class>/."
    raise DatasetError(
        f"Dataset {name!r} at {str(root)!r} is missing {' and '.join(missing)}. "
        f"Found: {shown or 'nothing (empty directory)'}. Expected layout: {layout}.{hint}"
    )


def _train_classes(name: str, root: Path, layout: str) -> tuple[Path, Path, list[str]]:
    train_dir, val_dir = _find_split_dirs(name, root, layout)
    classes = _class_dirs(train_dir)
    if not classes:
        raise DatasetError(f"{str(train_dir)!r} has no class subfolders. Expected layout: {layout}.")
    if len(classes) < 2:  # one class trains to a meaningless 100 % top-1
        raise DatasetError(
            f"{str(train_dir)!r} has one class folder ({classes[0]!r}); classification needs at least "
            f"2 classes, one sub-folder each. Expected layout: {layout}."
        )
    return train_dir, val_dir, classes


def describe_image_folder(name: str, root: Path, layout: str, kwargs: dict[str, Any]) -> DatasetInfo:
    """Info of an image folder: the class folders of ``root/train``; ``input_size`` from kwargs (3, 224, 224)."""
    _, _, classes = _train_classes(name, root, layout)
    c, h, w = normalize_input_size(kwargs.get("input_size"), _default_size(kwargs.get("input_size")))
    mean, std = _normalization(c)
    return DatasetInfo(name, len(classes), c, (c, h, w), mean, std)


def image_folder_data_config(info: DatasetInfo, size: tuple[int, int, int], kwargs: dict[str, Any]) -> dict:
    """timm's data config of the evaluation transform :func:`build_image_folder` makes at ``size``
    (``timm.data.create_transform``'s defaults unless ``kwargs`` set them)."""
    from timm.data.constants import DEFAULT_CROP_PCT

    return dict(
        interpolation=kwargs.get("interpolation", "bilinear"),
        crop_pct=kwargs.get("crop_pct", DEFAULT_CROP_PCT),
        crop_mode=kwargs.get("crop_mode", "center"),
    )


def build_image_folder(req: BuildRequest, kwargs: dict[str, Any], *, expected_classes: int | None = None) -> Dataset:
    """``ImageFolder`` on ``data_dir/train`` or ``data_dir/val`` with timm's ``create_transform``.

    Labels follow the sorted class folders of ``train/``; kwargs go to ``create_transform``.
    ``expected_classes`` (e.g. 1000 for ImageNet) warns when the folder holds another number.
    """
    check_kwargs(req.name, kwargs, timm_transform_kwargs())
    root, layout = req.root, req.layout
    train_dir, val_dir, classes = _train_classes(req.name, root, layout)
    extra = sorted(set(_class_dirs(val_dir)) - set(classes))
    if extra:
        raise DatasetError(
            f"{str(val_dir)!r} has class folders that are not in {str(train_dir)!r}: {', '.join(extra[:10])}. "
            f"Every validation class must also exist in train/ so that labels match."
        )
    if expected_classes is not None and len(classes) != expected_classes:
        warnings.warn(
            f"{req.name!r} expects {expected_classes} classes but {str(train_dir)!r} has {len(classes)}; "
            f"use dataset 'imagefolder' so that num_classes is taken from the folder.",
            stacklevel=3,
        )
    size = normalize_input_size(req.input_size, _default_size(req.input_size))
    mean, std = _normalization(size[0])
    transform = timm_transform(size, req.augment, **{"mean": mean, "std": std, **kwargs})
    loader = {"loader": _NamedErrorLoader(_grayscale_loader if size[0] == 1 else default_loader)}
    folder = train_dir if req.split == "train" else val_dir
    try:
        return _ClassListImageFolder(
            str(folder), classes, transform=transform, allow_empty=req.split != "train", **loader
        )
    except FileNotFoundError as e:
        raise DatasetError(
            f"Could not read images for {req.name!r} from {str(folder)!r}: {e} Expected layout: {layout}."
        ) from e
