"""Dataset registry of the zoo: ``dataset_info``, ``create_dataset``, ``create_loader``.

Embedded datasets (``digits``, ``digits_dvs``, ``synthetic``) need no files.
Everything else reads from ``data_dir`` and never downloads: this project runs
on machines without internet access, so a missing dataset is reported as a
:class:`DatasetError` that names the layout expected under ``data_dir``.

Heavy dependencies (timm, spikingjelly, whose import alone takes seconds) are
imported only when the dataset that needs them is created.
"""

from __future__ import annotations

import difflib
import inspect
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import default_collate, DataLoader, Dataset, Subset
from torchvision.datasets import ImageFolder

from .digits import DigitsDataset
from .digits_dvs import DigitsDVSDataset
from .synthetic import SyntheticDataset

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "DATASET_NAMES",
    "list_datasets",
    "dataset_info",
    "create_dataset",
    "create_loader",
    "CIFAR10_DVS_VAL_FRACTION",
]

PathLike = Union[str, os.PathLike]
InputSize = Union[int, Sequence[int]]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: CIFAR10-DVS has no official split; this fraction of every class is held out (see create_dataset).
CIFAR10_DVS_VAL_FRACTION = 0.1


class DatasetError(ValueError):
    """A dataset could not be created because of user input (name, path, layout, arguments).

    The message says what was wrong and how to fix it.
    """


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset that models and recipes need before loading it.

    Attributes:
        name: canonical dataset name.
        num_classes: number of labels.
        in_chans: input channels (2 = ON/OFF polarity for event datasets).
        input_size: native ``(C, H, W)`` of one (per-time-step) input.
        mean, std: per-channel normalisation used by ``create_dataset`` (for
            event datasets ``0``/``1``: counts are not normalised; for digits
            and digits_dvs they are informational, items are returned unnormalised).
        is_event: True if items are ``[T, C, H, W]`` frame sequences.
        default_T: customary number of time bins for event datasets, else None.
        needs_data_dir: False for the embedded datasets.
    """

    name: str
    num_classes: int
    in_chans: int
    input_size: Tuple[int, int, int]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    is_event: bool = False
    default_T: Optional[int] = None
    needs_data_dir: bool = True


_EVENT_MEAN, _EVENT_STD = (0.0, 0.0), (1.0, 1.0)

# imagefolder and synthetic are resolved per call (class count / shape depend on arguments).
_STATIC_INFO: Dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", 10, 1, (1, 8, 8), (0.3053,), (0.3760,), needs_data_dir=False),
    "digits_dvs": DatasetInfo(
        "digits_dvs", 10, 2, (2, 16, 16), _EVENT_MEAN, _EVENT_STD, True, 4, needs_data_dir=False
    ),
    "mnist": DatasetInfo("mnist", 10, 1, (1, 28, 28), (0.1307,), (0.3081,)),
    "fashion_mnist": DatasetInfo("fashion_mnist", 10, 1, (1, 28, 28), (0.2860,), (0.3530,)),
    "cifar10": DatasetInfo("cifar10", 10, 3, (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetInfo("cifar100", 100, 3, (3, 32, 32), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": DatasetInfo("imagenet", 1000, 3, (3, 224, 224), IMAGENET_MEAN, IMAGENET_STD),
    "cifar10_dvs": DatasetInfo("cifar10_dvs", 10, 2, (2, 128, 128), _EVENT_MEAN, _EVENT_STD, True, 10),
    "dvs128_gesture": DatasetInfo("dvs128_gesture", 11, 2, (2, 128, 128), _EVENT_MEAN, _EVENT_STD, True, 16),
}

#: All dataset names accepted by :func:`create_dataset`.
DATASET_NAMES: Tuple[str, ...] = (
    "digits",
    "digits_dvs",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "imagenet",
    "imagefolder",
    "cifar10_dvs",
    "dvs128_gesture",
    "synthetic",
)
_EMBEDDED = ("digits", "digits_dvs", "synthetic")
_ALIASES = {
    "fashionmnist": "fashion_mnist",
    "fmnist": "fashion_mnist",
    "cifar_10": "cifar10",
    "cifar_100": "cifar100",
    "image_folder": "imagefolder",
    "folder": "imagefolder",
    "cifar10dvs": "cifar10_dvs",
    "cifar_10_dvs": "cifar10_dvs",
    "dvs_gesture": "dvs128_gesture",
    "dvsgesture": "dvs128_gesture",
    "dvs128gesture": "dvs128_gesture",
    "digitsdvs": "digits_dvs",
}

# What each file-based dataset expects under data_dir (used in error messages).
_LAYOUTS = {
    "mnist": "<data_dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte (torchvision's MNIST layout)",
    "fashion_mnist": "<data_dir>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte "
    "(torchvision's FashionMNIST layout)",
    "cifar10": "<data_dir>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} "
    "(the extracted python version of CIFAR-10)",
    "cifar100": "<data_dir>/cifar-100-python/{train,test,meta} (the extracted python version of CIFAR-100)",
    "imagefolder": "<data_dir>/train/<class_name>/<image files> and <data_dir>/val/<class_name>/<image files> "
    "('validation/' is accepted instead of 'val/')",
    "cifar10_dvs": "<data_dir>/events_np/<class_name>/*.npz (spikingjelly's converted events) or the original "
    "archives in <data_dir>/download/ (airplane.zip ... truck.zip), which spikingjelly converts on first use",
    "dvs128_gesture": "<data_dir>/events_np/{train,test}/<label>/*.npz (spikingjelly's converted events) or the "
    "original files in <data_dir>/download/ (DvsGesture.tar.gz, gesture_mapping.csv, LICENSE.txt, README.txt)",
}
_LAYOUTS["imagenet"] = _LAYOUTS["imagefolder"]
_TORCHVISION_FOLDERS = {
    "mnist": "MNIST",
    "fashion_mnist": "FashionMNIST",
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
}
_VAL_SPLIT_ALIASES = ("val", "validation", "test", "eval")


def list_datasets() -> List[str]:
    """Names accepted by :func:`create_dataset` and :func:`dataset_info`."""
    return list(DATASET_NAMES)


def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise DatasetError(f"Dataset name must be a string, got {name!r}. Valid names: {', '.join(DATASET_NAMES)}.")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in DATASET_NAMES:
        return key
    close = difflib.get_close_matches(key, DATASET_NAMES + tuple(_ALIASES), n=3, cutoff=0.5)
    close = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise DatasetError(f"Unknown dataset {name!r}.{hint} Valid names: {', '.join(DATASET_NAMES)}.")


def _canonical_split(split: str) -> str:
    s = str(split).strip().lower()
    if s == "train":
        return "train"
    if s in _VAL_SPLIT_ALIASES:
        return "val"
    raise DatasetError(f"Unknown split {split!r}: use 'train' or 'val'.")


def _require_data_dir(name: str, data_dir: Optional[PathLike]) -> Path:
    """Check that a file-based dataset got an existing directory; return it as a Path."""
    if data_dir is None or str(data_dir) == "":
        raise DatasetError(
            f"Dataset {name!r} needs a data directory: pass data_dir=PATH (CLI: --data-dir PATH). "
            f"Expected layout: {_LAYOUTS[name]}. Nothing is downloaded automatically. "
            f"Datasets that need no files: {', '.join(_EMBEDDED)}."
        )
    path = Path(data_dir).expanduser()
    if not path.exists():
        parent = path.parent
        hint = "" if parent.is_dir() else f" (its parent {str(parent)!r} does not exist either)"
        raise DatasetError(
            f"Data directory {str(path)!r} for dataset {name!r} does not exist{hint}. "
            f"Check --data-dir; expected layout: {_LAYOUTS[name]}."
        )
    if not path.is_dir():
        raise DatasetError(f"Data directory {str(path)!r} for dataset {name!r} is a file, not a directory.")
    return path


def _normalize_input_size(input_size: Optional[InputSize], default: Tuple[int, int, int]) -> Tuple[int, int, int]:
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


def _synthetic_size(input_size: Optional[InputSize]) -> Tuple[int, int, int]:
    """Synthetic data has no native size: any (C, H, W) is accepted, default (3, 32, 32)."""
    if isinstance(input_size, Sequence) and len(input_size) == 3:
        return tuple(int(s) for s in input_size)  # type: ignore[return-value]
    return _normalize_input_size(input_size, (3, 32, 32))


def _check_T(name: str, T: Optional[int], default_T: Optional[int]) -> int:
    if T is None:
        raise DatasetError(
            f"Dataset {name!r} is an event dataset and needs the number of time bins: pass T=<int> "
            f"(e.g. T={default_T}, customary for {name}; DatasetInfo.default_T holds it)."
        )
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T <= 0:
        raise DatasetError(f"T must be a positive integer, got {T!r}.")
    return int(T)


def _check_kwargs(name: str, kwargs: Dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        close = [m for u in unknown for m in difflib.get_close_matches(u, allowed, n=1, cutoff=0.6)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DatasetError(
            f"Unexpected argument(s) for dataset {name!r}: {', '.join(unknown)}.{hint} Accepted: {accepted}."
        )


def _find_split_dirs(name: str, root: Path) -> Tuple[Path, Path]:
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
        f"Found: {shown or 'nothing (empty directory)'}. Expected layout: {_LAYOUTS[name]}.{hint}"
    )


def _class_dirs(folder: Path) -> List[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir())


def dataset_info(name: str, data_dir: Optional[PathLike] = None, **kwargs: Any) -> DatasetInfo:
    """Describe dataset ``name`` without loading it.

    ``imagefolder`` counts the class folders in ``data_dir/train`` (so it needs
    ``data_dir``); ``synthetic`` reads ``num_classes``, ``input_size`` (C, H, W)
    and ``T`` from ``kwargs`` (defaults 10, (3, 32, 32), None = static).
    """
    name = _canonical_name(name)
    if name in _STATIC_INFO:
        return _STATIC_INFO[name]
    if name == "imagefolder":
        root = _require_data_dir(name, data_dir)
        train, _ = _find_split_dirs(name, root)
        classes = _class_dirs(train)
        if not classes:
            raise DatasetError(
                f"{str(train)!r} has no class subfolders. Expected layout: {_LAYOUTS[name]}."
            )
        c, h, w = _normalize_input_size(kwargs.get("input_size"), (3, 224, 224))
        return DatasetInfo(name, len(classes), c, (c, h, w), IMAGENET_MEAN, IMAGENET_STD)
    # synthetic
    shape = _synthetic_size(kwargs.get("input_size"))
    T = kwargs.get("T")
    c = shape[0]
    return DatasetInfo(
        "synthetic",
        int(kwargs.get("num_classes", 10)),
        c,
        shape,  # type: ignore[arg-type]
        (0.0,) * c,
        (1.0,) * c,
        is_event=T is not None,
        default_T=T,
        needs_data_dir=False,
    )


# ---------------------------------------------------------------------------
# transforms


class _ResizeTensor:
    """Resize a ``[..., H, W]`` tensor (image or frame sequence) with area/bilinear interpolation."""

    def __init__(self, size: Tuple[int, int]) -> None:
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
        return f"_ResizeTensor(size={self.size})"


class _FramesToTensor:
    """spikingjelly frames (numpy ``[T, 2, H, W]``) -> float32 tensor, optionally resized."""

    def __init__(self, size: Optional[Tuple[int, int]] = None) -> None:
        self.resize = _ResizeTensor(size) if size is not None else None

    def __call__(self, frames: Any) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
        return self.resize(x) if self.resize is not None else x


def _torchvision_transform(name: str, info: DatasetInfo, size: Tuple[int, int, int], train_aug: bool) -> Callable:
    from torchvision import transforms as tvt

    ops: List[Callable] = []
    if size != info.input_size:
        ops.append(tvt.Resize(size[1:]))
    if train_aug:
        pad = 4 if name.startswith("cifar") else 2
        ops.append(tvt.RandomCrop(size[1:], padding=pad))
        if name.startswith("cifar"):  # flips change digit identity, so only for natural images
            ops.append(tvt.RandomHorizontalFlip())
    ops += [tvt.ToTensor(), tvt.Normalize(info.mean, info.std)]
    return tvt.Compose(ops)


# ---------------------------------------------------------------------------
# dataset builders


class _SplitSubset(Subset):
    """``Subset`` that keeps ``targets`` and ``classes`` (plain Subset drops them)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int], classes: Sequence[str]) -> None:
        super().__init__(dataset, list(indices))
        base_targets = getattr(dataset, "targets")
        self.targets: List[int] = [int(base_targets[i]) for i in self.indices]
        self.classes: List[str] = list(classes)


