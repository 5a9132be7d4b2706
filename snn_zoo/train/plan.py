"""The run plan: every decision of a training run, made once, before any work.

``RunPlan.from_recipe(recipe, num_processes)`` reads the recipe and the dataset's facts and decides:
the student and teacher (chosen from the data when the recipe names none), their ``create_model``
arguments, the per-process batch, whether a teacher is needed, trained, and how it sees the input, the
input size and channels, the dataset arguments (transforms), the precision, and the ``pretrained_cfg``
the checkpoint will carry. Every check that needs no weights runs here, so bad input stops in the first
seconds. The training loop (``snn_zoo.train.loop``) only executes the plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..data import (
    DatasetInfo,
    create_dataset,
    dataset_info,
    eval_data_config,
    list_datasets,
    native_input_size,
    takes_timm_augmentation,
)
from ..distill import MethodSpec, conversion_neuron_problems, get_method, teacher_input, transfer_ann_weights
from ..factory import create_model, is_model
from ..hub.port import ann_twin_macs
from ..io import CONFIG_NAME, CheckpointError, config_num_classes, find_checkpoint, load_weights, read_config
from .precision import resolve_mixed_precision
from .recipe import Recipe

__all__ = ["DEFAULT_STUDENTS", "STUDENT_MACS_BUDGET", "PlanError", "RunPlan"]


class PlanError(ValueError):
    """The recipe cannot run on this data or process count; the message says what to change."""


#: Students and teachers for data that names no model, smallest first: (student, teacher). The plan takes the
#: largest pair whose student's ANN-twin MACs per image and time step fit :data:`STUDENT_MACS_BUDGET` at the
#: data's input size and whose teacher fits ``TEACHER_BUDGET_FACTOR`` times that.
DEFAULT_STUDENTS = (
    ("spiking_cnn_tiny", "spiking_cnn_small"),
    ("spiking_cnn_small", "spiking_cnn_base"),
    ("spiking_cnn_base", "sew_resnet10_digits"),
    ("sew_resnet10_digits", "sew_resnet18_cifar"),
)
#: The embedded datasets keep the published zoo default.
EMBEDDED_DEFAULT = ("spiking_cnn_small", "spiking_cnn_base")
#: CPU budget of a default student: ANN-twin multiply-accumulates per image per time step.
STUDENT_MACS_BUDGET = 8e6
TEACHER_BUDGET_FACTOR = 8
#: Image folders: their input size can follow the images.
_IMAGE_FOLDERS = ("imagefolder", "imagenet")
#: Recipe fields (timm's train.py names) -> timm.data.create_transform arguments.
_TIMM_AUGMENT = {
    "aa": "auto_augment",
    "reprob": "re_prob",
    "remode": "re_mode",
    "recount": "re_count",
    "train_interpolation": "interpolation",
}


def choose_default_model(info: DatasetInfo, size: tuple[int, int, int]) -> tuple[str, str, str]:
    """(student, teacher, why) for a recipe that names no model; see :data:`DEFAULT_STUDENTS`."""
    if not info.needs_data_dir:
        return (*EMBEDDED_DEFAULT, f"the zoo default for the embedded {info.name!r} data")
    macs = {}
    chosen = DEFAULT_STUDENTS[0]
    for student, teacher in DEFAULT_STUDENTS:
        for arch in (student, teacher):
            macs.setdefault(arch, ann_twin_macs(arch, size, num_classes=info.num_classes, in_chans=size[0]))
        if macs[student] <= STUDENT_MACS_BUDGET and macs[teacher] <= TEACHER_BUDGET_FACTOR * STUDENT_MACS_BUDGET:
            chosen = (student, teacher)
    student, teacher = chosen
    fits = macs[student] <= STUDENT_MACS_BUDGET
    why = (
        f"the largest zoo student whose ANN twin needs at most {STUDENT_MACS_BUDGET / 1e6:.0f} M MACs per image and "
        f"time step at {'x'.join(map(str, size))} ({macs[student] / 1e6:.2f} M; teacher {macs[teacher] / 1e6:.2f} M)"
        if fits
        else f"the smallest zoo student; it needs {macs[student] / 1e6:.1f} M MACs per image and step at "
        f"{'x'.join(map(str, size))}, over the {STUDENT_MACS_BUDGET / 1e6:.0f} M CPU budget: expect slow epochs "
        f"on a CPU, or pass --img-size"
    )
    return student, teacher, why


def _input_size(recipe: Recipe, kwargs: dict) -> tuple[tuple[int, int, int] | None, str]:
    """(C, H, W) the run feeds the student, and where it comes from (None: the dataset's own)."""
    size = kwargs.pop("input_size", None)
    if size is not None:
        return tuple(size), "data_kwargs"
    native = native_input_size(recipe.data_dir) if recipe.dataset in _IMAGE_FOLDERS else None
    if recipe.img_size:
        # Channels always follow the images: a grayscale folder stays one channel at any --img-size.
        channels = native[0] if native is not None else None
        return (channels, recipe.img_size, recipe.img_size), "img_size"
    if native is not None:
        kwargs.setdefault("crop_pct", 1.0)  # evaluate on the whole image: no resize-and-crop of its border
        return native, "native size of the images"
    return None, f"{recipe.dataset} default"


def _augment_kwargs(recipe: Recipe) -> dict:
    """create_transform kwargs for the recipe's timm augmentation fields that differ from the defaults."""
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe)}
    return {
        arg: getattr(recipe, name) for name, arg in _TIMM_AUGMENT.items() if getattr(recipe, name) != defaults[name]
    }


