"""The local Hub server against the real huggingface_hub client and timm's hub helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors.torch import load_file, save_file

README = "---\nlicense: apache-2.0\ntags:\n- spiking\n---\n# Tiny model\n"


def _make_folder(path: Path) -> dict[str, bytes]:
    """A small model folder; returns its files' bytes by repo path."""
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_file({"weight": torch.randn(4, 3), "bias": torch.zeros(4)}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"architecture": "tiny", "num_classes": 4}))
    (path / "README.md").write_text(README)
    (path / "sub").mkdir(exist_ok=True)
    (path / "sub" / "notes.txt").write_text("nested file\n")
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_create_repo(local_hub) -> None:
    api = HfApi()
    url = api.create_repo("org/tiny")
    assert url.repo_id == "org/tiny" and url.startswith(local_hub.url)
    assert api.create_repo("org/tiny", exist_ok=True).repo_id == "org/tiny"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo("org/tiny")
    assert excinfo.value.response.status_code == 409
    assert api.repo_exists("org/tiny") and not api.repo_exists("org/other")
    assert api.list_repo_files("org/tiny") == [".gitattributes"]  # like the Hub, an initial commit
    assert local_hub.unhandled == []


def test_upload_folder_and_download_bit_identical(local_hub, tmp_path: Path) -> None:
    files = _make_folder(tmp_path / "model")
    api = HfApi()
    api.create_repo("org/tiny")
    info = api.upload_folder(repo_id="org/tiny", folder_path=tmp_path / "model", commit_message="Add model")
    assert len(info.oid) == 40 and info.repo_url.repo_id == "org/tiny"

    assert local_hub.files("org/tiny", info.oid).keys() == files.keys() | {".gitattributes"}
    for name, content in files.items():
        assert Path(hf_hub_download("org/tiny", name)).read_bytes() == content
    assert sorted(api.list_repo_files("org/tiny")) == sorted(files.keys() | {".gitattributes"})
    assert api.model_info("org/tiny").sha == info.oid
    assert api.file_exists("org/tiny", "sub/notes.txt") and not api.file_exists("org/tiny", "nope.txt")

    snapshot = Path(snapshot_download("org/tiny"))
    assert snapshot.name == info.oid
    assert (snapshot / "sub" / "notes.txt").read_bytes() == files["sub/notes.txt"]
    tensors = load_file(str(snapshot / "model.safetensors"))
    assert torch.equal(tensors["bias"], torch.zeros(4))
    assert local_hub.unhandled == []


def test_revisions_branches_and_tags(local_hub, tmp_path: Path) -> None:
    _make_folder(tmp_path / "model")
    api = HfApi()
    api.create_repo("org/tiny")
    first = api.upload_folder(repo_id="org/tiny", folder_path=tmp_path / "model").oid
    second = api.upload_file(path_or_fileobj=b'{"num_classes": 10}', path_in_repo="config.json", repo_id="org/tiny").oid
    assert second != first

    assert Path(hf_hub_download("org/tiny", "config.json", revision=first)).read_text() == json.dumps(
        {"architecture": "tiny", "num_classes": 4}
    )
    assert Path(hf_hub_download("org/tiny", "config.json")).read_bytes() == b'{"num_classes": 10}'
    assert [c.commit_id for c in api.list_repo_commits("org/tiny")][:2] == [second, first]

    # Committing to an unknown branch fails like on the Hub; create_branch makes it work.
    # A "/" in the branch name checks that URL-quoted revisions are decoded.
    with pytest.raises(RevisionNotFoundError):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="org/tiny", revision="exp/dev")
    api.create_branch("org/tiny", branch="exp/dev", revision=first)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="org/tiny", revision="exp/dev")
    assert Path(hf_hub_download("org/tiny", "x.txt", revision="exp/dev")).read_bytes() == b"x"
    assert not api.file_exists("org/tiny", "x.txt")  # main is untouched

    api.create_tag("org/tiny", tag="v1", revision=first)
    assert api.model_info("org/tiny", revision="v1").sha == first
    assert {b.name for b in api.list_repo_refs("org/tiny").branches} == {"main", "exp/dev"}

    # Deleting a file is a commit too; the old revision still serves it.
    api.delete_file("sub/notes.txt", repo_id="org/tiny")
    assert "sub/notes.txt" not in api.list_repo_files("org/tiny")
    assert Path(hf_hub_download("org/tiny", "sub/notes.txt", revision=first)).read_text() == "nested file\n"
    assert local_hub.unhandled == []