class _ClassListImageFolder(ImageFolder):
    """ImageFolder whose classes are given (train/'s), so val/ labels match train/ labels
    even when val/ lacks some classes.  Module-level so that it pickles for spawn workers."""

    def __init__(self, root: str, classes: Sequence[str], **kwargs: Any) -> None:
        self._given_classes = list(classes)
        super().__init__(root, **kwargs)

    def find_classes(self, directory: Union[str, Path]) -> Tuple[List[str], Dict[str, int]]:
        return list(self._given_classes), {c: i for i, c in enumerate(self._given_classes)}


def _build_torchvision(name: str, root: Path, split: str, transform: Callable) -> Dataset:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[
        name
    ]
    try:
        return cls(root=str(root), train=split == "train", transform=transform, download=False)
    except (RuntimeError, FileNotFoundError, OSError) as e:
        folder = _TORCHVISION_FOLDERS[name]
        hint = ""
        if root.name == folder:
            hint = f" data_dir points at the {folder!r} folder itself; pass its parent {str(root.parent)!r}."
        elif (root / folder).exists():
            hint = f" {str(root / folder)!r} exists but is incomplete or corrupted."
        raise DatasetError(
            f"Could not load {name!r} from {str(root)!r} (torchvision: {e}).{hint} "
            f"Expected layout: {_LAYOUTS[name]}. "
            f"This machine cannot download it; on a machine with internet run "
            f"torchvision.datasets.{cls.__name__}(root, download=True) and copy root here."
        ) from e