def _resolve_data(recipe: Recipe) -> tuple[DatasetInfo, dict, str, list[str]]:
    """(info at the run's input size, create_dataset kwargs, input source, notes) for a recipe."""
    kwargs = dict(recipe.data_kwargs)
    event_T = recipe.T if kwargs.pop("event", False) else None  # synthetic event frames (dry runs of event recipes)
    size, source = _input_size(recipe, kwargs)
    info = dataset_info(recipe.dataset, data_dir=recipe.data_dir, T=event_T, **kwargs)
    if size is not None and size[0] is None:
        size = (info.in_chans, *size[1:])
    if size is not None:
        info = dataset_info(recipe.dataset, data_dir=recipe.data_dir, T=event_T, **{**kwargs, "input_size": size})
        info = dataclasses.replace(info, in_chans=size[0], input_size=tuple(size))
    notes = []
    augment = _augment_kwargs(recipe)
    if augment and takes_timm_augmentation(recipe.dataset):
        kwargs.update(augment)
    elif augment:
        timm_sets = [name for name in list_datasets() if takes_timm_augmentation(name)]
        notes.append(
            f"{sorted(augment)} apply to datasets built with timm's create_transform ({', '.join(timm_sets)}); "
            f"{recipe.dataset!r} keeps its own transform."
        )
    kwargs.update(input_size=tuple(info.input_size), T=recipe.T if info.is_event else None)
    return info, kwargs, source, notes


def _fill_models(recipe: Recipe, info: DatasetInfo, method: MethodSpec) -> tuple[Recipe, str]:
    """The recipe with its student (and needed teacher) filled in from the data, and why ('' if it named them)."""
    if recipe.model is not None and (recipe.teacher is not None or not method.needs_teacher):
        return recipe, ""
    student, teacher, why = choose_default_model(info, tuple(info.input_size))
    choice = ""
    if recipe.model is None:
        choice = f"student {student}, teacher {recipe.teacher or teacher}: {why} (the recipe names no model)"
    teacher = recipe.teacher or (teacher if method.needs_teacher else None)
    return dataclasses.replace(recipe, model=recipe.model or student, teacher=teacher), choice


def _student_args(recipe: Recipe, info: DatasetInfo) -> dict[str, Any]:
    """``create_model`` arguments of the student (the recipe's model_kwargs win, as timm's kwargs do)."""
    snn = dict(T=recipe.T, neuron=recipe.neuron, surrogate=recipe.surrogate, tau=recipe.tau)
    snn.update(detach_reset=recipe.detach_reset, num_classes=info.num_classes, in_chans=info.in_chans)
    return {**snn, **recipe.model_kwargs}


def _teacher_args(recipe: Recipe, info: DatasetInfo) -> dict[str, Any]:
    """``create_model`` arguments of a zoo teacher: its ANN twin (with the student's model_kwargs for 'twin')."""
    extra = {**(recipe.model_kwargs if recipe.teacher == "twin" else {}), **recipe.teacher_kwargs}
    return dict(neuron="relu", num_classes=info.num_classes, in_chans=info.in_chans, **extra)


def _pretrained_cfg(recipe: Recipe, info: DatasetInfo, dataset_kwargs: dict) -> dict[str, Any]:
    """The checkpoint's ``pretrained_cfg``: the run's own tag, classes and evaluation transform."""
    transform_kwargs = {k: v for k, v in dataset_kwargs.items() if k not in ("input_size", "T")}
    data = eval_data_config(info, info.input_size, **transform_kwargs)
    cfg = dict(architecture=recipe.model, tag=recipe.run_tag, num_classes=info.num_classes)
    cfg.update(input_size=list(data["input_size"]), mean=list(data["mean"]), std=list(data["std"]))
    cfg.update(interpolation=data["interpolation"], crop_pct=data["crop_pct"], crop_mode=data["crop_mode"])
    return cfg


