"""Writing TensorBoard logs the course's way (reading them back is :mod:`tbviz.events`).

Writing (lesson 00): every run lives under one root (:func:`tbviz.paths.logs_root`). A lesson
writes ``<root>/<lesson>/<run>`` with :func:`writer`; re-running the lesson replaces that run
and nothing else. An ad-hoc experiment gets a unique, timestamped name with
:func:`experiment_writer`, so nothing is ever overwritten. Writers flush every
:data:`FLUSH_SECS` seconds (torch's default is 120 s, which hides live progress).

Logging helpers (lessons 03-07) check their input and raise ``ValueError``/``TypeError`` that
name the argument, what it got and what it expects, instead of a traceback from deep inside
TensorBoard. They accept torch's ``SummaryWriter`` or tensorboardX's.
"""

from __future__ import annotations

import re
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tbviz import data, events, paths

FLUSH_SECS = 2
"""How often writers made here flush to disk, in seconds."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+,-]*$")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name in {".", ".."}:
        raise ValueError(
            f"{kind} {name!r} is not a valid name: use letters, digits and _ . = + , - "
            f"(no slashes or spaces), e.g. '02_scalars' or 'lr=0.01'"
        )
    return name


def lesson_dir(lesson: str) -> Path:
    """``<logs root>/<lesson>``."""
    return paths.logs_root() / _check_name("lesson", lesson)


def run_dir(lesson: str, run: str) -> Path:
    """``<logs root>/<lesson>/<run>``."""
    return lesson_dir(lesson) / _check_name("run", run)


EXERCISE_RUN = re.compile(r"^ex\d+($|_)")
"""Runs named ``exN`` or ``exN_...`` are a learner's exercise attempts (:mod:`tbviz.exercises`)."""


def lesson_runs(lesson: str) -> list[Path]:
    """The runs the lesson itself wrote: every run under ``<root>/<lesson>`` except your
    exercise runs (``ex1_...``, and the runs below them). A lesson's own checks count these."""
    folder = lesson_dir(lesson)
    if not folder.is_dir():
        return []
    runs = events.run_dirs(folder)
    return [r for r in runs if not EXERCISE_RUN.match((r.relative_to(folder).parts or ("",))[0])]


def reset_lesson(lesson: str) -> Path:
    """Delete the runs the lesson itself writes, so a re-run starts clean; return the lesson dir.

    Your exercise runs (``ex1_...``) and the checkers' records (``.checks``) are kept: re-running
    a lesson from the top never deletes your own work. A solutions notebook's folder
    (``<lesson>_solutions``) holds the course's own runs only, and is emptied completely."""
    target = lesson_dir(lesson)
    keep_attempts = not lesson.endswith("_solutions")
    if target.exists():
        for child in target.iterdir():
            if keep_attempts and (EXERCISE_RUN.match(child.name) or child.name == ".checks"):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    return target


def writer_at(logdir: Path | str, writer_cls: type | None = None, **kwargs: Any):
    """A writer for any directory, flushing every :data:`FLUSH_SECS` s unless ``kwargs`` say
    otherwise. :func:`writer` and :func:`experiment_writer` choose the directory for you."""
    if writer_cls is None:
        from torch.utils.tensorboard import SummaryWriter

        writer_cls = SummaryWriter
    kwargs.setdefault("flush_secs", FLUSH_SECS)
    return writer_cls(str(logdir), **kwargs)


def writer(lesson: str, run: str, *, writer_cls: type | None = None, **kwargs: Any):
    """A SummaryWriter for ``<root>/<lesson>/<run>``, replacing that run's earlier logs.

    Use it as a context manager so it is closed (and flushed) when the block ends::

        with logs.writer("02_scalars", "sgd") as writer:
            writer.add_scalar("Loss/train", loss, step)

    ``writer_cls`` may be tensorboardX's ``SummaryWriter``; ``kwargs`` go to the writer.
    """
    logdir = run_dir(lesson, run)
    if logdir.exists():
        shutil.rmtree(logdir)
    return writer_at(logdir, writer_cls, **kwargs)


def unique_run_dir(name: str, parent: Path | None = None, *, announce: bool = True) -> Path:
    """A new directory ``<parent>/<name>-<YYYYmmdd-HHMMSS>`` that did not exist before.

    If that name is taken (two runs in the same second), ``-2``, ``-3``, ... is added and the
    chosen name is printed, so an earlier run is never overwritten.
    """
    parent = parent if parent is not None else paths.logs_root() / "experiments"
    base = f"{_check_name('run', name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, n = parent / base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            break
        except FileExistsError:
            n += 1
            candidate = parent / f"{base}-{n}"
    if n > 1 and announce:
        print(f"run {base!r} already exists; logging to {candidate.name!r} instead")
    return candidate


