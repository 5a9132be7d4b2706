"""A small builder over timm's: registry, default cfgs and SNN settings of pretrained tags."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import PretrainedCfg, build_model_with_cfg, generate_default_cfgs, register_model

from ..io import check_dtypes, read_state_dict
from ..neurons.spec import check_bool, check_number

# 'arch.tag' -> SNN settings (T, neuron, ...) the checkpoint was trained with.
_PRETRAINED_SNN_ARGS: dict[str, dict[str, Any]] = {}
# Names of every architecture snn_zoo registered in timm's registry.
SNN_MODELS: set[str] = set()


def register_snn_model(fn: Callable) -> Callable:
    """timm's ``register_model`` that also remembers the name as an snn_zoo architecture."""
    SNN_MODELS.add(fn.__name__)
    return register_model(fn)


def generate_snn_default_cfgs(cfgs: dict[str, dict[str, Any]]):
    """``generate_default_cfgs`` whose entries may carry ``snn_args`` for their checkpoint."""
    plain = {}
    for name, cfg in cfgs.items():
        cfg = dict(cfg)
        snn_args = cfg.pop("snn_args", None)
        if snn_args:
            _PRETRAINED_SNN_ARGS[name.rstrip("*")] = dict(snn_args)
        plain[name] = cfg
    return generate_default_cfgs(plain)


def pretrained_snn_args(model_name: str) -> dict[str, Any]:
    """SNN settings recorded for 'arch.tag' (empty for untagged or unknown names)."""
    return dict(_PRETRAINED_SNN_ARGS.get(model_name, {}))


