"""scikit-learn's bundled 8x8 handwritten digits as a tiny, offline image dataset.

The 1797 images ship with scikit-learn, so this dataset works without any
download.  It is the zoo's smoke-test dataset: small enough to train a spiking
network end to end on a CPU in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["DIGITS_CLASSES", "DigitsDataset", "digits_split_indices", "load_digits_arrays"]

DIGITS_CLASSES: list[str] = [str(i) for i in range(10)]
_VALID_SPLITS = ("train", "val")


@lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, targets)`` for all 1797 digits, cached for the process.

    ``images`` is float32 ``[1797, 8, 8]`` scaled to ``[0, 1]`` (raw values are
    0..16); ``targets`` is int64 ``[1797]``.  Both arrays are read-only because
    they are shared by every dataset instance.
    """
    from sklearn.datasets import load_digits  # local: keeps `import snn_zoo.data` light

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0).copy()
    targets = bunch.target.astype(np.int64).copy()
    images.flags.writeable = False
    targets.flags.writeable = False
    return images, targets


@lru_cache(maxsize=16)
def _split_indices_cached(seed: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    _, targets = load_digits_arrays()
    train_idx, val_idx = train_test_split(
        np.arange(len(targets)),
        test_size=val_fraction,
        stratify=targets,
        random_state=seed,
        shuffle=True,
    )
    # Sorted so that iteration order does not depend on the shuffle, only membership does.
    train_idx = np.sort(train_idx)
    val_idx = np.sort(val_idx)
    train_idx.flags.writeable = False
    val_idx.flags.writeable = False
    return train_idx, val_idx


def digits_split_indices(split: str, seed: int = 0, val_fraction: float = 0.2) -> np.ndarray:
    """Indices (into the 1797 digits) of ``split`` for a stratified train/val split.

    The split is a pure function of ``(seed, val_fraction)``; it is shared by
    :class:`DigitsDataset` and the event-camera variant ``DigitsDVSDataset`` so
    that both see exactly the same samples.
    """
    if split not in _VALID_SPLITS:
        raise ValueError(f"split must be one of {_VALID_SPLITS}, got {split!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    train_idx, val_idx = _split_indices_cached(int(seed), float(val_fraction))
    return train_idx if split == "train" else val_idx


class DigitsDataset(Dataset):
    """8x8 handwritten digits (10 classes) from ``sklearn.datasets.load_digits``.

    Items are ``(image, label)`` with ``image`` a float32 tensor ``[1, 8, 8]`` in
    ``[0, 1]`` (not normalised) and ``label`` an ``int``.  The train/val split is
    stratified and deterministic for a given ``seed``.

    Args:
        split: ``"train"`` or ``"val"``.
        transform: optional callable applied to the image tensor.
        seed: seed of the stratified split.
        val_fraction: fraction of each class held out for validation.
    """

    classes: list[str] = DIGITS_CLASSES

    def __init__(
        self,
        split: str = "train",
        transform: Callable | None = None,
        seed: int = 0,
        val_fraction: float = 0.2,
    ) -> None:
        self.split = split
        self.transform = transform
        self.seed = seed
        self.val_fraction = val_fraction
        self.indices = digits_split_indices(split, seed, val_fraction)
        images, targets = load_digits_arrays()
        # One contiguous tensor per split: cheap indexing, no per-item numpy->torch copies.
        self._images = torch.from_numpy(images[self.indices].copy()).unsqueeze(1)
        self.targets: list[int] = targets[self.indices].tolist()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img = self._images[index]
        if self.transform is not None:
            img = self.transform(img)
        return img, self.targets[index]

    def __repr__(self) -> str:
        return f"DigitsDataset(split={self.split!r}, n={len(self)}, seed={self.seed})"
