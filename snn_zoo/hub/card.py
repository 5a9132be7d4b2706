"""Model cards generated from a run's measured results.json (never typed by hand)."""

from __future__ import annotations

from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..data import dataset_title
from ..distill.methods import METHOD_TABLE, SINGLE_STEP_NOISE_CARD


def _method_text(results: dict) -> str:
    """The method's card sentence from snn_zoo.distill's method table (+ single-step noise training, if used)."""
    method = results["method"]
    text = METHOD_TABLE[method].card if method in METHOD_TABLE else method
    if results.get("single_step_noise") is not None:
        text += f"; {SINGLE_STEP_NOISE_CARD}, sigma {results['single_step_noise']}"
    return text


def _seed_line(results: dict) -> str:
    """'mean ± std over seeds [...]' for multi-seed results (hub_scripts/build_zoo.py), else ''."""
    if not results.get("seed_results"):
        return ""
    per_seed = ", ".join(f"seed {r['seed']}: {r['top1']:.2f}" for r in results["seed_results"])
    return (
        f"\nTop-1 over {len(results['seed_results'])} seeds: **{results['top1_mean']:.2f} ± "
        f"{results['top1_std']:.2f}** (sample std; {per_seed}). The weights here are seed "
        f"{results['checkpoint_seed']}'s; the other figures below are from that seed.\n"
    )


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_model_card(results: dict, repo_id: str | None = None, asset_prefix: str = "") -> str:
    """Markdown model card (with Hugging Face front matter) for one run's ``results.json``.

    ``asset_prefix`` is prepended to the plots' file names (for cards kept outside the run folder).
    """
    name = results.get("name") or results["model"]
    dataset = results.get("dataset", "unknown")
    metrics = [
        EvalResult(
            task_type="image-classification",
            dataset_type=dataset,
            dataset_name=dataset_title(dataset),
            metric_type="accuracy",
            metric_name="top-1 accuracy",
            metric_value=round(float(results["top1"]), 2),
        )
    ]
    data = ModelCardData(
        library_name="timm",
        license=results.get("license", "apache-2.0"),
        model_name=name,
        tags=["image-classification", "timm", "snn_zoo", "spiking-neural-network", f"distillation-{results['method']}"],
        datasets=[dataset],
        base_model=results.get("teacher_hub_id"),
        eval_results=metrics,
    )
    load_name = f"hf-hub:{repo_id}" if repo_id else name
    tag_line = f'\n# or, by its registered tag: snn_zoo.create_model("{name}", pretrained=True)' if repo_id else ""
    energy_ratio = None
    if results.get("energy_mj_per_image") and results.get("ann_energy_mj_per_image"):
        energy_ratio = results["ann_energy_mj_per_image"] / results["energy_mj_per_image"]
    rows = [
        ("Top-1 accuracy (%)", _fmt(results["top1"])),
        ("Top-5 accuracy (%)", _fmt(results.get("top5"))),
        ("Time steps T", _fmt(results["T"])),
        ("Neuron", _fmt(results.get("neuron"))),
        ("Parameters", f"{results['param_count']:,}"),
        ("Mean firing rate", _fmt(results.get("mean_firing_rate"), 4)),
        ("Synaptic operations per image", _fmt(results.get("sops_per_image"), 0)),
        ("Energy per image (mJ, 45 nm: 4.6 pJ MAC / 0.9 pJ AC)", _fmt(results.get("energy_mj_per_image"), 6)),
        ("ANN-twin energy per image (mJ, all MACs)", _fmt(results.get("ann_energy_mj_per_image"), 6)),
        ("Energy saving vs ANN twin (x)", _fmt(energy_ratio)),
        (f"Teacher ({_fmt(results.get('teacher'))}) top-1 (%)", _fmt(results.get("teacher_top1"))),
        ("Training time (s)", _fmt(results.get("train_seconds"), 1)),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    plot = f"\n![Per-layer firing rate]({asset_prefix}firing_rates.png)\n" if results.get("firing_rate_plot") else ""
    citation = METHOD_TABLE[results["method"]].citation if results["method"] in METHOD_TABLE else ""
    body = f"""
# {name}

A spiking neural network from snn_zoo: `{results["model"]}` trained on
{dataset_title(dataset)} with {_method_text(results)}.
Every number below was measured by the run that produced these weights (`results.json`).
{_seed_line(results)}
## Results

| Metric | Value |
|---|---|
{table}
{plot}
## How to load

```python
import snn_zoo  # registers the architectures in timm

model = snn_zoo.create_model("{load_name}", pretrained=True){tag_line}
logits = model(images)  # [B, C, H, W] static images, or [T, B, C, H, W] event frames
```

## How to reproduce

```bash
{results.get("command", "accelerate launch hub_scripts/distill.py")}
```

Recipe: `{results.get("recipe", "n/a")}`; seed {results.get("seed", "n/a")}; {results.get("epochs", "n/a")} epochs.

## Method

{_method_text(results)}. The student runs T={results["T"]} time steps with
direct encoding (the image repeated each step) or event frames; logits are averaged over time.
Energy counts the first layer (real-valued input) as MACs and every spike-driven layer as
accumulates (synaptic operations = FLOPs x firing rate), following the 45 nm convention.

## Limitations

Trained and evaluated on {dataset_title(dataset)} only; energy is an analytical
estimate from operation counts, not a hardware measurement.

## Citation

```bibtex
{citation or "@misc{snn_zoo, title={snn_zoo: a zoo of spiking neural networks}, year={2026}}"}
```
"""
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body).content


_SNN_ARG_NAMES = ("T", "neuron", "surrogate", "tau", "v_threshold", "v_reset", "detach_reset", "decay_input")


def render_config_card(
    config: dict, param_count: int | None = None, repo_id: str | None = None, license: str = "apache-2.0"
) -> str:
    """Model card for a checkpoint without ``results.json`` (a ``save_pretrained`` folder or a model
    object), from its timm ``config.json``: architecture, SNN settings, parameters, how to load it in
    snn_zoo and in timm, license. Like timm's own ``push_to_hf_hub`` card, it states no accuracy."""
    arch = config.get("architecture", "unknown")
    args = config.get("model_args") or {}
    name = repo_id.split("/")[-1] if repo_id else arch
    data = ModelCardData(
        library_name="timm",
        license=license,
        model_name=name,
        tags=["image-classification", "timm", "snn_zoo", "spiking-neural-network"],
    )
    rows = [
        ("Architecture", f"`{arch}`"),
        ("Classes", _fmt(config.get("num_classes"))),
        ("Parameters", f"{param_count:,}" if param_count is not None else "n/a"),
        ("Input size", "x".join(map(str, config.get("pretrained_cfg", {}).get("input_size", []))) or "n/a"),
    ]
    rows += [(key, f"`{args[key]}`") for key in _SNN_ARG_NAMES if key in args]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    load_name = f"hf-hub:{repo_id}" if repo_id else f"local-dir:PATH/TO/{name}"
    body = f"""
# {name}

A spiking neural network from snn_zoo (`{arch}`). This card was generated from the checkpoint's
`config.json`: no evaluation results were published with these weights.

## Model details

| Setting | Value |
|---|---|
{table}

## How to load

```python
import snn_zoo  # registers the architectures in timm

model = snn_zoo.create_model("{load_name}", pretrained=True)
logits = model(images)  # [B, C, H, W] static images, or [T, B, C, H, W] event frames

import timm  # after `import snn_zoo`, timm builds the same model

model = timm.create_model("{load_name}", pretrained=True)
```

## License

{license}
"""
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body).content