def _canonical(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def merge_model_args(
    variant: str, model_args: dict[str, Any], kwargs: dict[str, Any], fixed: Iterable[str] = ()
) -> dict[str, Any]:
    """timm's ``dict(model_args, **kwargs)``: user kwargs win, except the ``fixed`` args.

    The ``fixed`` args (a CIFAR stem, a token grid) are what makes ``variant`` itself: its
    registered cfg (input size, normalisation, weights) only fits them. A kwarg that contradicts
    one raises instead of building a model that the cfg misdescribes; sizes (depth, width, ...)
    may still be overridden, e.g. for tiny test models.
    """
    for key in fixed:
        if key in kwargs and _canonical(kwargs[key]) != _canonical(model_args[key]):
            raise ValueError(
                f"{variant} is defined by {key}={model_args[key]!r}; {key}={kwargs[key]!r} would make another "
                f"variant. Create that variant by name instead (see snn_zoo.list_models())."
            )
    return dict(model_args, **kwargs)


def _read_overlay_file(kwargs: dict[str, Any]) -> str | None:
    """``pretrained_cfg_overlay=dict(file=PATH)``: read PATH with snn_zoo's checkpoint reader
    (safetensors, or a ``.pth`` / ``.pth.tar`` through ``torch.load(weights_only=True)`` with a narrow
    allowlist, unwrapping ``state_dict`` / ``model`` / ``state_dict_ema`` and ``module.``) and hand
    timm the state dict, so timm's own loader never unpickles the file. The family's
    ``checkpoint_filter_fn`` then maps official layouts. The file is taken to hold the classes the
    model is built with (a different head is an error that says so)."""
    overlay = kwargs.get("pretrained_cfg_overlay") or {}
    if not overlay.get("file"):
        return None
    file = str(overlay["file"])
    overlay = dict(overlay)  # keeps "file" to name the source in errors; timm loads "state_dict" first
    overlay["state_dict"] = read_state_dict(file)
    if "num_classes" in kwargs:
        overlay.setdefault("num_classes", kwargs["num_classes"])
    kwargs["pretrained_cfg_overlay"] = overlay
    return file


class ModelArgumentError(ValueError, TypeError):
    """An argument the architecture does not take (a ValueError for scripts, a TypeError as Python raises)."""


def _init_params(model_cls: type) -> dict[str, inspect.Parameter]:
    """The parameters of the constructors along ``model_cls``'s MRO (those passing ``**kwargs`` up included),
    the most derived first."""
    found: dict[str, inspect.Parameter] = {}
    for cls in model_cls.__mro__:
        if "__init__" not in vars(cls) or cls in (nn.Module, object):
            continue
        params = inspect.signature(cls.__init__).parameters.values()
        for p in params:
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self":
                found.setdefault(p.name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return found


def _init_args(model_cls: type) -> set[str]:
    return set(_init_params(model_cls))


def _check_typed_args(model_cls: type, variant: str, kwargs: dict[str, Any]) -> None:
    """Arguments annotated plainly ``int`` / ``float`` / ``bool`` (sizes, ratios, switches of each family) get
    values of that kind: integral numbers, finite numbers, True / False. ``width="16"`` or ``depth=1.5`` would
    otherwise fail deep inside with Python's words, and ``qkv_bias="no"`` would be taken as True.
    SpikingModel's own arguments are checked by it, with their meanings."""
    from ._base import SpikingModel, check_count

    own = set(inspect.signature(SpikingModel.__init__).parameters)
    for name, param in _init_params(model_cls).items():
        if name not in kwargs or name in own:
            continue
        value, kind = kwargs[name], str(param.annotation)
        where = f"{variant}: {name}"
        if kind == "int":
            kwargs[name] = check_count(where, value, None)
        elif kind == "float":
            kwargs[name] = check_number(where, value)
        elif kind == "bool":
            kwargs[name] = check_bool(where, value)


def _dtype_checked(filter_fn: Callable | None) -> Callable:
    """timm's pretrained filter, wrapped so every pretrained load (tag, hf-hub:, local-dir:, file=) refuses a
    checkpoint whose tensors have another kind of dtype than the model's (int8 into float weights would load
    as rounded numbers): :func:`snn_zoo.io.check_dtypes`, on the file's names and on the filtered names."""

    def checked(state_dict: dict, model) -> dict:
        source = _pretrained_source(model)
        check_dtypes(model, state_dict, source)
        state_dict = filter_fn(state_dict, model) if filter_fn is not None else state_dict
        check_dtypes(model, state_dict, source)
        return state_dict

    return checked


def _pretrained_source(model) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return str(cfg.get("file") or cfg.get("hf_hub_id") or f"pretrained weights of {cfg.get('architecture', 'model')}")


def build_snn_model(model_cls: type, variant: str, pretrained: bool = False, **kwargs):
    """Build ``model_cls`` through timm's builder, filling SNN settings from the pretrained tag.

    User kwargs win over the tag's recorded settings (like timm's num_classes handling).
    """
    if "img_size" in kwargs:  # a timm ViT habit; zoo models have no fixed size to set
        raise ModelArgumentError(
            f"{variant} takes no img_size: snn_zoo models accept any input size (at least {model_cls.min_input_size}x"
            f"{model_cls.min_input_size}); drop img_size={kwargs['img_size']!r} and feed images of the size you want."
        )
    tag = kwargs.get("pretrained_cfg")
    if isinstance(tag, str):
        for key, value in pretrained_snn_args(f"{variant}.{tag}").items():
            kwargs.setdefault(key, value)
    _check_typed_args(model_cls, variant, kwargs)
    file = _read_overlay_file(kwargs) if pretrained else None
    if pretrained and file is None and not isinstance(kwargs.get("pretrained_cfg"), (dict, PretrainedCfg)):
        from ._availability import check_registered_tag  # timm.create_model too: no retry storm for a missing repo

        check_registered_tag(f"{variant}.{tag}" if isinstance(tag, str) else variant)
    # features_only=True wraps the model in timm's FeatureGetterNet (it calls forward_intermediates).
    feature_cfg = dict(feature_cls="getter", out_indices=getattr(model_cls, "default_out_indices", None))
    kwargs["pretrained_filter_fn"] = _dtype_checked(kwargs.get("pretrained_filter_fn"))
    try:
        model = build_model_with_cfg(model_cls, variant, pretrained, feature_cfg=feature_cfg, **kwargs)
    except TypeError as e:
        found = re.search(r"unexpected keyword argument '(\w+)'", str(e))
        if not found or found.group(1) not in kwargs:
            raise
        raise ModelArgumentError(
            f"{variant} has no argument {found.group(1)}={kwargs[found.group(1)]!r}; it takes "
            f"{sorted(_init_args(model_cls))} (timm-wide options such as drop_rate or global_pool do not apply)."
        ) from None
    if file is not None and isinstance(getattr(model, "pretrained_cfg", None), dict):
        model.pretrained_cfg.pop("state_dict", None)  # keep the cfg small and JSON-able; record the source
        model.pretrained_cfg["file"] = file
    # timm's factory merges its recorded kwargs into this; exports then carry the full SNN setup.
    model._model_args = dict(getattr(model, "snn_args", {}))
    return model


HUB_ORG = "snn-zoo"


def published_cfg(
    name: str,
    input_size: tuple,
    num_classes: int = 10,
    T: int = 4,
    neuron: str = "lif",
    snn_args: dict | None = None,
    **kwargs,
) -> dict[str, Any]:
    """Cfg of a published checkpoint 'arch.tag': weights in the Hub repo ``snn-zoo/arch.tag``,
    trained on inputs already scaled to [0, 1] (mean 0, std 1), with the recorded T, neuron and any other
    neuron settings it was trained with (``snn_args``, e.g. the noisy conversion rule's v_reset and v_init)."""
    c = input_size[0]
    return snn_cfg(
        hf_hub_id=f"{HUB_ORG}/{name}",
        num_classes=num_classes,
        input_size=input_size,
        mean=(0.0,) * c,
        std=(1.0,) * c,
        crop_pct=1.0,
        snn_args=dict(T=T, neuron=neuron, **(snn_args or {})),
        **kwargs,
    )


def snn_cfg(**kwargs) -> dict[str, Any]:
    """Default pretrained cfg of a zoo model; override any PretrainedCfg field."""
    return {
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.875,
        "interpolation": "bilinear",
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "conv1",
        "classifier": "fc",
        "license": "apache-2.0",
        **kwargs,
    }


__all__ = [
    "SNN_MODELS",
    "ModelArgumentError",
    "build_snn_model",
    "generate_snn_default_cfgs",
    "merge_model_args",
    "pretrained_snn_args",
    "published_cfg",
    "register_snn_model",
    "snn_cfg",
]
