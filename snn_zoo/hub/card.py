"""Model cards generated from a run's measured results.json (never typed by hand)."""

from __future__ import annotations

import statistics
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..data import dataset_title
from ..distill.methods import METHOD_TABLE, SINGLE_STEP_NOISE_CARD
from ..nir.write import nir_card_line


def _method_text(results: dict) -> str:
    """The method's card sentence from snn_zoo.distill's method table (+ single-step noise training, if used)."""
    method = results["method"]
    text = METHOD_TABLE[method].card if method in METHOD_TABLE else method
    if results.get("single_step_noise") is not None:
        text += f"; {SINGLE_STEP_NOISE_CARD}, noise width {results['single_step_noise']} x v_threshold"
    return text


def _mean_std(values: list[float], digits: int) -> str:
    if len(values) < 2:
        return f"{values[0]:,.{digits}f}"
    return f"{statistics.fmean(values):,.{digits}f} ± {statistics.stdev(values):,.{digits}f}"


def _headline(results: dict) -> str:
    """Top-1 and the spike cost side by side (over the seeds when build_zoo.py recorded several)."""
    rows = results.get("seed_results") or [results]
    if any(r.get("sops_per_image") is None for r in rows):
        return f"\n**Top-1 {_mean_std([r['top1'] for r in rows], 2)} %**\n"
    over = f" (mean ± sample std over {len(rows)} seeds)" if len(rows) > 1 else ""
    return (
        f"\n**Top-1 {_mean_std([r['top1'] for r in rows], 2)} % · "
        f"{_mean_std([r['sops_per_image'] for r in rows], 0)} synaptic operations per image · "
        f"firing rate {_mean_std([r['mean_firing_rate'] for r in rows], 4)}**{over}\n"
    )


def _seed_line(results: dict) -> str:
    """'mean ± std over seeds [...]' for multi-seed results (hub_scripts/build_zoo.py), else ''."""
    if not results.get("seed_results"):
        return ""
    per_seed = ", ".join(
        f"seed {r['seed']}: {r['top1']:.2f} %"
        + (f", {r['sops_per_image']:,.0f} SOPs" if r.get("sops_per_image") else "")
        for r in results["seed_results"]
    )
    return (
        f"\nPer seed: {per_seed}. The weights here are seed {results['checkpoint_seed']}'s; the other figures below "
        f"are from that seed.\n"
    )


def _fmt(value: Any, digits: int = 2) -> str:
    """A card figure: 'n/a' when missing; numbers with thousands separators, floats to ``digits`` places."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _run_card_data(results: dict, name: str, dataset: str) -> ModelCardData:
    """Front matter of a training run's card: licence, tags, data and the measured top-1."""
    metric = EvalResult(
        task_type="image-classification",
        dataset_type=dataset,
        dataset_name=dataset_title(dataset),
        metric_type="accuracy",
        metric_name="top-1 accuracy",
        metric_value=round(float(results["top1"]), 2),
    )
    return ModelCardData(
        library_name="timm",
        license=results.get("license", "apache-2.0"),
        model_name=name,
        tags=["image-classification", "timm", "snn_zoo", "spiking-neural-network", f"distillation-{results['method']}"],
        datasets=[dataset],
        base_model=results.get("teacher_hub_id"),
        eval_results=[metric],
    )


def run_model_args(results: dict) -> dict:
    """The neuron settings a run's model was built with (``neuron`` and the recipe's ``model_kwargs``)."""
    recipe = results.get("recipe") if isinstance(results.get("recipe"), dict) else {}
    return {"neuron": results.get("neuron"), **recipe.get("model_kwargs", {})}


def _run_rows(results: dict) -> list[tuple[str, str]]:
    """The results table of a training run's card: accuracy, spikes, energy, teacher, time, NIR."""
    energy_ratio = None
    if results.get("energy_mj_per_image") and results.get("ann_energy_mj_per_image"):
        energy_ratio = results["ann_energy_mj_per_image"] / results["energy_mj_per_image"]
    return [
        ("Top-1 accuracy (%)", _fmt(results["top1"])),
        ("Top-5 accuracy (%)", _fmt(results.get("top5"))),
        ("Time steps T", _fmt(results["T"])),
        ("Neuron", _fmt(results.get("neuron"))),
        ("Parameters", _fmt(results["param_count"])),
        ("Mean firing rate", _fmt(results.get("mean_firing_rate"), 4)),
        ("Synaptic operations per image", _fmt(results.get("sops_per_image"), 0)),
        ("Energy per image (mJ, 45 nm: 4.6 pJ MAC / 0.9 pJ AC)", _fmt(results.get("energy_mj_per_image"), 6)),
        ("ANN-twin energy per image (mJ, all MACs)", _fmt(results.get("ann_energy_mj_per_image"), 6)),
        ("Energy saving vs ANN twin (x)", _fmt(energy_ratio)),
        (f"Teacher ({_fmt(results.get('teacher'))}) top-1 (%)", _fmt(results.get("teacher_top1"))),
        ("Training time (s)", _fmt(results.get("train_seconds"), 1)),
        ("Exports to NIR (neuromorphic hardware)", nir_card_line(results["model"], run_model_args(results))),
    ]


