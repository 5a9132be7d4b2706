"""Dataset registry of the zoo: one name -> source table behind ``create_dataset``, ``dataset_info``, ``list_datasets``.

Embedded datasets (``digits``, ``digits_dvs``, ``synthetic``) need no files.
Everything else reads from ``data_dir`` and never downloads: this project runs
on machines without internet access, so a missing dataset is reported as a
:class:`DatasetError` that names the layout expected under ``data_dir``.

spikingjelly's dataset modules are imported only when an event dataset on disk is created.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from .constants import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DIGITS_MEAN,
    DIGITS_STD,
    EVENT_MEAN,
    EVENT_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    MNIST_MEAN,
    MNIST_STD,
)
from .dataset_info import DatasetError, DatasetInfo
from .sources.common import BuildRequest, InputSize, PathLike, check_T, normalize_input_size, tensor_data_config
from .sources.embedded import build_digits, build_digits_dvs, build_synthetic, describe_synthetic
from .sources.image_folder import (
    IMAGE_FOLDER_LAYOUT,
    build_image_folder,
    describe_image_folder,
    image_folder_data_config,
)
from .sources.spikingjelly_events import build_cifar10_dvs, build_dvs128_gesture
from .sources.torchvision_sets import build_torchvision, torchvision_data_config

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "create_dataset",
    "dataset_info",
    "dataset_title",
    "eval_data_config",
    "list_datasets",
    "takes_timm_augmentation",
]

Describe = Callable[[str, Path | None, str | None, dict[str, Any]], DatasetInfo]
#: (info, input size, dataset kwargs) -> the evaluation transform in timm's data-config terms.
DataConfig = Callable[[DatasetInfo, tuple[int, int, int], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Source:
    """One row of the table: everything the factory knows about a dataset name."""

    build: Callable[[BuildRequest, dict[str, Any]], Dataset]
    info: DatasetInfo | Describe  # a callable when the facts depend on data_dir / kwargs
    title: str | None = None  # human-readable name (model cards); None = the name itself
    layout: str | None = None  # expected files under data_dir; None = embedded, needs no files
    aliases: tuple[str, ...] = ()
    timm_augment: bool = False  # takes timm.data.create_transform kwargs (auto_augment, re_prob, ...)
    data_config: DataConfig = tensor_data_config  # how the evaluation transform reads in timm's terms


def _torchvision(dataset_cls: str, folder: str, natural_images: bool) -> Callable[..., Dataset]:
    # flips change digit identity, so only natural images are flipped; their crops get more padding
    pad = 4 if natural_images else 2
    return partial(build_torchvision, dataset_cls=dataset_cls, folder=folder, crop_padding=pad, hflip=natural_images)


_MNIST_LAYOUT = "<data_dir>/{}/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte (torchvision's {} layout)"

_SOURCES: dict[str, _Source] = {
    "digits": _Source(
        build_digits,
        DatasetInfo("digits", 10, 1, (1, 8, 8), DIGITS_MEAN, DIGITS_STD, needs_data_dir=False),
        title="scikit-learn digits (8x8)",
    ),
    "digits_dvs": _Source(
        build_digits_dvs,
        DatasetInfo("digits_dvs", 10, 2, (2, 16, 16), EVENT_MEAN, EVENT_STD, True, 4, needs_data_dir=False),
        title="digits-DVS (simulated event camera, 16x16)",
        aliases=("digitsdvs",),
    ),
    "mnist": _Source(
        _torchvision("MNIST", "MNIST", natural_images=False),
        DatasetInfo("mnist", 10, 1, (1, 28, 28), MNIST_MEAN, MNIST_STD),
        title="MNIST",
        layout=_MNIST_LAYOUT.format("MNIST", "MNIST"),
        data_config=torchvision_data_config,
    ),
    "fashion_mnist": _Source(
        _torchvision("FashionMNIST", "FashionMNIST", natural_images=False),
        DatasetInfo("fashion_mnist", 10, 1, (1, 28, 28), FASHION_MNIST_MEAN, FASHION_MNIST_STD),
        title="Fashion-MNIST",
        layout=_MNIST_LAYOUT.format("FashionMNIST", "FashionMNIST"),
        aliases=("fashionmnist", "fmnist"),
        data_config=torchvision_data_config,
    ),
    "cifar10": _Source(
        _torchvision("CIFAR10", "cifar-10-batches-py", natural_images=True),
        DatasetInfo("cifar10", 10, 3, (3, 32, 32), CIFAR10_MEAN, CIFAR10_STD),
        title="CIFAR-10",
        layout="<data_dir>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} "
        "(the extracted python version of CIFAR-10)",
        aliases=("cifar_10",),
        timm_augment=True,
        data_config=torchvision_data_config,
    ),
    "cifar100": _Source(
        _torchvision("CIFAR100", "cifar-100-python", natural_images=True),
        DatasetInfo("cifar100", 100, 3, (3, 32, 32), CIFAR100_MEAN, CIFAR100_STD),
        title="CIFAR-100",
        layout="<data_dir>/cifar-100-python/{train,test,meta} (the extracted python version of CIFAR-100)",
        aliases=("cifar_100",),
        timm_augment=True,
        data_config=torchvision_data_config,
    ),
    "imagenet": _Source(
        partial(build_image_folder, expected_classes=1000),
        DatasetInfo("imagenet", 1000, 3, (3, 224, 224), IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD),
        title="ImageNet-1k",
        layout=IMAGE_FOLDER_LAYOUT,
        timm_augment=True,
        data_config=image_folder_data_config,
    ),
    "imagefolder": _Source(
        build_image_folder,
        describe_image_folder,
        layout=IMAGE_FOLDER_LAYOUT,
        aliases=("image_folder", "folder"),
        timm_augment=True,
        data_config=image_folder_data_config,
    ),
    "cifar10_dvs": _Source(
        build_cifar10_dvs,
        DatasetInfo("cifar10_dvs", 10, 2, (2, 128, 128), EVENT_MEAN, EVENT_STD, True, 10),
        title="CIFAR10-DVS",
        layout="<data_dir>/events_np/<class_name>/*.npz (spikingjelly's converted events) or the original "
        "archives in <data_dir>/download/ (airplane.zip ... truck.zip), which spikingjelly converts on first use",
        aliases=("cifar10dvs", "cifar_10_dvs"),
    ),
    "dvs128_gesture": _Source(
        build_dvs128_gesture,
        DatasetInfo("dvs128_gesture", 11, 2, (2, 128, 128), EVENT_MEAN, EVENT_STD, True, 16),
        title="DVS128 Gesture",
        layout="<data_dir>/events_np/{train,test}/<label>/*.npz (spikingjelly's converted events) or the "
        "original files in <data_dir>/download/ (DvsGesture.tar.gz, gesture_mapping.csv, LICENSE.txt, README.txt)",
        aliases=("dvs_gesture", "dvsgesture", "dvs128gesture"),
    ),
    "synthetic": _Source(build_synthetic, describe_synthetic),
}
_ALIASES = {alias: name for name, source in _SOURCES.items() for alias in source.aliases}
_VAL_SPLIT_ALIASES = ("val", "validation", "test", "eval")


def list_datasets() -> list[str]:
    """Names accepted by :func:`create_dataset` and :func:`dataset_info`."""
    return list(_SOURCES)


def _canonical_name(name: str) -> str:
    names = ", ".join(_SOURCES)
    if not isinstance(name, str):
        raise DatasetError(f"Dataset name must be a string, got {name!r}. Valid names: {names}.")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in _SOURCES:
        return key
    close = difflib.get_close_matches(key, list(_SOURCES) + list(_ALIASES), n=3, cutoff=0.5)
    close = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise DatasetError(f"Unknown dataset {name!r}.{hint} Valid names: {names}.")


def _canonical_split(split: str) -> str:
    s = str(split).strip().lower()
    if s == "train":
        return "train"
    if s in _VAL_SPLIT_ALIASES:
        return "val"
    raise DatasetError(f"Unknown split {split!r}: use 'train' or 'val'.")


def _require_data_dir(name: str, data_dir: PathLike | None, layout: str) -> Path:
    """Check that a file-based dataset got an existing directory; return it as a Path."""
    if data_dir is None or str(data_dir) == "":
        embedded = ", ".join(n for n, s in _SOURCES.items() if s.layout is None)
        raise DatasetError(
            f"Dataset {name!r} needs a data directory: pass data_dir=PATH (CLI: --data-dir PATH). "
            f"Expected layout: {layout}. Nothing is downloaded automatically. "
            f"Datasets that need no files: {embedded}."
        )
    path = Path(data_dir).expanduser()
    if not path.exists():
        parent = path.parent
        hint = "" if parent.is_dir() else f" (its parent {str(parent)!r} does not exist either)"
        raise DatasetError(
            f"Data directory {str(path)!r} for dataset {name!r} does not exist{hint}. "
            f"Check --data-dir; expected layout: {layout}."
        )
    if not path.is_dir():
        raise DatasetError(f"Data directory {str(path)!r} for dataset {name!r} is a file, not a directory.")
    return path


def dataset_info(name: str, data_dir: PathLike | None = None, **kwargs: Any) -> DatasetInfo:
    """Describe dataset ``name`` without loading it.

    ``imagefolder`` counts the class folders in ``data_dir/train`` (so it needs
    ``data_dir``); ``synthetic`` reads ``num_classes``, ``input_size`` (C, H, W)
    and ``T`` from ``kwargs`` (defaults 10, (3, 32, 32), None = static).
    """
    name = _canonical_name(name)
    source = _SOURCES[name]
    if isinstance(source.info, DatasetInfo):
        return source.info
    root = None if source.layout is None else _require_data_dir(name, data_dir, source.layout)
    return source.info(name, root, source.layout, kwargs)


def takes_timm_augmentation(name: str) -> bool:
    """Whether dataset ``name`` builds its images with timm's create_transform kwargs (auto_augment, re_prob, ...)."""
    return _SOURCES[_canonical_name(name)].timm_augment


