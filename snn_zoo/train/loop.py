"""The distillation run behind hub_scripts/distill.py: teacher, student, epochs, outputs."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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

from ..data import create_dataset, create_loader, dataset_info, list_datasets, takes_timm_augmentation
from ..distill import Distiller, ResizedInput, get_method, noisy_single_step, to_multi_step, transfer_ann_weights
from ..eval import evaluate
from ..factory import create_model
from ..io import atomic_write_text, non_finite_tensors, save_pretrained
from ..layers import batch_size, is_sequence
from .checks import check_recipe_against_data, check_teacher_input, check_transfer, describe_input
from .precision import resolve_mixed_precision
from .preflight import RunClock, check_batches, check_classes, preflight, save_recipe
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


def _per_process_batch(accelerator: Accelerator, recipe: Recipe) -> int:
    """recipe.batch_size is the global batch; each process gets its share."""
    return max(1, recipe.batch_size // accelerator.num_processes)


def run_phase(
    accelerator: Accelerator, recipe: Recipe, phase: Phase, train_set, val_loader, resume: bool
) -> list[dict]:
    """Train ``phase.objective`` for ``phase.epochs`` with per-epoch atomic state; returns the history.

    ``val_loader`` is already prepared by ``accelerator`` (sharded across processes)."""
    per_process_batch = _per_process_batch(accelerator, recipe)
    train_loader = create_loader(
        train_set, per_process_batch, is_training=True, num_workers=recipe.num_workers, seed=recipe.seed
    )
    params = [p for p in phase.objective.parameters() if p.requires_grad]
    optimizer = create_optimizer_v2(
        params, opt=recipe.optimizer, lr=recipe.lr, weight_decay=recipe.weight_decay, momentum=recipe.momentum
    )
    steps = len(train_loader) // max(1, accelerator.num_processes)
    if recipe.max_steps_per_epoch:
        steps = min(steps, recipe.max_steps_per_epoch)
    updates_per_epoch = max(1, steps // recipe.grad_accum)
    scheduler, epochs = _create_scheduler(recipe, optimizer, phase.epochs, updates_per_epoch)
    # Each phase's state holds only its own objects: forget the previous phase's model / optimizer /
    # loaders (and checkpointed custom objects), so the student is always accelerate's model 0 whether or
    # not this process trained the teacher first (a resumed run reuses the saved teacher).
    accelerator.free_memory()
    accelerator._custom_objects.clear()  # free_memory keeps register_for_checkpointing objects (accelerate 1.x)
    objective, optimizer, train_loader = accelerator.prepare(phase.objective, optimizer, train_loader)
    distiller = accelerator.unwrap_model(objective)
    targets = _target_fn(recipe, phase.num_classes)
    if phase.ema is not None:
        accelerator.register_for_checkpointing(phase.ema)  # the EMA weights resume with the run

    history: list[dict] = []
    start_epoch = 0
    state = find_run_state(phase.output) if resume else None
    if state is not None:
        saved_ema = json.loads((state / "meta.json").read_text()).get("model_ema", False)
        if saved_ema != (phase.ema is not None):
            raise ValueError(
                f"The run state in {str(state)!r} was saved with model_ema={saved_ema}; resume it with "
                f"the same setting (--model-ema {str(saved_ema).lower()}) or start a new --output."
            )
        meta = load_run_state(accelerator, state)
        start_epoch, history = meta["epoch"] + 1, meta["history"]
        accelerator.print(f"[{phase.name}] resumed from {state} after epoch {meta['epoch']}")

    for epoch in range(start_epoch, epochs):
        train_loader.set_epoch(epoch)  # the shuffle order depends only on (seed, epoch): resumable
        objective.train()
        t0, seen, loss_sum, n_batches = time.perf_counter(), 0, 0.0, 0
        bar = tqdm(
            train_loader,
            total=steps,
            desc=f"{phase.name} {epoch + 1}/{epochs}",
            disable=True if not accelerator.is_local_main_process else None,
            leave=False,
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
                    raise NonFiniteLossError(
                        f"[{phase.name}] non-finite loss {loss.item()} at epoch {epoch + 1}, step {step} "
                        f"(terms: { {k: float(v) for k, v in out.items() if k not in ('logits',) and v.dim() == 0} }); "
                        f"lower the learning rate or check the data. "
                        f"The last good checkpoint is kept in {phase.output}."
                    )
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                if accelerator.sync_gradients:
                    num_updates = epoch * updates_per_epoch + (step + 1) // recipe.grad_accum
                    if scheduler is not None:
                        scheduler.step_update(num_updates)
                    if phase.ema is not None:
                        phase.ema.update(phase.eval_model, step=num_updates)
            seen += batch_size(x)
            loss_sum, n_batches = loss_sum + loss.item(), n_batches + 1
            bar.set_postfix(
                loss=f"{loss.item():.4f}", img_s=f"{seen * accelerator.num_processes / (time.perf_counter() - t0):.0f}"
            )
        train_loss = (
            accelerator.gather(torch.tensor([loss_sum / max(1, n_batches)], device=accelerator.device)).mean().item()
        )
        if scheduler is not None:
            scheduler.step(epoch + 1)
        # With EMA on, the EMA weights are what is validated, reported and saved (timm's train.py reports both).
        metrics = evaluate(
            phase.ema.module if phase.ema is not None else phase.eval_model,
            val_loader,
            accelerator=accelerator,
            progress=False,
        )
        row = {
            "epoch": epoch + 1,
            "train_loss": round(train_loss, 6),
            "val_top1": round(metrics["top1"], 4),
            "val_top5": round(metrics["top5"], 4),
            "val_loss": round(metrics["loss"], 6),
            "lr": float(f"{optimizer.param_groups[0]['lr']:.6g}"),
            "epoch_seconds": round(time.perf_counter() - t0, 3),
        }
        history.append(row)
        accelerator.log({f"{phase.name}/{k}": v for k, v in row.items() if k != "epoch"}, step=epoch + 1)
        accelerator.print(
            f"[{phase.name}] epoch {epoch + 1}/{epochs} " + " ".join(f"{k}={v}" for k, v in row.items() if k != "epoch")
        )
        _check_finite_after_epoch(phase, accelerator.unwrap_model(objective), metrics, epoch)
        save_run_state(
            accelerator,
            phase.output,
            {
                "epoch": epoch,
                "history": history,
                "model_ema": phase.ema is not None,
                "run_seconds": round(phase.clock(), 3) if phase.clock else None,
            },
        )
        if accelerator.is_main_process:
            write_history_csv(phase.output / "train_log.csv", history)
    return history


#: Recipe fields (timm's train.py names) -> timm.data.create_transform arguments.
_TIMM_AUGMENT = {
    "aa": "auto_augment",
    "reprob": "re_prob",
    "remode": "re_mode",
    "recount": "re_count",
    "train_interpolation": "interpolation",
}
#: Image folders: their input size can follow the images (``native_input_size``).
_IMAGE_FOLDER_DATASETS = ("imagefolder", "imagenet")


def _augment_kwargs(recipe: Recipe) -> dict:
    """create_transform kwargs for the recipe's timm augmentation fields that differ from the defaults."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe)}
    return {
        arg: getattr(recipe, name) for name, arg in _TIMM_AUGMENT.items() if getattr(recipe, name) != defaults[name]
    }


