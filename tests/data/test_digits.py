"""DigitsDataset: deterministic stratified split, shapes and value range."""

import numpy as np
import pytest
import torch

from snn_zoo.data import DigitsDataset, create_dataset, dataset_info, digits_split_indices


def test_split_is_deterministic_disjoint_and_complete():
    a_train, a_val = DigitsDataset("train", seed=0), DigitsDataset("val", seed=0)
    b_train = DigitsDataset("train", seed=0)
    assert np.array_equal(a_train.indices, b_train.indices)
    assert set(a_train.indices).isdisjoint(a_val.indices)
    assert len(a_train) + len(a_val) == 1797
    assert sorted(np.concatenate([a_train.indices, a_val.indices]).tolist()) == list(range(1797))
    assert len(a_val) == pytest.approx(0.2 * 1797, abs=2)
    # A different seed gives a different split.
    assert not np.array_equal(DigitsDataset("val", seed=1).indices, a_val.indices)


def test_split_is_stratified():
    val = DigitsDataset("val", seed=0)
    counts = np.bincount(val.targets, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37  # ~20 % of each ~180-sample class


def test_items_shape_dtype_range():
    ds = DigitsDataset("train")
    x, y = ds[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32
    assert isinstance(y, int) and y == ds.targets[0]
    allx = torch.stack([ds[i][0] for i in range(len(ds))])
    assert allx.min() >= 0.0 and allx.max() <= 1.0 and allx.max() == 1.0
    assert ds.classes == [str(i) for i in range(10)]
    assert set(ds.targets) == set(range(10))


def test_transform_and_factory():
    ds = DigitsDataset("val", transform=lambda t: t * 2)
    assert ds[0][0].max() <= 2.0
    made = create_dataset("digits", split="val")
    assert np.array_equal(made.indices, digits_split_indices("val"))
    info = dataset_info("digits")
    assert info.num_classes == 10 and info.input_size == (1, 8, 8) and not info.is_event
    assert create_dataset("digits", input_size=16)[0][0].shape == (1, 16, 16)


def test_bad_split_rejected():
    with pytest.raises(ValueError, match="split"):
        DigitsDataset("test")
