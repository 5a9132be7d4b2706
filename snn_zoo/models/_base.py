"""timm's model contract, extended with time.

Every zoo model accepts a static image [B, C, H, W] (direct encoding: repeated T times)
or event frames [T, B, C, H, W], runs multi-step internally on [T, B, ...] tensors and
returns logits averaged over time. Neuron state is reset at the start of every forward.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from spikingjelly.activation_based import base as sj_base
from timm.models._features import feature_take_indices

from ..layers import to_sequence
from ..neurons import neuron_factory, validate_neuron
from ._checkpoint import Block, run_blocks


def _check_snn_args(in_chans, num_classes, v_threshold, v_reset, tau, neuron: str) -> None:
    """Settings that would build a model that runs but makes no sense: refuse them by name."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(
            f"num_classes must be an integer >= 0 (0 = no classifier, timm's convention), got {num_classes!r}."
        )
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be an integer >= 1, got {in_chans!r}.")
    if neuron == "relu":
        return
    if not isinstance(v_threshold, (int, float)) or isinstance(v_threshold, bool) or not v_threshold > 0:
        raise ValueError(
            f"v_threshold must be a number > 0, got {v_threshold!r} (a neuron with a threshold <= 0 fires at rest)."
        )
    if v_reset is not None and not (isinstance(v_reset, (int, float)) and v_reset < v_threshold):
        raise ValueError(f"v_reset must be below v_threshold ({v_threshold}) or None (soft reset), got {v_reset!r}.")
    if neuron in ("lif", "plif") and not (isinstance(tau, (int, float)) and tau > 1):
        raise ValueError(f"tau must be > 1 for {neuron!r} neurons (decay 1/tau), got {tau!r}.")


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
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        decay_input: bool = True,
        backend: str = "auto",
    ):
        super().__init__()
        validate_neuron(neuron)
        if not isinstance(T, int) or isinstance(T, bool) or T < 1:
            raise ValueError(f"T (time steps) must be an integer >= 1, got {T!r}.")
        _check_snn_args(in_chans, num_classes, v_threshold, v_reset, tau, neuron)
        # Everything needed to rebuild the same SNN; exported to config.json as model_args.
        self.snn_args = dict(
            T=T,
            neuron=neuron,
            surrogate=surrogate,
            tau=tau,
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            decay_input=decay_input,
        )
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.grad_checkpointing: bool | str = False
        self._num_active_stages: int | None = None  # set by prune_intermediate_layers
        self.neuron = neuron
        self.T = 1 if neuron == "relu" else T  # the ANN twin sees each input once
        self.make_neuron = neuron_factory(
            neuron=neuron,
            tau=tau,
            v_threshold=v_threshold,
            v_reset=v_reset,
            surrogate=surrogate,
            detach_reset=detach_reset,
            decay_input=decay_input,
            backend=backend,
        )

    # -- input -------------------------------------------------------------------------------
    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [T, B, C, H, W] (repeat); [T, B, C, H, W] passes through, checked."""
        self._check_input_tensor(x)
        given = tuple(x.shape)
        try:
            x = to_sequence(x, self.T)
        except ValueError:
            raise ValueError(
                f"Expected input of shape [B, {self.in_chans}, H, W] (static image) or "
                f"[T, B, {self.in_chans}, H, W] (event frames), got {tuple(x.shape)}."
            ) from None
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
        self.num_classes = num_classes
        head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
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
        if isinstance(indices, int):  # 'last n', clamped so the ViT default (3) fits shallow variants
            indices = min(indices, num)
        return feature_take_indices(num, indices)

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
