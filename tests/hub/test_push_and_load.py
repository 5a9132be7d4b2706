"""Publish and load zoo checkpoints through the REAL huggingface_hub and timm clients.

Everything talks HTTP to ``LocalHubServer`` (see conftest.py's ``local_hub``); nothing in the client
is mocked. Subprocesses (offline mode, the CLI) inherit the fixture's HF_* environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, metadata_load

import snn_zoo
from snn_zoo.hub import CheckpointError, push_to_hub, render_model_card, save_pretrained
from snn_zoo.io import PICKLE_SUFFIXES
from snn_zoo.models._builder import snn_cfg

try:  # tests/hub may or may not be a package, depending on how the suite is laid out
    from .registry_tags import add_pretrained_tag, remove_pretrained_tag
except ImportError:
    from registry_tags import add_pretrained_tag, remove_pretrained_tag

REPO_ROOT = Path(__file__).resolve().parents[2]
TAG_NAME = "spiking_cnn_tiny.test_t2_digits"
TAG_REPO = f"snn-zoo/{TAG_NAME}"

RESULTS = {
    "name": "spiking_cnn_tiny.t2_digits",
    "model": "spiking_cnn_tiny",
    "dataset": "digits",
    "method": "kd",
    "top1": 91.234,
    "top5": 99.5,
    "T": 2,
    "neuron": "lif",
    "param_count": 6922,
    "teacher": "resnet18",
    "teacher_hub_id": "timm/resnet18.a1_in1k",
    "teacher_top1": 95.1,
    "seed": 0,
    "epochs": 3,
    "recipe": "digits_kd",
    "command": "python hub_scripts/distill.py --config digits_kd",
}


# -- helpers ---------------------------------------------------------------------------------------


def _tiny(seed: int = 0, arch: str = "spiking_cnn_tiny") -> torch.nn.Module:
    torch.manual_seed(seed)
    model = snn_zoo.create_model(arch, T=2).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong load cannot go unnoticed
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _x() -> torch.Tensor:
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(123)) * 4


@torch.no_grad()
def _out(model: torch.nn.Module, x: torch.Tensor | None = None) -> torch.Tensor:
    return model.eval()(_x() if x is None else x)


@torch.no_grad()
def _perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    new = _tiny(0)
    new.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(seed)
    for p in new.parameters():
        p.add_(torch.randn(p.shape, generator=g) * 0.5)
    assert not torch.equal(_out(new), _out(model))
    return new


def _sha(commit_url: str) -> str:
    return commit_url.rstrip("/").rsplit("/", 1)[1]


def _folder_bytes(model: torch.nn.Module, tmp_path: Path, name: str) -> dict[str, bytes]:
    folder = save_pretrained(model, tmp_path / name)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _upload_raw(server, repo_id: str, files: dict[str, bytes]) -> str:
    """Commit ``files`` with the plain huggingface_hub client (no snn_zoo checks); returns the sha."""
    api = HfApi(token=server.token)
    api.create_repo(repo_id, exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in files.items()]
    return api.create_commit(repo_id, operations=ops, commit_message="raw upload").oid


def _writes(server) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in server.requests if method in ("POST", "PUT", "DELETE")]


def _make_run_dir(path: Path, model: torch.nn.Module) -> Path:
    save_pretrained(model, path)
    (path / "results.json").write_text(json.dumps(RESULTS))
    (path / "optimizer.bin").write_bytes(b"optimizer state, never uploaded")
    torch.save(model.state_dict(), path / "pytorch_model.bin")
    (path / "train.log").write_text("epoch 1 ...\n")
    return path


def _load_cli():
    spec = importlib.util.spec_from_file_location("push_to_hub_cli", REPO_ROOT / "hub_scripts" / "push_to_hub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def register_test_tag() -> None:
    """Register 'spiking_cnn_tiny.test_t2_digits' like a module's default_cfgs entry would."""
    add_pretrained_tag(
        TAG_NAME,
        snn_cfg(
            hf_hub_id=TAG_REPO,
            num_classes=10,
            input_size=(1, 8, 8),
            mean=(0.0,),
            std=(1.0,),
            crop_pct=1.0,
            first_conv="stem.conv",
            classifier="fc",
            snn_args=dict(T=2),
        ),
    )


