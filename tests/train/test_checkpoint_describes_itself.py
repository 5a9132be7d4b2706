"""A trained checkpoint describes its own data: timm's ``resolve_data_config`` on the loaded model gives the run's
input size, channels, normalisation and interpolation, and ``validate.py RUN_DIR`` (no other flag) reproduces
results.json's top-1. One tiny run per dataset source (issue 21, item 5).

The expected values are written out from the datasets' definitions (timm's create_transform defaults, ImageNet
statistics, CIFAR-10's published mean/std), not read back from the plan that wrote them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import timm
from PIL import Image
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

import snn_zoo

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--model", "spiking_cnn_tiny", "--method", "none", "--T", "2", "-b", "4", "--epochs", "1"]
TINY += ["--max-steps-per-epoch", "2", "--log-with", "none"]
GRAY_MEAN, GRAY_STD = sum(IMAGENET_DEFAULT_MEAN) / 3, sum(IMAGENET_DEFAULT_STD) / 3


def _validate_main():
    spec = importlib.util.spec_from_file_location("validate_script", ROOT / "hub_scripts" / "validate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _image_folder(root: Path, mode: str, size=(12, 10)) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("a", "b", "c"):
            (root / split / label).mkdir(parents=True)
            for i in range(4):
                shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                    root / split / label / f"{i}.png"
                )
    return root


def _fake_cifar10(root: Path) -> Path:
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    return root


def _event_folder(root: Path) -> Path:
    """spikingjelly's converted CIFAR10-DVS layout: events_np/<class>/*.npz of t, x, y, p."""
    rng = np.random.default_rng(0)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    for label, c in enumerate(classes):
        (root / "events_np" / c).mkdir(parents=True)
        for i in range(10):
            n = 40 + i
            np.savez(
                root / "events_np" / c / f"cifar10_{c}_{i}.npz",
                t=np.sort(rng.integers(0, 10_000, n)),
                x=np.full(n, label * 10),
                y=rng.integers(0, 128, n),
                p=rng.integers(0, 2, n),
            )
    return root


# (case id, extra flags, data maker, expected input_size, mean, std, interpolation, crop_pct)
CASES = [
    ("digits", ["--dataset", "digits"], None, (1, 8, 8), (0.0,), (1.0,), "bilinear", 1.0),
    ("digits_dvs", ["--dataset", "digits_dvs"], None, (2, 16, 16), (0.0, 0.0), (1.0, 1.0), "bilinear", 1.0),
    (
        "folder_gray_native",
        ["--dataset", "imagefolder"],
        lambda p: _image_folder(p, "L"),
        (1, 10, 12),
        (GRAY_MEAN,),
        (GRAY_STD,),
        "bilinear",
        1.0,
    ),
    (
        "folder_gray_img_size",
        ["--dataset", "imagefolder", "--img-size", "16"],
        lambda p: _image_folder(p, "L"),
        (1, 16, 16),  # a grayscale folder stays one channel at any --img-size
        (GRAY_MEAN,),
        (GRAY_STD,),
        "bilinear",
        0.875,  # timm's create_transform default crop
    ),
    (
        "folder_rgb_native",
        ["--dataset", "imagefolder"],
        lambda p: _image_folder(p, "RGB"),
        (3, 10, 12),
        IMAGENET_DEFAULT_MEAN,
        IMAGENET_DEFAULT_STD,
        "bilinear",
        1.0,
    ),
    (
        "folder_rgb_img_size_bicubic",
        ["--dataset", "imagefolder", "--img-size", "16", "--train-interpolation", "bicubic"],
        lambda p: _image_folder(p, "RGB"),
        (3, 16, 16),
        IMAGENET_DEFAULT_MEAN,
        IMAGENET_DEFAULT_STD,
        "bicubic",
        0.875,
    ),
    (
        "cifar10",
        ["--dataset", "cifar10"],
        _fake_cifar10,
        (3, 32, 32),
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        "bilinear",
        1.0,
    ),
    (
        "cifar10_official_aug",
        ["--dataset", "cifar10", "--aa", "rand-m9-n1-mstd0.4-inc1"],
        _fake_cifar10,
        (3, 32, 32),
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        "bicubic",  # the official CIFAR pipeline (timm's create_transform, bicubic, no crop)
        1.0,
    ),
    (
        "cifar10_dvs_events",
        ["--dataset", "cifar10_dvs", "--img-size", "16"],
        _event_folder,
        (2, 16, 16),
        (0.0, 0.0),
        (1.0, 1.0),
        "bilinear",
        1.0,
    ),
]


@pytest.mark.parametrize(
    ("flags", "make", "size", "mean", "std", "interpolation", "crop_pct"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_checkpoint_describes_its_data(
    distill_main, tmp_path, monkeypatch, flags, make, size, mean, std, interpolation, crop_pct
):
    if "cifar10" in flags:
        import torchvision.datasets.cifar as tv_cifar

        monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)  # md5 of the real files
    data = ["--data-dir", str(make(tmp_path / "data"))] if make else []
    out = tmp_path / "run"
    assert distill_main([*TINY, *flags, *data, "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())

    model = snn_zoo.create_model(f"local-dir:{out}")
    cfg = timm.data.resolve_data_config({}, model=model)
    assert cfg["input_size"] == size
    assert cfg["mean"] == pytest.approx(mean, abs=1e-4) and cfg["std"] == pytest.approx(std, abs=1e-4)
    assert cfg["interpolation"] == interpolation and cfg["crop_pct"] == crop_pct
    assert (
        model.pretrained_cfg["tag"] == results["tag"] and model.num_classes == results["pretrained_cfg"]["num_classes"]
    )

    rows = tmp_path / "rows.json"
    assert _validate_main()([str(out), "--no-progress", "--results-file", str(rows)]) == 0
    (row,) = json.loads(rows.read_text())
    assert row["top1"] == results["top1"] and row["num_samples"] == results["num_val_samples"]