def _build_imagefolder(
    name: str,
    root: Path,
    split: str,
    is_training: bool,
    augment: bool,
    input_size: Optional[InputSize],
    transform_kwargs: Dict[str, Any],
) -> Dataset:
    from timm.data import create_transform

    train_dir, val_dir = _find_split_dirs(name, root)
    classes = _class_dirs(train_dir)
    if not classes:
        raise DatasetError(f"{str(train_dir)!r} has no class subfolders. Expected layout: {_LAYOUTS[name]}.")
    val_classes = _class_dirs(val_dir)
    extra = sorted(set(val_classes) - set(classes))
    if extra:
        raise DatasetError(
            f"{str(val_dir)!r} has class folders that are not in {str(train_dir)!r}: {', '.join(extra[:10])}. "
            f"Every validation class must also exist in train/ so that labels match."
        )
    if name == "imagenet" and len(classes) != 1000:
        warnings.warn(
            f"'imagenet' expects 1000 classes but {str(train_dir)!r} has {len(classes)}; "
            f"use dataset 'imagefolder' so that num_classes is taken from the folder.",
            stacklevel=3,
        )
    size = _normalize_input_size(input_size, (3, 224, 224))
    transform = create_transform(size, is_training=is_training and augment, **transform_kwargs)
    folder = train_dir if split == "train" else val_dir
    try:
        return _ClassListImageFolder(str(folder), classes, transform=transform, allow_empty=split != "train")
    except FileNotFoundError as e:
        raise DatasetError(
            f"Could not read images for {name!r} from {str(folder)!r}: {e} Expected layout: {_LAYOUTS[name]}."
        ) from e