@pytest.fixture
def test_tag() -> Iterator[str]:
    register_test_tag()
    try:
        yield TAG_NAME
    finally:
        remove_pretrained_tag(TAG_NAME)


# -- round trips -----------------------------------------------------------------------------------


def test_push_then_load_with_snn_zoo_and_timm(local_hub) -> None:
    model = _tiny(0)
    url = push_to_hub(model, "snn-zoo/tiny", token=local_hub.token)
    assert url.startswith(f"{local_hub.url}/snn-zoo/tiny/commit/")
    writes = [(method, path, auth) for method, path, auth in local_hub.requests if method == "POST"]
    assert writes and all(auth == f"Bearer {local_hub.token}" for _, _, auth in writes)

    files = HfApi().list_repo_files("snn-zoo/tiny")
    assert {"model.safetensors", "config.json"} <= set(files)
    assert set(files) == set(local_hub.files("snn-zoo/tiny"))
    assert not [f for f in files if f.endswith(PICKLE_SUFFIXES)], files
    config = json.loads(local_hub.files("snn-zoo/tiny")["config.json"])
    assert config["architecture"] == "spiking_cnn_tiny"
    assert config["model_args"]["T"] == 2

    expected = _out(model)
    assert expected.abs().sum() > 0
    ours = snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True)
    theirs = timm.create_model("hf-hub:snn-zoo/tiny", pretrained=True)
    assert ours.T == theirs.T == 2  # T came from config.json, not the class default (4)
    assert torch.equal(_out(ours), expected)
    assert torch.equal(_out(theirs), expected)
    assert local_hub.unhandled == []


def test_repush_revision_pinning_and_branch(local_hub) -> None:
    first, second, third = _tiny(0), None, None
    sha1 = _sha(push_to_hub(first, "snn-zoo/tiny", token=local_hub.token))
    assert torch.equal(_out(snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True)), _out(first))

    second = _perturbed(first, seed=1)
    sha2 = _sha(push_to_hub(second, "snn-zoo/tiny", token=local_hub.token, commit_message="Retrained"))
    assert sha2 != sha1
    assert HfApi().list_repo_commits("snn-zoo/tiny")[0].title == "Retrained"
    latest = snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True)
    assert torch.equal(_out(latest), _out(second))
    pinned = snn_zoo.create_model(f"hf-hub:snn-zoo/tiny@{sha1}", pretrained=True)
    assert torch.equal(_out(pinned), _out(first))
    assert torch.equal(_out(timm.create_model(f"hf-hub:snn-zoo/tiny@{sha1}", pretrained=True)), _out(first))

    third = _perturbed(first, seed=2)
    push_to_hub(third, "snn-zoo/tiny", token=local_hub.token, revision="v2")
    assert "v2" in [b.name for b in HfApi().list_repo_refs("snn-zoo/tiny").branches]
    assert torch.equal(_out(snn_zoo.create_model("hf-hub:snn-zoo/tiny@v2", pretrained=True)), _out(third))
    # main is untouched by the branch push
    assert torch.equal(_out(snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True)), _out(second))
    with pytest.raises(CheckpointError, match="no revision 'v3'"):
        snn_zoo.create_model("hf-hub:snn-zoo/tiny@v3", pretrained=True)


