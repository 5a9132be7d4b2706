"""The distillation run behind hub_scripts/distill.py: teacher, student, epochs, outputs."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from accelerate import Accelerator
from accelerate.utils import set_seed
from timm.optim import create_optimizer_v2
from tqdm.auto import tqdm

from ..data import create_dataset, create_loader, dataset_info
from ..distill import Distiller
from ..distill.noisy import noisy_single_step, to_multi_step
from ..eval import evaluate
from ..factory import create_model
from ..hub.save import save_pretrained
from .recipe import Recipe
from .state import find_run_state, load_run_state, save_run_state, write_history_csv
from .teacher import build_teacher, needs_training, teacher_arch


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a NaN/inf loss; the last good checkpoint is kept."""


@dataclass
class Phase:
    """One training phase (the teacher's or the student's) and where it keeps its state."""

    name: str
    objective: nn.Module  # returns a dict with 'loss' (and 'logits') from (x, y)
    eval_model: nn.Module
    epochs: int
    output: Path


def _lr_lambda(recipe: Recipe, steps_per_epoch: int, epochs: int):
    total, warmup = max(1, steps_per_epoch * epochs), steps_per_epoch * recipe.warmup_epochs

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if recipe.sched == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
        return 1.0

    return factor


def _per_process_batch(accelerator: Accelerator, recipe: Recipe) -> int:
    """recipe.batch_size is the global batch; each process gets its share."""
    return max(1, recipe.batch_size // accelerator.num_processes)


def run_phase(accelerator: Accelerator, recipe: Recipe, phase: Phase, train_set, val_loader, resume: bool) -> list[dict]:
    """Train ``phase.objective`` for ``phase.epochs`` with per-epoch atomic state; returns the history.

    ``val_loader`` is already prepared by ``accelerator`` (sharded across processes)."""
    per_process_batch = _per_process_batch(accelerator, recipe)
    train_loader = create_loader(train_set, per_process_batch, is_training=True, num_workers=recipe.num_workers, seed=recipe.seed)
    params = [p for p in phase.objective.parameters() if p.requires_grad]
    optimizer = create_optimizer_v2(params, opt=recipe.optimizer, lr=recipe.lr, weight_decay=recipe.weight_decay,
                                    momentum=recipe.momentum)
    steps = len(train_loader) // max(1, accelerator.num_processes)
    if recipe.max_steps_per_epoch:
        steps = min(steps, recipe.max_steps_per_epoch)
    # accelerate's scheduler wrapper steps num_processes times per optimizer step (and skips accumulation steps).
    sched_steps = max(1, steps // recipe.grad_accum) * accelerator.num_processes
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(recipe, sched_steps, phase.epochs))
    objective, optimizer, train_loader, scheduler = accelerator.prepare(
        phase.objective, optimizer, train_loader, scheduler)

    history: list[dict] = []
    start_epoch = 0
    state = find_run_state(phase.output) if resume else None
    if state is not None:
        meta = load_run_state(accelerator, state)
        start_epoch, history = meta["epoch"] + 1, meta["history"]
        accelerator.print(f"[{phase.name}] resumed from {state} after epoch {meta['epoch']}")

    for epoch in range(start_epoch, phase.epochs):
        train_loader.set_epoch(epoch)  # the shuffle order depends only on (seed, epoch): resumable
        objective.train()
        t0, seen, loss_sum, n_batches = time.perf_counter(), 0, 0.0, 0
        bar = tqdm(train_loader, total=steps, desc=f"{phase.name} {epoch + 1}/{phase.epochs}",
                   disable=True if not accelerator.is_local_main_process else None, leave=False)  # None: off when not a TTY
        for step, (x, y) in enumerate(bar):
            if recipe.max_steps_per_epoch and step >= recipe.max_steps_per_epoch:
                break
            with accelerator.accumulate(objective):
                with accelerator.autocast():
                    out = objective(x, y)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(
                        f"[{phase.name}] non-finite loss {loss.item()} at epoch {epoch + 1}, step {step} "
                        f"(terms: { {k: float(v) for k, v in out.items() if k not in ('logits',) and v.dim() == 0} }); "
                        f"lower --lr or check the data. The last good checkpoint is kept in {phase.output}.")
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            seen += x.shape[1] if x.dim() == 5 else x.shape[0]
            loss_sum, n_batches = loss_sum + loss.item(), n_batches + 1
            bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{seen * accelerator.num_processes / (time.perf_counter() - t0):.0f}")
        train_loss = accelerator.gather(torch.tensor([loss_sum / max(1, n_batches)], device=accelerator.device)).mean().item()
        metrics = evaluate(phase.eval_model, val_loader, accelerator=accelerator, progress=False)
        row = {"epoch": epoch + 1, "train_loss": round(train_loss, 6), "val_top1": round(metrics["top1"], 4),
               "val_top5": round(metrics["top5"], 4), "val_loss": round(metrics["loss"], 6),
               "lr": float(f"{scheduler.get_last_lr()[0]:.6g}"), "epoch_seconds": round(time.perf_counter() - t0, 3)}
        history.append(row)
        accelerator.log({f"{phase.name}/{k}": v for k, v in row.items() if k != "epoch"}, step=epoch + 1)
        accelerator.print(f"[{phase.name}] epoch {epoch + 1}/{phase.epochs} " + " ".join(f"{k}={v}" for k, v in row.items() if k != "epoch"))
        save_run_state(accelerator, phase.output, {"epoch": epoch, "history": history})
        if accelerator.is_main_process:
            write_history_csv(phase.output / "train_log.csv", history)
    return history


def build_datasets(recipe: Recipe):
    """(info, train set, val set) for a recipe. ``data_kwargs`` go to the dataset; for
    ``synthetic`` they set num_classes / input_size / num_samples, and ``event: true`` makes
    [T, C, H, W] frames at the recipe's T (dry runs of event recipes)."""
    kwargs = dict(recipe.data_kwargs)
    synthetic_T = recipe.T if kwargs.pop("event", False) else None
    size = kwargs.pop("input_size", None)
    info = dataset_info(recipe.dataset, data_dir=recipe.data_dir, input_size=size, T=synthetic_T, **kwargs)
    if size is None and recipe.img_size:
        size = (info.input_size[0], recipe.img_size, recipe.img_size)
    common = dict(data_dir=recipe.data_dir, T=recipe.T if info.is_event else None, input_size=size,
                  augment=recipe.augment, seed=recipe.seed, **kwargs)
    return info, create_dataset(recipe.dataset, split="train", **common), create_dataset(recipe.dataset, split="val", **common)


def _build_accelerator(recipe: Recipe, output: Path) -> Accelerator:
    from accelerate.utils import DataLoaderConfiguration

    # cpu=True without CUDA: under `accelerate launch --multi_gpu` / torchrun this gives gloo CPU DDP.
    return Accelerator(
        cpu=not torch.cuda.is_available(), mixed_precision=recipe.mixed_precision, gradient_accumulation_steps=recipe.grad_accum,
        log_with=recipe.log_with, project_dir=str(output),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def train_from_recipe(recipe: Recipe, resume: bool = False, command: str = "") -> dict:
    """Run a whole recipe: (train the teacher), distill the student, write every output.

    Writes to ``recipe.output_dir``: model.safetensors + config.json (loadable with
    ``create_model("local-dir:DIR")``), results.json, train_log.csv, curves.png,
    firing_rates.png and the model card README.md. Returns the results dict.
    """
    from ..hub.card import render_model_card
    from ..hub.save import atomic_write_text
    from ..metrics import energy_report
    from ..metrics.plots import plot_firing_rates, plot_training_curves

    output = recipe.output_dir
    output.mkdir(parents=True, exist_ok=True)
    accelerator = _build_accelerator(recipe, output)
    set_seed(recipe.seed)
    if recipe.log_with:
        accelerator.init_trackers("distill", config={k: str(v) for k, v in recipe.to_dict().items()})
    t_start = time.perf_counter()

    info, train_set, val_set = build_datasets(recipe)
    # One sharded evaluation loader: per-epoch validation, the teacher's and the final accuracy.
    val_loader = accelerator.prepare(create_loader(val_set, _per_process_batch(accelerator, recipe), is_training=False,
                                                   num_workers=recipe.num_workers))
    in_chans, num_classes = info.input_size[0], info.num_classes

    teacher, teacher_top1 = None, None
    if recipe.method not in ("none", "noisy"):
        teacher_dir = output / "teacher"
        trained = teacher_dir / "model.safetensors"
        reuse = resume and trained.is_file()  # a resumed run keeps the teacher it already trained
        teacher = build_teacher(recipe, num_classes, in_chans, checkpoint=str(trained) if reuse else None)
        if needs_training(recipe) and not reuse:
            set_seed(recipe.seed)
            phase = Phase("teacher", Distiller(teacher, None, method="none"), teacher, recipe.teacher_epochs, teacher_dir)
            run_phase(accelerator, recipe, phase, train_set, val_loader, resume)
            if accelerator.is_main_process:
                save_pretrained(teacher, teacher_dir)
            accelerator.wait_for_everyone()
        teacher = teacher.to(accelerator.device)
        teacher_top1 = evaluate(teacher, val_loader, accelerator=accelerator, progress=False)["top1"]

    set_seed(recipe.seed)
    student = create_model(
        recipe.model, T=recipe.T, neuron=recipe.neuron, surrogate=recipe.surrogate, tau=recipe.tau,
        detach_reset=recipe.detach_reset, num_classes=num_classes, in_chans=in_chans, **recipe.model_kwargs)
    noisy = None
    if recipe.method == "noisy":
        # Train single-step with membrane noise, then run the same weights at recipe.T.
        if info.is_event:
            raise ValueError("method 'noisy' trains on static images at T=1; event datasets carry their own T.")
        weights = dict(recipe.loss_weights)
        student.T = 1
        noisy = noisy_single_step(student, sigma=float(weights.pop("sigma", 0.5)))
        objective = Distiller(student, None, method="none", **weights)
    else:
        objective = Distiller(student, teacher, method=recipe.method, **recipe.loss_weights)
    phase = Phase("student", objective, student, recipe.epochs, output)
    history = run_phase(accelerator, recipe, phase, train_set, val_loader, resume)
    if noisy is not None:
        noisy.remove()
        to_multi_step(student, recipe.T)
    train_seconds = time.perf_counter() - t_start

    final = evaluate(student, val_loader, accelerator=accelerator, progress=False)
    # Spikes and energy per image, averaged over the first 64 validation images.
    example = next(iter(create_loader(val_set, 64, is_training=False)))[0].to(accelerator.device)
    energy = energy_report(student, example).to_dict()
    results = {
        "name": recipe.run_name, "model": recipe.model, "tag": recipe.run_tag, "method": recipe.method,
        "dataset": recipe.dataset, "T": recipe.T, "neuron": recipe.neuron,
        "top1": round(final["top1"], 4), "top5": round(final["top5"], 4), "num_val_samples": final["num_samples"],
        "teacher": teacher_arch(recipe) if teacher is not None else None,
        "teacher_top1": None if teacher_top1 is None else round(teacher_top1, 4),
        "teacher_hub_id": recipe.teacher if recipe.teacher_pretrained else None,
        "param_count": sum(p.numel() for p in student.parameters()),
        "mean_firing_rate": energy["mean_firing_rate"], "firing_rates": energy["firing_rates"],
        "sops_per_image": energy["sops_per_image"], "energy_mj_per_image": energy["energy_mj_per_image"],
        "ann_energy_mj_per_image": energy["ann_energy_mj_per_image"],
        "train_seconds": round(train_seconds, 2), "epochs": recipe.epochs, "seed": recipe.seed,
        "num_processes": accelerator.num_processes, "mixed_precision": recipe.mixed_precision,
        "recipe": recipe.to_dict(), "command": command, "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__, "firing_rate_plot": "firing_rates.png", "history": history,
    }
    if accelerator.is_main_process:
        save_pretrained(student, output)
        plot_firing_rates(energy["firing_rates"], output / "firing_rates.png", title=recipe.run_name)
        plot_training_curves(history, output / "curves.png")
        atomic_write_text(output / "results.json", json.dumps(results, indent=2))
        atomic_write_text(output / "README.md", render_model_card(results))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results
