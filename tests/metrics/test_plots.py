"""PNG plots: firing-rate bars and training curves."""

import csv

import pytest

from snn_zoo.metrics.plots import plot_firing_rates, plot_training_curves, read_history_csv

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_plot_firing_rates_writes_a_png(tmp_path):
    out = plot_firing_rates(
        {"stem.sn": 0.2, "stage1.0.sn": 0.05, "stage3.sn": 0.0}, tmp_path / "a" / "fr.png", title="tiny"
    )
    assert out == tmp_path / "a" / "fr.png" and _is_png(out)


def test_plot_firing_rates_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no layers"):
        plot_firing_rates({}, tmp_path / "fr.png")
    with pytest.raises(ValueError, match=r"\.png"):
        plot_firing_rates({"a": 0.1}, tmp_path / "fr.jpg")
    with pytest.raises(ValueError, match="non-negative"):
        plot_firing_rates({"a": -0.1}, tmp_path / "fr.png")


def test_plot_training_curves_from_rows_and_csv(tmp_path):
    rows = [
        dict(epoch=e, train_loss=2.0 / e, val_loss=2.2 / e, val_top1=30.0 + 10 * e, val_top5=80.0, lr=0.1)
        for e in (1, 2, 3)
    ]
    assert _is_png(plot_training_curves(rows, tmp_path / "rows.png"))
    log = tmp_path / "train_log.csv"
    with open(log, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert read_history_csv(log)[1]["val_top1"] == 50.0
    assert _is_png(plot_training_curves(log, tmp_path / "csv.png", title="run"))
    assert _is_png(plot_training_curves(str(log), tmp_path / "str.png"))


def test_plot_training_curves_errors(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        plot_training_curves([], tmp_path / "c.png")
    with pytest.raises(ValueError, match="No loss or top-1"):
        plot_training_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "c.png")
    with pytest.raises(FileNotFoundError):
        plot_training_curves(tmp_path / "missing.csv", tmp_path / "c.png")
