"""``create_loader``: a seeded DataLoader whose event batches come out time-first, ``[T, B, C, H, W]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from ..layers import from_batch_first

__all__ = ["collate_time_first", "create_loader"]


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker from the loader's generator; propagate it to numpy/random
    # so that numpy-based transforms differ between workers but are reproducible.
    import random

    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def collate_time_first(batch: Sequence[Any]) -> Any:
    """Default collate, then event inputs [B, T, C, H, W] -> [T, B, C, H, W] (the models' layout).

    Static image batches stay [B, C, H, W].
    """
    inputs, *rest = default_collate(batch)
    return (from_batch_first(inputs), *rest)


def create_loader(
    dataset: Dataset,
    batch_size: int,
    is_training: bool,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: bool | None = None,
) -> DataLoader:
    """A ``DataLoader`` with a seeded shuffle (training) or fixed order (evaluation).

    ``drop_last`` defaults to ``is_training`` so that training batches have a constant size.
    Event batches always come out time-first, [T, B, C, H, W]; static batches are [B, C, H, W].
    Kept deliberately thin so that ``accelerate`` can wrap/shard it.
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