def render_model_card(results: dict, repo_id: str | None = None, asset_prefix: str = "") -> str:
    """Markdown model card (with Hugging Face front matter) for one run's ``results.json``.

    ``asset_prefix`` is prepended to the plots' file names (for cards kept outside the run folder).
    """
    name = results.get("name") or results["model"]
    dataset = results.get("dataset", "unknown")
    data = _run_card_data(results, name, dataset)
    load_name = f"hf-hub:{repo_id}" if repo_id else name
    tag_line = f'\n# or, by its registered tag: snn_zoo.create_model("{name}", pretrained=True)' if repo_id else ""
    rows = _run_rows(results)
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    plot = f"\n![Per-layer firing rate]({asset_prefix}firing_rates.png)\n" if results.get("firing_rate_plot") else ""
    citation = METHOD_TABLE[results["method"]].citation if results["method"] in METHOD_TABLE else ""
    body = f"""
# {name}

A spiking neural network from snn_zoo: `{results["model"]}` trained on
{dataset_title(dataset)} with {_method_text(results)}.
Every number below was measured by the run that produced these weights (`results.json`).
{_headline(results)}{_seed_line(results)}
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

Seed {results.get("seed", "n/a")}; {results.get("epochs", "n/a")} epochs; every setting is in `results.json` (`recipe`).

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


_SNN_ARG_NAMES = (
    "T",
    "neuron",
    "surrogate",
    "tau",
    "v_threshold",
    "v_reset",
    "detach_reset",
    "decay_input",
    "v_init",
)


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
    rows.append(("Exports to NIR (neuromorphic hardware)", nir_card_line(arch, args)))
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


# -- ported official checkpoints ---------------------------------------------------------------------
#: The card line model_table.py reads back for README's ported table (one place says what the status is).
STATUS_PREFIX = "**Status:** "
NOT_REVALIDATED = "ported, not yet re-validated"
#: Only the card of an actual port (release.py / port_official.py) says which file it converted.
CONVERTED_FROM = "This copy was converted from"


def ported_status(results: dict) -> str:
    """``ported, not yet re-validated`` or ``re-validated on <data>: <top-1>`` from a port's results."""
    measured = results.get("measured")
    if not measured:
        return NOT_REVALIDATED
    return f"re-validated on {measured['data']} ({measured['num_samples']:,} images): top-1 {measured['top1']:.2f}%"


def _ported_card_data(results: dict) -> ModelCardData:
    """The card's front matter: licence, tags and, once re-validated, the measured top-1."""
    measured, reported = results.get("measured"), results["reported"]
    metric = EvalResult(
        task_type="image-classification",
        dataset_type=results["dataset_key"],
        dataset_name=reported["dataset"],
        metric_type="accuracy",
        metric_name="top-1 accuracy (re-measured by this port)",
        metric_value=round(float(measured["top1"]), 2) if measured else 0.0,
    )
    return ModelCardData(
        library_name="timm",
        license=results["license"],
        model_name=results["model"],
        tags=["image-classification", "timm", "snn_zoo", "spiking-neural-network", "ported-weights"],
        eval_results=[metric] if measured else None,
    )


def _ported_measured(results: dict) -> tuple[str, str]:
    """(operation rows, 'Measured by this port' text): measured numbers once re-validated, else what is missing."""
    measured, reported, args = results.get("measured"), results["reported"], results["model_args"]
    if not measured:
        return (
            "| SOPs per image | needs firing rates: filled in when re-validated |",
            "Not re-validated yet: the top-1 above is the authors' number. `hub_scripts/release.py --data-dir` "
            "measures it and fills this section.",
        )
    ops = (
        f"| SOPs per image (measured, T={args.get('T')}) | {_fmt(measured.get('sops_per_image'), 0)} |\n"
        f"| Mean firing rate (measured) | {_fmt(measured.get('mean_firing_rate'), 4)} |\n"
        f"| Energy per image (mJ, measured) | {_fmt(measured.get('energy_mj_per_image'), 4)} |"
    )
    text = (
        f"Re-validated by `hub_scripts/release.py` / `port_official.py` on `{measured['data']}` "
        f"({measured['num_samples']:,} images, the eval transform above): **top-1 {measured['top1']:.2f}%**, "
        f"top-5 {measured['top5']:.2f}% (authors: {reported['top1']:.2f}%). Firing rates, SOPs and energy over "
        f"the first {measured.get('energy_samples', 'n/a')} images."
    )
    return ops, text