def _eval_data(recipe: Recipe, info: DatasetInfo, dataset_kwargs: dict) -> dict[str, Any]:
    """The validation data, recorded in results.json so ``validate.py RUN_DIR`` measures on exactly it."""
    kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in dataset_kwargs.items()}
    return dict(dataset=info.name, data_dir=recipe.data_dir, kwargs={**kwargs, "seed": recipe.seed})


@dataclass(frozen=True)
class RunPlan:
    """Every decision of one run, as data (see the module docstring). Build it with :meth:`from_recipe`.

    Attributes:
        recipe: the recipe with the student and teacher filled in (what recipe.json records).
        info: the dataset's facts at the run's input size and channels.
        dataset_kwargs: ``create_dataset`` arguments shared by both splits (input size, T, transforms).
        input_source: where the input size comes from (flag, images, dataset default).
        num_processes, per_process_batch: the global batch split over the processes.
        method: the distillation method's table row; ``needs_teacher`` its teacher rule.
        teacher_arch: the teacher's architecture ('twin' resolved), None without a teacher.
        train_teacher: the teacher is trained first (no checkpoint or hub weights given).
        T, train_T: time steps of the result, and during training (1 with single-step noise).
        student_args, teacher_args: their ``create_model`` arguments.
        pretrained_cfg: what the checkpoint's config.json says about its data (timm's resolve_data_config).
        eval_data: the validation data, recorded in results.json.
        output_dir, run_name, tag: where the run writes and what it is called.
        mixed_precision, precision_reason: accelerate's precision and the one flag or setting that decided it.
        model_choice: why this student and teacher ('' when the recipe named them).
        notes: lines printed at start (settings that do not apply to this data).
    """

    recipe: Recipe
    info: DatasetInfo
    dataset_kwargs: dict
    input_source: str
    num_processes: int
    per_process_batch: int
    method: MethodSpec
    needs_teacher: bool
    teacher_arch: str | None
    train_teacher: bool
    T: int
    train_T: int
    student_args: dict
    teacher_args: dict
    pretrained_cfg: dict
    eval_data: dict
    output_dir: Path
    run_name: str
    tag: str
    mixed_precision: str
    precision_reason: str
    model_choice: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    # -- deciding ---------------------------------------------------------------------------------------
    @classmethod
    def from_recipe(cls, recipe: Recipe, num_processes: int = 1, use_cuda: bool | None = None) -> RunPlan:
        """Decide the run; raises :class:`PlanError` (or the data layer's ``DatasetError``) on bad input."""
        info, kwargs, source, notes = _resolve_data(recipe)
        method = get_method(recipe.method)
        recipe, choice = _fill_models(recipe, info, method)
        use_cuda = torch.cuda.is_available() if use_cuda is None else use_cuda
        precision, reason = resolve_mixed_precision(recipe.mixed_precision, use_cuda=use_cuda)
        teacher = (recipe.model if recipe.teacher == "twin" else recipe.teacher) if method.needs_teacher else None
        given_weights = recipe.teacher_checkpoint or recipe.teacher_pretrained
        plan = cls(
            recipe=recipe,
            info=info,
            dataset_kwargs=kwargs,
            input_source=source,
            num_processes=num_processes,
            per_process_batch=max(1, recipe.batch_size // num_processes),
            method=method,
            needs_teacher=method.needs_teacher,
            teacher_arch=teacher,
            train_teacher=method.needs_teacher and not given_weights,
            T=recipe.T,
            train_T=1 if recipe.single_step_noise is not None else recipe.T,
            student_args=_student_args(recipe, info),
            teacher_args=_teacher_args(recipe, info),
            pretrained_cfg=_pretrained_cfg(recipe, info, kwargs),
            eval_data=_eval_data(recipe, info, kwargs),
            output_dir=recipe.output_dir,
            run_name=recipe.run_name,
            tag=recipe.run_tag,
            mixed_precision=precision,
            precision_reason=reason,
            model_choice=choice,
            notes=tuple(notes),
        )
        plan.check()
        return plan

    def summary(self) -> str:
        """The plan in a few lines (``distill.py --print-plan``)."""
        r = self.recipe
        teacher = (
            "none"
            if not self.needs_teacher
            else f"{self.teacher_arch} ({'trained first' if self.train_teacher else 'given weights'})"
        )
        lines = [
            f"run folder      {self.output_dir}",
            f"student         {r.model} {self.student_args}",
            f"teacher         {teacher}",
            f"method          {r.method} {r.loss_weights or self.method.defaults}",
            f"data            {self.info.name}: {self.info.num_classes} classes, input "
            f"{'x'.join(map(str, self.info.input_size))} ({self.input_source}), "
            f"T={self.T} (trained at T={self.train_T})",
            f"batch           {r.batch_size} = {self.per_process_batch} per process x {self.num_processes}",
            f"precision       {self.mixed_precision} ({self.precision_reason})",
            f"pretrained_cfg  {self.pretrained_cfg}",
        ]
        if self.model_choice:
            lines.insert(1, f"model choice    {self.model_choice}")
        return "\n".join(lines + [f"note            {n}" for n in self.notes])

    # -- checks (no weights needed) --------------------------------------------------------------------
    def check(self) -> None:
        """Settings that cannot work with this data, model names or process count."""
        r = self.recipe
        if not is_model(r.model):
            from ..factory import list_models

            raise PlanError(f"Unknown student model {r.model!r}; see snn_zoo.list_models() ({len(list_models())}).")
        if self.needs_teacher and r.teacher != "twin" and not is_model(r.teacher):
            import timm
            from timm.models import split_model_name_tag

            if not timm.is_model(split_model_name_tag(r.teacher)[0]):
                raise PlanError(f"Unknown teacher {r.teacher!r}: not 'twin', an snn_zoo model or a timm model.")
        if self.needs_teacher and r.teacher_checkpoint:
            try:
                file = find_checkpoint(r.teacher_checkpoint, allow_pickle=True)
            except CheckpointError as e:
                raise CheckpointError(f"--teacher-checkpoint: {e}") from e
            if (file.parent / CONFIG_NAME).is_file():
                read_config(file.parent)  # truncated / not an object -> CheckpointError naming the file
        if self.info.num_classes < 2:
            where = f" in {r.data_dir!r}" if r.data_dir else ""
            raise PlanError(
                f"Dataset {r.dataset!r}{where} has {self.info.num_classes} class(es); classification needs at least "
                f"2 classes (one sub-folder per class for an image folder)."
            )
        if r.mixup_active and self.per_process_batch % 2:
            raise PlanError(
                f"mixup / cutmix mix each batch with its reverse and need an even batch per process; batch_size "
                f"{r.batch_size} over {self.num_processes} process(es) gives {self.per_process_batch}."
            )
        if r.single_step_noise is not None and self.info.is_event:
            raise PlanError(
                f"single_step_noise trains at T=1 on static images, but {self.info.name!r} gives event frames with "
                f"their own T; train event data directly at T (drop single_step_noise)."
            )
        if r.single_step_noise is not None:
            args = self.student_args
            problems = conversion_neuron_problems(
                args["neuron"], args.get("v_reset", 0.0), args.get("v_threshold", 1.0), args.get("v_init", 0.0)
            )
            if problems:
                raise PlanError(
                    f"single_step_noise converts a T=1 network to T={self.T} only under its rule's neuron, but "
                    f"{'; '.join(problems)}. Set neuron: if and model_kwargs: {{v_reset: soft, v_init: 0.5}} "
                    f"(v_init = v_threshold / 2; see snn_zoo.distill.noisy), or drop single_step_noise."
                )

    def check_train_size(self, num_train: int) -> None:
        """At least one full batch per process: partial batches are dropped, so a smaller set trains nothing."""
        if num_train // self.num_processes < self.per_process_batch:
            raise PlanError(
                f"The training set has {num_train} sample(s), fewer than one batch of {self.recipe.batch_size} "
                f"({self.per_process_batch} per process x {self.num_processes}); partial batches are dropped, so "
                f"nothing would be trained. Lower --batch-size or add data."
            )

    # -- building ---------------------------------------------------------------------------------------
    def build_datasets(self) -> tuple[Any, Any]:
        """(train, val) datasets with the plan's input size and transforms."""
        r = self.recipe
        common = dict(data_dir=r.data_dir, augment=r.augment, seed=r.seed, **self.dataset_kwargs)
        train, val = (create_dataset(r.dataset, split=split, **common) for split in ("train", "val"))
        self.check_train_size(len(train))
        return train, val

    def build_student(self) -> nn.Module:
        """The student, with the checkpoint's ``pretrained_cfg`` describing this run's data."""
        student = create_model(self.recipe.model, **self.student_args)
        student.pretrained_cfg = student.default_cfg = {**getattr(student, "pretrained_cfg", {}), **self.pretrained_cfg}
        if self.recipe.grad_checkpointing != "off":  # per block; 'packed' keeps binary block inputs at 1 bit
            student.set_grad_checkpointing(True, pack_spikes=self.recipe.grad_checkpointing == "packed")
        return student

    def build_teacher(self, checkpoint: str | None = None) -> nn.Module:
        """The frozen ANN teacher: a zoo architecture's ANN twin or any timm model, loading ``checkpoint`` (or the
        recipe's teacher_checkpoint) when given. Its class count must be the data's."""
        import timm

        r, arch, classes = self.recipe, self.teacher_arch, self.info.num_classes
        checkpoint = checkpoint or r.teacher_checkpoint
        if is_model(arch):
            teacher = create_model(arch, **self.teacher_args)
        else:  # hub-pretrained timm teachers keep their own head, so a class mismatch is reported below
            hub = r.teacher_pretrained and not checkpoint
            head = {} if hub else {"num_classes": classes}
            teacher = timm.create_model(arch, pretrained=hub, in_chans=self.info.in_chans, **head, **r.teacher_kwargs)
        if checkpoint:
            file = find_checkpoint(checkpoint, allow_pickle=True)  # .pth teachers go through the allowlisted reader
            config_file = file.parent / CONFIG_NAME
            saved = config_num_classes(read_config(config_file)) if config_file.is_file() else None
            if saved is not None and saved != classes:
                raise CheckpointError(
                    f"Teacher checkpoint {str(checkpoint)!r} predicts {saved} classes but the dataset has {classes}; "
                    f"distil from a teacher trained on this dataset."
                )
            hint = f"The teacher is {arch!r} with {classes} classes and {self.info.in_chans} input channels."
            load_weights(teacher, file, allow_pickle=True, hint=hint)
        if teacher.num_classes != classes:
            raise PlanError(
                f"Teacher {arch!r} predicts {teacher.num_classes} classes but the dataset has {classes}; pass a "
                f"checkpoint of a teacher fine-tuned on this dataset."
            )
        return teacher

    def describe_input(self, sample_shape: tuple) -> dict:
        """What the student (and teacher) will see, for the start-of-run line and results.json."""
        r = self.recipe
        c, h, w = (int(v) for v in sample_shape[-3:])
        teacher = [c, r.teacher_input_size, r.teacher_input_size] if r.teacher_input_size else None
        frames = f"{int(sample_shape[0])} event frames" if len(sample_shape) == 4 else f"static, repeated T={r.T}"
        summary = f"student input {c}x{h}x{w} ({self.input_source}), {frames}"
        if teacher:
            summary += f"; teacher input {c}x{teacher[1]}x{teacher[2]} ({r.teacher_interpolation})"
        return dict(
            input_size=[c, h, w],
            source=self.input_source,
            is_event=bool(self.info.is_event),
            teacher_input_size=teacher,
            summary=summary,
        )

    def check_teacher(self, teacher: nn.Module, sample: torch.Tensor) -> None:
        """Run the teacher once on the image it will get, and, for SAKD, check its weights fit the student."""
        r = self.recipe
        x = sample.unsqueeze(1) if sample.dim() == 4 else sample.unsqueeze(0)  # [T, 1, C, H, W] or [1, C, H, W]
        image = teacher_input(x, r.teacher_input_size, r.teacher_interpolation)
        was_training = teacher.training
        teacher.eval()
        try:
            with torch.no_grad():
                teacher(image)
        except Exception as e:  # any shape error inside a foreign model: report it with the fix
            raise PlanError(
                f"Teacher {self.teacher_arch!r} cannot take the image the data gives it, {list(image.shape[1:])} "
                f"(teacher_input_size={r.teacher_input_size}): {e}. Set teacher_input_size to the side it expects "
                f"(e.g. 224 for a ViT at its native resolution, bicubic) or build it for this size with "
                f"teacher_kwargs (e.g. img_size)."
            ) from e
        finally:
            teacher.train(was_training)
        if self.method.transfers_weights:
            with torch.random.fork_rng():
                probe = create_model(r.model, **self.student_args)
            report = transfer_ann_weights(teacher, probe)
            if not report.copied or report.shape_mismatch:
                raise PlanError(
                    f"method {r.method!r} copies the teacher's weights into the student by name, but teacher "
                    f"{self.teacher_arch!r} does not fit student {r.model!r}: {len(report.copied)} tensors fit, "
                    f"{len(report.shape_mismatch)} differ in shape, {len(report.missing_in_ann)} are missing. Use "
                    f"teacher: twin (the student's ANN twin) or a timm model of the same architecture (e.g. "
                    f"resnet18 for sew_resnet18)."
                )
