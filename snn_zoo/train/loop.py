"""The distillation run behind hub_scripts/distill.py: teacher, student, epochs, outputs."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from accelerate import Accelerator
from accelerate.utils import set_seed
from timm.data import Mixup
from timm.data.mixup import mixup_target
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3
from tqdm.auto import tqdm

from ..data import create_loader
from ..distill import Distiller, ResizedInput, noisy_single_step, to_multi_step, transfer_ann_weights
from ..eval import evaluate
from ..eval.measure import measure
from ..io import atomic_write_text, non_finite_tensors, save_pretrained
from ..layers import batch_size, is_sequence
from .plan import RunPlan
from .recipe import Recipe
from .run_folder import RunClock, RunFolder
from .state import find_run_state, load_run_state, read_meta, save_run_state, write_history_csv


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
    num_classes: int = 0
    ema: ModelEmaV3 | None = None  # of eval_model: updated every optimizer step, evaluated and saved
    clock: Callable[[], float] | None = None  # the whole run's wall seconds so far, saved with each state


def _check_finite_after_epoch(phase: Phase, objective: nn.Module, metrics: dict, epoch: int) -> None:
    """What the state and model.safetensors would hold (weights and buffers such as BN running_var) must be
    finite, and so must the validation loss: otherwise stop before saving, keeping the last good state."""
    bad = non_finite_tensors(objective)
    if phase.ema is not None:
        bad += [f"ema.{k}" for k in non_finite_tensors(phase.ema.module)]
    if bad or not math.isfinite(metrics["loss"]):
        what = (
            f"non-finite values in {len(bad)} tensor(s) ({', '.join(bad[:6])}{', ...' if len(bad) > 6 else ''})"
            if bad
            else f"a non-finite validation loss ({metrics['loss']})"
        )
        raise NonFiniteLossError(
            f"[{phase.name}] epoch {epoch + 1} ended with {what}; nothing was saved for it. Lower "
            f"the learning rate (--lr) or check the data. The last good checkpoint is kept in "
            f"{phase.output}."
        )


def _create_scheduler(recipe: Recipe, optimizer, epochs: int, updates_per_epoch: int):
    """timm's scheduler factory, stepped per optimizer update; returns (scheduler or None, epochs to run).

    As in timm's train.py the run lasts ``epochs + cooldown_epochs`` epochs."""
    if recipe.sched == "none":
        return None, epochs + recipe.cooldown_epochs
    return create_scheduler_v2(
        optimizer,
        sched=recipe.sched,
        num_epochs=epochs,
        decay_epochs=recipe.decay_epochs,
        decay_rate=recipe.decay_rate,
        cooldown_epochs=recipe.cooldown_epochs,
        min_lr=recipe.min_lr,
        warmup_lr=recipe.warmup_lr,
        warmup_epochs=recipe.warmup_epochs,
        step_on_epochs=False,
        updates_per_epoch=updates_per_epoch,
    )


def _target_fn(recipe: Recipe, num_classes: int) -> Callable | None:
    """(x, y) -> (x, soft targets): timm's Mixup (mixup / cutmix + label smoothing), or label smoothing alone;
    None when neither is on. Event frames [T, B, C, H, W] are mixed per sample with T folded into channels."""
    if recipe.mixup_active:
        mixup = Mixup(
            mixup_alpha=recipe.mixup,
            cutmix_alpha=recipe.cutmix,
            prob=recipe.mixup_prob,
            switch_prob=recipe.mixup_switch_prob,
            mode=recipe.mixup_mode,
            label_smoothing=recipe.smoothing,
            num_classes=num_classes,
        )

        def mix(x: torch.Tensor, y: torch.Tensor, epoch: int):
            mixup.mixup_enabled = not (recipe.mixup_off_epoch and epoch >= recipe.mixup_off_epoch)
            if is_sequence(x):  # [T, B, C, H, W] -> [B, T*C, H, W]: every frame of a sample gets the same mix
                T, B, C, H, W = x.shape
                folded = x.transpose(0, 1).reshape(B, T * C, H, W).clone()
                folded, y = mixup(folded, y)
                return folded.reshape(B, T, C, H, W).transpose(0, 1), y
            return mixup(x.clone(), y)

        return mix
    if recipe.smoothing > 0:
        return lambda x, y, epoch: (x, mixup_target(y, num_classes, smoothing=recipe.smoothing))
    return None