def _ported_head(results: dict) -> str:
    """Status, provenance, the model's settings and the authors' reported top-1."""
    tag, arch, reported = results["model"], results["architecture"], results["reported"]
    repo, commit = reported["repo"], results.get("source_commit")
    at = f" at commit [`{commit[:7]}`](https://github.com/{repo}/tree/{commit})" if commit else ""
    args, transform = results["model_args"], results["eval_transform"]
    size = "x".join(map(str, transform["input_size"]))
    settings = "\n".join(f"| `{k}` | `{args[k]}` |" for k in sorted(args))
    return f"""
# {tag}

{STATUS_PREFIX}{ported_status(results)}

Weights released by the authors of [{repo}](https://github.com/{repo}) ([download page]({reported["origin_url"]})),
converted to safetensors for snn_zoo's `{arch}`. The family's `checkpoint_filter_fn` maps the authors' key
layout; on golden fixtures made by running the authors' code (`tests/fixtures/official`) the converted
model reproduces their logits to 1e-5.

## Model

| Setting | Value |
|---|---|
| Architecture | `{arch}` |
| Parameters | {results["param_count"]:,} |
| Eval input | {size}, crop_pct {transform["crop_pct"]}, {transform["interpolation"]} |
| Mean / std | {tuple(transform["mean"])} / {tuple(transform["std"])} |
{settings}

## Reported by the authors

Top-1 **{reported["top1"]:.2f}%** on {reported["dataset"]}. Source: {reported["reported_in"]}
([{repo}](https://github.com/{repo}){at}). Not measured here unless the next section says so.
"""


def _ported_tail(results: dict) -> str:
    """What this port measured, operation counts, how to load and port it, and the licence."""
    tag, reported = results["model"], results["reported"]
    names = results.get("authors_files") or []
    example = names[0] if names else "<the file you downloaded>"
    macs = results.get("ann_macs_per_image")
    origin = results.get("ported_from")
    source = f" {CONVERTED_FROM} `{origin['file']}` (SHA-256 `{origin['sha256']}`)." if origin else ""
    ops, measured_text = _ported_measured(results)
    return f"""
## Measured by this port

{measured_text}

## Operations per image

| Quantity | Value |
|---|---|
| ANN-twin MACs (same architecture, ReLU, T=1; theoretical) | {_fmt(macs, 0)} |
| ANN-twin energy (mJ, 4.6 pJ per MAC) | {_fmt(None if macs is None else macs * 4.6e-9, 4)} |
{ops}

## How to load

```python
import snn_zoo

# the Hub copy (snn-zoo/{tag})
model = snn_zoo.create_model("{tag}", pretrained=True)
# or the authors' own file, downloaded from {reported["origin_url"]}:
model = snn_zoo.create_model(
    "{tag}",
    pretrained=True,
    pretrained_cfg_overlay=dict(file="{example}"),
)
```

## How it was ported

```bash
python hub_scripts/port_official.py {tag} {example} --output runs/{tag} [--data-dir VAL_FOLDER]
python hub_scripts/release.py --from DIR --only {tag} [--data-dir D]   # port, re-validate and publish
```

Authors' file: {", ".join(f"`{n}`" for n in names) or "no name given on the download page"}.{source}

## License

Weights: {results["license"]} (source repository: {reported["source_license"]}). Use them under the authors' terms.
"""


def render_ported_card(results: dict) -> str:
    """Model card of a ported official checkpoint, from its ``results.json`` (see
    :func:`snn_zoo.hub.port.ported_results`): where the weights come from, what the authors report
    (with its source and commit), how to load the Hub copy or the authors' own file, how it was
    ported, theoretical operation counts, and what this port measured (if it was re-validated)."""
    body = _ported_head(results) + _ported_tail(results)
    return ModelCard.from_template(
        _ported_card_data(results), template_str="---\n{{ card_data }}\n---\n" + body
    ).content


def is_release_card(card_text: str) -> bool:
    """True for the card of an actual port (it names the converted file), False for a registry-only card."""
    return CONVERTED_FROM in card_text


def card_status(card_text: str) -> str | None:
    """The status line of a ported card (:data:`STATUS_PREFIX`), or None when the card has none."""
    for line in card_text.splitlines():
        if line.startswith(STATUS_PREFIX):
            return line[len(STATUS_PREFIX) :].strip()
    return None


def render_card(
    results: dict | None = None,
    config: dict | None = None,
    repo_id: str | None = None,
    param_count: int | None = None,
) -> str:
    """The one entry point for a folder's card: a ported checkpoint's results (``reported`` numbers),
    a training run's results.json, or (no results) the checkpoint's config.json."""
    if results is not None and "reported" in results:
        return render_ported_card(results)
    if results is not None:
        return render_model_card(results, repo_id)
    if config is None:
        raise ValueError("render_card needs a results.json or a config.json.")
    return render_config_card(config, param_count, repo_id)
