"""Surrogate gradients shared by every neuron backend.

Each surrogate is spikingjelly's function (used for the module attribute and for
single-step autograd) plus the derivative written twice: once in torch for the
CPU/GPU torch kernel and once as a CUDA expression for the cupy kernel. Keeping the
three side by side is what lets the parity tests hold the backends to each other.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import surrogate as sj_surrogate


@dataclass(frozen=True)
class Surrogate:
    """A named surrogate: spikingjelly class, default alpha, derivative in torch and CUDA."""

    name: str
    sj_class: type
    default_alpha: float
    grad: Callable[[torch.Tensor, float], torch.Tensor]  # in place on its argument
    # Body of a CUDA device function `float f(float x, float alpha)`, x = h - v_threshold.
    cuda_grad: str


# Each derivative works in place on its argument (a fresh ``h - v_threshold`` temporary):
# the backward then allocates (almost) nothing per time step.
def _sigmoid_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    sg = x.mul_(alpha).sigmoid_()
    # alpha * sg * (1 - sg). Out of place: traced, an in-place addcmul_ with a value becomes prims.fma
    # (one rounding), so compiled gradients would drift from eager ones by an ulp.
    return torch.addcmul(sg, sg, sg, value=-1.0).mul_(alpha)


def _atan_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    a = alpha / 2.0
    ax = x.mul_(math.pi * a)
    return ax.mul_(ax).add_(1.0).reciprocal_().mul_(a)  # a / (1 + ax^2)


def _rect_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return x.abs_().lt_(0.5 / alpha).mul_(alpha)


def _triangle_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    # spikingjelly's PiecewiseQuadratic: alpha - alpha^2 |x| inside |x| <= 1/alpha.
    return x.abs_().mul_(-alpha * alpha).add_(alpha).clamp_(min=0.0)


SURROGATES: dict[str, Surrogate] = {
    "sigmoid": Surrogate(
        "sigmoid",
        sj_surrogate.Sigmoid,
        4.0,
        _sigmoid_grad,
        "const float sg = 1.0f / (1.0f + expf(-alpha * x)); return alpha * sg * (1.0f - sg);",
    ),
    "atan": Surrogate(
        "atan",
        sj_surrogate.ATan,
        2.0,
        _atan_grad,
        "const float ax = 1.5707963267948966f * alpha * x; return (0.5f * alpha) / (1.0f + ax * ax);",
    ),
    "rect": Surrogate(
        "rect",
        sj_surrogate.Rect,
        1.0,
        _rect_grad,
        "return fabsf(x) < 0.5f / alpha ? alpha : 0.0f;",
    ),
    "triangle": Surrogate(
        "triangle",
        sj_surrogate.PiecewiseQuadratic,
        1.0,
        _triangle_grad,
        "return fmaxf(alpha - alpha * alpha * fabsf(x), 0.0f);",
    ),
}


def get_surrogate(name: str) -> Surrogate:
    """Look up a surrogate by name; the error lists the valid names."""
    key = name.lower()
    if key not in SURROGATES:
        close = difflib.get_close_matches(key, SURROGATES, n=2)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"Unknown surrogate {name!r}; choose one of {sorted(SURROGATES)}.{hint}")
    return SURROGATES[key]
