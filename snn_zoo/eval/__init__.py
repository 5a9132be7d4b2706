"""Evaluation, validation and benchmarking of zoo models (the logic behind hub_scripts/).

``evaluate`` is imported eagerly (the training loop uses it); ``validate`` and ``benchmark``
load on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from .evaluate import evaluate, to_time_first, topk_correct

_LAZY = {
    "validate_model": "validate",
    "validate_models": "validate",
    "write_results": "validate",
    "expand_model_names": "validate",
    "load_checkpoint": "validate",
    "ValidationError": "validate",
    "benchmark_model": "benchmark",
    "spikingjelly_equivalent": "benchmark",
    "kd_overhead": "benchmark",
}

__all__ = ["evaluate", "to_time_first", "topk_correct", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
