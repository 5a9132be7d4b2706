"""The native input size of an image folder: what a user's own images are, before any resizing."""

from __future__ import annotations

import os
from itertools import islice, zip_longest
from pathlib import Path

__all__ = ["GRAYSCALE_MODES", "native_input_size"]

#: PIL modes read as one channel; every other mode is converted to RGB by the loader (3 channels).
GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "F")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _sample_files(train_dir: Path, max_files: int) -> list:
    """Up to ``max_files`` image files of ``train_dir/<class>/``, taken round-robin over the classes."""
    classes = sorted(e.path for e in os.scandir(train_dir) if e.is_dir())
    per_class = [
        (e.path for e in os.scandir(c) if e.is_file() and e.name.lower().endswith(_IMAGE_SUFFIXES)) for c in classes
    ]
    spread = (f for group in zip_longest(*per_class) for f in group if f is not None)
    return list(islice(spread, max_files))


def native_input_size(data_dir: str | os.PathLike | None, max_files: int = 512) -> tuple[int, int, int] | None:
    """``(C, H, W)`` shared by the images of ``data_dir/train`` (up to ``max_files`` of them, spread over the
    classes, headers only), or ``None`` when they differ in size, cannot be read or the folder is missing.

    ``C`` is 1 when every sampled image is grayscale (``GRAYSCALE_MODES``), else 3."""
    from PIL import Image

    if data_dir is None or not (Path(data_dir) / "train").is_dir():
        return None
    files = _sample_files(Path(data_dir) / "train", max_files)
    sizes, gray = set(), True
    for f in files:
        try:
            with Image.open(f) as im:
                sizes.add(im.size)
                gray = gray and im.mode in GRAYSCALE_MODES
        except OSError:
            return None
        if len(sizes) > 1:
            return None
    if len(sizes) != 1:
        return None
    ((w, h),) = sizes
    return (1 if gray else 3, h, w)
