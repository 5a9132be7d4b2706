"""timm's model contract, extended with time.

Every zoo model accepts a static image [B, C, H, W] (direct encoding: repeated T times)
or event frames [T, B, C, H, W], runs multi-step internally on [T, B, ...] tensors and
returns logits averaged over time. Neuron state is reset at the start of every forward.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from spikingjelly.activation_based import functional

from ..neurons import neuron_factory, validate_neuron


class SpikingModel(nn.Module):
    """Base class holding the SNN settings shared by every architecture.

    Subclasses build layers with ``self.make_neuron()`` and implement
    ``forward_features_seq`` ([T, B, C, H, W] -> [T, B, C', H', W']) and
    ``head_seq`` ([T, B, C', H', W'] -> [T, B, num_classes]).
    """

    classifier_name = "fc"

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        T: int = 4,
        neuron: str = "lif",
        surrogate: str = "sigmoid",
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        detach_reset: bool = False,
        decay_input: bool = True,
        backend: str = "auto",
    ):
        super().__init__()
        validate_neuron(neuron)
        if not isinstance(T, int) or T < 1:
            raise ValueError(f"T (time steps) must be an integer >= 1, got {T!r}.")
        # Everything needed to rebuild the same SNN; exported to config.json as model_args.
        self.snn_args = dict(
            T=T, neuron=neuron, surrogate=surrogate, tau=tau, v_threshold=v_threshold, v_reset=v_reset,
            detach_reset=detach_reset, decay_input=decay_input,
        )
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.neuron = neuron
        self.T = 1 if neuron == "relu" else T  # the ANN twin sees each input once
        self.make_neuron = neuron_factory(
            neuron=neuron, tau=tau, v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
            detach_reset=detach_reset, decay_input=decay_input, backend=backend,
        )

    # -- input -------------------------------------------------------------------------------
    def to_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [T, B, C, H, W] (repeat); [T, B, C, H, W] passes through, checked."""
        if x.dim() == 4:
            channels = x.shape[1]
            x = x.unsqueeze(0).expand(self.T, *x.shape)
        elif x.dim() == 5:
            channels = x.shape[2]
        else:
            raise ValueError(
                f"Expected input of shape [B, {self.in_chans}, H, W] (static image) or "
                f"[T, B, {self.in_chans}, H, W] (event frames), got {tuple(x.shape)}."
            )
        if channels != self.in_chans:
            raise ValueError(
                f"Expected {self.in_chans} input channels, got {channels} in input of shape "
                f"{tuple(x.shape)}; create the model with in_chans={channels} to accept it."
            )
        return x

    # -- timm contract -------------------------------------------------------------------------
    def forward_features_seq(self, x_seq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head_seq(self, x_seq: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map right before global pooling, averaged over time: [B, C, H, W]."""
        functional.reset_net(self)
        return self.forward_features_seq(self.to_sequence(x)).mean(0)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Head on a feature sequence [T, B, C, H, W] (exact) or a time-averaged map [B, C, H, W]
        (exact when the head is linear: pooling + classifier, as in every model but ResNet-19)."""
        if x.dim() == 4:
            x = x.unsqueeze(0)
        return self.head_seq(x, pre_logits=pre_logits).mean(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        return self.head_seq(self.forward_features_seq(self.to_sequence(x))).mean(0)

    def get_classifier(self) -> nn.Module:
        return getattr(self, self.classifier_name)

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        """Replace the classifier with a fresh one for ``num_classes`` (0 = identity)."""
        self.num_classes = num_classes
        head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        setattr(self, self.classifier_name, head)