def experiment_writer(name: str, *, writer_cls: type | None = None, **kwargs: Any):
    """A writer for an ad-hoc run, ``<root>/experiments/<name>-<time>``: never overwrites."""
    return writer_at(unique_run_dir(name), writer_cls, **kwargs)


# ----------------------------------------------------------------------------- logging helpers


def _as_tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")


def check_images(images: Any, dataformats: str = "NCHW", name: str = "images") -> torch.Tensor:
    """Check an image tensor against ``dataformats`` (NCHW, CHW, HWC or HW); return it on CPU.

    Channels (C) must be 1, 3 or 4, which is what TensorBoard can show.
    """
    images = _as_tensor(name, images)
    layout = dataformats.upper()
    if layout not in {"NCHW", "NHWC", "CHW", "HWC", "HW"}:
        raise ValueError(f"dataformats must be NCHW, NHWC, CHW, HWC or HW, got {dataformats!r}")
    if images.dim() != len(layout):
        raise ValueError(
            f"{name} has shape {tuple(images.shape)} ({images.dim()}-D) but dataformats="
            f"{layout!r} expects {len(layout)}-D; e.g. a single 28x28 image is CHW (1, 28, 28), "
            f"a batch is NCHW (N, 1, 28, 28)"
        )
    if "C" in layout:
        channels = images.shape[layout.index("C")]
        if channels not in (1, 3, 4):
            raise ValueError(
                f"{name} has {channels} channels at position {layout.index('C')} of shape "
                f"{tuple(images.shape)} ({layout}); expected 1, 3 or 4. Is the layout "
                f"{'HWC' if layout == 'CHW' else layout} instead? Pass dataformats to say so"
            )
    if images.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)})")
    if images.is_floating_point() and not torch.isfinite(images).all():
        raise ValueError(f"{name} contains NaN or Inf values")
    return images


def add_image_grid(
    writer: Any,
    tag: str,
    images: Any,
    step: int = 0,
    *,
    nrow: int = 8,
    unnormalize: bool = False,
) -> torch.Tensor:
    """Tile an N x C x H x W batch with ``make_grid`` and log it as one image; return the grid.

    Like ``add_image``: float pixels are taken to be in [0, 1], uint8 pixels in 0..255 (they
    are scaled to [0, 1] here, so the grid's white border stays white).
    """
    from torchvision.utils import make_grid

    images = check_images(images, "NCHW")
    images = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    if unnormalize:
        images = data.unnormalize(images)
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0)
    writer.add_image(tag, grid, step)
    return grid


def _finite_values(name: str, tensor: torch.Tensor, warned: set[str] | None) -> tuple:
    values = tensor.detach().float().flatten().cpu()
    finite = torch.isfinite(values)
    bad = int((~finite).sum())
    if bad and warned is not None and name not in warned:
        warned.add(name)
        warnings.warn(
            f"{name}: {bad} of {values.numel()} values are NaN or Inf; the histogram shows the "
            f"finite ones and nonfinite/{name} counts the rest",
            RuntimeWarning,
            stacklevel=3,
        )
    return values[finite], bad


HISTOGRAM_BINS = 64


def _histogram(writer: Any, tag: str, values: torch.Tensor, step: int) -> None:
    """Log a histogram computed with ``torch.histc`` (64 equal bins).

    Several times cheaper than ``writer.add_histogram``'s default NumPy "tensorflow" buckets,
    which matters when every parameter and gradient is logged every epoch. As in torch's own
    ``make_histogram``, TensorBoard stores right bucket edges, so an empty first bucket carries
    the left edge.
    """
    lo, hi = values.min().item(), values.max().item()
    if hi > lo:
        counts = torch.histc(values, HISTOGRAM_BINS, lo, hi)
        edges = torch.linspace(lo, hi, HISTOGRAM_BINS + 1)
    else:  # a constant tensor (e.g. freshly initialised biases): one bucket
        counts, edges = torch.tensor([float(values.numel())]), torch.tensor([lo, hi])
    values = values.double()
    writer.add_histogram_raw(
        tag,
        min=lo,
        max=hi,
        num=values.numel(),
        sum=values.sum().item(),
        sum_squares=values.square().sum().item(),
        bucket_limits=edges.tolist(),
        bucket_counts=[0.0, *counts.tolist()],
        global_step=step,
    )


def add_histogram(
    writer: Any, tag: str, values: Any, step: int, *, warned: set[str] | None = None
) -> int:
    """``add_histogram`` that survives NaN/Inf: logs the finite values and, when there are
    non-finite ones, their count as ``nonfinite/<tag>``. Returns that count.

    TensorBoard itself fails with "The histogram is empty" when every value is NaN.
    """
    values = _as_tensor("values", values)
    if values.numel() == 0:
        raise ValueError(f"values for histogram {tag!r} is empty (shape {tuple(values.shape)})")
    finite, bad = _finite_values(tag, values, warned)
    if finite.numel():
        _histogram(writer, tag, finite, step)
    if bad:
        writer.add_scalar(f"nonfinite/{tag}", bad, step)
    return bad


