"""Our QKFormer / Spike-driven Transformer against spikingjelly 2.0's own builders
(``spikingjelly.activation_based.model.qkformer.qkformer_10_384``, ``spike_driven_transformer.sdt_8_384``).

Same networks in forward: with our weights mapped onto theirs (their fused q/k/v conv+BN filled by
concatenation; their 3x3 stem convs carry biases the official code does not have -> zero; their
attention projections have no bias -> ours folds into the BN's running mean), the logits agree.
Differences kept by these tests: parameter counts (conv biases), and spikingjelly gives the stem /
MLP / head neurons ``detach_reset=False`` (the official code: True everywhere; gradients only).
"""

from __future__ import annotations

import math

import pytest
import torch

import snn_zoo

sj_model = pytest.importorskip("spikingjelly.activation_based.model")
from spikingjelly.activation_based import functional  # noqa: E402
from spikingjelly.activation_based.model import qkformer as sj_qkformer  # noqa: E402
from spikingjelly.activation_based.model import spike_driven_transformer as sj_sdt  # noqa: E402


def _lively(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and BN statistics large enough that every layer spikes."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 3 / math.sqrt(m.weight[0].numel()))
                if m.bias is not None:
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.3 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return model.eval()


class _Mapper:
    """Fills a spikingjelly state dict from ours."""

    BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

    def __init__(self, ours: dict, theirs: torch.nn.Module):
        self.ours, self.shape, self.sd = ours, {k: v.shape for k, v in theirs.state_dict().items()}, {}

    def bn(self, dst: str, *srcs: str) -> None:
        for p in self.BN:
            vals = [self.ours[f"{s}.{p}"] for s in srcs]
            self.sd[f"{dst}.{p}"] = vals[0].clone() if p == "num_batches_tracked" else torch.cat(vals)

    def conv(self, dst: str, *srcs: str) -> None:
        w = torch.cat([self.ours[f"{s}.weight"] for s in srcs])
        self.sd[f"{dst}.weight"] = w.reshape(self.shape[f"{dst}.weight"])
        if f"{dst}.bias" in self.shape:  # a bias the official model lacks: zero
            b = self.ours.get(f"{srcs[0]}.bias")
            self.sd[f"{dst}.bias"] = torch.zeros(self.shape[f"{dst}.bias"]) if b is None else b.clone()

    def fold_bias(self, bn: str, conv_bias: str) -> None:
        self.sd[f"{bn}.running_mean"] = self.sd[f"{bn}.running_mean"] - self.ours[conv_bias]

    def finish(self) -> dict:
        self.sd["head.weight"], self.sd["head.bias"] = self.ours["head.weight"], self.ours["head.bias"]
        assert set(self.sd) == set(self.shape)
        return self.sd


def test_param_counts_differ_only_by_conv_biases():
    with torch.device("meta"):
        counts = {
            name: sum(p.numel() for p in fn().parameters())
            for name, fn in (
                ("sj_qkformer", sj_qkformer.qkformer_10_384),
                ("sj_sdt", sj_sdt.sdt_8_384),
                ("qkformer", lambda: snn_zoo.create_model("qkformer_10_384")),
                ("sdt", lambda: snn_zoo.create_model("spike_driven_transformer_8_384")),
            )
        }
    assert counts == dict(sj_qkformer=16_472_584, sj_sdt=16_816_744, qkformer=16_473_688, sdt=16_816_024)


def test_qkformer_matches_spikingjelly_builder():
    ours = _lively(
        snn_zoo.create_model("qkformer_10_384", embed_dim=32, depths=(1, 2, 1), num_heads=2, num_classes=7, T=2), 1
    )
    theirs = sj_qkformer.QKFormer(T=2, embed_dims=32, num_heads=(2, 2, 2), depths=(1, 2, 1), num_classes=7).eval()
    m = _Mapper(ours.state_dict(), theirs)
    for i in range(3):
        for j in range(1, (4 if i == 0 else 3)):
            m.conv(f"patch_embed{i + 1}.conv{j}", f"patch_embeds.{i}.conv{j}.conv")
            m.bn(f"patch_embed{i + 1}.bn{j}", f"patch_embeds.{i}.conv{j}.bn")
        m.conv(f"patch_embed{i + 1}.shortcut.0", f"patch_embeds.{i}.shortcut.conv")
        m.bn(f"patch_embed{i + 1}.shortcut.1", f"patch_embeds.{i}.shortcut.bn")
    for stage, blocks in enumerate((1, 2, 1)):
        names, fused = (("q", "k"), "qk_conv_bn") if stage < 2 else (("q", "k", "v"), "qkv_conv_bn")
        for b in range(blocks):
            o, t = f"stages.{stage}.{b}", f"stage{stage + 1}.{b}"
            m.conv(f"{t}.attn.{fused}.0", *[f"{o}.attn.{n}_conv" for n in names])
            m.bn(f"{t}.attn.{fused}.1", *[f"{o}.attn.{n}_bn" for n in names])
            m.conv(f"{t}.attn.proj_conv_bn.0", f"{o}.attn.proj_conv")
            m.bn(f"{t}.attn.proj_conv_bn.1", f"{o}.attn.proj_bn")
            m.fold_bias(f"{t}.attn.proj_conv_bn.1", f"{o}.attn.proj_conv.bias")
            for j in (1, 2):
                m.conv(f"{t}.mlp.fc{j}", f"{o}.mlp.fc{j}_conv")
                m.bn(f"{t}.mlp.bn{j}", f"{o}.mlp.fc{j}_bn")
    theirs.load_state_dict(m.finish())
    x = torch.rand(2, 3, 32, 32) * 2
    with torch.no_grad():
        functional.reset_net(theirs)
        assert torch.allclose(theirs(x), ours(x), atol=1e-5)


def test_spike_driven_transformer_matches_spikingjelly_builder():
    ours = _lively(
        snn_zoo.create_model("spike_driven_transformer_8_384", embed_dim=32, depth=2, num_heads=2, num_classes=7, T=2),
        2,
    )
    theirs = sj_sdt.SpikeDrivenTransformer(T=2, embed_dims=32, num_heads=2, depths=2, num_classes=7).eval()
    m = _Mapper(ours.state_dict(), theirs)
    for i in range(3):
        m.conv(f"patch_embed.stages.{i}.0", f"patch_embed.stages.{i}.conv")
        m.bn(f"patch_embed.stages.{i}.1", f"patch_embed.stages.{i}.bn")
    m.conv("patch_embed.final_stage.0", "patch_embed.stages.3.conv")
    m.bn("patch_embed.final_stage.1", "patch_embed.stages.3.bn")
    m.conv("patch_embed.rpe_conv", "patch_embed.rpe_conv")
    m.bn("patch_embed.rpe_bn", "patch_embed.rpe_bn")
    for b in range(2):
        for n in ("q", "k", "v", "proj"):
            m.conv(f"blocks.{b}.attn.{n}_conv", f"blocks.{b}.attn.{n}_conv")
            m.bn(f"blocks.{b}.attn.{n}_bn", f"blocks.{b}.attn.{n}_bn")
        for j in (1, 2):
            m.conv(f"blocks.{b}.mlp.fc{j}", f"blocks.{b}.mlp.fc{j}_conv")
            m.bn(f"blocks.{b}.mlp.bn{j}", f"blocks.{b}.mlp.fc{j}_bn")
    theirs.load_state_dict(m.finish())
    x = torch.rand(2, 3, 32, 32) * 2
    with torch.no_grad():
        functional.reset_net(theirs)
        y = ours(x)
        assert (y[0] - y[1]).abs().max() > 1e-2  # the logits depend on the input
        assert torch.allclose(theirs(x), y, atol=1e-5)
