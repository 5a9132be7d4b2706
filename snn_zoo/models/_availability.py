"""Whether a registered tag's Hub repo can be used, asked once and at once (no retry storm).

``snn_zoo.create_model`` and the model builder (so ``timm.create_model`` too) call
:func:`check_registered_tag` before timm downloads a tag's weights: a repo that is not on the Hub, or
a Hub that cannot be reached while the files are not in the cache, is one :class:`CheckpointError`
within a few seconds that names what is missing and the line that loads the authors' file instead.
"""

from __future__ import annotations

from collections.abc import Callable

from ..io import WEIGHTS_NAME, CheckpointError

__all__ = ["HUB_PROBE_TIMEOUT", "check_registered_tag", "probe_hub", "unavailable_error"]

#: Seconds the one Hub probe of ``pretrained=True`` waits before calling the Hub unreachable.
HUB_PROBE_TIMEOUT = 5.0


def unavailable_error(name: str, repo_id: str, reason: str) -> CheckpointError:
    """One error for a tag whose Hub repo cannot be used: what is missing and the line that works instead."""
    from ._authors_files import authors_file
    from ._ported import ported_weights

    info = ported_weights().get(name)
    if info is not None:
        names = authors_file(name).names
        file = names[0] if names else "<downloaded file>"
        what = f"download {file}" if names else "download the checkpoint"
        fix = (
            f"The weights are the authors' ({info['repo']}): {what} from {info['origin_url']} and load it "
            f"with snn_zoo.create_model({name!r}, pretrained=True, pretrained_cfg_overlay=dict(file='path/to/{file}'))."
        )
    else:
        fix = (
            f"The run folder ships in the snn_zoo source repository: "
            f"snn_zoo.create_model('local-dir:checkpoints/{name}', pretrained=True)."
        )
    return CheckpointError(f"{name!r}: its weights repo {repo_id!r} {reason}. {fix}")


def probe_hub(
    repo_id: str, revision: str | None, unavailable: Callable[[str], CheckpointError], missing_too: bool = True
) -> None:
    """One HEAD request (no retries, short timeout) before any download: a repo that is not on the
    Hub, or a Hub that cannot be reached while the files are not cached, fails at once with
    ``unavailable(reason)`` instead of huggingface_hub's five retries with back-off."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(try_to_load_from_cache(repo_id, WEIGHTS_NAME, revision=revision), str):
        return  # cached weights: huggingface_hub serves them, falling back to the cache at once when offline
    if constants.HF_HUB_OFFLINE:
        if not missing_too:  # hf-hub: names: the preflight names the missing file and its `hf download` (no retries)
            return
        raise unavailable("is not in the local Hugging Face cache and HF_HUB_OFFLINE is set")
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, WEIGHTS_NAME, revision=revision), timeout=HUB_PROBE_TIMEOUT)
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        if not missing_too:  # hf-hub: names: the preflight says which of repo / revision / file is missing
            return
        raise unavailable(f"is not on the Hub ({constants.ENDPOINT} answered {type(e).__name__})") from e
    except HfHubHTTPError:
        return  # the Hub answered (e.g. no model.safetensors): the preflight / timm name the problem
    except Exception as e:  # DNS, refused connection, timeout, proxy: the HTTP client's transport errors
        if not (
            isinstance(e, OSError) or type(e).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2")
        ):
            raise
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise unavailable(
            f"cannot be reached ({constants.ENDPOINT}: {first}) and is not in the local Hugging Face cache"
        ) from e


def check_registered_tag(name: str) -> None:
    """Probe the Hub repo of a registered 'arch[.tag]' (its default tag when untagged) before its download."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        return
    full = f"{cfg.architecture}.{cfg.tag}" if cfg.tag else name  # 'arch' alone means its default tag
    probe_hub(cfg.hf_hub_id, None, lambda reason: unavailable_error(full, cfg.hf_hub_id, reason))
