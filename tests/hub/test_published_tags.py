"""A shipped checkpoint published to the (local) Hub loads through its registered 'arch.tag'."""

from pathlib import Path

import torch

import snn_zoo

NAME = "spiking_cnn_small.bkd_t4_digits"
RUN = Path(__file__).resolve().parents[2] / "checkpoints" / NAME


def test_push_shipped_checkpoint_then_load_by_tag(local_hub):
    url = snn_zoo.push_to_hub(RUN, f"snn-zoo/{NAME}", token=local_hub.token)
    assert f"snn-zoo/{NAME}" in url
    files = set(local_hub.files(f"snn-zoo/{NAME}", "main"))
    assert {"model.safetensors", "config.json", "README.md", "results.json"} <= files
    assert not any(f.endswith((".bin", ".pth", ".pt", ".pkl")) for f in files)
    x = torch.rand(5, 1, 8, 8)
    hub = snn_zoo.create_model(NAME, pretrained=True).eval()
    local = snn_zoo.create_model(f"local-dir:{RUN}", pretrained=True).eval()
    assert hub.T == 4 and torch.equal(hub(x), local(x))
    assert snn_zoo.create_model(NAME, pretrained=True, num_classes=3).num_classes == 3