def test_missing_entry_revision_and_repo(local_hub) -> None:
    HfApi().create_repo("org/tiny")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/tiny", "missing.bin")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/tiny", ".gitattributes", revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/does-not-exist", "config.json")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("org/does-not-exist")


def test_require_token_and_private_repos(local_hub) -> None:
    local_hub.require_token = True
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(token="hf_wrong").create_repo("org/tiny")
    assert excinfo.value.response.status_code == 401
    HfApi(token=local_hub.token).create_repo("org/tiny")
    assert local_hub.requests[-1][2] == f"Bearer {local_hub.token}"
    # Reads of public repos need no token; private repos look missing without it, like on the Hub.
    assert HfApi(token=False).list_repo_files("org/tiny") == [".gitattributes"]
    HfApi(token=local_hub.token).create_repo("org/secret", private=True)
    assert HfApi(token=local_hub.token).model_info("org/secret").private
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=False).model_info("org/secret")


def test_unknown_route_answers_501(local_hub) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(f"{local_hub.url}/api/spaces/org/app/runtime")
    assert excinfo.value.code == 501 and b"does not implement" in excinfo.value.read()
    assert local_hub.unhandled == ["GET /api/spaces/org/app/runtime"]


def test_offline_mode_uses_prefilled_cache(local_hub, tmp_path: Path) -> None:
    api = HfApi()
    api.create_repo("org/tiny")
    api.upload_file(path_or_fileobj=b'{"a": 1}', path_in_repo="config.json", repo_id="org/tiny")
    cached = hf_hub_download("org/tiny", "config.json")

    script = "from huggingface_hub import hf_hub_download; print(hf_hub_download('org/tiny', 'config.json'))"
    # Port 9 (discard) on localhost refuses connections: nothing could be fetched even if offline mode leaked.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == cached
    assert Path(cached).read_bytes() == b'{"a": 1}'


def test_timm_push_and_create_model_from_hub(local_hub) -> None:
    timm = pytest.importorskip("timm")
    from timm.models import load_model_config_from_hf, push_to_hf_hub

    model = timm.create_model("test_vit", pretrained=False, num_classes=3).eval()
    push_to_hf_hub(model, "org/tiny-vit", safe_serialization=True)
    assert {"config.json", "model.safetensors", "README.md"} <= set(local_hub.files("org/tiny-vit"))

    pretrained_cfg, model_name, _ = load_model_config_from_hf("org/tiny-vit")
    assert model_name == "test_vit" and pretrained_cfg["num_classes"] == 3

    loaded = timm.create_model("hf-hub:org/tiny-vit", pretrained=True).eval()
    expected, actual = model.state_dict(), loaded.state_dict()
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
    assert local_hub.unhandled == []


def test_upload_folder_through_hf_xet_pipeline(local_hub, tmp_path: Path, monkeypatch) -> None:
    """With hf_xet installed and not disabled, upload_folder takes its pipelined path; it must work too."""
    pytest.importorskip("hf_xet")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    files = _make_folder(tmp_path / "model")
    HfApi().create_repo("org/tiny")
    oid = HfApi().upload_folder(repo_id="org/tiny", folder_path=tmp_path / "model").oid
    assert local_hub.files("org/tiny", oid).items() >= files.items()
    assert Path(hf_hub_download("org/tiny", "model.safetensors")).read_bytes() == files["model.safetensors"]
    assert local_hub.unhandled == []
