"""Pictures: the matplotlib figures the lessons log with ``add_figure`` (lesson 05), the
predictions picture the training loop logs every epoch, and the static pictures read back from
the logs, so a lesson shows on GitHub what TensorBoard would show.

matplotlib is imported inside the functions that draw with it: the training loop draws its
picture with Pillow, which imports in a few milliseconds, and so does not pay for matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tbviz import events, models
from tbviz.data import CLASSES, unnormalize

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RIGHT, WRONG = (0, 128, 0), (200, 0, 0)  # caption colours: green when right, red when wrong


def _pixels(image: torch.Tensor) -> np.ndarray:
    """A normalized 1 x H x W (or H x W) tensor as an H x W array in [0, 1]."""
    return unnormalize(image.detach().cpu().float()).squeeze().numpy()


def image_grid(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str] = CLASSES,
    ncols: int = 3,
) -> Figure:
    """A grid of images titled with their class names (lesson 05)."""
    import matplotlib.pyplot as plt

    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_pixels(images[i]), cmap="gray_r")
            ax.set_title(classes[int(labels[i])], fontsize=9)
    fig.tight_layout()
    return fig


def predict(net: torch.nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, its probability) per image, on the CPU (lesson 05 writes this out)."""
    conf, pred = models.predict_probs(net, images).max(dim=1)
    return pred, conf


def _caption(
    pred: torch.Tensor, conf: torch.Tensor, label: torch.Tensor, classes: Sequence[str]
) -> tuple[list[str], bool]:
    """The two caption lines under one image, and whether the prediction is right."""
    lines = [f"{classes[int(pred)]}, {100 * float(conf):.0f}%", f"(true: {classes[int(label)]})"]
    return lines, int(pred) == int(label)


def predictions_figure(
    net: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str] = CLASSES,
) -> Figure:
    """Images with predicted class, its probability and the true class; green when right,
    red when wrong (lesson 05)."""
    import matplotlib.pyplot as plt

    pred, conf = predict(net, images)
    fig = plt.figure(figsize=(2.1 * len(images), 2.6))
    axes = fig.subplots(1, len(images), squeeze=False)
    for ax, image, p, c, y in zip(axes.flat, images, pred, conf, labels, strict=True):
        ax.imshow(_pixels(image), cmap="gray_r")
        ax.axis("off")
        lines, right = _caption(p, c, y, classes)
        ax.set_title("\n".join(lines), color="green" if right else "red", fontsize=8)
    fig.tight_layout()
    return fig


