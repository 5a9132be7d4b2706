"""Print the peer-agreement table the NIR tests assert: `python tests/nir/peer_report.py`.

Per family (tiny random models, 8 images, T=4) and per shipped checkpoint of a covered family (the 360
digits validation images): max |logit difference| to snn_zoo and top-1 in snntorch, norse and
snn_zoo.from_nir. '-' marks a combination the peer cannot run (reason in test_nir_peers.py).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from nir_peers import FAMILIES, NEURONS, compare, norse_outputs, snntorch_outputs, tiny_model

from snn_zoo.nir import export_nir, from_nir


def _runs(model, x, skip_snntorch: bool, skip_norse: bool) -> dict:
    return {
        "snntorch": None if skip_snntorch else snntorch_outputs(export_nir(model, x), x, model.T).mean(0),
        "norse": None if skip_norse else norse_outputs(export_nir(model, x, pool="sum"), x, model.T).mean(0),
        "from_nir": from_nir(export_nir(model, x))(x),
    }


def _cell(found: dict | None, top1: float | None = None) -> str:
    if found is None:
        return "-"
    text = f"{found['max_abs_diff']:.1e}"
    return f"{text} / {top1:.2f}" if top1 is not None else f"{text} / {100 * found['top1_agreement']:.0f}%"


def main() -> None:
    warnings.filterwarnings("ignore")
    print("| Family | Neuron | snntorch: max diff / top-1 agreement | norse | snn_zoo.from_nir |")
    print("|---|---|---|---|---|")
    for family in sorted(FAMILIES):
        for neuron in sorted(NEURONS):
            model, x = tiny_model(family, neuron)
            with torch.no_grad():
                reference = model(x)
            skip_norse = "imagenet_stem" in family or neuron == "lif_no_decay_input"
            outs = _runs(model, x, neuron == "if", skip_norse)
            cells = [_cell(None if out is None else compare(reference, out)) for out in outs.values()]
            print(f"| {family} | {neuron} | " + " | ".join(cells) + " |")

    from test_nir_checkpoints import EXPORTED, _load, _top1

    print("\n| Checkpoint | snn_zoo top-1 | snntorch: max diff / top-1 | norse | snn_zoo.from_nir |")
    print("|---|---:|---|---|---|")
    for name in EXPORTED:
        model, x, labels, logits, _ = _load(name)
        outs = _runs(model, x, False, False)
        cells = [_cell(compare(logits, out), _top1(out, labels)) for out in outs.values()]
        print(f"| {name} | {_top1(logits, labels):.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
