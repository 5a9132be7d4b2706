"""evaluate(): known predictions give known top-1 / top-5 / loss, with and without accelerate."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from snn_zoo.eval import evaluate, topk_correct


class TableModel(nn.Module):
    """Returns a fixed logits row per sample; the input is the sample index."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.register_buffer("table", table)
        self.scale = nn.Parameter(torch.ones(()))  # gives the model a device

    def forward(self, x):
        return self.table[x.long().view(-1)] * self.scale


def _loader(targets, batch_size):
    idx = torch.arange(len(targets), dtype=torch.float32).view(-1, 1)
    return DataLoader(TensorDataset(idx, torch.tensor(targets)), batch_size=batch_size)


# 7 classes; the target's rank among the logits is 1, 1, 2, 5, 6, 7 for the six samples.
TABLE = torch.tensor([[7.0, 6, 5, 4, 3, 2, 1]] * 6)
TARGETS = [0, 0, 1, 4, 5, 6]


def test_known_top1_top5_and_loss():
    out = evaluate(TableModel(TABLE), _loader(TARGETS, batch_size=4), progress=False)
    assert out["num_samples"] == 6
    assert out["top1"] == pytest.approx(100 * 2 / 6)
    assert out["top5"] == pytest.approx(100 * 4 / 6)
    assert out["loss"] == pytest.approx(F.cross_entropy(TABLE, torch.tensor(TARGETS)).item(), rel=1e-6)


def test_top5_clamps_to_num_classes_and_max_batches():
    table = torch.tensor([[3.0, 2, 1]] * 6)
    out = evaluate(TableModel(table), _loader([0, 1, 2, 2, 1, 0], batch_size=2), max_batches=2, progress=False)
    assert out["num_samples"] == 4
    assert out["top1"] == 25.0 and out["top5"] == 100.0
    assert topk_correct(table, torch.tensor([2] * 6), 5).all()


def test_event_batches_reach_the_model_time_first():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)

        def forward(self, x):
            seen.append(tuple(x.shape))
            return self.fc(x.mean((0, 3, 4)))

    from snn_zoo.data import create_loader

    ds = TensorDataset(torch.rand(5, 4, 2, 3, 3), torch.zeros(5, dtype=torch.long))  # items [T=4, C, H, W]
    evaluate(Probe(), DataLoader(ds, batch_size=5), progress=False, batch_first=True)  # default collate: [B, T, ...]
    evaluate(Probe(), create_loader(ds, batch_size=5, is_training=False), progress=False)  # zoo: [T, B, ...]
    evaluate(Probe(), DataLoader(ds, batch_size=4), progress=False, batch_first=True)  # T == B: say so
    assert seen == [(4, 5, 2, 3, 3)] * 2 + [(4, 4, 2, 3, 3), (4, 1, 2, 3, 3)]


@pytest.fixture
def fresh_accelerate_state():
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)  # a singleton: do not inherit or leak another test's settings
    yield
    AcceleratorState._reset_state(True)


def test_accelerator_gathers_and_matches_single_process(fresh_accelerate_state):
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    model = acc.prepare_model(TableModel(TABLE), evaluation_mode=True)
    loader = acc.prepare_data_loader(_loader(TARGETS, batch_size=4))  # last batch is short: 4 + 2
    out = evaluate(model, loader, accelerator=acc, progress=False)
    assert out == evaluate(TableModel(TABLE), _loader(TARGETS, batch_size=4), progress=False)


def test_empty_loader_and_bad_max_batches():
    with pytest.raises(ValueError, match="empty"):
        evaluate(TableModel(TABLE), _loader([], batch_size=2), progress=False)
    with pytest.raises(ValueError, match="max_batches"):
        evaluate(TableModel(TABLE), _loader(TARGETS, batch_size=2), max_batches=0)
