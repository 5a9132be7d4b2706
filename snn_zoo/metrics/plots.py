"""PNG plots of a run: per-layer firing rates and training curves (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io.atomic import PathLike

__all__ = ["plot_firing_rates", "plot_training_curves", "read_history_csv"]

Rows = Sequence[Mapping[str, Any]]

# Column names accepted for each curve, first match wins (train loop: train_loss/val_loss/val_top1).
_LOSS_COLUMNS = ("train_loss", "val_loss", "loss", "eval_loss", "test_loss")
_TOP1_COLUMNS = ("train_top1", "val_top1", "top1", "eval_top1", "test_top1")


def _figure(**kwargs):
    # A bare Figure on the Agg canvas: no pyplot, no global backend switch, nothing left open.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _prepare_path(path: PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"Plot path must end in .png, got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def plot_firing_rates(rates: Mapping[str, float], path: PathLike, title: str = "Firing rates") -> Path:
    """Horizontal bar chart of per-layer firing rates (layer order kept, first layer on top).

    Args:
        rates: neuron module name -> firing rate in [0, 1] (``EnergyReport.firing_rates``).
        path: output ``.png`` (parent folders are created).
        title: figure title. The dashed line is the plain mean of the layers' rates (the
            neuron-weighted model mean needs layer sizes, which ``rates`` does not carry).
    Returns the path written.
    """
    path = _prepare_path(path)
    if not rates:
        raise ValueError("plot_firing_rates got no layers: the model has no spiking neurons (an ANN twin?).")
    names = list(rates)
    values = [float(rates[n]) for n in names]
    if any(math.isnan(v) or v < 0 for v in values):
        raise ValueError(f"Firing rates must be non-negative numbers, got {dict(zip(names, values))}.")
    fig = _figure(figsize=(7, max(2.5, 0.28 * len(names) + 1.2)))
    ax = fig.subplots()
    y = list(range(len(names)))
    ax.barh(y, values, color="tab:blue")
    ax.set_yticks(y, labels=names, fontsize=8 if len(names) < 40 else 6)
    ax.invert_yaxis()  # first layer on top, like the model
    mean = sum(values) / len(values)
    ax.axvline(mean, color="tab:red", linestyle="--", linewidth=1, label=f"layer mean {mean:.4f}")
    ax.set_xlabel("firing rate (spikes / neuron / time step)")
    ax.set_xlim(0, max(max(values) * 1.1, 1e-3))
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def read_history_csv(csv_path: PathLike) -> list[dict[str, Any]]:
    """Rows of a per-epoch CSV log, numbers converted to float (empty cells to None)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"Training log {str(csv_path)!r} does not exist.")
    rows = []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value) if value not in ("", None) else None
                except ValueError:
                    parsed[key] = value
            rows.append(parsed)
    return rows


def _series(rows: Rows, column: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(rows):
        value = row.get(column)
        if value is None or value == "":
            continue
        epoch = row.get("epoch")
        xs.append(float(epoch) if epoch not in (None, "") else float(i + 1))
        ys.append(float(value))
    return xs, ys


def plot_training_curves(
    history: PathLike | Iterable[Mapping[str, Any]],
    path: PathLike,
    title: str | None = None,
) -> Path:
    """Loss and top-1 per epoch, two panels side by side.

    Args:
        history: a CSV log path (``train_log.csv``) or rows (dicts) with an ``epoch`` column and
            any of ``train_loss``/``val_loss``/``loss`` and ``train_top1``/``val_top1``/``top1``.
        path: output ``.png``.
        title: optional figure title.
    Returns the path written.
    """
    rows = read_history_csv(history) if isinstance(history, (str, os.PathLike)) else [dict(r) for r in history]
    if not rows:
        raise ValueError("plot_training_curves got no rows (empty history).")
    columns = set().union(*rows)
    loss_cols = [c for c in _LOSS_COLUMNS if c in columns]
    top1_cols = [c for c in _TOP1_COLUMNS if c in columns]
    if not loss_cols and not top1_cols:
        raise ValueError(
            f"No loss or top-1 column in the history; expected some of {_LOSS_COLUMNS + _TOP1_COLUMNS}, "
            f"found {sorted(columns)}."
        )
    path = _prepare_path(path)
    fig = _figure(figsize=(10, 4))
    ax_loss, ax_top1 = fig.subplots(1, 2)
    for ax, cols, ylabel in ((ax_loss, loss_cols, "loss"), (ax_top1, top1_cols, "top-1 (%)")):
        for col in cols:
            xs, ys = _series(rows, col)
            ax.plot(xs, ys, marker="o", markersize=3, label=col)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if cols:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {ylabel} column", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
