"""cifar10_dvs / dvs128_gesture through the real spikingjelly 2.0 code, on tiny fake event files.

The fake roots mimic what spikingjelly leaves after converting the original
downloads (``events_np/...`` with one ``.npz`` of t/x/y/p per sample), so
spikingjelly only has to integrate frames: no download is attempted.
"""

import numpy as np
import pytest
import torch

from snn_zoo.data import CIFAR10_DVS_VAL_FRACTION, DatasetError, create_dataset

pytest.importorskip("spikingjelly.datasets")

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _write_events(path, rng, n_events, label):
    t = np.sort(rng.integers(0, 10_000, n_events))
    # put the label into the position so that frames differ per class
    x = np.full(n_events, label * 10)
    y = rng.integers(0, 128, n_events)
    p = rng.integers(0, 2, n_events)
    np.savez(path, t=t, x=x, y=y, p=p)


@pytest.fixture(scope="module")
def cifar10_dvs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar10dvs")
    rng = np.random.default_rng(0)
    for label, c in enumerate(CIFAR_CLASSES):
        d = root / "events_np" / c
        d.mkdir(parents=True)
        for i in range(10):
            _write_events(d / f"cifar10_{c}_{i}.npz", rng, 40 + i, label)
    return root


def test_cifar10_dvs_split_and_frames(cifar10_dvs_root):
    train = create_dataset("cifar10_dvs", data_dir=cifar10_dvs_root, split="train", T=4)
    val = create_dataset("cifar10_dvs", data_dir=cifar10_dvs_root, split="val", T=4)
    assert len(val) == 10 * round(10 * CIFAR10_DVS_VAL_FRACTION) and len(train) == 90
    assert set(train.indices).isdisjoint(val.indices)
    assert np.bincount(val.targets, minlength=10).tolist() == [1] * 10  # per-class split
    x, y = val[0]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (4, 2, 128, 128)
    assert x[:, :, :, y * 10].sum() == x.sum() > 0  # events land in the class's column
    # deterministic for a seed, different for another seed
    again = create_dataset("cifar10_dvs", data_dir=cifar10_dvs_root, split="val", T=4)
    other = create_dataset("cifar10_dvs", data_dir=cifar10_dvs_root, split="val", T=4, seed=1)
    assert again.indices == val.indices and other.indices != val.indices
    small = create_dataset("cifar10_dvs", data_dir=cifar10_dvs_root, split="val", T=2, input_size=(2, 32, 32))
    assert small[0][0].shape == (2, 2, 32, 32)


def test_dvs128_gesture_uses_official_split(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 2), ("test", 1)):
        for label in range(11):
            d = tmp_path / "events_np" / split / str(label)
            d.mkdir(parents=True)
            for i in range(n):
                _write_events(d / f"user01_{label}_{i}.npz", rng, 30, label % 12)
    train = create_dataset("dvs128_gesture", data_dir=tmp_path, split="train", T=3)
    val = create_dataset("dvs128_gesture", data_dir=tmp_path, split="val", T=3)
    assert len(train) == 22 and len(val) == 11
    x, _ = train[0]
    assert x.shape == (3, 2, 128, 128) and x.sum() == 30


def test_interrupted_preparation_is_explained(tmp_path):
    (tmp_path / "events_np.building").touch()
    with pytest.raises(DatasetError, match=r"interrupted.*Delete"):
        create_dataset("cifar10_dvs", data_dir=tmp_path, T=4)
