"""Spikformer / Spikingformer: forward against an independent re-implementation of the official
code's op order (spikingjelly's own LIF neuron), token grids, and per-variant details."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, neuron

import snn_zoo
from snn_zoo.layers.attention import SpikingSelfAttention

SMALL_ARCH = dict(embed_dim=64, depth=2, num_heads=4, T=3)


pytestmark = pytest.mark.usefixtures("single_thread")


def _lif(x: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """The official neuron: spikingjelly LIF, tau 2, hard reset to 0, detached reset."""
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, detach_reset=True, step_mode="m")(x)


def _conv_bn(x: torch.Tensor, conv, bn) -> torch.Tensor:
    """Official style: fold T into the batch, conv, BN (eval statistics), unfold."""
    T, B = x.shape[:2]
    y = conv._conv_forward(x.flatten(0, 1), conv.weight, conv.bias)
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return y.reshape(T, B, *y.shape[1:])


def _pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x.flatten(0, 1), 3, 2, 1).unflatten(0, x.shape[:2])


def _reference(model, x: torch.Tensor, spike_first: bool, pools: tuple) -> torch.Tensor:
    """Spikformer / Spikingformer forward written as the official code orders it."""
    x = x.unsqueeze(0).repeat(model.T, 1, 1, 1, 1)
    stages = list(model.patch_embed.stages)
    if spike_first:  # tokenizer: [spike -> pool] -> conv -> BN, five stages
        for i, u in enumerate(stages):
            if i > 0:
                x = _lif(x)
                x = _pool(x) if (i - 1) in pools else x
            x = _conv_bn(x, u.conv, u.bn)
    else:  # SPS: conv -> BN -> spike -> [pool], then x + RPE(x)
        for i, u in enumerate(stages):
            x = _lif(_conv_bn(x, u.conv, u.bn))
            x = _pool(x) if i in pools else x
        rpe = model.patch_embed.rpe
        x = x + _lif(_conv_bn(x, rpe.conv, rpe.bn))
    for blk in model.blocks:
        a, mlp = blk.attn, blk.mlp
        T, B, C, H, W = x.shape
        heads = a.num_heads
        tokens = (_lif(x) if spike_first else x).flatten(3)

        def qkv(conv, bn, tokens=tokens, T=T, B=B, C=C, H=H, W=W, heads=heads):
            s = _lif(_conv_bn(tokens, conv, bn))
            return s.transpose(-1, -2).reshape(T, B, H * W, heads, C // heads).permute(0, 1, 3, 2, 4)

        q, k, v = qkv(a.q_conv, a.q_bn), qkv(a.k_conv, a.k_bn), qkv(a.v_conv, a.v_bn)
        out = ((q @ k.transpose(-2, -1)) @ v * 0.125).transpose(3, 4).reshape(T, B, C, H * W)
        out = _conv_bn(_lif(out, 0.5), a.proj_conv, a.proj_bn).reshape(T, B, C, H, W)
        x = x + (out if spike_first else _lif(out))
        if spike_first:
            h = _conv_bn(_lif(x), mlp.fc1_conv, mlp.fc1_bn)
            h = _conv_bn(_lif(h), mlp.fc2_conv, mlp.fc2_bn)
        else:
            h = _lif(_conv_bn(x, mlp.fc1_conv, mlp.fc1_bn))
            h = _lif(_conv_bn(h, mlp.fc2_conv, mlp.fc2_bn))
        x = x + h
    return model.head(x.flatten(3).mean(3).mean(0))


def _randomise_bn(model) -> None:
    """Eval-mode BN statistics that make most neurons fire, so the comparison is not vacuous."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.6 - 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) * 2 + 1)
            m.bias.data.copy_(torch.rand(n, generator=g) * 1.5)


@pytest.mark.parametrize(
    "name, pools, size",
    [
        # CIFAR at 32: 64 tokens > head width 16, so the model takes the q (k^T v) order; the
        # ImageNet stem at 32 gives 4 tokens and the (q k^T) v order: both are checked.
        ("spikformer_4_384_cifar", (2, 3), 32),
        ("spikingformer_4_384_cifar", (2, 3), 32),
        ("spikformer_8_384", (0, 1, 2, 3), 32),
        ("spikingformer_8_384", (0, 1, 2, 3), 32),
    ],
)
def test_matches_official_op_order(name: str, pools: tuple, size: int) -> None:
    torch.manual_seed(0)
    model = snn_zoo.create_model(name, **SMALL_ARCH).eval()
    _randomise_bn(model)
    x = torch.rand(2, 3, size, size) * 2
    with torch.no_grad():
        ours = model(x)
        feats = model.forward_features(x)
        functional.reset_net(model)
        ref = _reference(model, x, spike_first=model.spike_first, pools=pools)
    assert (feats != 0).float().mean() > 0.3  # neurons fire: the check is not on all-zero maps
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize(
    "name, grid",
    [
        ("spikformer_4_384_cifar", 8),
        ("spikingformer_4_256_cifar", 8),
        ("spikformer_8_512", 2),
        ("spikingformer_8_768", 2),
        ("spikformer_2_64_digits", 4),
        ("spikingformer_2_64_digits", 4),
    ],
)
def test_token_grid(name: str, grid: int) -> None:
    model = snn_zoo.create_model(name, T=1, embed_dim=64, depth=1, num_heads=4)
    size = {1: 8}.get(model.in_chans, 32)
    with torch.no_grad():
        feats = model.forward_features(torch.rand(1, model.in_chans, size, size))
    assert feats.shape == (1, 64, grid, grid)
    assert model.feature_info[-1]["reduction"] == size // grid


def test_spikformer_blocks_emit_spike_counts_spikingformer_blocks_membranes() -> None:
    x = torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        sf = snn_zoo.create_model("spikformer_2_64_digits", T=2).forward_features_seq(torch.stack([x, x]))
        sg = snn_zoo.create_model("spikingformer_2_64_digits", T=2).forward_features_seq(torch.stack([x, x]))
    assert torch.equal(sf, sf.round()) and sf.min() >= 0  # sums of residual spikes
    assert not torch.equal(sg, sg.round())  # BN outputs added on the membrane shortcut


@pytest.mark.parametrize("prefix", ["spikformer", "spikingformer"])
def test_residual_conv_biases_per_variant(prefix: str) -> None:
    """8-384 / 8-512 drop the redundant pre-BN biases to reproduce the published counts."""
    for dim, has_bias in ((384, False), (512, False), (768, True)):
        with torch.device("meta"):
            block = snn_zoo.create_model(f"{prefix}_8_{dim}").blocks[0]
        assert (block.attn.proj_conv.bias is not None) == has_bias
        assert (block.mlp.fc2_conv.bias is not None) == has_bias
        assert block.mlp.fc1_conv.bias is not None
        assert block.attn.attn_sn.v_threshold == 0.5


def test_bad_arch_arguments() -> None:
    with pytest.raises(ValueError, match="divisible by 8"):
        snn_zoo.create_model("spikformer_2_64_digits", embed_dim=60, num_heads=4)
    with pytest.raises(ValueError, match="pool_stages"):
        snn_zoo.models.Spikformer(embed_dim=64, depth=1, num_heads=4, pool_stages=(4,))  # the range check itself
    with pytest.raises(ValueError, match="divisible by num_heads"):
        SpikingSelfAttention(72, 5, lambda **kw: torch.nn.Identity())
