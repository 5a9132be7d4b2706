"""Model cards generated from a run's measured results.json (never typed by hand)."""
from __future__ import annotations

from typing import Any, Optional

from huggingface_hub import EvalResult, ModelCard, ModelCardData

_DATASET_NAMES = {
    "digits": "scikit-learn digits (8x8)", "digits_dvs": "digits-DVS (simulated event camera, 16x16)",
    "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ImageNet-1k", "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST", "cifar10_dvs": "CIFAR10-DVS", "dvs128_gesture": "DVS128 Gesture",
}
_METHODS = {
    "none": "plain training with cross-entropy (no distillation; the baseline)",
    "kd": "logit knowledge distillation (KL at temperature tau, x tau^2)",
    "bkd": "blurred knowledge distillation (BKDSNN, ECCV 2024): the student's time-averaged feature map "
           "is aligned to the teacher's channels, channels are dropped at random (p=0.15) and a "
           "Conv3x3-ReLU-Conv3x3 block restores the teacher feature; loss = alpha * SSE / batch",
    "mixed": "cross-entropy + BKD + beta * weighted soft-label distillation (WSLD, tau=2)",
    "sakd": "self-architectural KD: ANN weights transferred by name, then stage-feature and logit KD",
    "hetero": "KD with different teacher and student temperatures (our definition; see snn_zoo.distill.hetero)",
    "noisy": "noise-trained single-step (T=1) training, run at T=N (our definition; see snn_zoo.distill.noisy)",
}
_CITATIONS = {
    "bkd": "@inproceedings{xu2024bkdsnn,\n  title={BKDSNN: Enhancing the Performance of Learning-based "
           "Spiking Neural Networks Training with Blurred Knowledge Distillation},\n  author={Xu, Zekai and "
           "You, Kang and Guo, Qinghai and Wang, Xiang and He, Zhezhi},\n  booktitle={ECCV},\n  year={2024}\n}",
}
_CITATIONS["mixed"] = _CITATIONS["bkd"]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_model_card(results: dict, repo_id: Optional[str] = None, asset_prefix: str = "") -> str:
    """Markdown model card (with Hugging Face front matter) for one run's ``results.json``.

    ``asset_prefix`` is prepended to the plots' file names (for cards kept outside the run folder).
    """
    name = results.get("name") or results["model"]
    dataset = results.get("dataset", "unknown")
    metrics = [EvalResult(
        task_type="image-classification", dataset_type=dataset, dataset_name=_DATASET_NAMES.get(dataset, dataset),
        metric_type="accuracy", metric_name="top-1 accuracy", metric_value=round(float(results["top1"]), 2),
    )]
    data = ModelCardData(
        library_name="timm", license=results.get("license", "apache-2.0"), model_name=name,
        tags=["image-classification", "timm", "snn_zoo", "spiking-neural-network", f"distillation-{results['method']}"],
        datasets=[dataset], base_model=results.get("teacher_hub_id"), eval_results=metrics,
    )
    load_name = f"hf-hub:{repo_id}" if repo_id else name
    tag_line = f"\n# or, by its registered tag: snn_zoo.create_model(\"{name}\", pretrained=True)" if repo_id else ""
    energy_ratio = None
    if results.get("energy_mj_per_image") and results.get("ann_energy_mj_per_image"):
        energy_ratio = results["ann_energy_mj_per_image"] / results["energy_mj_per_image"]
    rows = [
        ("Top-1 accuracy (%)", _fmt(results["top1"])), ("Top-5 accuracy (%)", _fmt(results.get("top5"))),
        ("Time steps T", _fmt(results["T"])), ("Neuron", _fmt(results.get("neuron"))),
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
    citation = _CITATIONS.get(results["method"], "")
    body = f"""
# {name}

A spiking neural network from snn_zoo: `{results['model']}` trained on
{_DATASET_NAMES.get(dataset, dataset)} with {_METHODS.get(results['method'], results['method'])}.
Every number below was measured by the run that produced these weights (`results.json`).

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
{results.get('command', 'accelerate launch hub_scripts/distill.py')}
```

Recipe: `{results.get('recipe', 'n/a')}`; seed {results.get('seed', 'n/a')}; {results.get('epochs', 'n/a')} epochs.

## Method

{_METHODS.get(results['method'], results['method'])}. The student runs T={results['T']} time steps with
direct encoding (the image repeated each step) or event frames; logits are averaged over time.
Energy counts the first layer (real-valued input) as MACs and every spike-driven layer as
accumulates (synaptic operations = FLOPs x firing rate), following the 45 nm convention.

## Limitations

Trained and evaluated on {_DATASET_NAMES.get(dataset, dataset)} only; energy is an analytical
estimate from operation counts, not a hardware measurement.

## Citation

```bibtex
{citation or '@misc{snn_zoo, title={snn_zoo: a zoo of spiking neural networks}, year={2026}}'}
```
"""
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + body).content
