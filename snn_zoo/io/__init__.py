"""The checkpoint layer: atomic writes and finding / reading / validating / loading checkpoints.

Low level on purpose: it imports no other snn_zoo package, so the factory, training, evaluation
and Hub code all build on it (callers pass the architecture registry where it matters).
"""

from .atomic import (
    NoSpaceError,
    PathLike,
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    disk_full_cause,
    replace_directory,
)
from .checkpoint import (
    CONFIG_NAME,
    PICKLE_SUFFIXES,
    PICKLE_WEIGHTS,
    SAFE_PICKLE_GLOBALS,
    WEIGHTS_NAME,
    CheckpointError,
    check_dtypes,
    check_finite,
    check_fits,
    check_safetensors,
    config_num_classes,
    find_checkpoint,
    is_pickle,
    load_weights,
    non_finite_tensors,
    preflight_hub,
    preflight_local,
    read_config,
    read_state_dict,
    save_pretrained,
    unwrap_state_dict,
)

__all__ = [
    "CONFIG_NAME",
    "PICKLE_SUFFIXES",
    "PICKLE_WEIGHTS",
    "SAFE_PICKLE_GLOBALS",
    "WEIGHTS_NAME",
    "CheckpointError",
    "NoSpaceError",
    "PathLike",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_dtypes",
    "check_finite",
    "check_fits",
    "check_safetensors",
    "config_num_classes",
    "disk_full_cause",
    "find_checkpoint",
    "is_pickle",
    "load_weights",
    "non_finite_tensors",
    "preflight_hub",
    "preflight_local",
    "read_config",
    "read_state_dict",
    "replace_directory",
    "save_pretrained",
    "unwrap_state_dict",
]
