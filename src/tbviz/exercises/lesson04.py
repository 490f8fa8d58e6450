"""Checkers for lesson 04 (images).

Private helper: :func:`_tiles` cuts a logged grid back into its tiles, trying every layout
``make_grid`` or ``add_images`` could have produced (the framework reads whole images only).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import torch

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, each_step_once, exercise, expect, tags

LESSON = "04_images"


def _image_tags(run: Path) -> list[str]:
    return sorted(tags(run).get("images", []))


def _images(attempt: Attempt, run: Path, tag: str) -> list[tuple[int, np.ndarray]]:
    """``(step, H x W x 3 pixels in [0, 1])`` of a tag, each step once."""
    logged = events.images(run, tag)
    each_step_once([step for step, _ in logged], f"image {tag!r}", run, attempt.name(run))
    out = []
    for step, pixels in sorted(logged, key=lambda point: point[0]):
        pixels = pixels[..., None].repeat(3, axis=2) if pixels.ndim == 2 else pixels[..., :3]
        out.append((step, pixels))
    return out


def _layouts(height: int, width: int, count: int | None, side: int | None):
    """``(side, padding, nrow, rows)`` of every grid of square tiles that fits the size:
    ``rows x (side + padding) + padding`` high, ``nrow x (side + padding) + padding`` wide
    (make_grid's layout; add_images' is padding 0). The course's padding 2 comes first."""
    for padding in (2, 0, 1, 3, 4, 5, 6, 7, 8):
        for nrow in range(1, (count or 64) + 1):
            tile, rest = divmod(width - padding, nrow)
            tile -= padding
            if rest or tile < 3 or (side is not None and tile != side):
                continue
            rows, rest = divmod(height - padding, tile + padding)
            if rest or rows < 1:
                continue
            if count is not None and not (rows - 1) * nrow < count <= rows * nrow:
                continue
            yield tile, padding, nrow, rows


def _tiles(pixels: np.ndarray, count: int | None = None, side: int | None = None):
    """The tiles (first channel) of a grid of ``count`` tiles or of tiles ``side`` wide, in
    the first layout that fits and whose borders are one colour; None if none does."""
    grey = pixels[..., 0]
    for tile, padding, nrow, rows in _layouts(*grey.shape, count, side):
        step = tile + padding
        if padding:
            border = np.ones(grey.shape, bool)
            for r, c in itertools.product(range(rows), range(nrow)):
                top, left = padding + r * step, padding + c * step
                border[top : top + tile, left : left + tile] = False
            if grey[border].max() != grey[border].min():
                continue
        cut = [
            grey[
                padding + r * step : padding + r * step + tile,
                padding + c * step : padding + c * step + tile,
            ]
            for r, c in itertools.product(range(rows), range(nrow))
        ]
        return cut[:count] if count else cut
    return None


def _filter_grid(attempt: Attempt, run: Path, tag: str) -> list[np.ndarray] | None:
    """The 16 tiles of a tag that could be the filters' grid: logged at step 0 and at least
    once more, its last image cut into 16 tiles; None if it cannot be."""
    try:
        logged = _images(attempt, run, tag)
    except Incorrect:
        return None
    if len(logged) < 2 or logged[0][0] != 0:
        return None
    return _tiles(logged[-1][1], count=16)


def _blocky(tiles: list[np.ndarray]) -> bool:
    """Whether every tile is a 3 x 3 picture enlarged by repeating its pixels, as filters are."""
    side = tiles[0].shape[0]
    if side % 3:
        return False
    k = side // 3
    return all(np.array_equal(t, np.kron(t[::k, ::k], np.ones((k, k)))) for t in tiles)


@exercise(
    LESSON,
    1,
    "the first convolution's filters as an image grid",
    hints=(
        "net.features_net[0][0].weight.detach() is 16 x 1 x 3 x 3: already a batch of 16 "
        "one-channel images. Log it as a grid (logs.add_image_grid or make_grid) in a run named "
        "ex1_<something>, once at step 0 before training and once after.",
        "Scale each filter on its own: subtract its minimum and divide by its range (amin/amax "
        "over dims 1, 2, 3 with keepdim=True).",
        "Enlarge before tiling: nn.functional.interpolate(filters, scale_factor=8, "
        "mode='nearest') keeps the 3 x 3 pixels sharp.",
    ),
    solution="filters_grid(net): each filter scaled to [0, 1], enlarged 8 times; "
    "logs.add_image_grid(writer, 'conv1/filters', ..., step) at step 0 and after 40 batches. "
    "Every tile moves a little (0.01 to 0.06 per pixel on average).",
)
def filters(attempt: Attempt) -> str:
    runs = attempt.need_runs("a grid of the 16 filters at step 0 and after training")
    candidates = [(run, tag) for run in runs for tag in _image_tags(run)]
    expect(
        candidates,
        f"the runs {attempt.where()} have no images; log the filters with add_image (a grid) "
        "or add_images",
    )
    if len(candidates) > 1:  # other images are fine: pick the one grid of the filters
        grids = {(run, tag): _filter_grid(attempt, run, tag) for run, tag in candidates}
        fitting = [key for key, tiles in grids.items() if tiles is not None]
        blocky = [key for key in fitting if _blocky(grids[key])]
        if len(fitting) > 1 and len(blocky) == 1:  # the enlarged 3 x 3 filters among others
            fitting = blocky
        listed = [f"{attempt.name(r)}:{t}" for r, t in (fitting or candidates)][:4]
        expect(
            fitting,
            f"{len(candidates)} image tags in the runs {attempt.where()} ({listed}), none a grid "
            "of 16 tiles logged at step 0 and again later; log the filters under one tag, at "
            "two steps",
        )
        expect(
            len(fitting) == 1,
            f"{len(fitting)} image tags in the runs {attempt.where()} ({listed}) each hold a "
            "grid of 16 tiles at step 0 and later; log the filters under one tag",
        )
        candidates = fitting
    run, tag = candidates[0]
    logged = _images(attempt, run, tag)
    steps = [step for step, _ in logged]
    expect(
        len(logged) >= 2 and steps[0] == 0,
        f"{tag!r} is logged at steps {steps}; log it at step 0, before training, and again "
        "after training (e.g. at step 40, the batches seen)",
    )
    (_, before), (last, after) = logged[0], logged[-1]
    expect(
        before.shape == after.shape,
        f"the grid at step 0 is {before.shape[0]} x {before.shape[1]} but at step {last} "
        f"{after.shape[0]} x {after.shape[1]}: log the same grid both times",
    )
    height, width = after.shape[:2]
    tiles = _tiles(after, count=16)
    size = tiles[0].shape[0] if tiles else None
    if tiles is not None:
        expect(
            size >= 12,
            f"the grid's 16 tiles are {size} x {size} pixels: enlarge each 3 x 3 filter (e.g. 8 "
            "times with nn.functional.interpolate(..., mode='nearest')) so its pixels show",
        )
        before_tiles = _tiles(before, count=16)
        for k, tile in enumerate(tiles):
            for name, grid in (("after training", tile), ("at step 0", before_tiles[k])):
                if grid.min() > 2 / 255 or grid.max() < 253 / 255:
                    raise Incorrect(
                        f"filter {k} {name} spans {grid.min():.2f} to {grid.max():.2f}, not 0 "
                        "to 1: scale each filter to [0, 1] on its own, (w - w.min()) / "
                        "(w.max() - w.min()) per filter"
                    )
    else:
        expect(
            height * width >= 16 * 12 * 12,
            f"the grid is {height} x {width} pixels, too small to show 16 filters: enlarge "
            "each 3 x 3 filter (e.g. 8 times) before tiling",
        )
        expect(
            after.min() == 0 and after.max() == 1,
            f"the grid spans {after.min():.2f} to {after.max():.2f}: scale each filter to [0, 1]",
        )
    change = float(np.abs(after - before).mean())
    expect(
        change > 0,
        f"the grids at step 0 and step {last} are identical: log the filters once before "
        "training and once after some optimizer steps, each time from the network's current "
        "weights",
    )
    layout = f"16 tiles of {size} x {size}" if tiles else f"{height} x {width} pixels"
    return (
        f"run {attempt.name(run)} logs {tag} at steps 0 and {last} ({layout}, each filter from "
        f"0 to 1): the trained filters differ from their start by {change:.3f} per pixel on "
        "average."
    )


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _class_of(tag: str, classes: tuple[str, ...]) -> int | None:
    """The class a tag names: the longest class name in it (so 'T-shirt' is not 'Shirt'). A tag
    ending in 'top' counts as T-shirt/top too, so that the check can say what its card reads."""
    norm = _norm(tag)
    if "tshirt" in norm or norm.endswith("top"):
        return 0 if classes[0] == "T-shirt/top" else None
    found = [(len(_norm(name)), k) for k, name in enumerate(classes) if _norm(name) in norm]
    return max(found)[1] if found else None


def _dataset_labels(pictures: list[np.ndarray]) -> list[set[int] | None]:
    """The Fashion-MNIST labels of each 28 x 28 picture found (within 1/255) among the test or
    training images; None for a picture not found (or when the data cannot be read)."""
    found: list[set[int] | None] = [None] * len(pictures)
    todo = [k for k, p in enumerate(pictures) if p.shape[:2] == (28, 28)]
    for train in (False, True):
        if not todo:
            break
        try:
            from tbviz import data

            images, labels = data.tensors(train=train, normalize=False)
        except Exception:  # no data here: the check of the labels is skipped
            return found
        stored = (images.reshape(len(images), -1) * 255).round().to(torch.int16)
        for k in list(todo):
            target = torch.from_numpy((pictures[k][..., 0] * 255).round()).to(torch.int16)
            close = (stored - target.reshape(1, -1)).abs().amax(dim=1) <= 1
            if close.any():
                found[k] = {int(y) for y in labels[close]}
                todo.remove(k)
    return found


@exercise(
    LESSON,
    2,
    "one image per class, named by its class",
    hints=(
        "For each index and name in enumerate(data.CLASSES), take the first test image with "
        "that label and writer.add_image(f'class/{name}', data.unnormalize(image), 0), in a run "
        "named ex2_<something>.",
        "Look at data.CLASSES: one name holds a character TensorBoard treats specially in tags. "
        "What does the card's title show for it?",
        "'T-shirt/top': TensorBoard groups cards by the part before the first slash and titles "
        "them by the part after the last one. Replace the slash, e.g. name.replace('/', '_').",
    ),
    solution="writer.add_image(f\"class/{name.replace('/', '_')}\", data.unnormalize(first), 0) "
    "for the first test image of each class: 'T-shirt/top' holds a slash, which would make its "
    "card read 'top'.",
)
def classes(attempt: Attempt) -> str:
    from tbviz.data import CLASSES

    runs = attempt.need_runs("one image per class, e.g. class/Trouser")
    best = max(runs, key=lambda r: len({_class_of(t, CLASSES) for t in _image_tags(r)} - {None}))
    name = attempt.name(best)
    held = _image_tags(best)
    by_class: dict[int, list[str]] = {}
    for tag in held:
        k = _class_of(tag, CLASSES)
        if k is not None:
            by_class.setdefault(k, []).append(tag)
    expect(
        by_class,
        f"no image tag of the runs {attempt.where()} names a class of data.CLASSES (tags: "
        f"{held[:5] or 'none'}); put each class name in its tag, e.g. class/Trouser",
    )
    missing = [CLASSES[k] for k in range(len(CLASSES)) if k not in by_class]
    expect(not missing, f"run {name} has no image tag for {missing}: log one image per class")
    twice = {CLASSES[k]: t for k, t in by_class.items() if len(t) > 1}
    expect(not twice, f"several tags name the same class: {twice}; one image per class")
    tshirt = by_class[0][0]
    expect(
        "shirt/top" not in tshirt.lower(),
        f"the tag {tshirt!r} keeps the slash of 'T-shirt/top': TensorBoard titles the card "
        "'top' (the part after the last slash). Replace the slash, e.g. name.replace('/', '_')",
    )
    title = tshirt.split("/")[-1]  # what TensorBoard titles the card
    if "tshirt" not in _norm(title):
        reads = (
            "the card reads 'top', which does not say T-shirt"
            if _norm(title) == "top"
            else f"TensorBoard titles its card {title!r} (the part after the last slash), "
            "which does not say T-shirt"
        )
        raise Incorrect(
            f"the tag {tshirt!r} stands for T-shirt/top, but {reads}: keep the whole class "
            "name after the last slash, without its own slash, e.g. class/T-shirt_top"
        )
    pictures = []
    for k in range(len(CLASSES)):
        tag = by_class[k][0]
        pixels = _images(attempt, best, tag)[-1][1]
        expect(
            pixels.shape[0] == pixels.shape[1],
            f"{tag!r} is a {pixels.shape[0]} x {pixels.shape[1]} picture: log one image per "
            "class (add_image with 1 x 28 x 28), not a batch",
        )
        pictures.append(pixels)
    distinct = len({p.tobytes() for p in pictures})
    expect(distinct == len(CLASSES), f"only {distinct} different pictures under the 10 tags")
    labels = _dataset_labels(pictures)
    found = 0
    for k, label in enumerate(labels):
        if label is None:
            continue
        if k not in label:
            shown = ", ".join(CLASSES[y] for y in sorted(label))
            raise Incorrect(
                f"the image under {by_class[k][0]!r} is a Fashion-MNIST {shown}, not a "
                f"{CLASSES[k]}: pick each image by its label (labels == index)"
            )
        found += 1
    checked = f"; {found} of them found in Fashion-MNIST with that label" if found else ""
    return (
        f"10 image tags in {name}, one per class{checked}; T-shirt/top is logged as {tshirt!r}, "
        "without the slash that would make TensorBoard title its card 'top'."
    )


def _views(attempt: Attempt, run: Path, tag: str) -> list[np.ndarray]:
    """The 28 x 28 views in a tag: the tiles of its grids, at every step."""
    views = []
    for _, pixels in _images(attempt, run, tag):
        tiles = _tiles(pixels, side=28)
        if tiles is None:
            raise Incorrect(
                f"could not cut {tag!r} of run {attempt.name(run)} ({pixels.shape[0]} x "
                f"{pixels.shape[1]} pixels) into 28 x 28 views: log the views as one grid "
                "(logs.add_image_grid or make_grid) or with add_images, without resizing"
            )
        views += [t for t in tiles if t.max() > t.min()]  # drop empty tiles of a last row
    return views


def _spread(views: list[np.ndarray]) -> float:
    """The mean absolute pixel difference between every two views."""
    pairs = list(itertools.combinations(views, 2))
    return float(np.mean([np.abs(a - b).mean() for a, b in pairs])) if pairs else 0.0


@exercise(
    LESSON,
    3,
    "a mild and a strong augmentation pipeline, side by side",
    hints=(
        "Two runs, ex3_mild and ex3_strong, each logging a grid of the original plus 15 random "
        "views of the same image under the same tag (e.g. augment/views).",
        "Mild: a small rotation and a crop that keeps most of the image; strong: a large "
        "rotation, a small crop scale, a flip and random erasing (transforms.v2).",
        "To measure from the logs, cut each decoded grid into its 28 x 28 tiles and average the "
        "pixel difference of each view from the original (the first tile).",
    ),
    solution="v2.Compose of RandomRotation(10) and RandomResizedCrop(28, scale=(0.85, 1)) "
    "against rotation 45, crop scale 0.4, flip and erasing, logged with "
    "logs.add_image_grid(writer, 'augment/views', ...) in runs mild and strong; the strong "
    "views differ more from the original.",
)
def pipelines(attempt: Attempt) -> str:
    runs = attempt.need_runs("two runs, ex3_mild and ex3_strong")
    named = {
        kind: [r for r in runs if kind in attempt.name(r).lower()] for kind in ("mild", "strong")
    }
    both = [attempt.name(r) for r in named["mild"] if r in named["strong"]]
    expect(
        not both,
        f"one run has both 'mild' and 'strong' in its name ({both[0] if both else ''}); log two "
        "runs, ex3_mild and ex3_strong",
    )
    for kind, found in named.items():
        expect(
            len(found) == 1,
            f"{len(found)} runs {attempt.where()} with {kind!r} in the name (runs: "
            f"{[attempt.name(r) for r in runs]}); name them ex3_mild and ex3_strong",
        )
    mild, strong = named["mild"][0], named["strong"][0]
    common = sorted(set(_image_tags(mild)) & set(_image_tags(strong)))
    expect(
        common,
        f"runs {attempt.name(mild)} and {attempt.name(strong)} share no image tag (they have "
        f"{_image_tags(mild)} and {_image_tags(strong)}): log both under the same tag, so "
        "TensorBoard shows them side by side on one card",
    )
    tag = common[0]
    views = {"mild": _views(attempt, mild, tag), "strong": _views(attempt, strong, tag)}
    for kind, found in views.items():
        expect(
            len(found) >= 2,
            f"{tag!r} of the {kind} run holds {len(found)} view(s): log several random views",
        )
    first_same = np.array_equal(views["mild"][0], views["strong"][0])
    if first_same:  # the original first in both: measure each view against it
        measure = "from the original (the first tile)"
        change = {
            kind: float(np.mean([np.abs(v - found[0]).mean() for v in found[1:]]))
            for kind, found in views.items()
        }
    else:
        measure = "between every two views"
        change = {kind: _spread(found) for kind, found in views.items()}
    expect(
        change["mild"] > 0,
        f"the views of the mild run are all the same ({measure}): apply a random transform",
    )
    expect(
        change["strong"] > change["mild"],
        f"the views of the strong run differ by {change['strong']:.3f} per pixel {measure}, the "
        f"mild ones by {change['mild']:.3f}: the strong pipeline should change the image more. "
        "Use larger rotations, smaller crops, erasing",
    )
    return (
        f"runs {attempt.name(mild)} and {attempt.name(strong)} both log {tag}; the strong views "
        f"differ by {change['strong']:.3f} per pixel {measure}, the mild ones by "
        f"{change['mild']:.3f}."
    )
