"""Test-only helpers: add / remove one 'arch.tag' checkpoint in timm's registry at run time.

timm has no public API for this (tags come from a module's ``default_cfgs`` when
``register_model`` runs), so these reach into its private registry dicts. They live with the
tests, the only users; the library never mutates timm's registry after import.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from timm.models import _registry, split_model_name_tag

from snn_zoo.models import SNN_MODELS, _builder


def add_pretrained_tag(name: str, cfg: dict[str, Any]) -> None:
    """Register one more 'arch.tag' checkpoint for an already registered snn_zoo architecture.

    ``cfg`` is an ``snn_cfg`` dict (``hf_hub_id`` must be the full 'org/arch.tag'; it may carry
    ``snn_args``). The entry lands in timm's registry exactly as ``register_model`` stores a
    module's ``default_cfgs`` (as a non-default tag), so ``create_model(name, pretrained=True)``,
    ``list_pretrained()`` and timm's own ``create_model`` see it. Undo with :func:`remove_pretrained_tag`.
    """
    arch, tag = split_model_name_tag(name)
    if arch not in SNN_MODELS or not tag:
        raise ValueError(f"{name!r} is not 'arch.tag' with a registered snn_zoo architecture.")
    pretrained_cfg = _builder.generate_snn_default_cfgs({name: cfg})[arch].cfgs[tag]
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
    _builder._PRETRAINED_SNN_ARGS.pop(name, None)
