"""A simple event-camera (DVS) simulator: saccades over a still image, then a DVS pixel model.

It imitates how N-MNIST was recorded (a DVS camera watching a static digit while
the sensor makes small saccades; Orchard et al., "Converting static image datasets
to spiking neuromorphic datasets using saccades", Front. Neurosci. 2015), with a
simple DVS pixel model.  ``snn_zoo.data.digits_dvs`` runs it over the 8x8 digits.

Generation rule (all steps deterministic; defaults in :class:`DVSSimConfig`)
-------------------------------------------------------------------------
1. **Image.** Each 8x8 digit (values 0..16) is scaled to ``[0, 1]`` and upsampled
   to ``16 x 16`` with bilinear interpolation (``align_corners=False``).
2. **Saccades.** Sample ``i`` gets its own RNG, ``numpy.random.default_rng([seed, i])``,
   which draws an angle ``theta ~ U[0, 2pi)`` and radii ``r_1, r_2 ~ U[1.0, 1.5]`` px.
   The image offset visits the vertices ``P0 = (0, 0)``,
   ``P_k = r_k * (cos(theta + (k-1)*pi/3), sin(theta + (k-1)*pi/3))`` and returns to
   ``P0``: ``n_saccades = 3`` straight-line micro-movements (a triangle, as in
   N-MNIST), each lasting ``saccade_us = 100_000`` us and rendered at
   ``steps_per_saccade = 20`` evenly spaced time steps (every 5 ms).  At each step
   the 16x16 image is translated by the (sub-pixel) offset with bilinear
   interpolation; pixels shifted in from outside the image are 0.
3. **DVS pixels.** For every pixel a reference log intensity
   ``L_ref = log(I_0 + eps)`` (``eps = 0.1``) is set from the first frame.  At each
   step with ``L = log(I_t + eps)``, ``n = trunc((L - L_ref) / C)`` (``C = 0.15``)
   events are emitted: ``|n|`` ON events (``p = +1``) if ``n > 0``, OFF events
   (``p = -1``) if ``n < 0``, and the reference moves by ``n * C`` (the residual
   below one threshold is kept, as in a real DVS).  Assuming the log intensity
   changes linearly during the step, the ``j``-th of the ``|n|`` events is stamped
   at the time its level ``L_ref + j*C*sign(n)`` is crossed, rounded to integer
   microseconds.  Events of one sample are sorted by time (stable).  (``L`` is
   computed in float32, the reference is accumulated in float64.)  Because the
   path ends where it started, pixels often land exactly on a threshold level at
   the very end, so a burst of events carries ``t = duration_us`` (300 000 us).

A blank image therefore gives no events, and every non-blank digit gives events
of both polarities (edges entering a pixel brighten it, edges leaving darken it).
``eps`` keeps near-black pixels from producing floods of events for tiny changes
(it plays the role of the background illumination / dark current).

Events of many samples are stored as one structured numpy array
(fields ``t`` int64 us, ``x`` int16, ``y`` int16, ``p`` int8 in ``{+1, -1}``)
plus ``offsets`` so that sample ``i`` is ``events[offsets[i]:offsets[i + 1]]``
(:class:`EventStreams`).  :func:`events_to_frames` integrates one stream into ``T``
equal-duration bins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "EVENT_DTYPE",
    "DVSSimConfig",
    "EventStreams",
    "dvs_events_from_frames",
    "events_to_frames",
    "make_event_streams",
    "render_saccades",
    "saccade_offsets",
    "upsample_digits",
]

#: dtype of an event stream: time in microseconds, pixel column/row, polarity +1 (ON) / -1 (OFF).
EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])

EventsLike = np.ndarray | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class DVSSimConfig:
    """Parameters of the DigitsDVS event simulation (see the module docstring)."""

    size: int = 16
    n_saccades: int = 3
    steps_per_saccade: int = 20
    saccade_us: int = 100_000
    min_radius: float = 1.0
    max_radius: float = 1.5
    contrast_threshold: float = 0.15
    eps: float = 0.1

    def __post_init__(self) -> None:
        if self.n_saccades < 2:
            raise ValueError("n_saccades must be >= 2 (the path leaves the origin and comes back)")
        if self.steps_per_saccade < 1 or self.saccade_us < 1 or self.size < 2:
            raise ValueError("steps_per_saccade, saccade_us and size must be positive")
        if not 0 < self.min_radius <= self.max_radius:
            raise ValueError("need 0 < min_radius <= max_radius")
        if self.contrast_threshold <= 0 or self.eps <= 0:
            raise ValueError("contrast_threshold and eps must be positive")

    @property
    def duration_us(self) -> int:
        """Total length of every stream; DigitsDVSDataset bins ``[0, duration_us]`` into T frames."""
        return self.n_saccades * self.saccade_us

    @property
    def timestamps_us(self) -> np.ndarray:
        """Times of the rendered frames, ``n_saccades * steps_per_saccade + 1`` of them."""
        n_steps = self.n_saccades * self.steps_per_saccade
        return np.linspace(0.0, float(self.duration_us), n_steps + 1)


class EventStreams(NamedTuple):
    """Concatenated event streams: sample ``i`` is ``events[offsets[i]:offsets[i+1]]``."""

    events: np.ndarray
    offsets: np.ndarray

    @property
    def num_samples(self) -> int:
        """Number of streams (``len()`` stays the tuple's length, 2)."""
        return len(self.offsets) - 1

    def sample(self, i: int) -> np.ndarray:
        """Events of sample ``i`` (a view, sorted by time)."""
        return self.events[self.offsets[i] : self.offsets[i + 1]]


def upsample_digits(images: np.ndarray, size: int = 16) -> np.ndarray:
    """Bilinearly upsample ``[N, h, w]`` images in ``[0, 1]`` to ``[N, size, size]`` float32."""
    x = torch.tensor(np.asarray(images, dtype=np.float32)).unsqueeze(1)  # copy: input may be read-only
    y = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return y.squeeze(1).numpy()


def saccade_offsets(sample_ids: Sequence[int], seed: int, cfg: DVSSimConfig) -> np.ndarray:
    """Per-sample image offsets ``[N, n_steps + 1, 2]`` (dx, dy in pixels) along the saccade path."""
    n_vertices = cfg.n_saccades  # P0 plus n_saccades - 1 random vertices, then back to P0
    k = np.arange(1, n_vertices)
    path = np.empty((len(sample_ids), cfg.n_saccades * cfg.steps_per_saccade + 1, 2), np.float64)
    frac = np.arange(cfg.steps_per_saccade) / cfg.steps_per_saccade  # position within a saccade
    for row, i in enumerate(sample_ids):
        # One generator per (seed, sample): a sample's motion never depends on which others are generated.
        rng = np.random.default_rng([int(seed), int(i)])
        theta = rng.uniform(0.0, 2.0 * np.pi)
        radii = rng.uniform(cfg.min_radius, cfg.max_radius, size=n_vertices - 1)
        angles = theta + (k - 1) * np.pi / 3.0
        vertices = np.zeros((n_vertices + 1, 2))
        vertices[1:n_vertices, 0] = radii * np.cos(angles)
        vertices[1:n_vertices, 1] = radii * np.sin(angles)
        start, end = vertices[:-1], vertices[1:]  # [n_saccades, 2] each
        seg = start[:, None, :] + frac[None, :, None] * (end - start)[:, None, :]
        path[row, :-1] = seg.reshape(-1, 2)
        path[row, -1] = vertices[-1]
    return path


def render_saccades(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Translate each image by each of its offsets with bilinear interpolation.

    Args:
        images: ``[N, H, W]`` intensities.
        offsets: ``[N, S, 2]`` shifts ``(dx, dy)`` in pixels (positive = right/down).

    Returns:
        ``[N, S, H, W]`` float32 frames; content shifted in from outside is 0.
    """
    n, h, w = images.shape
    s = offsets.shape[1]
    # Output pixel (y, x) samples the source at (y - dy, x - dx).  The integer part of the
    # shift is the same for every pixel of a frame, so each frame is a blend of four
    # shifted windows (slices) of the zero-padded image: no per-pixel gathers.
    ix = np.floor(-offsets[..., 0]).astype(np.int64)
    iy = np.floor(-offsets[..., 1]).astype(np.int64)
    fx = (-offsets[..., 0] - ix).astype(np.float32)
    fy = (-offsets[..., 1] - iy).astype(np.float32)
    pad = int(max(np.abs(ix).max(initial=0), np.abs(iy).max(initial=0))) + 1
    padded = np.pad(images.astype(np.float32), ((0, 0), (pad, pad), (pad, pad)))

    def window(a: int, b: int) -> np.ndarray:
        return padded[:, pad + a : pad + a + h, pad + b : pad + b + w]

    out = np.empty((n, s, h, w), np.float32)
    keys = iy * (4 * pad + 1) + ix
    for key in np.unique(keys):  # at most (2 * pad)^2 distinct integer shifts
        nn, ss = np.nonzero(keys == key)
        a, b = int(iy[nn[0], ss[0]]), int(ix[nn[0], ss[0]])
        wx = fx[nn, ss][:, None, None]
        wy = fy[nn, ss][:, None, None]
        top = window(a, b)[nn] * (1 - wx) + window(a, b + 1)[nn] * wx
        bottom = window(a + 1, b)[nn] * (1 - wx) + window(a + 1, b + 1)[nn] * wx
        out[nn, ss] = top * (1 - wy) + bottom * wy
    return out


def dvs_events_from_frames(
    frames: np.ndarray,
    timestamps_us: np.ndarray,
    contrast_threshold: float = 0.15,
    eps: float = 0.1,
) -> EventStreams:
    """Run the DVS pixel model over intensity frames ``[N, S, H, W]`` (values >= 0).

    See the module docstring for the rule.  Vectorised over samples and pixels;
    the only Python loop is over the ``S - 1`` time steps.
    """
    n, s = frames.shape[:2]
    if len(timestamps_us) != s:
        raise ValueError(f"need one timestamp per frame: {len(timestamps_us)} vs {s}")
    c = float(contrast_threshold)
    log_frames = np.log(frames.astype(np.float32) + np.float32(eps))  # float32: 2x faster, ample precision
    ref = log_frames[:, 0].astype(np.float64)  # the reference accumulates steps: keep float64
    prev = log_frames[:, 0]
    chunks: list[tuple[np.ndarray, ...]] = []
    for k in range(1, s):
        cur = log_frames[:, k]
        # trunc toward zero: the reference only moves by whole thresholds
        steps = np.trunc((cur - ref) / c).astype(np.int64)
        b, yy, xx = np.nonzero(steps)
        if b.size:
            cnt = steps[b, yy, xx]
            num = np.abs(cnt)
            sign = np.sign(cnt)
            rep = np.repeat(np.arange(b.size), num)
            # j = 1..|n| within each pixel's burst
            j = np.arange(rep.size) - np.repeat(np.cumsum(num) - num, num) + 1
            level = ref[b, yy, xx][rep] + j * c * sign[rep]
            l0, l1 = prev[b, yy, xx][rep], cur[b, yy, xx][rep]
            frac = np.clip((level - l0) / (l1 - l0), 0.0, 1.0)
            t0, t1 = timestamps_us[k - 1], timestamps_us[k]
            t = np.rint(t0 + frac * (t1 - t0)).astype(np.int64)
            chunks.append((b[rep], t, xx[rep], yy[rep], sign[rep]))
            ref[b, yy, xx] += cnt * c
        prev = cur
    if chunks:
        sid, t, x, y, p = (np.concatenate(parts) for parts in zip(*chunks))
    else:
        sid = t = x = y = p = np.zeros(0, np.int64)
    # by sample, then time; stable, so simultaneous events keep their generation order
    order = np.argsort(sid * (int(timestamps_us[-1]) + 1) + t, kind="stable")
    events = np.empty(order.size, EVENT_DTYPE)
    events["t"], events["x"], events["y"], events["p"] = t[order], x[order], y[order], p[order]
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum(np.bincount(sid, minlength=n))
    return EventStreams(events, offsets)


def make_event_streams(
    images: np.ndarray,
    seed: int = 0,
    sample_ids: Sequence[int] | None = None,
    cfg: DVSSimConfig = DVSSimConfig(),
    chunk_size: int = 256,
) -> EventStreams:
    """Simulate event streams for arbitrary ``[N, h, w]`` images in ``[0, 1]``.

    ``sample_ids`` (default ``0..N-1``) seed the per-sample saccades, so sample
    ``i`` of the digits always moves the same way whatever batch it is in.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"images must be [N, h, w], got shape {images.shape}")
    ids = np.arange(len(images)) if sample_ids is None else np.asarray(sample_ids)
    up = upsample_digits(images, cfg.size) if images.shape[1:] != (cfg.size, cfg.size) else images
    ts = cfg.timestamps_us
    parts: list[EventStreams] = []
    # Chunking bounds peak memory (frames are [chunk, 61, 16, 16] float32).
    for lo in range(0, len(up), chunk_size):
        hi = min(lo + chunk_size, len(up))
        frames = render_saccades(up[lo:hi], saccade_offsets(ids[lo:hi], seed, cfg))
        parts.append(dvs_events_from_frames(frames, ts, cfg.contrast_threshold, cfg.eps))
    if not parts:
        return EventStreams(np.zeros(0, EVENT_DTYPE), np.zeros(1, np.int64))
    events = np.concatenate([p.events for p in parts])
    counts = np.concatenate([np.diff(p.offsets) for p in parts])
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return EventStreams(events, offsets)


def _event_fields(events: EventsLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(events, np.ndarray) and events.dtype.names is not None:
        return events["t"], events["x"], events["y"], events["p"]
    if isinstance(events, Mapping):
        return tuple(np.asarray(events[k]) for k in ("t", "x", "y", "p"))  # type: ignore[return-value]
    raise TypeError("events must be a structured array or a dict with keys 't', 'x', 'y', 'p'")


def events_to_frames(
    events: EventsLike,
    T: int,
    H: int,
    W: int,
    duration: float | None = None,
    t_start: float | None = None,
) -> np.ndarray:
    """Integrate an event stream into ``T`` equal-duration bins: float32 ``[T, 2, H, W]``.

    Channel 0 counts ON events (``p > 0``) and channel 1 OFF events (``p <= 0``,
    so spikingjelly's ``{0, 1}`` polarity also works: 1 = ON, 0 = OFF).  The
    window ``[t_start, t_start + duration]`` is split into ``T`` bins of equal
    duration; each bin is half-open except the last, which also takes events at
    exactly ``t_start + duration`` (a stream's final timestamp).  By default the
    window runs from the first to the last event, as in spikingjelly's
    ``integrate_events_by_fixed_frames_number(..., split_by='time')``.  Unlike that
    function, empty bins are allowed (it raises ``IndexError`` on them), the
    channel order is ON-first, and events outside the window are dropped, so the
    frames sum to the number of events inside the window.
    """
    if T <= 0:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    t, x, y, p = _event_fields(events)
    frames = np.zeros((T, 2, H, W), np.float32)
    if t.size == 0:
        return frames
    t = t.astype(np.float64)
    start = float(t.min()) if t_start is None else float(t_start)
    if duration is None:
        duration = float(t.max()) - start if t.max() > start else 1.0
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration!r}")
    rel = (t - start) / float(duration)
    keep = (rel >= 0) & (rel <= 1)
    bins = np.minimum((rel[keep] * T).astype(np.int64), T - 1)
    ch = (p[keep] <= 0).astype(np.int64)
    flat = ((bins * 2 + ch) * H + y[keep].astype(np.int64)) * W + x[keep].astype(np.int64)
    frames.reshape(-1)[:] = np.bincount(flat, minlength=T * 2 * H * W)
    return frames
