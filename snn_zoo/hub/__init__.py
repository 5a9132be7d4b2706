"""Saving, publishing and loading zoo checkpoints through timm's and huggingface_hub's formats."""
from .card import render_model_card
from .load import CheckpointError, preflight_hub, preflight_local
from .push import push_to_hub, stage_upload
from .save import atomic_write_bytes, atomic_write_text, save_pretrained

__all__ = [
    "CheckpointError", "atomic_write_bytes", "atomic_write_text", "preflight_hub", "preflight_local",
    "push_to_hub", "render_model_card", "save_pretrained", "stage_upload",
]
