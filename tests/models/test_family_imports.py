"""Model families share blocks through snn_zoo.layers, never through another family's file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import snn_zoo.models

MODELS_DIR = Path(snn_zoo.models.__file__).parent
FAMILIES = sorted(p.stem for p in MODELS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _imported_modules(path: Path) -> set[str]:
    """Relative imports of ``path`` resolved inside snn_zoo.models ('.spikformer' -> 'spikformer')."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module] if node.module else [a.name for a in node.names])
    return names


def test_every_family_is_found():
    assert {"spikformer", "spikingformer", "spike_driven_transformer", "qkformer", "sew_resnet"} <= set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_imports_no_other_family(family):
    others = _imported_modules(MODELS_DIR / f"{family}.py") & (set(FAMILIES) - {family})
    assert not others, f"{family}.py imports {sorted(others)}; move the shared piece to snn_zoo/layers/."
