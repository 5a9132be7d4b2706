"""Backend selection for the multi-step neuron kernels.

The choice itself happens inside the ``snn_zoo::multistep_*`` ops (:mod:`snn_zoo.neurons.ops`):
the torch kernel on every device, the fused cupy kernel on CUDA tensors for ``'cupy'`` and, when
cupy works, for ``'auto'``. Nothing here runs per call: :func:`log_backend_choice` reports what
``'auto'`` will do once, when the first neuron is built.
"""

from __future__ import annotations

import functools
import logging

import torch

BACKENDS = ("auto", "torch", "cupy")

_logger = logging.getLogger(__name__)


class _NoCudaRuntimeNotice(logging.Filter):
    """Drops torch's "No CUDA runtime is found, using CUDA_HOME=..." (and nothing else).

    ``torch.utils.cpp_extension`` logs it at import whenever a CUDA toolkit is visible (``nvcc`` on PATH,
    ``$CUDA_HOME`` or ``/usr/local/cuda``) but no GPU is, and Inductor imports that module on the first
    ``torch.compile``: on a CPU machine with a toolkit installed (or cupy's CUDA wheels) it is expected,
    says nothing about the run, and reads as a failure.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_NoCudaRuntimeNotice())


def validate_backend(backend: str) -> str:
    """Return the backend name or raise listing the valid ones."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {list(BACKENDS)}.")
    return backend


@functools.cache
def cupy_available() -> bool:
    """True when cupy imports and sees a CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or a CUDA runtime error without a driver
        return False


@functools.cache
def log_backend_choice(backend: str) -> None:
    """Log once per process (at build time, never in the traced forward) which kernel runs where."""
    if backend == "torch":
        return
    if not torch.cuda.is_available():
        _logger.info("snn_zoo neurons: backend %r runs the torch kernel (no CUDA device).", backend)
    elif cupy_available():
        _logger.info(
            "snn_zoo neurons: backend %r runs the fused cupy kernel on CUDA tensors, torch elsewhere.", backend
        )
    elif backend == "auto":
        _logger.info(
            "snn_zoo neurons: backend 'auto' runs the torch kernel (cupy is not installed or sees no "
            'GPU; `pip install "snn_zoo[cuda]"` for the fused kernel).'
        )


def resolve_backend(backend: str, x: torch.Tensor) -> str:
    """The kernel the ops pick for this tensor ('torch' or 'cupy'); 'cupy' on a CPU tensor raises."""
    if backend == "cupy" and not x.is_cuda:
        raise RuntimeError(
            "backend='cupy' needs a CUDA tensor and a working cupy; move the model to a GPU "
            "and install the extra with `pip install \"snn_zoo[cuda]\"`, or use backend='torch'."
        )
    if backend == "torch" or not x.is_cuda:
        return "torch"
    if backend == "cupy" and not cupy_available():
        raise RuntimeError(
            "backend='cupy' was requested but cupy is not importable or sees no GPU; "
            "install it with `pip install \"snn_zoo[cuda]\"` or use backend='auto'/'torch'."
        )
    return "cupy" if cupy_available() else "torch"
