"""NIR (Neuromorphic Intermediate Representation) export and import: zoo SNNs on chips and in other simulators.

``export_nir(model, x)`` -> ``nir.NIRGraph`` (nirtorch's tracer with our node map); ``from_nir(graph or path)``
-> a runnable multi-step module (nirtorch's interpreter with our node map). Needs the ``nir`` extra:
``pip install "snn_zoo[nir]"``. The discrete <-> continuous neuron mapping and the dt convention are in
:mod:`snn_zoo.nir.neurons`.
"""

from __future__ import annotations

from .export import NIR_POOLS, NIRExportError, export_nir, nir_support
from .load import NIRModel, from_nir
from .neurons import NIR_DT, NIRConversionError
from .write import NIR_NAME, write_nir, write_nir_beside

__all__ = [
    "NIR_DT",
    "NIR_NAME",
    "NIR_POOLS",
    "NIRConversionError",
    "NIRExportError",
    "NIRModel",
    "export_nir",
    "from_nir",
    "nir_support",
    "write_nir",
    "write_nir_beside",
]