def test_registered_pretrained_tag(local_hub, test_tag) -> None:
    assert test_tag in snn_zoo.list_pretrained()
    assert test_tag in timm.list_models(pretrained=True)
    model = _tiny(3)
    push_to_hub(model, TAG_REPO, token=local_hub.token)

    loaded = snn_zoo.create_model(test_tag, pretrained=True)
    assert loaded.T == 2  # from the tag's snn_args; the class default is 4
    assert loaded.pretrained_cfg["hf_hub_id"] == TAG_REPO and loaded.pretrained_cfg["tag"] == "test_t2_digits"
    assert torch.equal(_out(loaded), _out(model))
    assert torch.equal(_out(timm.create_model(test_tag, pretrained=True)), _out(model))
    assert snn_zoo.create_model(test_tag, pretrained=True, T=3).T == 3  # user kwargs win over the tag's

    # num_classes: timm drops the classifier and builds a fresh one; everything else is loaded.
    five = snn_zoo.create_model(test_tag, pretrained=True, num_classes=5).eval()
    assert five.fc.out_features == 5 and _out(five).shape == (4, 5)
    sd, sd5 = model.state_dict(), five.state_dict()
    assert all(torch.equal(sd[k], sd5[k]) for k in sd if not k.startswith("fc."))
    with torch.no_grad():
        assert torch.equal(five.forward_features(_x()), model.forward_features(_x()))

    # in_chans: timm repeats the 1-channel stem weights and scales them by 1/3.
    rgb = snn_zoo.create_model(test_tag, pretrained=True, in_chans=3).eval()
    w, w3 = model.stem.conv.weight, rgb.stem.conv.weight
    assert w3.shape == (w.shape[0], 3, *w.shape[2:])
    assert torch.allclose(w3, w.repeat(1, 3, 1, 1) / 3)
    assert all(torch.equal(sd[k], v) for k, v in rgb.state_dict().items() if k != "stem.conv.weight")
    gray3 = _x().expand(-1, 3, -1, -1)
    assert torch.allclose(_out(rgb, gray3), _out(model), atol=1e-4)


def test_tag_cleanup_restores_registry() -> None:
    before = (snn_zoo.list_pretrained(), timm.list_models("spiking_cnn_tiny*", include_tags=True))
    register_test_tag()
    remove_pretrained_tag(TAG_NAME)
    assert (snn_zoo.list_pretrained(), timm.list_models("spiking_cnn_tiny*", include_tags=True)) == before
    with pytest.raises(RuntimeError, match="Invalid pretrained tag"):
        timm.models.get_pretrained_cfg(TAG_NAME)
    with pytest.raises(ValueError, match="No pretrained checkpoint"):
        snn_zoo.create_model(TAG_NAME, pretrained=True)


# -- offline ---------------------------------------------------------------------------------------

OFFLINE_SCRIPT = r"""
import json, sys, torch, snn_zoo
from snn_zoo.hub import CheckpointError
x, expected = torch.load(sys.argv[1])
model = snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True).eval()
with torch.no_grad():
    same = torch.equal(model(x), expected)
errors = []
for name in ("hf-hub:snn-zoo/never-downloaded", "hf-hub:snn-zoo/tiny@v2"):
    try:
        snn_zoo.create_model(name, pretrained=True)
        errors.append(None)
    except CheckpointError as e:
        errors.append(str(e))
print(json.dumps({"same": same, "errors": errors}))
"""


def test_offline_uses_cache_and_explains_missing_files(local_hub, tmp_path: Path) -> None:
    model = _tiny(0)
    push_to_hub(model, "snn-zoo/tiny", token=local_hub.token)
    push_to_hub(_tiny(1), "snn-zoo/never-downloaded", token=local_hub.token)
    push_to_hub(_tiny(2), "snn-zoo/tiny", token=local_hub.token, revision="v2")  # exists, never downloaded
    snn_zoo.create_model("hf-hub:snn-zoo/tiny", pretrained=True)  # fills the cache
    torch.save((_x(), _out(model)), tmp_path / "io.pt")
    n_requests = len(local_hub.requests)

    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    assert env["HF_HUB_CACHE"].startswith(str(tmp_path))  # the fixture's cache, inherited
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path / "io.pt")],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["same"] is True
    never, other_revision = result["errors"]
    assert never is not None and other_revision is not None
    assert "'snn-zoo/never-downloaded'" in never and "'config.json'" in never
    assert "HF_HUB_OFFLINE" in never and "`hf download snn-zoo/never-downloaded config.json`" in never
    assert "`hf download snn-zoo/tiny config.json --revision v2`" in other_revision
    assert len(local_hub.requests) == n_requests  # offline means offline


