"""snn_zoo: a timm-style zoo of spiking neural networks."""

from . import models  # noqa: F401  (import registers every architecture in timm's registry)
from .factory import create_model, is_model, list_models, list_pretrained
from .hub import push_to_hub
from .io import save_pretrained
from .nir import export_nir, from_nir  # the nir / nirtorch packages are imported only when these are called

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "create_model",
    "export_nir",
    "from_nir",
    "is_model",
    "list_models",
    "list_pretrained",
    "push_to_hub",
    "save_pretrained",
]
