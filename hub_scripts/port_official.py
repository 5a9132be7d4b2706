#!/usr/bin/env python
"""Convert an official checkpoint (as its authors saved it) into a run folder for the Hub.

    python hub_scripts/port_official.py TAG CHECKPOINT --output DIR [--data-dir VAL] [--batch-size 64]
        [--max-batches N] [--energy-samples 16] [--device cpu]

TAG is a ported 'arch.tag' (see the "Ported official weights" table in README.md); CHECKPOINT the
authors' .pth / .pth.tar (read with torch.load(weights_only=True) and a narrow allowlist) or a
.safetensors. The family's checkpoint_filter_fn maps the official layout; the tag's cfg supplies the
authors' neuron settings, T and eval transform. DIR receives what hub_scripts/push_to_hub.py publishes
unchanged: model.safetensors, config.json, README.md (the card: origin, source license, reported
accuracy) and results.json. With --data-dir (an ImageFolder of the validation split: one folder per
class, sorted class names = label order) the card and results.json also hold the top-1 / top-5,
firing rates, SOPs and energy measured here, kept apart from the authors' reported numbers.

Exit status: 0 on success, 2 on a bad tag, checkpoint or data folder (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import snn_zoo
except ImportError:  # run from a source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import snn_zoo

import torch


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tag", help="ported checkpoint name 'arch.tag', e.g. sew_resnet18.sew_in1k")
    parser.add_argument("checkpoint", type=Path, help="the authors' .pth / .pth.tar (or a .safetensors)")
    parser.add_argument("--output", type=Path, required=True, help="run folder to write (created; files replaced)")
    parser.add_argument("--data-dir", type=Path, default=None, help="validation ImageFolder to measure on")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-batches", type=int, default=None, help="stop the accuracy pass after N batches")
    parser.add_argument("--energy-samples", type=int, default=16, help="images of the firing-rate / energy pass")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--model-kwargs",
        type=json.loads,
        default={},
        help="extra create_model kwargs as JSON (tests use tiny sizes), e.g. '{\"num_classes\": 7}'",
    )
    return parser.parse_args(argv)


def measure(
    model: torch.nn.Module,
    data_dir: Path,
    batch_size: int,
    max_batches: int | None,
    energy_samples: int,
    workers: int,
    device: str,
) -> dict[str, Any]:
    """Top-1/top-5 with the tag's eval transform, then firing rates / SOPs / energy on the first images."""
    from timm.data import create_transform, resolve_data_config
    from torchvision.datasets import ImageFolder

    from snn_zoo.eval import evaluate
    from snn_zoo.metrics import energy_report

    data_cfg = resolve_data_config({}, model=model)
    dataset = ImageFolder(str(data_dir), transform=create_transform(**data_cfg, is_training=False))
    if len(dataset.classes) > model.num_classes:
        raise ValueError(
            f"{str(data_dir)!r} has {len(dataset.classes)} class folders; the model has "
            f"{model.num_classes} classes. Point --data-dir at the validation split of its dataset."
        )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    model = model.to(device).eval()
    metrics = evaluate(model, loader, max_batches=max_batches, progress=False, device=torch.device(device))
    x = next(iter(loader))[0][:energy_samples].to(device)
    report = energy_report(model, x).to_dict()
    return dict(
        data_dir=str(data_dir),
        num_samples=metrics["num_samples"],
        top1=round(metrics["top1"], 4),
        top5=round(metrics["top5"], 4),
        eval_transform={k: (list(v) if isinstance(v, tuple) else v) for k, v in data_cfg.items()},
        energy_samples=int(x.shape[0]),
        **{
            k: report[k]
            for k in (
                "mean_firing_rate",
                "firing_rates",
                "sops_per_image",
                "macs_per_image",
                "energy_mj_per_image",
                "ann_energy_mj_per_image",
            )
        },
    )