def eval_data_config(info: DatasetInfo, input_size: InputSize | None = None, **kwargs: Any) -> dict[str, Any]:
    """The evaluation transform of dataset ``info.name`` at ``input_size`` (default: the dataset's), in the terms
    of timm's ``resolve_data_config``: input_size, interpolation, mean, std, crop_pct, crop_mode.

    ``kwargs`` are the dataset kwargs the run passes to :func:`create_dataset` (e.g. ``crop_pct``,
    ``interpolation``). A checkpoint's ``pretrained_cfg`` records this, so ``timm.data.resolve_data_config``
    on the loaded model rebuilds the transform the model was validated with.
    """
    size = normalize_input_size(input_size, info.input_size)
    config = dict(input_size=size, mean=tuple(info.mean), std=tuple(info.std))
    config.update(_SOURCES[_canonical_name(info.name)].data_config(info, size, kwargs))
    return config


def dataset_title(name: str) -> str:
    """Human-readable name of a dataset (as in model cards); names the zoo does not build come back unchanged."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    source = _SOURCES.get(_ALIASES.get(key, key))
    return source.title if source is not None and source.title else name


def create_dataset(
    name: str,
    data_dir: PathLike | None = None,
    split: str = "train",
    T: int | None = None,
    is_training: bool | None = None,
    input_size: InputSize | None = None,
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
        name: dataset name (see :func:`list_datasets`); case and ``-``/``_`` are ignored.
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
    source = _SOURCES[name]
    info = source.info if isinstance(source.info, DatasetInfo) else None
    if info is not None and info.is_event:
        T = check_T(name, T, info.default_T)
    root = None if source.layout is None else _require_data_dir(name, data_dir, source.layout)
    request = BuildRequest(
        name=name,
        split=split,
        info=info,
        layout=source.layout,
        root=root,
        T=T,
        input_size=input_size,
        augment=is_training and augment,
        seed=seed,
    )
    return source.build(request, kwargs)
