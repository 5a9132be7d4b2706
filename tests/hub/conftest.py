"""Fixtures pointing the real huggingface_hub client (and timm, which calls it) at a local Hub server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # tests/hub may or may not be a package, depending on how the suite is laid out
    from .local_hub_server import LocalHubServer
except ImportError:
    from local_hub_server import LocalHubServer


@pytest.fixture
def local_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHubServer]:
    """Start a fresh, empty :class:`LocalHubServer` and point huggingface_hub at it for one test.

    huggingface_hub reads its environment once, at import time, into ``huggingface_hub.constants``,
    so setting ``HF_ENDPOINT`` here would be too late for this process. The fixture therefore does both:

    * environment variables (inherited by subprocesses, which import huggingface_hub afresh):
      ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_TOKEN_PATH`` (all under ``tmp_path``),
      ``HF_HUB_DISABLE_TELEMETRY=1``, ``HF_HUB_DISABLE_XET=1``, ``127.0.0.1`` added to ``NO_PROXY``;
      ``HF_TOKEN``/``HF_HUB_OFFLINE`` removed;
    * the same settings on ``huggingface_hub.constants`` for this process, which the client reads at
      call time: ``ENDPOINT`` and ``HUGGINGFACE_CO_URL_TEMPLATE`` (used by ``hf_hub_download`` when
      no ``endpoint=`` is given, e.g. from timm), cache/token paths, ``HF_HUB_DISABLE_TELEMETRY`` (else
      the user-agent code fetches ``/api/agent-harnesses``) and ``HF_HUB_DISABLE_XET`` (so that
      ``upload_folder`` takes the plain ``create_commit`` path; its hf_xet pipeline works too);
    * ``huggingface_hub.hf_api.api.endpoint``: the module-level helpers (``huggingface_hub.model_info``,
      ``create_repo``, ...) are bound methods of one ``HfApi`` created at import time.

    ``HfApi()`` objects created inside the test pick the endpoint up from the constants. All of this is
    configuration, restored by ``monkeypatch``; the client itself is not mocked. To test offline mode,
    run the code in a subprocess with ``HF_HUB_OFFLINE=1`` (it inherits the cache location).
    """
    import huggingface_hub
    from huggingface_hub import constants

    home, cache = tmp_path / "hf_home", tmp_path / "hf_home" / "hub"
    with LocalHubServer() as server:
        env = {
            "HF_ENDPOINT": server.url,
            "HF_HOME": str(home),
            "HF_HUB_CACHE": str(cache),
            "HF_TOKEN_PATH": str(home / "token"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # Behind an HTTP proxy, requests to the local server must bypass it; the client's pooled
        # httpx session reads proxy settings once, hence close_session() (it is recreated lazily).
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get(name)])))
        huggingface_hub.close_session()
        for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(name, raising=False)

        settings = {
            "ENDPOINT": server.url,
            "HUGGINGFACE_CO_URL_TEMPLATE": server.url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HOME": str(home),
            "HF_HUB_CACHE": str(cache),
            "HUGGINGFACE_HUB_CACHE": str(cache),
            "HF_ASSETS_CACHE": str(home / "assets"),
            "HF_XET_CACHE": str(home / "xet"),
            "HF_TOKEN_PATH": str(home / "token"),
            "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
            "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
            "HF_HUB_OFFLINE": False,
            "HF_HUB_DISABLE_TELEMETRY": True,
            "HF_HUB_DISABLE_XET": True,
        }
        for name, value in settings.items():
            monkeypatch.setattr(constants, name, value)
        monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", server.url)
        yield server
