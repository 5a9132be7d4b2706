"""timm's model contract, extended with time.

Every zoo model accepts a static image [B, C, H, W] (direct encoding: repeated T times)
or event frames [T, B, C, H, W] with exactly the model's T frames (another leading size is refused: it
is how a batch-first [B, T, ...] tensor shows), runs multi-step internally on [T, B, ...] tensors and
returns logits averaged over time. Neuron state is reset at the start of every forward.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn as nn
from spikingjelly.activation_based import base as sj_base
from timm.models._features import feature_take_indices

from ..layers import to_sequence
from ..neurons import neuron_factory, validate_neuron
from ..neurons.spec import SOFT_RESET, check_bool, check_neuron_settings, check_number, check_v_reset
from ._checkpoint import Block, run_blocks


def check_count(name: str, value, minimum: int | None, note: str = "") -> int:
    """``value`` as an int (>= ``minimum`` unless None): any integral number (int, numpy integer); bools,
    floats and strings are refused."""
    integral = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not integral or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an integer{bound}{note}, got {value!r} ({type(value).__name__}).")
    return int(value)


def _check_snn_args(
    T, in_chans, num_classes, neuron: str, tau, v_threshold, v_reset, detach_reset, decay_input, v_init
) -> dict:
    """Settings that would build a model that runs but makes no sense: refuse them by name.

    Returns the settings normalised (plain ints / floats / bools, soft reset spelled 'soft'), so
    ``snn_args`` and the config.json written from it are JSON and survive ``timm.create_model``,
    which drops None kwargs. The ANN twin (``neuron="relu"``) does not use the neuron settings;
    their types are still checked, their ranges not.
    """
    counts = dict(
        T=check_count("T (time steps)", T, 1),
        in_chans=check_count("in_chans", in_chans, 1),
        num_classes=check_count("num_classes", num_classes, 0, " (0 = no classifier, timm's convention)"),
    )
    if neuron == "relu":
        settings = dict(
            tau=check_number("tau", tau),
            v_threshold=check_number("v_threshold", v_threshold),
            v_reset=check_v_reset(v_reset),
            detach_reset=check_bool("detach_reset", detach_reset),
            decay_input=check_bool("decay_input", decay_input),
            v_init=check_number("v_init", v_init),
        )
    else:
        settings = check_neuron_settings(
            v_threshold=v_threshold,
            v_reset=v_reset,
            tau=tau,
            detach_reset=detach_reset,
            decay_input=decay_input,
            # IF neurons ignore tau: check its type only.
            leaky=neuron != "if",
            v_init=v_init,
        )
        settings.setdefault("tau", check_number("tau", tau))
        settings.setdefault("decay_input", check_bool("decay_input", decay_input))
    if settings["v_reset"] is None:
        settings["v_reset"] = SOFT_RESET
    return {**counts, **settings}


class SpikingModel(nn.Module):
    """Base class holding the SNN settings shared by every architecture.

    Subclasses build layers with ``self.make_neuron()`` and implement ``feature_stages`` (the
    feature extractor as stages of blocks, one stage per ``feature_info`` entry) and ``head_seq``
    ([T, B, C', H', W'] -> [T, B, num_classes]). From the stages this class derives
    ``forward_features_seq`` and timm's feature-extraction API: ``forward_intermediates``,
    ``prune_intermediate_layers``, ``features_only=True`` (through timm's ``FeatureGetterNet``)
    and ``set_grad_checkpointing`` (one checkpoint per block). A family may instead override
    ``forward_features_seq`` alone; it then has no feature extraction.
    """

    # features_only default levels: None = every feature_info entry (CNNs); transformers use
    # timm's ViT convention (the last 3 blocks).
    default_out_indices: int | tuple | None = None

    classifier_name = "fc"
    # Smallest input height / width the layers accept (unpadded pooling shrinks small maps to nothing).
    min_input_size: int = 1
    # Reject non-finite input (a NaN never crosses a threshold, so it would give confident logits).
    # One isfinite pass over the input; see README for its measured cost. Set False to skip it.
    check_inputs: bool = True

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        T: int = 4,
        neuron: str = "lif",
        surrogate: str = "sigmoid",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | str | None = 0.0,
        detach_reset: bool = False,
        decay_input: bool = True,
        backend: str = "auto",
        v_init: float = 0.0,
    ):
        super().__init__()
        validate_neuron(neuron)
        checked = _check_snn_args(
            T, in_chans, num_classes, neuron, tau, v_threshold, v_reset, detach_reset, decay_input, v_init
        )
        T, in_chans, num_classes = checked.pop("T"), checked.pop("in_chans"), checked.pop("num_classes")
        # The neuron settings needed to rebuild the same SNN (snn_args adds T, which lives in self.T alone).
        self._neuron_args = dict(neuron=neuron, surrogate=surrogate)
        self._neuron_args.update(
            (k, checked[k]) for k in ("tau", "v_threshold", "v_reset", "detach_reset", "decay_input", "v_init")
        )
        self._twin_T = T  # the ANN twin runs at T=1 but records the T its SNN runs at
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.grad_checkpointing: bool | str = False
        self._num_active_stages: int | None = None  # set by prune_intermediate_layers
        self.neuron = neuron
        self.T = 1 if neuron == "relu" else T  # the ANN twin sees each input once
        self.make_neuron = neuron_factory(neuron=neuron, surrogate=surrogate, backend=backend, **checked)

    @property
    def T(self) -> int:
        """Time steps of one forward (1 for the ANN twin)."""
        return self._T

    @T.setter
    def T(self, value) -> None:
        # Also checked when set later (noisy single-step training, to_multi_step): T = 0 would give NaN logits.
        self._T = check_count("T (time steps)", value, 1)

    @property
    def snn_args(self) -> dict:
        """Everything needed to rebuild the same SNN, exported to config.json as model_args. ``T`` is read from
        :attr:`T` (set later by single-step training or ``to_multi_step``, it is still what gets saved)."""
        return {"T": self._twin_T if self._neuron_args["neuron"] == "relu" else self.T, **self._neuron_args}

    @property
    def num_classes(self) -> int:
        """Classifier outputs (0: no classifier, timm's convention)."""
        return self._num_classes

    @num_classes.setter
    def num_classes(self, value) -> None:
        # Checked wherever it is set: the constructor and every reset_classifier (timm calls it with new heads).
        self._num_classes = check_count("num_classes", value, 0, " (0 = no classifier, timm's convention)")

    # -- input -------------------------------------------------------------------------------
    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [T, B, C, H, W] (repeat); [T, B, C, H, W] with T == self.T passes through, checked."""
        self._check_input_tensor(x)
        given = tuple(x.shape)
        try:
            x = to_sequence(x, self.T)
        except ValueError:
            raise ValueError(
                f"Expected input of shape [B, {self.in_chans}, H, W] (static image) or "
                f"[T, B, {self.in_chans}, H, W] (event frames), got {tuple(x.shape)}."
            ) from None
        if len(given) == 5 and given[0] != self.T:
            # Refused rather than run for given[0] steps: a batch-first [B, T, C, H, W] tensor would silently
            # swap batch and time. (When B == T the layouts cannot be told apart: time-first is the contract.)
            hint = (
                " If it is batch-first [B, T, C, H, W], pass snn_zoo.layers.from_batch_first(x)."
                if given[1] == self.T
                else ""
            )
            raise ValueError(
                f"Event frames must be time-first [T, B, C, H, W] with T = the model's {self.T} time steps, got "
                f"{given} (leading size {given[0]}).{hint} To run another number of steps, create the model with "
                f"T={given[0]} (or set model.T = {given[0]})."
            )
        channels = x.shape[2]
        if channels != self.in_chans:
            raise ValueError(
                f"Expected {self.in_chans} input channels, got {channels} in input of shape "
                f"{given}; create the model with in_chans={channels} to accept it."
            )
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(
                f"Input of {x.shape[-2]}x{x.shape[-1]} pixels is smaller than {type(self).__name__}'s minimum "
                f"{self.min_input_size}x{self.min_input_size}; resize the images to at least that size."
            )
        return x

    def _check_input_tensor(self, x) -> None:
        """A floating tensor of the model's dtype (any float dtype under autocast)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}; convert with "
                f"torch.as_tensor(x, dtype=torch.float32)."
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{type(self).__name__} expects floating-point input, got {x.dtype}; convert with x.float() "
                f"(uint8 images: x.float() / 255, then normalise as in training)."
            )
        param = next(self.parameters(), None)
        if param is not None and x.dtype != param.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{type(self).__name__} has {param.dtype} weights but got {x.dtype} input; convert with "
                f"x.to({param.dtype}) (or the model with model.to({x.dtype}))."
            )
        # On the input itself (before a static image is repeated T times). Not while compiling / exporting:
        # a data-dependent branch cannot be part of one graph.
        if self.check_inputs and not torch.compiler.is_compiling() and not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            raise ValueError(
                f"Input has {bad} NaN/inf value(s): a spiking neuron never fires on NaN, so the logits would look "
                f"valid but mean nothing. Clean or clamp the data (torch.nan_to_num) first."
            )

    # -- timm contract -------------------------------------------------------------------------
    def feature_stages(self) -> list[list[Block]]:
        """The feature extractor as stages of blocks ([T, B, ...] -> [T, B, ...]), in order.

        Stage ``i`` ends where ``feature_info[i]`` is taken; a block is a module or a tuple of
        modules applied in order, and is the unit of gradient checkpointing.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no feature_stages(); it has no feature extraction.")

    def _active_stages(self) -> list[list[Block]]:
        if self._num_active_stages is not None:  # pruned: the stages kept, taken before the rest went
            return self._kept_stages
        return self.feature_stages()

    def forward_features_seq(self, x_seq: torch.Tensor) -> torch.Tensor:
        """[T, B, C, H, W] -> the feature sequence right before the head."""
        for blocks in self._active_stages():
            x_seq = run_blocks(blocks, x_seq, self.grad_checkpointing)
        return x_seq

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map right before global pooling, averaged over time: [B, C, H, W]."""
        self.reset_state()
        return self.forward_features_seq(self.to_sequence(x)).mean(0)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Head on a feature sequence [T, B, C, H, W] (exact) or a time-averaged map [B, C, H, W]
        (exact when the head is linear: pooling + classifier, as in every model but ResNet-19)."""
        return self.head_seq(to_sequence(x, 1), pre_logits=pre_logits).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.reset_state()
        return self.head_seq(self.forward_features_seq(self.to_sequence(x))).mean(0)

    def get_classifier(self) -> nn.Module:
        return getattr(self, self.classifier_name)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier with a fresh one for ``num_classes`` (0 = identity)."""
        self.num_classes = num_classes  # checked (an integer >= 0)
        head = nn.Linear(self.num_features, self.num_classes) if self.num_classes > 0 else nn.Identity()
        setattr(self, self.classifier_name, head)

    def reset_state(self) -> None:
        """Reset every neuron (spikingjelly ``MemoryModule``), as ``functional.reset_net`` does, but without
        its module cache: torch.compile then guards on no global state (several models compile cleanly)."""
        for module in self.modules():
            if isinstance(module, sj_base.MemoryModule):
                module.reset()

    # -- timm feature extraction -------------------------------------------------------------------
    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True, pack_spikes: bool = False) -> None:
        """Checkpoint every block in training: keep only block inputs, recompute in backward.

        ``pack_spikes``: store binary block inputs at 1 bit per value (exact; see ``_checkpoint``).
        """
        self.grad_checkpointing = ("packed" if pack_spikes else True) if enable else False

    def _take_indices(self, indices: int | list | tuple | None) -> tuple[list[int], int]:
        num = len(self._active_stages())
        levels = f"{type(self).__name__} has {num} feature levels: indices 0..{num - 1} (or -{num}..-1)"
        if indices is None:
            return feature_take_indices(num, None)
        if isinstance(indices, numbers.Integral) and not isinstance(indices, bool):
            if indices < 1:
                raise ValueError(
                    f"indices / out_indices as a count (the last n levels) must be >= 1, got {indices}; {levels}."
                )
            # 'the last n', clamped so the ViT default (3) fits shallow variants
            return feature_take_indices(num, min(int(indices), num))
        if not isinstance(indices, (list, tuple)) or not indices:
            raise ValueError(
                f"indices / out_indices must be a count or a non-empty list of levels, got {indices!r}; {levels}."
            )
        bad = [i for i in indices if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -num <= i < num]
        if bad:
            raise ValueError(f"indices / out_indices {tuple(indices)!r} has invalid entries {bad}; {levels}.")
        return feature_take_indices(num, [int(i) for i in indices])

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list | tuple | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """timm's forward_intermediates: feature maps at ``feature_info[indices]``, averaged over time.

        Args:
            x: [B, C, H, W] or [T, B, C, H, W].
            indices: None (all), n (the last n) or a list of feature_info indices.
            norm: accepted for timm's API; zoo models have no final norm.
            stop_early: stop after the deepest requested stage.
            output_fmt: 'NCHW' or 'NHWC'.
            intermediates_only: return only the list of intermediates.
        Returns:
            ``intermediates`` or ``(features, intermediates)``, with ``features`` equal to
            ``forward_features(x)`` unless ``stop_early`` cut the network short.
        """
        output_fmt = getattr(output_fmt, "value", output_fmt)
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NHWC', got {output_fmt!r}.")
        take, max_index = self._take_indices(indices)
        stages = self._active_stages()
        if stop_early or intermediates_only:
            stages = stages[: max_index + 1]
        self.reset_state()
        x_seq = self.to_sequence(x)
        intermediates = []
        for i, blocks in enumerate(stages):
            x_seq = run_blocks(blocks, x_seq, self.grad_checkpointing)
            if i in take:
                feat = x_seq.mean(0)
                intermediates.append(feat.permute(0, 2, 3, 1) if output_fmt == "NHWC" else feat)
        if intermediates_only:
            return intermediates
        return x_seq.mean(0), intermediates

    def prune_intermediate_layers(
        self, indices: int | list | tuple | None = None, prune_norm: bool = False, prune_head: bool = True
    ) -> list[int]:
        """Drop the stages after the deepest of ``indices`` (and the classifier); returns the kept indices."""
        take, max_index = self._take_indices(indices)
        self._kept_stages = self.feature_stages()[: max_index + 1]
        for info in self.feature_info[max_index + 1 :]:
            parent, _, child = info["module"].rpartition(".")
            # An empty Sequential: an identity that stays iterable for feature_stages().
            setattr(self.get_submodule(parent) if parent else self, child, nn.Sequential())
        self._num_active_stages = max_index + 1
        if prune_head:
            self.reset_classifier(0)
        return take