def log_parameters(
    writer: Any,
    net: nn.Module,
    step: int,
    *,
    grads: bool = True,
    warned: set[str] | None = None,
) -> int:
    """Histograms of every parameter (``weights/<name>``) and its gradient (``grads/<name>``).

    Lesson 03. Non-finite values are counted, not fatal (see :func:`add_histogram`); pass the
    same ``warned`` set every epoch to warn once per layer. Returns the non-finite count.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    warned = warned if warned is not None else set()
    bad = 0
    for name, param in net.named_parameters():
        bad += add_histogram(writer, f"weights/{name}", param, step, warned=warned)
        if grads and param.grad is not None:
            bad += add_histogram(writer, f"grads/{name}", param.grad, step, warned=warned)
    return bad


def add_embedding(
    writer: Any,
    features: Any,
    *,
    metadata: Sequence | None = None,
    label_img: Any = None,
    tag: str = "default",
    step: int = 0,
    metadata_header: Sequence[str] | None = None,
) -> None:
    """``add_embedding`` with its pitfalls checked (lesson 06).

    ``features`` must be 2-D (N x D); ``metadata`` must have N entries; ``label_img`` must be
    an N x C x H x W tensor with C 1 or 3 and float values in [0, 1].
    """
    features = _as_tensor("features", features)
    if features.dim() != 2:
        raise ValueError(
            f"features must be 2-D (N samples x D features), got shape {tuple(features.shape)}; "
            f"flatten images with features.reshape(len(features), -1)"
        )
    n = features.shape[0]
    if metadata is not None and len(metadata) != n:
        raise ValueError(f"metadata has {len(metadata)} entries but features has {n} rows")
    if label_img is not None:
        label_img = check_images(label_img, "NCHW", name="label_img")
        if label_img.shape[1] not in (1, 3):
            raise ValueError(f"label_img must have 1 or 3 channels, got {label_img.shape[1]}")
        if not label_img.is_floating_point() or label_img.min() < 0 or label_img.max() > 1:
            raise ValueError(
                f"label_img must be floats in [0, 1] (torch's sprite multiplies by 255), got "
                f"{label_img.dtype} from {label_img.min().item()} to {label_img.max().item()}; "
                f"for 0..255 integers pass label_img.float() / 255, for normalized images "
                f"data.unnormalize(label_img)"
            )
        if label_img.shape[0] != n:
            raise ValueError(f"label_img has {label_img.shape[0]} images but features has {n} rows")
    if metadata is not None and not isinstance(metadata, list):
        metadata = list(metadata)
    writer.add_embedding(
        features.float(),
        metadata=metadata,
        label_img=label_img,
        global_step=step,
        tag=tag,
        metadata_header=metadata_header,
    )


def add_pr_curves(
    writer: Any,
    labels: Any,
    probs: Any,
    class_names: Sequence[str],
    step: int = 0,
    *,
    prefix: str = "pr",
    check_predictions: bool = True,
) -> None:
    """One precision-recall curve per class (lesson 07): ``labels == c`` against ``probs[:, c]``.

    ``labels`` are the true class indices (N), ``probs`` softmax probabilities (N x classes).
    Labels that equal ``probs.argmax(1)`` everywhere (100+ samples) are refused: those are the
    model's predictions, the mistake the official tutorial once made.
    """
    labels = _as_tensor("labels", labels)
    probs = _as_tensor("probs", probs)
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D class indices, got shape {tuple(labels.shape)}")
    if probs.dim() != 2 or probs.shape[1] != len(class_names):
        raise ValueError(
            f"probs must be N x {len(class_names)} (one column per class name), "
            f"got shape {tuple(probs.shape)}"
        )
    if len(labels) != len(probs):
        raise ValueError(f"labels ({len(labels)}) and probs ({len(probs)}) differ in length")
    if labels.is_floating_point():
        raise TypeError(
            f"labels must be integer class indices, got dtype {labels.dtype}; did you pass "
            f"predicted probabilities where the true labels belong?"
        )
    if not torch.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1:
        raise ValueError(
            "probs must be probabilities in [0, 1] (apply softmax to the logits first), got "
            f"values from {probs.min().item():.3g} to {probs.max().item():.3g}"
        )
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"labels must be in 0..{len(class_names) - 1}")
    if check_predictions and len(labels) >= 100 and bool((labels == probs.argmax(1)).all()):
        raise ValueError(
            f"labels equal probs.argmax(1) for all {len(labels)} samples: these look like the "
            f"model's predictions, not the true labels. Pass the dataset's labels (curves built "
            f"from predictions compare the model with itself and look perfect); if the model "
            f"really is right on every sample, pass check_predictions=False"
        )
    for c, name in enumerate(class_names):
        writer.add_pr_curve(f"{prefix}/{name}", labels == c, probs[:, c], global_step=step)