def predictions_image(
    net: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str] = CLASSES,
    *,
    scale: int = 4,
) -> np.ndarray:
    """What :func:`predictions_figure` shows, drawn with Pillow as an H x W x 3 uint8 array
    (log it with ``add_image(..., dataformats="HWC")``). The training loop logs it every
    epoch: no matplotlib import, a few milliseconds a picture."""
    from PIL import Image, ImageDraw, ImageFont

    pred, conf = predict(net, images)
    font = ImageFont.load_default(size=3 * scale + 1)
    side = images.shape[-1] * scale
    tile_w, line_h, pad = side + 10 * scale, 4 * scale + 2, 2 * scale
    canvas = Image.new("RGB", (tile_w * len(images), pad + side + pad + 2 * line_h + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (image, p, c, y) in enumerate(zip(images, pred, conf, labels, strict=True)):
        dark_on_white = (255 * (1 - np.clip(_pixels(image), 0, 1))).round().astype(np.uint8)
        thumb = Image.fromarray(dark_on_white, "L").resize((side, side), Image.Resampling.NEAREST)
        left = i * tile_w
        canvas.paste(thumb, (left + (tile_w - side) // 2, pad))
        lines, right = _caption(p, c, y, classes)
        colour = RIGHT if right else WRONG
        for k, text in enumerate(lines):
            width = draw.textlength(text, font=font)
            draw.text(
                (left + (tile_w - width) / 2, pad + side + pad + k * line_h),
                text,
                fill=colour,
                font=font,
            )
    return np.asarray(canvas).copy()


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int = 10):
    """Counts: row = true class, column = predicted class."""
    index = labels.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_matrix_figure(cm: torch.Tensor, classes: Sequence[str] = CLASSES) -> Figure:
    """A confusion matrix, rows normalized to fractions of each true class (lesson 05)."""
    import matplotlib.pyplot as plt

    frac = cm.float() / cm.sum(dim=1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(frac.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            if frac[i, j] >= 0.01:
                color = "white" if frac[i, j] > 0.5 else "black"
                ax.text(
                    j, i, f"{frac[i, j]:.2f}", ha="center", va="center", fontsize=6, color=color
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def scalars_figure(
    runs: Mapping[str, Path | str],
    tags: Sequence[str],
    *,
    logy: bool = False,
    title: str | None = None,
) -> Figure:
    """One panel per tag, one line per run, read back from the event files: the picture the
    Scalars dashboard draws. ``runs`` maps a label to a run directory."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.4), squeeze=False)
    for ax, tag in zip(axes.flat, tags, strict=True):
        for label, run in runs.items():
            points = events.scalars(run, tag)
            ax.plot([s for s, _ in points], [v for _, v in points], label=label)
        ax.set_title(tag)
        ax.set_xlabel("step")
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def rebinned_density(event: Any, edges: np.ndarray) -> np.ndarray:
    """One logged histogram as a density over ``edges`` (equal bins), as TensorBoard's
    Histograms dashboard re-bins it before drawing (lesson 03 writes this out).

    TensorBoard's default buckets are uneven (they grow by 10% away from zero), so raw counts
    would draw bumps and dips that are only bucket sizes. Each bucket's count is shared among
    the new bins it overlaps; the density integrates to 1 over the histogram's range.
    """
    h = event.histogram_value
    rights = np.minimum(np.asarray(h.bucket_limit, dtype=float), h.max)
    lefts = np.maximum(np.concatenate([[h.min], rights[:-1]]), h.min)
    counts = np.zeros(len(edges) - 1)
    for left, right, count in zip(lefts, rights, h.bucket, strict=True):
        if count == 0:
            continue
        if right <= left:  # every value of this bucket at one point
            k = np.clip(np.searchsorted(edges, left, side="right") - 1, 0, len(counts) - 1)
            counts[k] += count
            continue
        overlap = np.minimum(edges[1:], right) - np.maximum(edges[:-1], left)
        counts += count * np.clip(overlap, 0, None) / (right - left)
    return counts / (np.diff(edges) * max(h.num, 1))


def histograms_figure(run: Path | str, tags: Sequence[str], bins: int = 30) -> Figure:
    """Each tag's histograms over steps, later steps darker, re-binned into ``bins`` equal bins
    over the range of all steps: the Histograms dashboard's overlay view, as densities."""
    import matplotlib.pyplot as plt

    acc = events.accumulator(run)
    fig, axes = plt.subplots(1, len(tags), figsize=(4.5 * len(tags), 3.2), squeeze=False)
    for ax, tag in zip(axes.flat, tags, strict=True):
        logged = acc.Histograms(tag)
        low = min(e.histogram_value.min for e in logged)
        high = max(e.histogram_value.max for e in logged)
        if low == high:  # one value only: widen the range, as TensorBoard does
            low, high = low / 1.1 - 1, 1.1 * high + 1
        edges = np.linspace(low, high, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        for k, event in enumerate(logged):
            shade = 0.25 + 0.75 * (k + 1) / len(logged)
            ax.plot(
                centres,
                rebinned_density(event, edges),
                color=plt.cm.viridis(1 - shade),
                label=f"step {event.step}",
            )
        ax.set_title(tag, fontsize=9)
        ax.set_ylabel("density")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def show_logged_image(
    run: Path | str, tag: str, step: int | None = None, width: float = 8.0
) -> Figure:
    """Draw the image logged under ``tag`` (the last step unless ``step`` is given)."""
    import matplotlib.pyplot as plt

    images = events.images(run, tag)
    chosen = images[-1] if step is None else next(i for i in images if i[0] == step)
    pixels = chosen[1]
    h, w = pixels.shape[:2]
    fig, ax = plt.subplots(figsize=(width, max(1.0, width * h / w)))
    ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None)
    ax.set_title(f"{tag} (step {chosen[0]}), read back from the logs", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig
