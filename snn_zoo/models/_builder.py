"""A small builder over timm's: registry, default cfgs and SNN settings of pretrained tags."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Dict, Type

from timm.models import _registry, build_model_with_cfg, generate_default_cfgs, register_model
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


def add_pretrained_tag(name: str, cfg: Dict[str, Any]) -> None:
    """Register one more 'arch.tag' checkpoint for an already registered snn_zoo architecture.

    ``cfg`` is an :func:`snn_cfg` dict (``hf_hub_id`` must be the full 'org/arch.tag'; it may carry
    ``snn_args``). The entry lands in timm's registry exactly as ``register_model`` stores a
    module's ``default_cfgs`` (as a non-default tag), so ``create_model(name, pretrained=True)``,
    ``list_pretrained()`` and timm's own ``create_model`` see it. Undo with
    :func:`remove_pretrained_tag`.
    """
    arch, tag = split_model_name_tag(name)
    if arch not in SNN_MODELS or not tag:
        raise ValueError(f"{name!r} is not 'arch.tag' with a registered snn_zoo architecture.")
    pretrained_cfg = generate_snn_default_cfgs({name: cfg})[arch].cfgs[tag]
    pretrained_cfg = replace(pretrained_cfg, architecture=arch, tag=tag)
    default_cfg = _registry._model_default_cfgs.get(arch)
    if default_cfg is not None and tag not in default_cfg.cfgs:
        default_cfg.tags.append(tag)
    if default_cfg is not None:
        default_cfg.cfgs[tag] = pretrained_cfg
    _registry._model_pretrained_cfgs[name] = pretrained_cfg
    if pretrained_cfg.has_weights:
        _registry._model_has_pretrained.add(name)
    if name not in _registry._model_with_tags[arch]:
        _registry._model_with_tags[arch].append(name)


def remove_pretrained_tag(name: str) -> None:
    """Undo :func:`add_pretrained_tag` (unknown names are ignored)."""
    arch, tag = split_model_name_tag(name)
    if not tag:
        raise ValueError(f"{name!r} has no tag; only 'arch.tag' entries can be removed.")
    default_cfg = _registry._model_default_cfgs.get(arch)
    if default_cfg is not None and tag in default_cfg.cfgs:
        del default_cfg.cfgs[tag]
        default_cfg.tags.remove(tag)
    _registry._model_pretrained_cfgs.pop(name, None)
    _registry._model_has_pretrained.discard(name)
    if name in _registry._model_with_tags.get(arch, []):
        _registry._model_with_tags[arch].remove(name)
    _PRETRAINED_SNN_ARGS.pop(name, None)


def build_snn_model(model_cls: Type, variant: str, pretrained: bool = False, **kwargs):
    """Build ``model_cls`` through timm's builder, filling SNN settings from the pretrained tag.

    User kwargs win over the tag's recorded settings (like timm's num_classes handling).
    """
    tag = kwargs.get("pretrained_cfg")
    if isinstance(tag, str):
        for key, value in pretrained_snn_args(f"{variant}.{tag}").items():
            kwargs.setdefault(key, value)
    model = build_model_with_cfg(model_cls, variant, pretrained, **kwargs)
    # timm's factory merges its recorded kwargs into this; exports then carry the full SNN setup.
    model._model_args = dict(getattr(model, "snn_args", {}))
    return model


HUB_ORG = "snn-zoo"


def published_cfg(name: str, input_size: tuple, num_classes: int = 10, T: int = 4, neuron: str = "lif",
                  **kwargs) -> Dict[str, Any]:
    """Cfg of a published checkpoint 'arch.tag': weights in the Hub repo ``snn-zoo/arch.tag``,
    trained on inputs already scaled to [0, 1] (mean 0, std 1), with the recorded T and neuron."""
    c = input_size[0]
    return snn_cfg(hf_hub_id=f"{HUB_ORG}/{name}", num_classes=num_classes, input_size=input_size,
                   mean=(0.0,) * c, std=(1.0,) * c, crop_pct=1.0, snn_args=dict(T=T, neuron=neuron), **kwargs)


def snn_cfg(**kwargs) -> Dict[str, Any]:
    """Default pretrained cfg of a zoo model; override any PretrainedCfg field."""
    return {
        "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": None,
        "crop_pct": 0.875, "interpolation": "bilinear", "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225), "first_conv": "conv1", "classifier": "fc",
        "license": "apache-2.0", **kwargs,
    }


__all__ = [
    "SNN_MODELS", "add_pretrained_tag", "build_snn_model", "generate_snn_default_cfgs", "pretrained_snn_args",
    "register_snn_model", "remove_pretrained_tag", "snn_cfg", "split_model_name_tag",
]
