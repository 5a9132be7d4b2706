"""DigitsDVS: an embedded, download-free event-camera version of the 8x8 digits.

It exists so that the zoo's neuromorphic input path (event streams -> binned
``[T, 2, H, W]`` frames -> spiking model) can be exercised and tested offline.
Each digit is seen by the event-camera simulator of :mod:`snn_zoo.data.event_camera`
(saccades + DVS pixel model, defaults in :class:`DVSSimConfig`); sample ``i`` gets
its own saccade path, seeded by ``(seed, i)``.

Events of all samples are stored once, in memory, as one :class:`EventStreams`.
With the defaults a digit yields about 1260 events (766..1755), ON/OFF ~ 1.02,
and all 1797 streams take about 1 s on 2 CPU cores, which is why there is no
on-disk cache: regenerating is cheaper than managing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

from .digits import DIGITS_CLASSES, digits_split_indices, load_digits_arrays
from .event_camera import DVSSimConfig, EventStreams, make_event_streams

__all__ = ["DigitsDVSDataset", "digits_dvs_events"]


def digits_dvs_events(seed: int = 0, cfg: DVSSimConfig | None = None) -> EventStreams:
    """Event streams of all 1797 digits (index = sklearn digit index), cached in memory.

    The arrays are shared and read-only.
    """
    # Normalised key: lru_cache would treat f(0) and f(0, DVSSimConfig()) as different calls.
    return _digits_dvs_events(int(seed), cfg or DVSSimConfig())


@lru_cache(maxsize=4)
def _digits_dvs_events(seed: int, cfg: DVSSimConfig) -> EventStreams:
    images, _ = load_digits_arrays()
    streams = make_event_streams(images, seed=seed, cfg=cfg)
    streams.events.flags.writeable = False
    streams.offsets.flags.writeable = False
    return streams


@lru_cache(maxsize=8)
def _all_frames(seed: int, cfg: DVSSimConfig, T: int) -> torch.Tensor:
    """Frames ``[1797, T, 2, S, S]`` for every digit; one bincount over all events."""
    streams = digits_dvs_events(seed, cfg)
    n, s = streams.num_samples, cfg.size
    counts = np.diff(streams.offsets)
    sid = np.repeat(np.arange(n), counts)
    ev = streams.events
    # Fixed window [0, duration] for every sample so bins mean the same time everywhere;
    # same binning as events_to_frames(events, T, s, s, duration=cfg.duration_us, t_start=0).
    bins = np.minimum(ev["t"] * T // cfg.duration_us, T - 1)
    ch = (ev["p"] <= 0).astype(np.int64)
    flat = (((sid * T + bins) * 2 + ch) * s + ev["y"]) * s + ev["x"]
    frames = np.bincount(flat, minlength=n * T * 2 * s * s).astype(np.float32)
    return torch.from_numpy(frames.reshape(n, T, 2, s, s))


class DigitsDVSDataset(Dataset):
    """Event-camera digits: items are ``(frames [T, 2, 16, 16] float32, label)``.

    Channel 0 holds ON-event counts and channel 1 OFF-event counts per time bin;
    the ``T`` bins split the fixed 300 ms stream evenly.  The train/val split is
    exactly the one of ``DigitsDataset(split, seed=seed, val_fraction=val_fraction)``.
    All 1797 streams are generated once per ``(seed, cfg)`` and kept in memory.

    Args:
        split: ``"train"`` or ``"val"``.
        T: number of time bins.
        seed: seeds both the split and the saccades.
        val_fraction: fraction of each class held out for validation.
        transform: optional callable applied to the frames tensor.
        cfg: simulation parameters; ``contrast_threshold`` is a shortcut for
            ``DVSSimConfig(contrast_threshold=...)``.
    """

    classes: list[str] = DIGITS_CLASSES

    def __init__(
        self,
        split: str = "train",
        T: int = 4,
        seed: int = 0,
        val_fraction: float = 0.2,
        transform: Callable | None = None,
        contrast_threshold: float | None = None,
        cfg: DVSSimConfig | None = None,
    ) -> None:
        if not isinstance(T, (int, np.integer)) or isinstance(T, bool) or T <= 0:
            raise ValueError(f"T must be a positive integer, got {T!r}")
        cfg = cfg or DVSSimConfig()
        if contrast_threshold is not None:
            cfg = replace(cfg, contrast_threshold=float(contrast_threshold))
        self.split, self.T, self.seed, self.cfg, self.transform = split, int(T), seed, cfg, transform
        self.indices = digits_split_indices(split, seed, val_fraction)
        _, targets = load_digits_arrays()
        self.targets: list[int] = targets[self.indices].tolist()
        self._frames = _all_frames(int(seed), cfg, int(T))[torch.from_numpy(self.indices.copy())]

    def events(self, index: int) -> np.ndarray:
        """Raw event stream (structured array, fields t/x/y/p) of item ``index``."""
        return digits_dvs_events(int(self.seed), self.cfg).sample(int(self.indices[index]))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames = self._frames[index]
        if self.transform is not None:
            frames = self.transform(frames)
        return frames, self.targets[index]

    def __repr__(self) -> str:
        return f"DigitsDVSDataset(split={self.split!r}, n={len(self)}, T={self.T}, seed={self.seed})"