def _check_spikingjelly_root(name: str, root: Path, sj_cls: Any, T: int, split_by: str) -> None:
    """Fail early, before spikingjelly touches ``root``.

    spikingjelly 2.0 writes a ``*.building`` marker into ``root`` before it tries
    to download; if that fails (no internet, or a dataset it cannot download) the
    marker stays and every later attempt fails with a confusing RuntimeError.
    """
    markers = [root / "events_np.building", root / f"frames_number_{T}_split_by_{split_by}.building"]
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
            f"Expected layout: {_LAYOUTS[name]}. Missing in {str(download)!r}: {shown}. "
            f"Nothing is downloaded here; copy the files in, then spikingjelly converts them once."
        )


def _build_spikingjelly(
    name: str, root: Path, split: str, T: int, seed: int, size: Tuple[int, int, int], split_by: str
) -> Dataset:
    if split_by not in ("number", "time"):
        raise DatasetError(f"split_by must be 'number' or 'time', got {split_by!r}.")
    if name == "cifar10_dvs":
        from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS as sj_cls
    else:
        from spikingjelly.datasets.dvs128_gesture import DVS128Gesture as sj_cls
    _check_spikingjelly_root(name, root, sj_cls, T, split_by)
    info = _STATIC_INFO[name]
    transform = _FramesToTensor(size[1:] if size != info.input_size else None)
    common = dict(data_type="frame", frames_number=T, split_by=split_by, transform=transform)
    if name == "dvs128_gesture":
        return sj_cls(str(root), train=split == "train", **common)
    full = sj_cls(str(root), **common)  # CIFAR10DVS takes no `train`: it has no official split
    if len(full.classes) != info.num_classes:
        raise DatasetError(
            f"Expected {info.num_classes} class folders in {str(full.root)!r} but found {full.classes}; "
            f"remove folders that are not CIFAR10-DVS classes (e.g. train/ and test/ left by "
            f"CIFAR10DVSTEBNSplit)."
        )
    targets = np.asarray(full.targets)
    rng = np.random.default_rng(seed)
    picked: List[int] = []
    for c in range(info.num_classes):
        idx = np.flatnonzero(targets == c)  # file order is sorted by DatasetFolder: deterministic
        idx = idx[rng.permutation(len(idx))]
        n_val = int(round(len(idx) * CIFAR10_DVS_VAL_FRACTION))
        picked.extend((idx[n_val:] if split == "train" else idx[:n_val]).tolist())
    return _SplitSubset(full, sorted(picked), full.classes)


