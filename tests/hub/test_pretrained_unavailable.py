"""pretrained=True for a tag whose Hub repo is missing (404) or unreachable: one clear error, at once (issue 20)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import snn_zoo
from snn_zoo.io import CheckpointError

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "official"
TAG = "sew_resnet18.sew_in1k"
TINY = {"neuron": "if", "detach_reset": True, "T": 4, "widths": [4, 8, 16, 32], "num_classes": 7}
FAST = 3.0  # seconds: the budget of one failed pretrained=True (huggingface_hub's retries took ~30 s)


def _fails_fast(name: str, **kwargs) -> str:
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        snn_zoo.create_model(name, pretrained=True, **kwargs)
    assert time.perf_counter() - start < FAST
    message = str(info.value)
    assert "\n" not in message
    return message


def test_tag_not_on_the_hub_is_one_error_with_the_line_that_works(local_hub, tmp_path):
    message = _fails_fast("sew_resnet18")  # the architecture's default tag is the ported one
    assert "'snn-zoo/sew_resnet18.sew_in1k' is not on the Hub" in message
    assert "https://figshare.com/articles/software/Spike-Element-Wise-ResNet/14752998" in message
    assert "sew18_checkpoint_319.pth" in message
    assert len([r for r in local_hub.requests if "sew_resnet18" in r[1]]) == 1  # one probe, no retries
    # The line it prints loads the authors' file (here: the golden fixture, at its tiny size).
    call = re.search(r"snn_zoo\.create_model\(.*\)\)", message).group(0)
    shutil.copy(FIXTURES / "sew_resnet18_sew_official.pth", tmp_path / "sew18_checkpoint_319.pth")
    call = call.replace("path/to/", f"{tmp_path}/")[:-1] + ", **TINY)"
    model = eval(call, {"snn_zoo": snn_zoo, "TINY": TINY})
    assert model.pretrained_cfg["file"].endswith("sew18_checkpoint_319.pth")


def test_own_tag_not_on_the_hub_points_at_the_shipped_folder(local_hub):
    message = _fails_fast("spiking_cnn_small.bkd_t4_digits")
    assert "local-dir:checkpoints/spiking_cnn_small.bkd_t4_digits" in message


def test_unreachable_hub_fails_at_once(local_hub, monkeypatch):
    from huggingface_hub import constants

    closed = "http://127.0.0.1:9"  # nothing listens there
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", closed + "/{repo_id}/resolve/{revision}/{filename}")
    message = _fails_fast(TAG)
    assert "cannot be reached" in message and "pretrained_cfg_overlay=dict(file=" in message
    assert "cannot be reached" in _fails_fast("hf-hub:snn-zoo/anything")
    import timm  # timm's own create_model goes through the zoo's builder: the same one error

    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="cannot be reached.*pretrained_cfg_overlay"):
        timm.create_model(TAG, pretrained=True)
    assert time.perf_counter() - start < FAST


def test_offline_fails_at_once(local_hub):
    """HF_HUB_OFFLINE is read at import: a fresh process, timing only the create_model call."""
    code = (
        "import time, snn_zoo\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    snn_zoo.create_model({TAG!r}, pretrained=True)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, time.perf_counter() - t, str(e), sep='|')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    kind, seconds, message = out.stdout.strip().split("|", 2)
    assert kind == "CheckpointError" and float(seconds) < FAST, out.stdout + out.stderr
    assert "HF_HUB_OFFLINE is set" in message and "sew18_checkpoint_319.pth" in message
    assert "Retrying" not in out.stderr
    assert not local_hub.requests  # offline: nothing asked


def test_cached_repo_still_loads_offline_path_untouched(local_hub, tmp_path):
    """A tag whose files are on the (local) Hub loads as before: the probe only adds one HEAD."""
    from snn_zoo.hub import push_to_hub, save_pretrained

    torch.manual_seed(0)
    run = save_pretrained(snn_zoo.create_model("spiking_cnn_small", T=4).eval(), tmp_path / "run")
    push_to_hub(run, "snn-zoo/spiking_cnn_small.bkd_t4_digits", token=local_hub.token)
    model = snn_zoo.create_model("spiking_cnn_small.bkd_t4_digits", pretrained=True)
    assert json.loads((run / "config.json").read_text())["architecture"] == "spiking_cnn_small"
    assert model.T == 4
