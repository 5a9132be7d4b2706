"""Random tensors with labels, for dry runs of training recipes (no data needed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.data import Dataset

__all__ = ["SyntheticDataset"]


class SyntheticDataset(Dataset):
    """``num_samples`` random inputs of ``input_shape`` with uniformly random labels.

    A 3-d ``input_shape`` ``(C, H, W)`` gives static images drawn from a standard
    normal; a 4-d shape ``(T, C, H, W)`` gives event frames: non-negative
    counts (Bernoulli(``event_rate``) per bin), like binned DVS events.
    Item ``i`` is a pure function of ``(seed, i)``, so the data are identical
    across epochs, processes and DataLoader workers, and nothing large is held
    in memory.

    Args:
        num_samples: dataset length.
        input_shape: ``(C, H, W)`` or ``(T, C, H, W)``.
        num_classes: labels are in ``[0, num_classes)``.
        seed: base seed.
        event_rate: firing probability per element for event-shaped inputs.
        transform: optional callable applied to the input tensor.
    """

    def __init__(
        self,
        num_samples: int = 256,
        input_shape: Sequence[int] = (3, 32, 32),
        num_classes: int = 10,
        seed: int = 0,
        event_rate: float = 0.1,
        transform: Callable | None = None,
    ) -> None:
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) not in (3, 4) or min(input_shape) <= 0:
            raise ValueError(f"input_shape must be (C, H, W) or (T, C, H, W) with positive sizes, got {input_shape}")
        if num_samples <= 0 or num_classes <= 0:
            raise ValueError(f"num_samples and num_classes must be positive, got {num_samples}, {num_classes}")
        self.num_samples = int(num_samples)
        self.input_shape: tuple[int, ...] = input_shape
        self.num_classes = int(num_classes)
        self.seed = int(seed)
        self.event_rate = float(event_rate)
        self.is_event = len(input_shape) == 4
        self.transform = transform
        gen = torch.Generator().manual_seed(self.seed)
        self.targets: list[int] = torch.randint(0, self.num_classes, (self.num_samples,), generator=gen).tolist()
        self.classes: list[str] = [str(i) for i in range(self.num_classes)]

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        # Distinct stream per item (the label stream uses the bare seed).
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index + 1)
        if self.is_event:
            x = (torch.rand(self.input_shape, generator=gen) < self.event_rate).float()
        else:
            x = torch.randn(self.input_shape, generator=gen)
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[index]

    def __repr__(self) -> str:
        return (
            f"SyntheticDataset(num_samples={self.num_samples}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, seed={self.seed})"
        )