def create_dataset(
    name: str,
    data_dir: Optional[PathLike] = None,
    split: str = "train",
    T: Optional[int] = None,
    is_training: Optional[bool] = None,
    input_size: Optional[InputSize] = None,
    augment: bool = True,
    seed: int = 0,
    **kwargs: Any,
) -> Dataset:
    """Create dataset ``name`` for ``split`` (``"train"`` or ``"val"``).

    Items are ``(input, label)``: ``input`` is ``[C, H, W]`` for static datasets
    and ``[T, C, H, W]`` for event datasets (``T`` is then required).

    * ``digits`` / ``digits_dvs``: embedded (see :class:`DigitsDataset`,
      :class:`DigitsDVSDataset`); kwargs ``val_fraction``; ``digits_dvs`` also
      ``contrast_threshold``.  ``seed`` picks the stratified split.  No augmentation.
    * ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``: torchvision with
      ``root=data_dir``, ``download=False``; the official test set is ``"val"``.
      Training augmentation: random crop with padding (+ horizontal flip for CIFAR).
    * ``imagefolder`` / ``imagenet``: ``ImageFolder`` on ``data_dir/train`` and
      ``data_dir/val`` (or ``data_dir/validation``) with timm's ``create_transform``;
      any other kwargs are passed to ``create_transform`` (e.g. ``auto_augment``,
      ``crop_pct``).  Labels follow the sorted class folders of ``train/``.
    * ``cifar10_dvs``, ``dvs128_gesture``: spikingjelly 2.0, frames integrated
      with ``frames_number=T`` and ``split_by`` (kwarg, default ``"number"``).
      CIFAR10-DVS has no official split: per class, the samples (in sorted file
      order) are shuffled with ``numpy.random.default_rng(seed)`` and the first
      10 % (``CIFAR10_DVS_VAL_FRACTION``, rounded) form ``"val"``, the rest ``"train"``.
    * ``synthetic``: :class:`SyntheticDataset`; kwargs ``num_samples`` (train 256,
      val 64), ``num_classes`` (10); ``input_size`` (C, H, W) default (3, 32, 32);
      with ``T`` the inputs are ``[T, C, H, W]`` event-like frames.

    Args:
        name: dataset name (see :data:`DATASET_NAMES`); case and ``-``/``_`` are ignored.
        data_dir: root folder for file-based datasets.
        split: ``"train"`` or ``"val"`` (``"validation"``/``"test"`` mean ``"val"``).
        T: number of time bins; required for event datasets, ignored for static ones.
        is_training: use training transforms; defaults to ``split == "train"``.
        input_size: int, ``(H, W)`` or ``(C, H, W)`` to resize to; channels cannot change.
        augment: allow training augmentation (only used when ``is_training``).
        seed: seed of deterministic splits / synthetic data.

    Raises:
        DatasetError: unknown name, missing/nonexistent ``data_dir``, wrong
            folder layout, missing ``T``, or unexpected kwargs.
    """
    name = _canonical_name(name)
    split = _canonical_split(split)
    if is_training is None:
        is_training = split == "train"

    if name == "synthetic":
        _check_kwargs(name, kwargs, ("num_samples", "num_classes", "event_rate"))
        if T is not None:
            T = _check_T(name, T, None)
        size = _synthetic_size(input_size)
        shape = size if T is None else (T, *size)
        return SyntheticDataset(
            num_samples=int(kwargs.get("num_samples", 256 if split == "train" else 64)),
            input_shape=shape,
            num_classes=int(kwargs.get("num_classes", 10)),
            seed=seed if split == "train" else seed + 1,  # different samples in train and val
            event_rate=float(kwargs.get("event_rate", 0.1)),
        )

    info = _STATIC_INFO.get(name)
    if info is not None and info.is_event:
        T = _check_T(name, T, info.default_T)

    if name == "digits":
        _check_kwargs(name, kwargs, ("val_fraction",))
        size = _normalize_input_size(input_size, info.input_size)
        tf = _ResizeTensor(size[1:]) if size != info.input_size else None
        return DigitsDataset(split, transform=tf, seed=seed, val_fraction=kwargs.get("val_fraction", 0.2))
    if name == "digits_dvs":
        _check_kwargs(name, kwargs, ("val_fraction", "contrast_threshold"))
        size = _normalize_input_size(input_size, info.input_size)
        tf = _ResizeTensor(size[1:]) if size != info.input_size else None
        return DigitsDVSDataset(
            split,
            T=T,
            seed=seed,
            val_fraction=kwargs.get("val_fraction", 0.2),
            transform=tf,
            contrast_threshold=kwargs.get("contrast_threshold"),
        )

    root = _require_data_dir(name, data_dir)
    if name in _TORCHVISION_FOLDERS:
        _check_kwargs(name, kwargs, ())
        size = _normalize_input_size(input_size, info.input_size)
        transform = _torchvision_transform(name, info, size, is_training and augment)
        return _build_torchvision(name, root, split, transform)
    if name in ("imagefolder", "imagenet"):
        from timm.data import create_transform

        allowed = [p for p in inspect.signature(create_transform).parameters if p not in ("input_size", "is_training")]
        _check_kwargs(name, kwargs, allowed)
        return _build_imagefolder(name, root, split, is_training, augment, input_size, kwargs)
    # event datasets on disk
    _check_kwargs(name, kwargs, ("split_by",))
    size = _normalize_input_size(input_size, info.input_size)
    return _build_spikingjelly(name, root, split, T, seed, size, kwargs.get("split_by", "number"))


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker from the loader's generator; propagate it to numpy/random
    # so that numpy-based transforms differ between workers but are reproducible.
    import random

    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def collate_time_first(batch: Sequence[Any]) -> Any:
    """Default collate, then event inputs [B, T, C, H, W] -> [T, B, C, H, W] (the models' layout)."""
    inputs, *rest = default_collate(batch)
    if inputs.dim() == 5:
        inputs = inputs.transpose(0, 1).contiguous()
    return (inputs, *rest)


def create_loader(
    dataset: Dataset,
    batch_size: int,
    is_training: bool,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: Optional[bool] = None,
) -> DataLoader:
    """A ``DataLoader`` with a seeded shuffle (training) or fixed order (evaluation).

    ``drop_last`` defaults to ``is_training`` so that training batches have a
    constant size. Event batches come out time-first, [T, B, C, H, W].  Kept deliberately thin so that ``accelerate`` can wrap/shard it.
    """
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=is_training,
        num_workers=num_workers,
        drop_last=is_training if drop_last is None else drop_last,
        generator=generator,
        worker_init_fn=_seed_worker if num_workers > 0 else None,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
        collate_fn=collate_time_first,
    )
