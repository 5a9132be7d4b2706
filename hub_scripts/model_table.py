"""Markdown tables of every snn_zoo architecture and every ported official checkpoint, from the registry.

    python hub_scripts/model_table.py                   # print the tables
    python hub_scripts/model_table.py --write README.md # replace the blocks between the markers

The file given to ``--write`` must contain the marker lines of both blocks (``model-table`` and
``ported-table``); everything between them is replaced, the rest of the file is kept byte for byte.
Models are built on the meta device, so
counting the parameters of even the largest costs no memory and no initialisation time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from timm.models import get_pretrained_cfg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import snn_zoo
from snn_zoo.hub.markdown import replace_marked_block

MARKER = "model-table"
COLUMNS = ("Model", "Params (M)", "Input size", "Classes", "Family", "Paper")
PORTED_MARKER = "ported-table"
PORTED_COLUMNS = (
    "Checkpoint",
    "Data",
    "Reported top-1 (%)",
    "T",
    "Neuron",
    "Eval input",
    "Source",
    "Weights from",
    "Status",
)


def _paper_links(paper_ids: Any) -> str:
    if not paper_ids:
        return "-"
    ids = [paper_ids] if isinstance(paper_ids, str) else list(paper_ids)
    links = []
    for pid in ids:
        if pid.startswith("arXiv:"):
            links.append(f"[{pid}](https://arxiv.org/abs/{pid.split(':', 1)[1]})")
        else:
            links.append(pid)
    return ", ".join(links)


def _family(model: torch.nn.Module) -> str:
    family = type(model).__name__
    connect = getattr(model, "connect", None)  # SpikingResNet serves both Spiking and SEW ResNets
    return f"{family} (SEW {connect})" if connect else family


def model_rows(names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per architecture: parameters at its default num_classes, default input size, ..."""
    rows = []
    for name in names if names is not None else snn_zoo.list_models():
        cfg = get_pretrained_cfg(name)
        with torch.device("meta"):
            model = snn_zoo.create_model(name)
        rows.append(
            {
                "name": name,
                "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                "input_size": tuple(cfg.input_size),
                "num_classes": cfg.num_classes,
                "family": _family(model),
                "paper": _paper_links(cfg.paper_ids),
            }
        )
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render rows from :func:`model_rows` as a GitHub markdown table (trailing newline included)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---", "---:", "---", "---:", "---", "---"]) + "|"]
    for r in rows:
        size = "x".join(str(s) for s in r["input_size"])
        lines.append(
            f"| `{r['name']}` | {r['params_m']:.2f} | {size} | {r['num_classes']} | {r['family']} | {r['paper']} |"
        )
    return "\n".join(lines) + "\n"


def ported_rows(filter: str = "") -> list[dict[str, Any]]:
    """One row per ported official checkpoint ('arch.tag'), from its pretrained cfg."""
    from snn_zoo.models import ported_weights

    names = set(snn_zoo.list_pretrained(filter or ""))
    rows = []
    for name, info in ported_weights().items():
        if name not in names:
            continue
        cfg = get_pretrained_cfg(name)
        rows.append(dict(name=name, **info, input_size=tuple(cfg.input_size), crop_pct=cfg.crop_pct))
    return sorted(rows, key=lambda r: r["name"])


CARDS = Path(__file__).resolve().parents[1] / "model_cards"


def card_status_of(name: str, cards: Path = CARDS) -> str:
    """The status line of model_cards/<name>.md (written by make_model_cards.py / release.py)."""
    from snn_zoo.hub.card import card_status

    path = cards / f"{name}.md"
    status = card_status(path.read_text(encoding="utf-8")) if path.is_file() else None
    return f"[{status}](model_cards/{name}.md)" if status else "no card (run hub_scripts/make_model_cards.py)"


def ported_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render :func:`ported_rows` as a markdown table; the status column is read from each tag's card."""
    lines = [
        "| " + " | ".join(PORTED_COLUMNS) + " |",
        "|" + "|".join(["---", "---", "---:", "---:", "---", "---", "---", "---", "---"]) + "|",
    ]
    for r in rows:
        args = r["snn_args"]
        neuron = args["neuron"].upper() + ("" if args.get("decay_input", True) else ", decay_input=False")
        size = f"{r['input_size'][-1]} (crop {r['crop_pct']:g})"
        lines.append(
            f"| `{r['name']}` | {r['dataset']} | {r['top1']:.2f} | {args['T']} | {neuron} | {size} | "
            f"[{r['repo']}](https://github.com/{r['repo']}) ({r['source_license']}) | "
            f"[link]({r['origin_url']}) | {card_status_of(r['name'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--write", metavar="FILE", type=Path, help=f"replace the block between the {MARKER} markers in FILE"
    )
    parser.add_argument("--filter", default="", help="wildcard filter on model names, e.g. 'spik*'")
    args = parser.parse_args(argv)

    table = markdown_table(model_rows(snn_zoo.list_models(args.filter)))
    ported = ported_table(ported_rows(args.filter))
    print(table, end="")
    print()
    print(ported, end="")
    if args.write is not None:
        try:
            text = args.write.read_text(encoding="utf-8")
            new = replace_marked_block(replace_marked_block(text, MARKER, table), PORTED_MARKER, ported)
        except (OSError, ValueError) as err:
            print(f"error: cannot update {args.write}: {err}", file=sys.stderr)
            return 2
        if new != text:
            args.write.write_text(new, encoding="utf-8")
        print(f"{'updated' if new != text else 'already up to date'}: {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