def _model_input_size(recipe: Recipe) -> tuple | None:
    """The student architecture's default (C, H, W) from its pretrained cfg, if it has one."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(recipe.model)
    except Exception:  # unknown to timm's cfg registry: fall back to the dataset's default
        return None
    size = getattr(cfg, "input_size", None) if cfg is not None else None
    return tuple(size) if size else None


def build_datasets(recipe: Recipe):
    """(info, train set, val set, where the input size comes from) for a recipe.

    ``data_kwargs`` go to the dataset; for ``synthetic`` they set num_classes / input_size /
    num_samples, and ``event: true`` makes [T, C, H, W] frames at the recipe's T (dry runs of event
    recipes). Input size: ``img_size`` when given; else, for an image folder, the images' own size
    and channels when they all share one (``native_input_size``), else the model's cfg; else the
    dataset's size. timm's augmentation fields (aa, reprob, ...) reach the datasets whose source takes
    create_transform kwargs (image folders, CIFAR); other datasets keep their own transforms (printed at start)."""
    from ..data import native_input_size

    kwargs = dict(recipe.data_kwargs)
    synthetic_T = recipe.T if kwargs.pop("event", False) else None
    size = kwargs.pop("input_size", None)
    info = dataset_info(recipe.dataset, data_dir=recipe.data_dir, input_size=size, T=synthetic_T, **kwargs)
    source = "data_kwargs" if size is not None else f"{recipe.dataset} default"
    if size is None and recipe.img_size:
        size, source = (info.input_size[0], recipe.img_size, recipe.img_size), "img_size"
    elif size is None and recipe.dataset in _IMAGE_FOLDER_DATASETS:
        native = native_input_size(recipe.data_dir)
        model_size = _model_input_size(recipe)
        if native is not None:
            size, source = native, "native size of the images"
            kwargs.setdefault("crop_pct", 1.0)  # evaluate on the whole image: no resize-and-crop of its border
        elif model_size is not None:
            size, source = model_size, f"{recipe.model} cfg (the images differ in size)"
    augment = _augment_kwargs(recipe)
    if augment and takes_timm_augmentation(recipe.dataset):
        kwargs.update(augment)
    elif augment:
        timm_sets = [name for name in list_datasets() if takes_timm_augmentation(name)]
        print(
            f"[input] note: {sorted(augment)} apply to datasets built with timm's create_transform "
            f"({', '.join(timm_sets)}); {recipe.dataset!r} keeps its own transform."
        )
    if size is not None and recipe.dataset in _IMAGE_FOLDER_DATASETS:
        info = dataclasses.replace(info, in_chans=size[0], input_size=tuple(size))
    common = dict(
        data_dir=recipe.data_dir,
        T=recipe.T if info.is_event else None,
        input_size=size,
        augment=recipe.augment,
        seed=recipe.seed,
        **kwargs,
    )
    train, val = (create_dataset(recipe.dataset, split=split, **common) for split in ("train", "val"))
    return info, train, val, source


def _build_accelerator(recipe: Recipe, output: Path) -> Accelerator:
    from accelerate.utils import DataLoaderConfiguration

    # cpu=True without CUDA: under `accelerate launch --multi_gpu` / torchrun this gives gloo CPU DDP.
    mixed_precision, reason = resolve_mixed_precision(recipe.mixed_precision, use_cuda=torch.cuda.is_available())
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=recipe.grad_accum,
        log_with=recipe.log_with,
        project_dir=str(output),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    accelerator.print(f"[precision] mixed_precision={mixed_precision} ({reason})")
    return accelerator


def train_from_recipe(
    recipe: Recipe, resume: bool = False, command: str = "", allow_changes: Sequence[str] = ()
) -> dict:
    """Run a whole recipe: (train the teacher), distill the student, write every output.

    Writes to ``recipe.output_dir``: model.safetensors + config.json (loadable with
    ``create_model("local-dir:DIR")``), results.json, train_log.csv, curves.png,
    firing_rates.png and the model card README.md. Returns the results dict.

    ``resume`` continues from the last saved epoch (teacher or student phase); the recipe must be the
    one the run was started with, except for fields named in ``allow_changes`` (see
    ``preflight.RESUME_SAFE_CHANGES``). Resuming a finished run returns its results unchanged.
    """
    from ..hub.card import render_model_card
    from ..metrics import energy_report
    from ..metrics.plots import plot_firing_rates, plot_training_curves

    output = recipe.output_dir
    note = preflight(recipe, resume, allow_changes)  # names, output folder, resume compatibility: before any work
    main_process = int(os.environ.get("RANK", "0")) == 0  # the Accelerator does not exist yet
    if note == "complete":
        if main_process:
            print(f"[run] {output} is already complete (results.json and the final state exist); nothing to resume.")
        return json.loads((output / "results.json").read_text())
    if note and main_process:
        print(note)
    output.mkdir(parents=True, exist_ok=True)
    save_recipe(recipe)
    clock = RunClock.resumed(output) if resume else RunClock()
    accelerator = _build_accelerator(recipe, output)
    set_seed(recipe.seed)
    if recipe.log_with:
        accelerator.init_trackers("distill", config={k: str(v) for k, v in recipe.to_dict().items()})

    info, train_set, val_set, input_source = build_datasets(recipe)
    check_classes(recipe, info)
    check_batches(recipe, len(train_set), accelerator.num_processes)
    check_recipe_against_data(recipe, info, accelerator.num_processes)
    input_report = describe_input(recipe, info, tuple(val_set[0][0].shape), input_source)
    accelerator.print(f"[input] {input_report['summary']}")
    # One sharded evaluation loader: per-epoch validation, the teacher's and the final accuracy.
    val_loader = accelerator.prepare(
        create_loader(
            val_set, _per_process_batch(accelerator, recipe), is_training=False, num_workers=recipe.num_workers
        )
    )
    in_chans, num_classes = info.input_size[0], info.num_classes
    spec = get_method(recipe.method)

    teacher, teacher_top1, transfer = None, None, None
    if spec.needs_teacher:
        teacher_dir = output / "teacher"
        trained = teacher_dir / "model.safetensors"
        reuse = resume and trained.is_file()  # a resumed run keeps the teacher it already trained
        teacher = build_teacher(recipe, num_classes, in_chans, checkpoint=str(trained) if reuse else None)
        check_teacher_input(recipe, teacher, val_set[0][0])  # before any training: fails fast on a wrong size
        if spec.transfers_weights:
            check_transfer(recipe, teacher, num_classes, in_chans)
        # The teacher trains and is evaluated on exactly the image the Distiller gives it: event frames summed
        # over T (not frame by frame), resized when teacher_input_size is set.
        teacher_view = ResizedInput(teacher, recipe.teacher_input_size, recipe.teacher_interpolation)
        if needs_training(recipe) and not reuse:
            set_seed(recipe.seed)
            phase = Phase(
                "teacher",
                Distiller(teacher_view, None, method="none"),
                teacher_view,
                recipe.teacher_epochs,
                teacher_dir,
                num_classes=num_classes,
                clock=clock,
            )
            run_phase(accelerator, recipe, phase, train_set, val_loader, resume)
            if accelerator.is_main_process:
                save_pretrained(teacher, teacher_dir)
            accelerator.wait_for_everyone()
        teacher = teacher.to(accelerator.device)
        teacher_top1 = evaluate(teacher_view, val_loader, accelerator=accelerator, progress=False)["top1"]

    set_seed(recipe.seed)
    student = create_model(
        recipe.model,
        T=recipe.T,
        neuron=recipe.neuron,
        surrogate=recipe.surrogate,
        tau=recipe.tau,
        detach_reset=recipe.detach_reset,
        num_classes=num_classes,
        in_chans=in_chans,
        **recipe.model_kwargs,
    )
    if spec.transfers_weights:
        # SAKD level 1: the trained same-architecture ANN's weights go into the SNN before its training.
        report = transfer_ann_weights(teacher, student)
        accelerator.print(f"[sakd] weight transfer from {teacher_arch(recipe)}: {report}")
        transfer = {
            "copied": len(report.copied),
            "missing_in_ann": report.missing_in_ann,
            "shape_mismatch": [list(map(str, m)) for m in report.shape_mismatch],
            "unused_ann": report.unused_ann,
        }
        if accelerator.is_main_process:
            atomic_write_text(output / "weight_transfer.txt", f"{report}\n")
    if recipe.grad_checkpointing != "off":  # per block; 'packed' keeps binary block inputs at 1 bit
        student.set_grad_checkpointing(True, pack_spikes=recipe.grad_checkpointing == "packed")
    student = student.to(accelerator.device)
    ema = (
        ModelEmaV3(student, decay=recipe.model_ema_decay, use_warmup=recipe.model_ema_warmup)
        if recipe.model_ema
        else None
    )
    noisy = None
    if recipe.single_step_noise is not None:
        # Train single-step with membrane noise, then run the same weights at recipe.T.
        student.T = 1
        noisy = noisy_single_step(student, sigma=recipe.single_step_noise)
    objective = Distiller(
        student,
        teacher,
        method=recipe.method,
        teacher_input_size=recipe.teacher_input_size,
        teacher_interpolation=recipe.teacher_interpolation,
        **recipe.loss_weights,
    )
    phase = Phase("student", objective, student, recipe.epochs, output, num_classes=num_classes, ema=ema, clock=clock)
    history = run_phase(accelerator, recipe, phase, train_set, val_loader, resume)
    if noisy is not None:
        noisy.remove()
    if ema is not None:
        student.load_state_dict(ema.module.state_dict())  # the EMA weights are the result
    if recipe.single_step_noise is not None:
        to_multi_step(student, recipe.T)
    train_seconds = clock()  # the whole run's wall time, across resumes

    final = evaluate(student, val_loader, accelerator=accelerator, progress=False)
    # Spikes and energy per image, averaged over the first 64 validation images.
    example = next(iter(create_loader(val_set, 64, is_training=False)))[0].to(accelerator.device)
    energy = energy_report(student, example).to_dict()
    results = {
        "name": recipe.run_name,
        "model": recipe.model,
        "tag": recipe.run_tag,
        "method": recipe.method,
        "dataset": recipe.dataset,
        "T": recipe.T,
        "neuron": recipe.neuron,
        "top1": round(final["top1"], 4),
        "top5": round(final["top5"], 4),
        "num_val_samples": final["num_samples"],
        "teacher": teacher_arch(recipe) if teacher is not None else None,
        "teacher_top1": None if teacher_top1 is None else round(teacher_top1, 4),
        "teacher_hub_id": recipe.teacher if recipe.teacher_pretrained else None,
        "input": input_report,
        "weight_transfer": transfer,
        "model_ema": recipe.model_ema,
        "single_step_noise": recipe.single_step_noise,
        "param_count": sum(p.numel() for p in student.parameters()),
        "mean_firing_rate": energy["mean_firing_rate"],
        "firing_rates": energy["firing_rates"],
        "sops_per_image": energy["sops_per_image"],
        "energy_mj_per_image": energy["energy_mj_per_image"],
        "ann_energy_mj_per_image": energy["ann_energy_mj_per_image"],
        "train_seconds": round(train_seconds, 2),
        "epochs": recipe.epochs,
        "seed": recipe.seed,
        "num_processes": accelerator.num_processes,
        "mixed_precision": accelerator.mixed_precision,
        "recipe": recipe.to_dict(),
        "command": command,
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "firing_rate_plot": "firing_rates.png",
        "history": history,
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
