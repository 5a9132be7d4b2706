"""create_loader: seeded shuffles, drop_last in training, time-first event batches."""

import torch
from torch.utils.data import TensorDataset

from snn_zoo.data import create_dataset, create_loader


def test_create_loader_is_seeded():
    ds = create_dataset("digits", split="train")
    first = lambda seed: next(iter(create_loader(ds, 32, is_training=True, seed=seed)))[1]
    assert torch.equal(first(0), first(0)) and not torch.equal(first(0), first(1))
    train_loader = create_loader(ds, 100, is_training=True)
    assert len(train_loader) == len(ds) // 100  # drop_last in training
    val = create_loader(create_dataset("digits", split="val"), 100, is_training=False)
    assert len(val) == 4 and next(iter(val))[0].shape == (100, 1, 8, 8)


def test_event_batches_are_time_first_even_when_T_equals_B():
    items = torch.arange(4 * 4 * 2 * 3 * 3, dtype=torch.float32).reshape(4, 4, 2, 3, 3)  # 4 items [T=4, C, H, W]
    ds = TensorDataset(items, torch.arange(4))
    x, y = next(iter(create_loader(ds, batch_size=4, is_training=False)))
    assert x.shape == (4, 4, 2, 3, 3) and y.tolist() == [0, 1, 2, 3]
    assert torch.equal(x[:, 1], items[1])  # sample 1 over all time steps: time-first, not guessed
    event = create_dataset("digits_dvs", split="val", T=3)
    assert next(iter(create_loader(event, 8, is_training=False)))[0].shape == (3, 8, 2, 16, 16)
