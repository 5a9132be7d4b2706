"""A small builder over timm's: registry, default cfgs and SNN settings of pretrained tags."""
from __future__ import annotations

from typing import Any, Callable, Dict, Type

from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._registry import split_model_name_tag

# 'arch.tag' -> SNN settings (T, neuron, ...) the checkpoint was trained with.
_PRETRAINED_SNN_ARGS: Dict[str, Dict[str, Any]] = {}
# Names of every architecture snn_zoo registered in timm's registry.
SNN_MODELS: set[str] = set()


def register_snn_model(fn: Callable) -> Callable:
    """timm's ``register_model`` that also remembers the name as an snn_zoo architecture."""
    SNN_MODELS.add(fn.__name__)
    return register_model(fn)


def generate_snn_default_cfgs(cfgs: Dict[str, Dict[str, Any]]):
    """``generate_default_cfgs`` whose entries may carry ``snn_args`` for their checkpoint."""
    plain = {}
    for name, cfg in cfgs.items():
        cfg = dict(cfg)
        snn_args = cfg.pop("snn_args", None)
        if snn_args:
            _PRETRAINED_SNN_ARGS[name.rstrip("*")] = dict(snn_args)
        plain[name] = cfg
    return generate_default_cfgs(plain)


def pretrained_snn_args(model_name: str) -> Dict[str, Any]:
    """SNN settings recorded for 'arch.tag' (empty for untagged or unknown names)."""
    return dict(_PRETRAINED_SNN_ARGS.get(model_name, {}))


def build_snn_model(model_cls: Type, variant: str, pretrained: bool = False, **kwargs):
    """Build ``model_cls`` through timm's builder, filling SNN settings from the pretrained tag.

    User kwargs win over the tag's recorded settings (like timm's num_classes handling).
    """
    tag = kwargs.get("pretrained_cfg")
    if isinstance(tag, str):
        for key, value in pretrained_snn_args(f"{variant}.{tag}").items():
            kwargs.setdefault(key, value)
    return build_model_with_cfg(model_cls, variant, pretrained, **kwargs)


def snn_cfg(**kwargs) -> Dict[str, Any]:
    """Default pretrained cfg of a zoo model; override any PretrainedCfg field."""
    return {
        "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": None,
        "crop_pct": 0.875, "interpolation": "bilinear", "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225), "first_conv": "conv1", "classifier": "fc",
        "license": "apache-2.0", **kwargs,
    }


__all__ = [
    "SNN_MODELS", "build_snn_model", "generate_snn_default_cfgs", "pretrained_snn_args",
    "register_snn_model", "snn_cfg", "split_model_name_tag",
]