# -- bad input -------------------------------------------------------------------------------------


def test_missing_safetensors(local_hub, tmp_path: Path) -> None:
    files = _folder_bytes(_tiny(), tmp_path, "good")
    _upload_raw(local_hub, "snn-zoo/no-weights", {"config.json": files["config.json"]})
    with pytest.raises(CheckpointError, match=r"'snn-zoo/no-weights'.*has no model\.safetensors"):
        snn_zoo.create_model("hf-hub:snn-zoo/no-weights", pretrained=True)

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(files["config.json"])
    torch.save(_tiny().state_dict(), run / "pytorch_model.bin")
    local_hub.requests.clear()
    with pytest.raises(CheckpointError, match=r"no model\.safetensors \(only pickles \['pytorch_model\.bin'\]"):
        push_to_hub(run, "snn-zoo/pickle-run", token=local_hub.token)
    assert local_hub.requests == [] and ("model", "snn-zoo/pickle-run") not in local_hub.repos


def test_truncated_safetensors(local_hub, tmp_path: Path) -> None:
    files = _folder_bytes(_tiny(), tmp_path, "good")
    half = files["model.safetensors"][: len(files["model.safetensors"]) // 2]
    _upload_raw(local_hub, "snn-zoo/truncated", {"config.json": files["config.json"], "model.safetensors": half})
    with pytest.raises(CheckpointError, match="corrupt or truncated") as excinfo:
        snn_zoo.create_model("hf-hub:snn-zoo/truncated", pretrained=True)
    assert "snn-zoo/truncated" in str(excinfo.value)

    run = tmp_path / "good"
    (run / "model.safetensors").write_bytes(half)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        snn_zoo.create_model(f"local-dir:{run}", pretrained=True)
    local_hub.requests.clear()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        push_to_hub(run, "snn-zoo/truncated-push", token=local_hub.token)
    assert local_hub.requests == []  # the staged folder failed validation: not a single request


def test_wrong_tensor_shapes(local_hub, tmp_path: Path) -> None:
    tiny_config = _folder_bytes(_tiny(), tmp_path, "tiny")["config.json"]
    run = save_pretrained(_tiny(0, arch="spiking_cnn_small"), tmp_path / "small")
    (run / "config.json").write_bytes(tiny_config)  # says spiking_cnn_tiny; weights are width 16

    local_hub.requests.clear()
    with pytest.raises(CheckpointError, match="(?s)does not load into its architecture.*size mismatch"):
        push_to_hub(run, "snn-zoo/mismatch", token=local_hub.token)
    assert local_hub.requests == []

    _upload_raw(local_hub, "snn-zoo/mismatch", {p.name: p.read_bytes() for p in run.iterdir()})
    with pytest.raises(
        CheckpointError, match="(?s)config.json of Hub repo 'snn-zoo/mismatch'.*size mismatch for stem.conv.weight"
    ):
        snn_zoo.create_model("hf-hub:snn-zoo/mismatch", pretrained=True)


@pytest.mark.parametrize("arch", ["spiking_cnn_nope", "resnet18"])
def test_unknown_architecture(local_hub, tmp_path: Path, arch: str) -> None:
    files = _folder_bytes(_tiny(), tmp_path, "good")
    config = json.loads(files["config.json"])
    config["architecture"] = arch
    _upload_raw(local_hub, "snn-zoo/unknown-arch", {**files, "config.json": json.dumps(config).encode()})
    with pytest.raises(CheckpointError, match=f"architecture '{arch}', which is not an snn_zoo model"):
        snn_zoo.create_model("hf-hub:snn-zoo/unknown-arch", pretrained=True)


def test_missing_config(local_hub, tmp_path: Path) -> None:
    files = _folder_bytes(_tiny(), tmp_path, "good")
    _upload_raw(local_hub, "snn-zoo/no-config", {"model.safetensors": files["model.safetensors"]})
    with pytest.raises(CheckpointError, match=r"'snn-zoo/no-config'.*has no config\.json"):
        snn_zoo.create_model("hf-hub:snn-zoo/no-config", pretrained=True)


def test_pickle_only_repo_needs_allow_pickle(local_hub, tmp_path: Path) -> None:
    model = _tiny(5)
    files = _folder_bytes(model, tmp_path, "good")
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    _upload_raw(
        local_hub,
        "snn-zoo/pickle-only",
        {"config.json": files["config.json"], "pytorch_model.bin": (tmp_path / "pytorch_model.bin").read_bytes()},
    )
    with pytest.raises(CheckpointError, match=r"only has pickle weights \['pytorch_model.bin'\].*allow_pickle=True"):
        snn_zoo.create_model("hf-hub:snn-zoo/pickle-only", pretrained=True)
    loaded = snn_zoo.create_model("hf-hub:snn-zoo/pickle-only", pretrained=True, allow_pickle=True)
    assert torch.equal(_out(loaded), _out(model))


def test_push_without_token_sends_nothing(local_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    assert not Path(os.environ["HF_TOKEN_PATH"]).exists()
    with pytest.raises(CheckpointError, match="No Hugging Face token found.*nothing was uploaded"):
        push_to_hub(_tiny(), "snn-zoo/tiny")
    assert local_hub.requests == [] and local_hub.repos == {}


# -- the CLI ---------------------------------------------------------------------------------------


def test_cli_dry_run_stages_exactly_the_upload(local_hub, tmp_path: Path, capsys) -> None:
    cli = _load_cli()
    model = _tiny(0)
    run = _make_run_dir(tmp_path / "run", model)

    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny", "--dry-run"]) == 0
    out = run / "hub_upload"
    names = sorted(p.name for p in out.iterdir())
    # no optimizer.bin, no pickle; model.nir: the NIR export of a model NIR can express (issue 19)
    assert names == ["README.md", "config.json", "model.nir", "model.safetensors", "results.json"]
    printed = capsys.readouterr().out
    for name in names:
        assert f"{name}" in printed and str((out / name).stat().st_size) in printed
    upload_list, _, left_out_line = printed.partition("Left out")
    assert "optimizer.bin" not in upload_list and "pytorch_model.bin" not in upload_list
    # Pickles left out of the upload are listed as left out (issue 11).
    assert "optimizer.bin (pickle: never uploaded)" in left_out_line and "pytorch_model.bin (pickle" in left_out_line
    assert _writes(local_hub) == [] and local_hub.repos == {}

    meta = metadata_load(out / "README.md")
    assert meta["library_name"] == "timm"
    assert "spiking-neural-network" in meta["tags"]
    assert meta["base_model"] == RESULTS["teacher_hub_id"]
    assert meta["model-index"][0]["results"][0]["metrics"][0]["value"] == 91.23
    assert json.loads((out / "results.json").read_text()) == RESULTS
    assert torch.equal(_out(snn_zoo.create_model(f"local-dir:{out}", pretrained=True)), _out(model))

    # Again: the default folder is replaced, not merged with stale files.
    (out / "stale.csv").write_text("old")
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny", "--dry-run"]) == 0
    assert sorted(p.name for p in out.iterdir()) == names
    # An explicit, non-empty DIR is never overwritten.
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny", "--dry-run", str(run)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_cli_errors_are_one_line_and_exit_2(local_hub, tmp_path: Path, capsys, monkeypatch) -> None:
    cli = _load_cli()
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    run = save_pretrained(_tiny(), tmp_path / "run")
    (run / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes()[:100])
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "corrupt or truncated" in err and len(err.splitlines()) == 1
    assert str(run) in err and "snn_zoo_push_" not in err  # names the user's folder, not a temp staging copy
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny", "--dry-run"]) == 2
    assert not (run / "hub_upload").exists()  # a failed dry run leaves no half-staged folder
    assert "hub_upload" not in capsys.readouterr().err
    assert _writes(local_hub) == []

    # A multi-line error (torch's list of size mismatches) still prints as one line.
    tiny_config = (run / "config.json").read_bytes()
    save_pretrained(_tiny(0, arch="spiking_cnn_small"), run)
    (run / "config.json").write_bytes(tiny_config)
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "size mismatch for stem.conv.weight" in err
    assert _writes(local_hub) == []

    missing = tmp_path / "no_such_run"
    assert cli.main([str(missing), "--repo-id", "snn-zoo/tiny", "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.exists()

    # A wrong token: the Hub answers 401; one line, the token never shown.
    save_pretrained(_tiny(), run)
    local_hub.require_token = True
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_secret_token")
    assert cli.main([str(run), "--repo-id", "snn-zoo/tiny"]) == 2
    captured = capsys.readouterr()
    assert "hf_wrong_secret_token" not in captured.out + captured.err
    assert captured.err.startswith("error: the Hub refused") and len(captured.err.strip().splitlines()) == 1
    assert local_hub.repos == {}


def test_cli_real_push(local_hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _tiny(0)
    run = _make_run_dir(tmp_path / "run", model)
    env = {
        **os.environ,
        "HF_TOKEN": local_hub.token,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "hub_scripts" / "push_to_hub.py"),
            str(run),
            "--repo-id",
            "snn-zoo/cli",
            "--private",
            "--revision",
            "v2",
            "--commit-message",
            "CLI push",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert local_hub.token not in proc.stdout + proc.stderr
    assert local_hub.repos[("model", "snn-zoo/cli")].private
    api = HfApi(token=local_hub.token)  # private: anonymous reads get 404, like on the Hub
    head = {b.name: b.target_commit for b in api.list_repo_refs("snn-zoo/cli").branches}["v2"]
    assert proc.stdout.strip().splitlines()[-1] == f"{local_hub.url}/snn-zoo/cli/commit/{head}"
    assert api.list_repo_commits("snn-zoo/cli", revision="v2")[0].title == "CLI push"
    files = local_hub.files("snn-zoo/cli", "v2")
    staged = ["README.md", "config.json", "model.nir", "model.safetensors", "results.json"]  # model.nir: issue 19
    assert sorted(files) == [".gitattributes", *staged]
    assert files["model.safetensors"] == (run / "model.safetensors").read_bytes()

    with pytest.raises(CheckpointError, match="was not found"):  # no token: the private repo is invisible
        snn_zoo.create_model("hf-hub:snn-zoo/cli@v2", pretrained=True)
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    assert torch.equal(_out(snn_zoo.create_model("hf-hub:snn-zoo/cli@v2", pretrained=True)), _out(model))


# -- model card ------------------------------------------------------------------------------------


def test_model_card_front_matter(local_hub, tmp_path: Path) -> None:
    content = render_model_card(RESULTS, repo_id="snn-zoo/tiny")
    card = ModelCard(content)
    assert card.data.base_model == "timm/resnet18.a1_in1k"
    assert card.data.library_name == "timm" and "spiking-neural-network" in card.data.tags
    assert card.data.eval_results[0].metric_value == 91.23
    assert 'create_model("hf-hub:snn-zoo/tiny", pretrained=True)' in content
    card.validate()  # POST /api/validate-yaml on the local server
    (tmp_path / "README.md").write_text(content)
    assert metadata_load(tmp_path / "README.md")["base_model"] == "timm/resnet18.a1_in1k"

    no_teacher = {k: v for k, v in RESULTS.items() if k != "teacher_hub_id"}
    assert "base_model" not in ModelCard(render_model_card(no_teacher)).data.to_dict()