def _setup_phase(accelerator: Accelerator, plan: RunPlan, phase: Phase, train_set) -> tuple:
    """(objective, optimizer, train loader, scheduler, epochs, steps per epoch, updates per epoch), prepared."""
    recipe = plan.recipe
    train_loader = create_loader(
        train_set, plan.per_process_batch, is_training=True, num_workers=recipe.num_workers, seed=recipe.seed
    )
    params = [p for p in phase.objective.parameters() if p.requires_grad]
    optimizer = create_optimizer_v2(
        params, opt=recipe.optimizer, lr=recipe.lr, weight_decay=recipe.weight_decay, momentum=recipe.momentum
    )
    steps = len(train_loader) // max(1, accelerator.num_processes)
    if recipe.max_steps_per_epoch:
        steps = min(steps, recipe.max_steps_per_epoch)
    updates = max(1, steps // recipe.grad_accum)
    scheduler, epochs = _create_scheduler(recipe, optimizer, phase.epochs, updates)
    # Each phase's state holds only its own objects: forget the previous phase's model / optimizer /
    # loaders (and checkpointed custom objects), so the student is always accelerate's model 0 whether or
    # not this process trained the teacher first (a resumed run reuses the saved teacher).
    accelerator.free_memory()
    accelerator._custom_objects.clear()  # free_memory keeps register_for_checkpointing objects (accelerate 1.x)
    objective, optimizer, train_loader = accelerator.prepare(phase.objective, optimizer, train_loader)
    if phase.ema is not None:
        accelerator.register_for_checkpointing(phase.ema)  # the EMA weights resume with the run
    return objective, optimizer, train_loader, scheduler, epochs, steps, updates


def _resume_phase(accelerator: Accelerator, phase: Phase) -> tuple[int, list[dict]]:
    """(first epoch to run, history so far) from the phase's last saved state."""
    state = find_run_state(phase.output)
    if state is None:
        return 0, []
    saved_ema = read_meta(state).get("model_ema", False)
    if saved_ema != (phase.ema is not None):
        flag = "--model-ema" if saved_ema else "--no-model-ema"
        raise ValueError(
            f"The run state in {str(state)!r} was saved with model_ema={saved_ema}; resume it with the same "
            f"setting ({flag}) or start a new --output."
        )
    meta = load_run_state(accelerator, state)
    accelerator.print(f"[{phase.name}] resumed from {state} after epoch {meta['epoch']}")
    return meta["epoch"] + 1, meta["history"]


def _train_epoch(accelerator: Accelerator, recipe: Recipe, phase: Phase, run: dict, epoch: int) -> tuple[float, int]:
    """One epoch of optimizer steps; returns (mean train loss over the processes, images seen by this process)."""
    objective, optimizer, loader, scheduler = run["objective"], run["optimizer"], run["loader"], run["scheduler"]
    distiller, targets, steps, updates = (
        accelerator.unwrap_model(objective),
        run["targets"],
        run["steps"],
        run["updates"],
    )
    loader.set_epoch(epoch)  # the shuffle order depends only on (seed, epoch): resumable
    objective.train()
    t0, seen, loss_sum, n_batches = time.perf_counter(), 0, 0.0, 0
    desc = f"{phase.name} {epoch + 1}/{run['epochs']}"
    bar = tqdm(
        loader, total=steps, desc=desc, disable=True if not accelerator.is_local_main_process else None, leave=False
    )  # None: off when not a TTY
    for step, (x, y) in enumerate(bar):
        if recipe.max_steps_per_epoch and step >= recipe.max_steps_per_epoch:
            break
        if targets is not None:
            x, y = targets(x, y, epoch)
        distiller.batch_index = step  # SAKD's per-epoch feature-weight schedule
        with accelerator.accumulate(objective):
            with accelerator.autocast():
                out = objective(x, y)
            loss = out["loss"]
            if not torch.isfinite(loss):
                terms = {k: float(v.detach()) for k, v in out.items() if k != "logits" and v.dim() == 0}
                raise NonFiniteLossError(
                    f"[{phase.name}] non-finite loss {loss.item()} at epoch {epoch + 1}, step {step} (terms: {terms}); "
                    f"lower the learning rate or check the data. The last good checkpoint is kept in {phase.output}."
                )
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            if accelerator.sync_gradients:
                num_updates = epoch * updates + (step + 1) // recipe.grad_accum
                if scheduler is not None:
                    scheduler.step_update(num_updates)
                if phase.ema is not None:
                    phase.ema.update(phase.eval_model, step=num_updates)
        seen += batch_size(x)
        loss_sum, n_batches = loss_sum + loss.item(), n_batches + 1
        rate = seen * accelerator.num_processes / (time.perf_counter() - t0)
        bar.set_postfix(loss=f"{loss.item():.4f}", img_s=f"{rate:.0f}")
    mean = torch.tensor([loss_sum / max(1, n_batches)], device=accelerator.device)
    return accelerator.gather(mean).mean().item(), seen


def _end_epoch(accelerator: Accelerator, phase: Phase, run: dict, val_loader, epoch: int, row: dict) -> dict:
    """Validate (the EMA weights when on), log, check everything is finite, save the state; returns the row."""
    metrics = evaluate(
        phase.ema.module if phase.ema is not None else phase.eval_model,
        val_loader,
        accelerator=accelerator,
        progress=False,
    )
    row.update(
        val_top1=round(metrics["top1"], 4),
        val_top5=round(metrics["top5"], 4),
        val_loss=round(metrics["loss"], 6),
        lr=float(f"{run['optimizer'].param_groups[0]['lr']:.6g}"),
    )
    row["epoch_seconds"] = row.pop("epoch_seconds")  # last column, as before
    run["history"].append(row)
    accelerator.log({f"{phase.name}/{k}": v for k, v in row.items() if k != "epoch"}, step=epoch + 1)
    accelerator.print(
        f"[{phase.name}] epoch {epoch + 1}/{run['epochs']} "
        + " ".join(f"{k}={v}" for k, v in row.items() if k != "epoch")
    )
    _check_finite_after_epoch(phase, accelerator.unwrap_model(run["objective"]), metrics, epoch)
    meta = dict(
        epoch=epoch,
        history=run["history"],
        model_ema=phase.ema is not None,
        run_seconds=round(phase.clock(), 3) if phase.clock else None,
    )
    save_run_state(accelerator, phase.output, meta)
    if accelerator.is_main_process:
        write_history_csv(phase.output / "train_log.csv", run["history"])
    return row


def run_phase(accelerator: Accelerator, plan: RunPlan, phase: Phase, train_set, val_loader, resume: bool) -> list[dict]:
    """Train ``phase.objective`` for ``phase.epochs`` with per-epoch atomic state; returns the history.

    ``val_loader`` is already prepared by ``accelerator`` (sharded across processes)."""
    objective, optimizer, loader, scheduler, epochs, steps, updates = _setup_phase(accelerator, plan, phase, train_set)
    start, history = _resume_phase(accelerator, phase) if resume else (0, [])
    run = dict(
        objective=objective,
        optimizer=optimizer,
        loader=loader,
        scheduler=scheduler,
        epochs=epochs,
        steps=steps,
        updates=updates,
        history=history,
        targets=_target_fn(plan.recipe, phase.num_classes),
    )
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        train_loss, _ = _train_epoch(accelerator, plan.recipe, phase, run, epoch)
        if scheduler is not None:
            scheduler.step(epoch + 1)
        row = {"epoch": epoch + 1, "train_loss": round(train_loss, 6), "epoch_seconds": None}
        row["epoch_seconds"] = round(time.perf_counter() - t0, 3)
        _end_epoch(accelerator, phase, run, val_loader, epoch, row)
    return run["history"]


def _build_accelerator(plan: RunPlan) -> Accelerator:
    from accelerate.utils import DataLoaderConfiguration

    # cpu=True without CUDA: under `accelerate launch --multi_gpu` / torchrun this gives gloo CPU DDP.
    recipe = plan.recipe
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=plan.mixed_precision,
        gradient_accumulation_steps=recipe.grad_accum,
        log_with=recipe.log_with,
        project_dir=str(plan.output_dir),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    if accelerator.num_processes != plan.num_processes:
        raise RuntimeError(f"planned for {plan.num_processes} process(es), accelerate runs {accelerator.num_processes}")
    if plan.model_choice:
        accelerator.print(f"[model] {plan.model_choice}")
    accelerator.print(f"[precision] mixed_precision={plan.mixed_precision} ({plan.precision_reason})")
    for note in plan.notes:
        accelerator.print(f"[input] note: {note}")
    return accelerator


def _prepare_teacher(ctx: dict) -> tuple[nn.Module | None, float | None]:
    """Build the teacher, train it first when the plan says so (resumably), and measure its top-1 on the image
    the Distiller gives it: event frames summed over T, resized when teacher_input_size is set."""
    plan, accelerator, resume = ctx["plan"], ctx["accelerator"], ctx["resume"]
    if not plan.needs_teacher:
        return None, None
    recipe, teacher_dir = plan.recipe, plan.output_dir / "teacher"
    trained = teacher_dir / "model.safetensors"
    reuse = resume and trained.is_file()  # a resumed run keeps the teacher it already trained
    teacher = plan.build_teacher(checkpoint=str(trained) if reuse else None)
    plan.check_teacher(teacher, ctx["val_set"][0][0])  # before any training: fails fast on a wrong size
    view = ResizedInput(teacher, recipe.teacher_input_size, recipe.teacher_interpolation)
    if plan.train_teacher and not reuse:
        set_seed(recipe.seed)
        objective = Distiller(view, None, method="none")
        phase = Phase(
            "teacher",
            objective,
            view,
            recipe.teacher_epochs,
            teacher_dir,
            num_classes=plan.info.num_classes,
            clock=ctx["clock"],
        )
        run_phase(accelerator, plan, phase, ctx["train_set"], ctx["val_loader"], resume)
        if accelerator.is_main_process:
            save_pretrained(teacher, teacher_dir)
        accelerator.wait_for_everyone()
    teacher = teacher.to(accelerator.device)
    return teacher, evaluate(view, ctx["val_loader"], accelerator=accelerator, progress=False)["top1"]


def _train_student(ctx: dict, teacher: nn.Module | None) -> tuple[nn.Module, list[dict], dict | None]:
    """Build and train the student as the plan says; returns (student at T, history, SAKD transfer report)."""
    plan, accelerator, recipe = ctx["plan"], ctx["accelerator"], ctx["plan"].recipe
    set_seed(recipe.seed)
    student = plan.build_student()
    transfer = None
    if plan.method.transfers_weights:
        # SAKD level 1: the trained same-architecture ANN's weights go into the SNN before its training.
        report = transfer_ann_weights(teacher, student)
        accelerator.print(f"[sakd] weight transfer from {plan.teacher_arch}: {report}")
        transfer = dict(
            copied=len(report.copied),
            missing_in_ann=report.missing_in_ann,
            shape_mismatch=[list(map(str, m)) for m in report.shape_mismatch],
            unused_ann=report.unused_ann,
        )
        if accelerator.is_main_process:
            atomic_write_text(plan.output_dir / "weight_transfer.txt", f"{report}\n")
    student = student.to(accelerator.device)
    ema = (
        ModelEmaV3(student, decay=recipe.model_ema_decay, use_warmup=recipe.model_ema_warmup)
        if recipe.model_ema
        else None
    )
    noisy = None
    if plan.train_T != plan.T:  # single-step noise training: train at T=1, run the same weights at T
        to_multi_step(student, plan.train_T)
        noisy = noisy_single_step(student, recipe.single_step_noise)
    objective = Distiller(
        student,
        teacher,
        method=recipe.method,
        teacher_input_size=recipe.teacher_input_size,
        teacher_interpolation=recipe.teacher_interpolation,
        **recipe.loss_weights,
    )
    phase = Phase(
        "student",
        objective,
        student,
        recipe.epochs,
        plan.output_dir,
        num_classes=plan.info.num_classes,
        ema=ema,
        clock=ctx["clock"],
    )
    history = run_phase(accelerator, plan, phase, ctx["train_set"], ctx["val_loader"], ctx["resume"])
    if noisy is not None:
        noisy.remove()
    if ema is not None:
        student.load_state_dict(ema.module.state_dict())  # the EMA weights are the result
    to_multi_step(student, plan.T)
    return student, history, transfer


def _results(ctx: dict, student: nn.Module, row: dict, extra: dict) -> dict:
    """results.json: the plan's facts, the measured row and the run's provenance."""
    plan, accelerator, recipe = ctx["plan"], ctx["accelerator"], ctx["plan"].recipe
    return {
        "name": plan.run_name,
        "model": recipe.model,
        "tag": plan.tag,
        "method": recipe.method,
        "dataset": plan.info.name,
        "T": plan.T,
        "neuron": recipe.neuron,
        "top1": row["top1"],
        "top5": row["top5"],
        "num_val_samples": row["num_samples"],
        "teacher": plan.teacher_arch,
        "teacher_top1": extra["teacher_top1"],
        "teacher_hub_id": recipe.teacher if recipe.teacher_pretrained else None,
        "input": ctx["input_report"],
        "weight_transfer": extra["transfer"],
        "model_ema": recipe.model_ema,
        "single_step_noise": recipe.single_step_noise,
        "param_count": row["param_count"],
        "mean_firing_rate": row["mean_firing_rate"],
        "firing_rates": row["firing_rates"],
        "sops_per_image": row["sops_per_image"],
        "energy_mj_per_image": row["energy_mj_per_image"],
        "ann_energy_mj_per_image": row["ann_energy_mj_per_image"],
        "train_seconds": round(ctx["clock"](), 2),
        "epochs": recipe.epochs,
        "seed": recipe.seed,
        "num_processes": accelerator.num_processes,
        "mixed_precision": accelerator.mixed_precision,
        "precision_reason": plan.precision_reason,
        "pretrained_cfg": plan.pretrained_cfg,
        "eval_data": plan.eval_data,
        "recipe": recipe.to_dict(),
        "command": ctx["command"],
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "firing_rate_plot": "firing_rates.png",
        "history": extra["history"],
    }


def _write_outputs(ctx: dict, student: nn.Module, results: dict) -> None:
    """model.safetensors + config.json, plots, results.json and the model card (main process)."""
    from ..hub.card import render_model_card
    from ..metrics.plots import plot_firing_rates, plot_training_curves

    output = ctx["plan"].output_dir
    save_pretrained(student, output)
    plot_firing_rates(results["firing_rates"], output / "firing_rates.png", title=results["name"])
    plot_training_curves(results["history"], output / "curves.png")
    atomic_write_text(output / "results.json", json.dumps(results, indent=2))
    atomic_write_text(output / "README.md", render_model_card(results))


def _execute(plan: RunPlan, folder: RunFolder, resume: bool, command: str) -> dict:
    """Run the plan: data, (teacher), student, measurement, outputs."""
    recipe = plan.recipe
    folder.save_recipe()
    clock = RunClock.resumed(plan.output_dir) if resume else RunClock()
    accelerator = _build_accelerator(plan)
    set_seed(recipe.seed)
    if recipe.log_with:
        accelerator.init_trackers("distill", config={k: str(v) for k, v in recipe.to_dict().items()})
    train_set, val_set = plan.build_datasets()
    input_report = plan.describe_input(tuple(val_set[0][0].shape))
    accelerator.print(f"[input] {input_report['summary']}")
    # One sharded evaluation loader: per-epoch validation, the teacher's and the final accuracy.
    val_loader = accelerator.prepare(
        create_loader(val_set, plan.per_process_batch, is_training=False, num_workers=recipe.num_workers)
    )
    ctx: dict[str, Any] = dict(
        plan=plan,
        accelerator=accelerator,
        resume=resume,
        clock=clock,
        command=command,
        train_set=train_set,
        val_set=val_set,
        val_loader=val_loader,
        input_report=input_report,
    )
    teacher, teacher_top1 = _prepare_teacher(ctx)
    student, history, transfer = _train_student(ctx, teacher)
    row = measure(student, val_loader, accelerator=accelerator)
    extra = dict(
        teacher_top1=None if teacher_top1 is None else round(teacher_top1, 4), transfer=transfer, history=history
    )
    results = _results(ctx, student, row, extra)
    if accelerator.is_main_process:
        _write_outputs(ctx, student, results)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


def train_from_recipe(
    recipe: Recipe, resume: bool = False, command: str = "", allow_changes: Sequence[str] = ()
) -> dict:
    """Run a whole recipe: plan it, (train the teacher), distill the student, write every output.

    Writes to ``recipe.output_dir``: model.safetensors + config.json (loadable with
    ``create_model("local-dir:DIR")``; its ``pretrained_cfg`` describes this run's data), results.json,
    train_log.csv, curves.png, firing_rates.png and the model card README.md. Returns the results dict.

    ``resume`` continues from the last saved epoch (teacher or student phase); the recipe must be the
    one the run was started with, except for fields named in ``allow_changes`` (see
    ``run_folder.RESUME_SAFE_CHANGES``). Resuming a finished run returns its results unchanged. A fresh run
    refuses a folder holding another run, and a second process writing the same folder is refused.
    """
    plan = RunPlan.from_recipe(recipe, num_processes=int(os.environ.get("WORLD_SIZE", "1")))
    main_process = int(os.environ.get("RANK", "0")) == 0  # the Accelerator does not exist yet
    folder = RunFolder(plan.recipe, plan.output_dir, main_process)
    note = folder.claim(resume, allow_changes)  # writable, one owner, resume compatibility: before any work
    try:
        if note == "complete":
            if main_process:
                print(
                    f"[run] {folder.path} is already complete (results.json and the final state exist); "
                    f"nothing to resume."
                )
            return json.loads((folder.path / "results.json").read_text())
        if note and main_process:
            print(note)
        return _execute(plan, folder, resume, command)
    finally:
        folder.release()
