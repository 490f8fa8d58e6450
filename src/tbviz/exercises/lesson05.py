"""Checkers for lesson 05 (figures).

A logged figure is a PNG; these checkers read what it shows from its pixels: the filled bars of
a bar chart (exercise 1), the red and green titles of the predictions figure (exercise 2), and
the tiling of a list of figures (exercise 3).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tbviz.data import CLASSES
from tbviz.exercises import Attempt, Incorrect, exercise, expect, tags

LESSON = "05_figures"


# ------------------------------------------------------------------------------ reading pixels


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """An H x W x 3 array of 0-255 integers from what :func:`tbviz.events.images` returns."""
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return np.round(255 * np.clip(pixels[..., :3], 0, 1)).astype(np.int32)


def _images(run: Path, tag: str) -> list[tuple[int, np.ndarray]]:
    from tbviz import events

    return [(step, _rgb(pixels)) for step, pixels in events.images(run, tag)]


def _last_image(attempt: Attempt, tag: str) -> tuple[Path, int, np.ndarray]:
    """(run, step, H x W x 3 pixels) of the last image logged under ``tag`` in the one run of
    this exercise that holds it."""
    run = attempt.run_with("images", tag)
    logged = _images(run, tag)
    expect(logged, f"{tag!r} in run {attempt.name(run)} holds no image")
    step, pixels = logged[-1]
    return run, step, pixels


def _blank(rgb: np.ndarray) -> bool:
    """Next to nothing but the background: a figure drawn on another figure than the logged."""
    return bool((rgb.min(axis=-1) < 225).mean() < 0.002)


def _segments(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Filled bars standing on the bottom or the top of the image's columns:
    ``(first column, last column, start row, end row)`` of each run of columns whose most
    common non-background colour fills a long stretch. Background: near white (and the light
    grey of seaborn-like styles). Bars split by a thin grid line are joined again."""
    height, width, _ = rgb.shape
    key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    ink = rgb.min(axis=-1) < 225
    tall = max(5, 0.03 * height)  # the fewest pixels of one colour a bar's column has
    # per column: (its most common colour, how many pixels, first row, last row), or None
    columns: list[tuple[int, int, int, int] | None] = []
    for x in range(width):
        rows = np.flatnonzero(ink[:, x])
        if len(rows) < tall:
            columns.append(None)
            continue
        colours, counts = np.unique(key[rows, x], return_counts=True)
        colour = colours[counts.argmax()]
        where = rows[key[rows, x] == colour]
        if counts.max() < tall:
            columns.append(None)
            continue
        columns.append((int(colour), int(counts.max()), int(where[0]), int(where[-1])))
    runs: list[list[int]] = []  # [first column, last column, colour]: same-colour columns
    for x, column in enumerate(columns):
        if column is None:
            continue
        if runs and runs[-1][2] == column[0] and runs[-1][1] == x - 1:
            runs[-1][1] = x
        else:
            runs.append([x, x, column[0]])

    def extent(first: int, last: int, colour: int) -> tuple[int, int, float]:
        spans = [c for c in columns[first : last + 1] if c is not None and c[0] == colour]
        top = int(np.median([c[2] for c in spans]))
        bottom = int(np.median([c[3] for c in spans]))
        return top, bottom, float(np.median([c[1] for c in spans])) / (bottom - top + 1)

    found: list[tuple[int, int, int, int]] = []
    colours: list[int] = []
    for first, last, colour in runs:
        if last - first + 1 < 3:  # a spine, a bar's edge or a grid line, not a bar
            continue
        top, bottom, filled = extent(first, last, colour)
        if filled < 0.6:  # a column of text, such as tick labels, not a filled bar
            continue
        if (
            found
            and colours[-1] == colour
            and first - found[-1][1] <= 4
            and abs(found[-1][2] - top) <= 2
            and abs(found[-1][3] - bottom) <= 2
        ):
            found[-1] = (found[-1][0], last, found[-1][2], found[-1][3])  # split by a grid line
        else:
            found.append((first, last, top, bottom))
            colours.append(colour)
    return found


def _bars(rgb: np.ndarray) -> tuple[str, list[int]] | None:
    """The lengths in pixels of the bars of a bar chart, vertical or horizontal, left to right
    (or top to bottom): bars are filled runs of columns (rows) that share a baseline. None
    when no orientation shows at least two bars on a common baseline."""
    best = None
    for orientation, image in (("vertical", rgb), ("horizontal", rgb.transpose(1, 0, 2))):
        found = _segments(image)
        if len(found) < 2:
            continue
        starts = np.array([s for _, _, s, _ in found])
        ends = np.array([e for _, _, _, e in found])
        # vertical bars stand on their bottom (end row), horizontal ones on their left (start)
        base = ends if orientation == "vertical" else starts
        shared = np.abs(base - np.median(base)) <= 3
        if shared.mean() < 0.8:
            continue
        lengths = [int(e - s + 1) for (_, _, s, e), ok in zip(found, shared, strict=True) if ok]
        if best is None or len(lengths) > len(best[1]):
            best = (orientation, lengths)
    return best


def _colour_masks(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of red and of green text (matplotlib's "red" and "green", tab:red, tab:green, the
    Pillow picture's colours, and their anti-aliased edges on white)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r - np.maximum(g, b) > 60) & (np.abs(g - b) < 40)
    green = (g - np.maximum(r, b) > 40) & (np.abs(r - b) < 40)
    return red, green


def _blobs(mask: np.ndarray, cell: int = 6, reach: int = 2) -> int:
    """How many separate patches ``mask`` has, the letters and lines of one title counting as
    one: the mask is pooled into ``cell`` x ``cell`` cells, then groups of cells are counted,
    a cell joining a group when it is at most ``reach`` cells from one of its cells (so gaps
    under about ``reach * cell`` pixels are bridged)."""
    height, width = mask.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), dtype=bool)
    padded[:height, :width] = mask
    on = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    seen = np.zeros_like(on)
    count = 0
    for i, j in zip(*np.nonzero(on), strict=True):
        if seen[i, j]:
            continue
        count += 1
        seen[i, j] = True
        queue = deque([(i, j)])
        while queue:
            y, x = queue.popleft()
            for dy in range(-reach, reach + 1):
                for dx in range(-reach, reach + 1):
                    v, u = y + dy, x + dx
                    if 0 <= v < rows and 0 <= u < cols and on[v, u] and not seen[v, u]:
                        seen[v, u] = True
                        queue.append((v, u))
    return count


def _class_name(answer: Any) -> str:
    """A class named by the learner: its name (any case) or its index 0-9."""
    if hasattr(answer, "item") and getattr(answer, "ndim", 1) == 0:
        answer = answer.item()
    if isinstance(answer, int | np.integer) and not isinstance(answer, bool):
        if 0 <= answer < len(CLASSES):
            return CLASSES[int(answer)]
        raise Incorrect(f"{answer} is not a class index (0 to {len(CLASSES) - 1})")
    if isinstance(answer, str):
        for name in CLASSES:
            if answer.strip().lower() == name.lower():
                return name
        raise Incorrect(f"{answer!r} is not a class name; the classes are {list(CLASSES)}")
    shown = repr(answer)[:80]
    raise Incorrect(
        f"pass the name of the class with the lowest bar, e.g. ex1.check('Dress'); got {shown}"
    )


# ------------------------------------------------------------------------------ the checkers


def _matrix(cm: Any) -> np.ndarray:
    """The learner's confusion matrix as a 10 x 10 float array (rows: true classes)."""
    try:
        matrix = np.asarray(cm.cpu() if hasattr(cm, "cpu") else cm, dtype=float)
    except (TypeError, ValueError):
        raise Incorrect(
            f"pass the confusion matrix as the second argument, e.g. ex1.check('Dress', cm); "
            f"got {type(cm).__name__}"
        ) from None
    n = len(CLASSES)
    expect(
        matrix.shape == (n, n) and np.isfinite(matrix).all() and (matrix >= 0).all(),
        f"the confusion matrix should be {n} x {n} counts (plots.confusion_matrix); got shape "
        f"{matrix.shape}",
    )
    expect((matrix.sum(axis=1) > 0).all(), "every row of the confusion matrix should count images")
    return matrix


def _same_shape(lengths: list[int], values: np.ndarray) -> bool:
    """Do bars of these pixel lengths draw these values (in any order), up to the scale?"""
    drawn = np.sort(np.asarray(lengths, dtype=float))
    wanted = np.sort(values)
    if drawn[-1] <= 0 or wanted[-1] <= 0:
        return False
    return bool(np.abs(drawn / drawn[-1] - wanted / wanted[-1]).max() <= 0.03)


@exercise(
    LESSON,
    1,
    "a bar chart of the recall of each class",
    hints=(
        "Recall of a class: of the validation images that truly are that class, the share the "
        "network found. Which total of the confusion matrix counts them, a row or a column?",
        "recall = cm.diag() / cm.sum(dim=1); fig, ax = plt.subplots(); ax.bar(data.CLASSES, "
        'recall.numpy()); writer.add_figure("per_class_recall", fig, step) in a run named '
        "ex1_<something>.",
        "The lowest bar is the class with the smallest recall: pass its name and the matrix, "
        "ex1.check('<class name>', cm).",
    ),
    solution="recall = cm.diag() / cm.sum(dim=1), ax.bar(data.CLASSES, recall), add_figure "
    "under per_class_recall; Shirt is the lowest bar, its misses going to T-shirt/top, Pullover "
    "and Coat.",
    answer="ex1.check(lowest, cm), the name of the class whose bar is the lowest and the "
    "confusion matrix the bars come from, e.g. ex1.check('Dress', cm)",
)
def per_class_recall(attempt: Attempt, lowest: Any, cm: Any) -> str:
    name = _class_name(lowest)
    matrix = _matrix(cm)
    recall = np.diag(matrix) / matrix.sum(axis=1)
    columns = matrix.sum(axis=0)
    precision = np.diag(matrix) / np.where(columns > 0, columns, 1)
    run, step, rgb = _last_image(attempt, "per_class_recall")
    expect(
        not _blank(rgb),
        f"the per_class_recall image of run {attempt.name(run)} is blank: was the chart drawn on "
        "another figure than the one logged? Draw with fig, ax = plt.subplots() and log that fig",
    )
    found = _bars(rgb)
    count = len(found[1]) if found else 0
    zero = " (a class whose recall is 0 draws no bar: train longer)" if recall.min() == 0 else ""
    expect(
        count == len(CLASSES),
        f"the per_class_recall image (step {step}) shows {count or 'no'} filled bars on a common "
        f"baseline; one bar per class ({len(CLASSES)}) expected{zero}. Draw it with ax.bar (or "
        "ax.barh), one bar per class, on a light background",
    )
    orientation, lengths = found
    if not _same_shape(lengths, recall):
        because = (
            "they are its precision, the diagonal divided by each COLUMN total; recall divides by "
            "each ROW total (the images of the true class)"
            if _same_shape(lengths, precision)
            else "draw recall = cm.diag() / cm.sum(dim=1) from this matrix"
        )
        raise Incorrect(f"the bars are not the recalls of this confusion matrix: {because}")
    truly = CLASSES[int(recall.argmin())]
    expect(
        name == truly,
        f"you answered {name} ({recall[CLASSES.index(name)]:.1%}), but the lowest recall of this "
        f"matrix is {truly}'s ({recall.min():.1%})",
    )
    return (
        f"the per_class_recall image of run {attempt.name(run)} (step {step}) draws the ten "
        f"recalls as {orientation} bars; the lowest is {truly}'s, {recall.min():.1%}."
    )


@exercise(
    LESSON,
    2,
    "the most confident mistakes",
    hints=(
        "The mistakes are the validation images where predicted != labels; their confidence is "
        "the probability of the (wrong) predicted class, softmax(logits).max(dim=1).",
        "wrong = (predicted != labels).nonzero().squeeze(1), then sort confidence[wrong] in "
        "descending order and keep the first 8 indices into wrong.",
        "plots.predictions_figure(net, images[worst], labels[worst]) titles a mistake in red: "
        'all 8 titles should be red. Log it with add_figure("mistakes", fig, step) in a run '
        "named ex2_<something>, then ex2.check(probs, worst).",
    ),
    solution="wrong = (predicted != labels).nonzero(); the 8 with the highest confidence, drawn "
    "with plots.predictions_figure; most of them are called Dress, high sneakers Ankle boot.",
    answer="ex2.check(probs, worst), the softmax probabilities of the validation images "
    "(5000 x 10) and the indices of the 8 images you logged",
)
def confident_mistakes(attempt: Attempt, probs: Any, worst: Any) -> str:
    from tbviz import data

    labels = data.load_splits()[1].labels.numpy()
    try:
        scores = np.asarray(probs.detach().cpu() if hasattr(probs, "detach") else probs, float)
        picked = np.asarray(worst.cpu() if hasattr(worst, "cpu") else worst).astype(int).ravel()
    except (TypeError, ValueError):
        raise Incorrect(
            "pass the validation probabilities and the indices you logged: ex2.check(probs, worst)"
        ) from None
    expect(
        scores.shape == (len(labels), len(CLASSES)),
        f"probs should be the softmax probabilities of the {len(labels)} validation images, "
        f"{len(labels)} x {len(CLASSES)}; got shape {scores.shape}",
    )
    expect(
        len(picked) == 8 and len(set(picked.tolist())) == 8,
        f"worst should be 8 different indices; got {len(picked)} ({len(set(picked.tolist()))} "
        "different)",
    )
    expect(
        ((picked >= 0) & (picked < len(labels))).all(),
        "worst holds indices outside the validation split",
    )
    predicted, confidence = scores.argmax(axis=1), scores.max(axis=1)
    right = [int(i) for i in picked if predicted[i] == labels[i]]
    expect(not right, f"images {right} are predicted right: keep only the mistakes")
    mistakes = np.flatnonzero(predicted != labels)
    others = np.setdiff1d(mistakes, picked)
    surer = others[confidence[others] > confidence[picked].min() + 1e-6]
    expect(
        not len(surer),
        f"these are mistakes, but not the most confident ones: {len(surer)} other mistakes are "
        f"surer than your least sure pick ({confidence[picked].min():.1%}). Sort the mistakes "
        "by confidence, highest first, and keep the first 8",
    )
    run, step, rgb = _last_image(attempt, "mistakes")
    expect(
        not _blank(rgb),
        f"the mistakes image of run {attempt.name(run)} is blank: log the figure that "
        "plot_predictions (or plots.predictions_figure) returns",
    )
    red, green = _colour_masks(rgb)
    wrong, right = _blobs(red), _blobs(green)
    expect(
        right == 0,
        f"the mistakes figure (step {step}) has {right} title(s) in green: those images are "
        f"predicted right. Keep only the images where the prediction differs from the label",
    )
    expect(
        wrong == 8,
        f"the mistakes figure (step {step}) has {wrong} red titles; 8 images expected, each "
        "titled with the network's wrong answer (use plot_predictions or "
        "plots.predictions_figure, which colour the title red when the prediction is wrong)",
    )
    height, width, _ = rgb.shape
    called = sorted({CLASSES[predicted[i]] for i in picked})
    return (
        f"your 8 picks are the network's most confident mistakes ({confidence[picked].min():.0%}"
        f" to {confidence[picked].max():.0%} sure, called {', '.join(called)}), and the mistakes "
        f"image of run {attempt.name(run)} (step {step}, {width} x {height}) shows 8 images, all "
        "titled in red."
    )


def _figure_size(figure: Any) -> tuple[int, int]:
    """The pixels add_figure renders ``figure`` to: (width, height)."""
    bbox = getattr(figure, "bbox", None)
    if bbox is None or not hasattr(figure, "savefig"):
        raise Incorrect(
            f"pass the list of matplotlib figures you logged, e.g. ex3.check(figures); got a "
            f"{type(figure).__name__} in it"
        )
    width, height = bbox.size
    return int(width), int(height)


@exercise(
    LESSON,
    3,
    "a list of figures",
    hints=(
        "Draw the three figures with the same figsize (plots.image_grid(images, labels, ncols=2) "
        "with four images each does), and keep them in a Python list.",
        'One call: writer.add_figure("three_classes", figures, 0) in a run named ex3_<something>;'
        " then pass the same list to the check: ex3.check(figures).",
        "TensorBoard's Images tab shows what the tag holds: count the images on its step slider, "
        "and compare the image's size with one figure's (fig.canvas.get_width_height()).",
    ),
    solution="add_figure(tag, [fig1, fig2, fig3], 0) stores ONE image: the three figures side by "
    "side (up to 8 in a row), so it is 3 times as wide as one figure and as high.",
    answer="ex3.check(figures), the list of figures you logged with one add_figure call",
)
def figure_list(attempt: Attempt, figures: Iterable[Any]) -> str:
    if hasattr(figures, "savefig"):
        raise Incorrect(
            "pass the list of figures you logged (ex3.check(figures)), not one figure: the "
            "exercise logs several figures in one add_figure call"
        )
    figures = list(figures)
    expect(len(figures) >= 2, f"the list holds {len(figures)} figure; draw three")
    sizes = [_figure_size(figure) for figure in figures]
    expect(
        len(set(sizes)) == 1,
        f"your figures differ in size ({sizes} pixels): add_figure stacks them, so draw them all "
        "with the same figsize",
    )
    (width, height), n = sizes[0], len(figures)
    columns, rows = min(n, 8), -(-n // 8)
    runs = attempt.need_runs("a run holding the figures logged as one list")
    seen = []
    for run in runs:
        for tag in tags(run).get("images", []):
            for step, pixels in _images(run, tag):
                seen.append((attempt.name(run), tag, step, pixels.shape[1], pixels.shape[0]))
    expect(seen, f"the runs {attempt.where()} hold no image; log the figures with add_figure")

    def near(w: int, h: int, w0: int, h0: int) -> bool:
        return abs(w - w0) <= columns and abs(h - h0) <= rows

    tiled = [s for s in seen if near(s[3], s[4], columns * width, rows * height)]
    single = [s for s in seen if near(s[3], s[4], width, height)]
    if not tiled:
        if len(single) >= 2:
            where = sorted({f"{r}/{t}" for r, t, *_ in single})
            raise Incorrect(
                f"{len(single)} images of one figure's size ({width} x {height}) in {where}: "
                "the figures were logged one at a time. Pass the whole list to ONE add_figure "
                "call"
            )
        found = [f"{t} ({w} x {h})" for _, t, _, w, h in seen][:6]
        raise Incorrect(
            f"no image in {attempt.where()} is {n} figures of {width} x {height} tiled "
            f"({columns * width} x {rows * height}); found {found}. Are these the figures you "
            "logged, with one add_figure(tag, figures, step) call?"
        )
    run_name, tag, step, w, h = tiled[-1]
    per_step = [s for s in seen if s[0] == run_name and s[1] == tag and s[2] == step]
    expect(
        len(per_step) == 1,
        f"{tag!r} holds {len(per_step)} images at step {step} in run {run_name}: log the list "
        "once, with one add_figure call",
    )
    layout = "side by side in one row" if rows == 1 else f"in {rows} rows of up to 8"
    return (
        f"TensorBoard stores ONE image for {tag!r} (run {run_name}, step {step}), {w} x {h}: "
        f"the {n} figures of {width} x {height} {layout}."
    )
