"""Backend selection for the multi-step neuron kernels."""
from __future__ import annotations

import functools
import logging
from typing import Callable

import torch

BACKENDS = ("auto", "torch", "cupy")

_logger = logging.getLogger(__name__)


def validate_backend(backend: str) -> str:
    """Return the backend name or raise listing the valid ones."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {list(BACKENDS)}.")
    return backend


@functools.lru_cache(maxsize=None)
def cupy_available() -> bool:
    """True when cupy imports and sees a CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or a CUDA runtime error without a driver
        return False


@functools.lru_cache(maxsize=None)
def _log_fallback_once(reason: str) -> None:
    _logger.info("snn_zoo neurons: backend 'auto' uses torch (%s).", reason)


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """Pick the kernel for this tensor: 'auto' prefers cupy on CUDA tensors when it can."""
    if backend == "torch":
        return "torch"
    if backend == "cupy":
        if not x.is_cuda:
            raise RuntimeError(
                "backend='cupy' needs a CUDA tensor and a working cupy; move the model to a GPU "
                "and install the extra with `pip install \"snn_zoo[cuda]\"`, or use backend='torch'."
            )
        if not cupy_available():
            raise RuntimeError(
                "backend='cupy' was requested but cupy is not importable or sees no GPU; "
                "install it with `pip install \"snn_zoo[cuda]\"` or use backend='auto'/'torch'."
            )
        return "cupy"
    if not x.is_cuda:
        _log_fallback_once("the input is on the CPU")
        return "torch"
    if not cupy_available():
        _log_fallback_once("cupy is not installed or sees no GPU")
        return "torch"
    return "cupy"


def get_kernel(name: str) -> Callable:
    """The multi-step function for a resolved backend name."""
    if name == "cupy":
        from .cupy_kernel import multistep_cupy

        return multistep_cupy
    from .torch_kernel import multistep_torch

    return multistep_torch