def model_card(
    tag: str,
    info: dict[str, Any],
    cfg: dict[str, Any],
    model_args: dict[str, Any],
    params: int,
    checkpoint: str,
    measured: dict[str, Any] | None,
) -> str:
    """The README.md of the Hub repo: where the weights come from, what the authors report, what we measured."""
    arch = tag.split(".")[0]
    lines = [
        "---",
        "library_name: timm",
        f"license: {info['license']}",
        "tags:",
        "- snn_zoo",
        "- spiking-neural-network",
        "- image-classification",
        "---",
        "",
        f"# {tag}",
        "",
        f"Weights released by the authors of [{info['repo']}](https://github.com/{info['repo']}) "
        f"([download page]({info['origin_url']})), converted to safetensors for snn_zoo's `{arch}` by "
        f"`hub_scripts/port_official.py` from `{Path(checkpoint).name}`. The key layout was mapped by the "
        f"family's `checkpoint_filter_fn`, whose output reproduces the authors' code to 1e-5 on golden fixtures "
        f"(`tests/models/test_official_ports.py`).",
        "",
        f"Source license: {info['source_license']}. Papers: {cfg.get('paper_ids')}.",
        "",
        "```python",
        "import snn_zoo",
        f'model = snn_zoo.create_model("{tag}", pretrained=True)',
        "```",
        "",
        "| Setting | Value |",
        "|---|---|",
        f"| Parameters | {params:,} |",
        f"| Eval input | {cfg['input_size']}, crop_pct {cfg['crop_pct']}, {cfg['interpolation']} |",
        f"| Mean / std | {cfg['mean']} / {cfg['std']} |",
        *(f"| {k} | {v} |" for k, v in sorted(model_args.items())),
        "",
        "## Reported by the authors",
        "",
        f"Top-1 {info['top1']:.2f}% on {info['dataset']} ({info['reported_in']}). Not re-measured by this port "
        "unless the next section says so.",
        "",
        "## Measured by this port",
        "",
    ]
    if measured is None:
        lines.append("Not measured yet (no `--data-dir` given): re-validation pending.")
    else:
        lines += [
            f"On `{measured['data_dir']}` ({measured['num_samples']} images, the tag's eval transform):",
            "",
            "| Metric | Value |",
            "|---|---:|",
            f"| Top-1 (%) | {measured['top1']:.2f} |",
            f"| Top-5 (%) | {measured['top5']:.2f} |",
            f"| Mean firing rate | {measured['mean_firing_rate']:.4f} |"
            if measured["mean_firing_rate"] is not None
            else "| Mean firing rate | - |",
            f"| SOPs / image | {measured['sops_per_image']:,.0f} |",
            f"| Energy / image (mJ, 45 nm: 4.6 pJ MAC, 0.9 pJ AC) | {measured['energy_mj_per_image']:.4f} |",
            "",
            f"Firing rates, SOPs and energy over the first {measured['energy_samples']} images.",
        ]
    return "\n".join(lines) + "\n"


def port(
    tag: str,
    checkpoint: Path,
    output: Path,
    data_dir: Path | None = None,
    batch_size: int = 64,
    max_batches: int | None = None,
    energy_samples: int = 16,
    workers: int = 4,
    device: str = "cpu",
    model_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Write the run folder for ``tag`` from the authors' ``checkpoint``; returns ``output``."""
    from timm.models import get_pretrained_cfg

    from snn_zoo.io import save_pretrained
    from snn_zoo.models import ported_weights

    ported = ported_weights()
    if tag not in ported:
        raise ValueError(f"{tag!r} is not a ported official checkpoint; choose one of {sorted(ported)}.")
    if not checkpoint.is_file():
        raise ValueError(f"Checkpoint {str(checkpoint)!r} does not exist.")
    if data_dir is not None and not data_dir.is_dir():
        raise ValueError(f"--data-dir {str(data_dir)!r} is not a folder.")
    info = ported[tag]
    model = snn_zoo.create_model(
        tag, pretrained=True, pretrained_cfg_overlay=dict(file=str(checkpoint)), **(model_kwargs or {})
    ).eval()
    cfg = dict(get_pretrained_cfg(tag).to_dict())
    cfg.update({k: v for k, v in model.pretrained_cfg.items() if k in ("num_classes",)})
    model.pretrained_cfg = {k: v for k, v in cfg.items() if k not in ("file", "state_dict")}
    model_args = {**model.snn_args, **info["snn_args"], **(model_kwargs or {})}
    model_args = {k: (list(v) if isinstance(v, tuple) else v) for k, v in model_args.items()}
    measured = None
    if data_dir is not None:
        measured = measure(model, data_dir, batch_size, max_batches, energy_samples, workers, device)
        model = model.cpu()
    output.mkdir(parents=True, exist_ok=True)
    save_pretrained(model, output, model_args=model_args)
    params = sum(p.numel() for p in model.parameters())
    results = dict(
        model=tag,
        architecture=tag.split(".")[0],
        source_checkpoint=checkpoint.name,
        model_args=model_args,
        param_count=params,
        reported={k: info[k] for k in ("top1", "dataset", "reported_in", "repo", "origin_url", "source_license")},
        measured=measured,
    )
    (output / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (output / "README.md").write_text(model_card(tag, info, cfg, model_args, params, str(checkpoint), measured))
    return output


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from snn_zoo.io import CheckpointError

    try:
        out = port(
            args.tag,
            args.checkpoint,
            args.output,
            args.data_dir,
            args.batch_size,
            args.max_batches,
            args.energy_samples,
            args.workers,
            args.device,
            args.model_kwargs,
        )
    except (CheckpointError, ValueError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(f"wrote {out} (publish: python hub_scripts/push_to_hub.py {out} --repo-id snn-zoo/{args.tag})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
