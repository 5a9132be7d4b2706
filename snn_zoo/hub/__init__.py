"""Publishing zoo checkpoints to the Hugging Face Hub, with model cards.

Checkpoint reading, validation and atomic writing live in :mod:`snn_zoo.io` (below the factory);
``CheckpointError``, ``save_pretrained`` and the atomic writers are re-exported here for
compatibility.
"""

from ..io import CheckpointError, atomic_write_bytes, atomic_write_text, preflight_hub, preflight_local, save_pretrained
from .card import render_card, render_model_card, render_ported_card
from .push import PushError, check_repo_id, left_out, push_to_hub, stage_upload

__all__ = [
    "CheckpointError",
    "PushError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_repo_id",
    "left_out",
    "preflight_hub",
    "preflight_local",
    "push_to_hub",
    "render_card",
    "render_model_card",
    "render_ported_card",
    "save_pretrained",
    "stage_upload",
]
