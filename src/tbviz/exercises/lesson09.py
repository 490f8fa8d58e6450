"""Checkers for lesson 09 (activations and gradients)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, exercise, expect, tags

LESSON = "09_activations_gradients"
DEPTH = 8  # the lesson's deep network: layer1 ... layer8


def _layers(run: Path) -> list[int]:
    """The layer numbers N of the ``grad_norm/layerN`` scalars of a run, sorted."""
    found = (re.fullmatch(r"grad_norm/layer(\d+)", t) for t in tags(run).get("scalars", []))
    return sorted(int(m.group(1)) for m in found if m)


def _ratios(attempt: Attempt, run: Path) -> dict[int, float]:
    """``grad_norm/layer1 / grad_norm/layer<last>`` at every step both were logged."""
    last = _layers(run)[-1]
    first = dict(attempt.scalars(run, "grad_norm/layer1"))
    top = dict(attempt.scalars(run, f"grad_norm/layer{last}"))
    return {s: first[s] / top[s] for s in sorted(set(first) & set(top)) if top[s] > 0}


def _accuracy(attempt: Attempt, run: Path) -> float:
    points = attempt.scalars(run, "Accuracy/val")
    value = points[-1][1]
    expect(0 <= value <= 1, f"Accuracy/val of {attempt.name(run)} is {value:.3g}, not in [0, 1]")
    return value


def _reference(attempt: Attempt, kind: str) -> Path | None:
    """A run to compare with: an exercise run named after ``kind``, else the lesson's own."""
    for run in attempt.runs():
        name = attempt.name(run).lower()
        if kind in name and _layers(run):
            return run
    own = attempt.lesson_dir / kind
    return own if own.is_dir() and _layers(own) else None


@exercise(
    LESSON,
    1,
    "tanh instead of sigmoid",
    hints=(
        "Give deep_mlp a tanh branch (nn.Linear -> nn.Tanh in every block) and train it with "
        "train_mlp into a run named ex1_tanh: "
        'SummaryWriter(logs.run_dir(LESSON, "ex1_tanh")).',
        "train_mlp already logs grad_norm/layer1 ... grad_norm/layer8 through LayerProbe and "
        "Accuracy/val at the end; compare grad_norm/layer1 / grad_norm/layer8 at step 300 with the "
        "lesson's sigmoid and relu_bn runs (or your own ex1_sigmoid and ex1_relu_bn).",
    ),
    solution="deep_mlp gets nn.Tanh blocks; after a slow start (layer1 gets about 1/70 of layer8's "
    "gradient at step 1) the ratio stays within a factor of ten from step 50 on, and the tanh net "
    "reaches about 68% against sigmoid's 10% and relu_bn's 82%.",
)
def tanh(attempt: Attempt) -> str:
    runs = attempt.need_runs("a tanh network trained as in the lesson, e.g. ex1_tanh")
    probed = [run for run in runs if _layers(run)]
    if not probed:
        held = sorted({t for run in runs for t in tags(run).get("scalars", [])})
        raise Incorrect(
            f"none of the runs {attempt.where()} has grad_norm/layer<N> scalars (they have "
            f"{held or 'none'}): train with train_mlp, whose LayerProbe logs them"
        )
    named = [run for run in probed if "tanh" in attempt.name(run).lower()]
    others = [run for run in probed if not any(k in attempt.name(run) for k in ("sigmoid", "relu"))]
    candidates = named or others
    expect(
        len(candidates) == 1,
        f"cannot tell which run is the tanh network among {[attempt.name(r) for r in probed]}: "
        "put 'tanh' in its name, e.g. ex1_tanh",
    )
    run = candidates[0]
    name = attempt.name(run)
    layers = _layers(run)
    expect(
        layers[0] == 1 and layers[-1] >= DEPTH,
        f"run {name} has grad_norm for layers {layers}; the lesson's network has layer1 ... "
        f"layer{DEPTH}, and the exercise compares the first with the last",
    )
    ratios = _ratios(attempt, run)
    expect(ratios, f"grad_norm/layer1 and grad_norm/layer{layers[-1]} share no step in {name}")
    last_step = max(ratios)
    expect(
        last_step >= 250,
        f"the last grad_norm point of {name} is at step {last_step}: train the lesson's 300 steps",
    )
    acc = _accuracy(attempt, run)
    ratio = ratios[last_step]
    if ratio < 1e-4 and acc < 0.2:
        raise Incorrect(
            f"in {name} layer1 gets {ratio:.1e} of layer{layers[-1]}'s gradient at step "
            f"{last_step} and Accuracy/val is {acc:.1%}: that is the sigmoid network's picture. "
            "Is nn.Tanh (not nn.Sigmoid) in every block of the network you trained?"
        )
    expect(
        ratio > 1e-2,
        f"in {name} layer1 still gets only {ratio:.1e} of layer{layers[-1]}'s gradient at step "
        f"{last_step}; a tanh net trained as in the lesson (SGD, momentum 0.9, lr 0.1) gets "
        "within a factor of ten. Check the optimizer and the number of steps",
    )
    expect(
        acc > 0.3,
        f"Accuracy/val of {name} is {acc:.1%}: a tanh net trained as in the lesson learns "
        "(about 68% after 300 steps). Check the optimizer and the learning rate",
    )
    compared = []
    for kind in ("sigmoid", "relu_bn"):
        ref = _reference(attempt, kind)
        if ref is None:
            continue
        ref_ratios = _ratios(attempt, ref)
        if not ref_ratios or "Accuracy/val" not in tags(ref).get("scalars", []):
            continue
        ref_step = max(ref_ratios)
        ref_acc = _accuracy(attempt, ref)
        compared.append(f"{kind} ({attempt.name(ref)}): {ref_ratios[ref_step]:.1e}, {ref_acc:.1%}")
    against = "; ".join(compared) if compared else "no sigmoid or relu_bn run found to compare"
    return (
        f"in run {name}, grad_norm/layer1 / layer{layers[-1]} is {ratios[min(ratios)]:.1e} at step "
        f"{min(ratios)} and {ratio:.1e} at step {last_step}, Accuracy/val {acc:.1%} "
        f"(against {against})."
    )


def _finite_points(attempt: Attempt, run: Path, tag: str) -> dict[int, float]:
    points = dict(attempt.scalars(run, tag))
    expect(
        all(v >= 0 for v in points.values()),
        f"the {tag} scalar has negative values: a norm cannot be negative",
    )
    return points


@exercise(
    LESSON,
    2,
    "gradient clipping",
    hints=(
        "In the relu_bn training loop, between loss.backward() and optimizer.step(): "
        "before = torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0). Log every "
        "step, in a run named ex2_<something>, e.g. ex2_clip.",
        "clip_grad_norm_ returns the total norm *before* clipping. For the norm after it, "
        "measure the clipped gradients: the norm of the stacked p.grad.norm() of all parameters.",
        "Clipping acted on the steps where grad_total/before_clip is above max_norm; there "
        "grad_total/after_clip equals max_norm, elsewhere the two are equal.",
    ),
    solution="train_mlp gets a clip option: clip_grad_norm_(..., max_norm=1.0) returns the norm "
    "before, the norm of the gradients afterwards is the one after; clipping acts on 94 of the "
    "first 100 steps and 46 of the 200 later ones, and the net still learns (80% against 82%).",
)
def clipping(attempt: Attempt) -> str:
    run = attempt.run_with("scalars", "grad_total/before_clip")
    name = attempt.name(run)
    before = _finite_points(attempt, run, "grad_total/before_clip")
    expect(
        "grad_total/after_clip" in tags(run).get("scalars", []),
        f"run {name} has grad_total/before_clip but no grad_total/after_clip: log both",
    )
    after = _finite_points(attempt, run, "grad_total/after_clip")
    expect(
        sorted(before) == sorted(after),
        f"the scalars grad_total/before_clip and grad_total/after_clip are logged at different "
        f"steps in {name} ({len(before)} and {len(after)} points): log both at every step",
    )
    steps = sorted(before)
    expect(
        len(steps) >= 100 and steps[-1] - steps[0] + 1 == len(steps),
        f"run {name} has {len(steps)} points from step {steps[0]} to {steps[-1]}: log both "
        "norms at every training step (the lesson trains 300), or you cannot count the clipped "
        "steps",
    )
    grown = [s for s in steps if after[s] > before[s] * (1 + 1e-3) + 1e-6]
    expect(
        not grown,
        f"the scalar grad_total/after_clip is larger than before_clip at steps {grown[:5]}: "
        "clipping only ever shrinks gradients. Are the two tags swapped, or is after_clip a "
        "sum of per-parameter norms? The total norm is the norm of all gradients together "
        "(clip_grad_norm_ returns it): the norm of the stacked p.grad.norm(), not their sum",
    )
    clipped = [s for s in steps if after[s] < before[s] * (1 - 1e-5)]
    if not clipped:
        raise Incorrect(
            f"the scalar grad_total/after_clip equals grad_total/before_clip at all {len(steps)} "
            "steps "
            f"(largest {max(before.values()):.3g}): clipping never acted. Either max_norm is "
            "above every gradient norm (choose a small one, e.g. 1.0), or after_clip is "
            "clip_grad_norm_'s return value, which is the norm before clipping: measure the "
            "gradients after the call"
        )
    if any(after[s] == 0 for s in steps):
        zero = [s for s in steps if after[s] == 0]
        raise Incorrect(
            f"the scalar grad_total/after_clip is 0 at steps {zero[:5]}: measure it right after "
            "clip_grad_norm_, before optimizer.zero_grad()"
        )
    max_norm = max(after[s] for s in clipped)  # what after_clip shows; max_norm if right
    off = [s for s in clipped if abs(after[s] - max_norm) > 1e-3 * max_norm]
    if off:
        shown = [(s, round(after[s], 4)) for s in sorted({*clipped[:3], *off[:3]})]
        raise Incorrect(
            "the grad_total/after_clip values differ from step to step where clipping acted "
            f"(step, value: {shown}): after clipping, the total norm is max_norm every time. "
            "Measure the norm over all parameters' gradients together (the norm of the stacked "
            "p.grad.norm(), not one parameter's), after clip_grad_norm_"
        )
    above = [s for s in steps if s not in clipped and before[s] > max_norm * (1 + 1e-3)]
    expect(
        not above,
        f"at steps {above[:5]} grad_total/before_clip is above {max_norm:.3g}, where the "
        "clipped steps' after_clip stands, but after_clip is not smaller: are both norms taken "
        "from the same gradients?",
    )
    share = len(clipped) / len(steps)
    return (
        f"in run {name}, clipping to max_norm {max_norm:.3g} acted on {len(clipped)} of "
        f"{len(steps)} steps ({share:.0%}), capping them at max_norm, and left the other steps "
        "unchanged."
    )


def _tiles(grid: np.ndarray) -> tuple[int, int] | None:
    """(rows, tile side) if ``grid`` is ``add_images``' grid of square tiles, 8 to a row."""
    height, width = grid.shape[:2]
    if width % 8 or height % (width // 8):
        return None
    return height // (width // 8), width // 8


# Words that name the two pictures, matched against whole words of the tag ("untrained" is
# not "trained"); words are separated by anything but a letter or digit.
_BEFORE = frozenset(("before", "init", "initial", "start", "begin", "untrained", "random", "pre"))
_AFTER = frozenset(("after", "trained", "final", "end", "last", "post"))
_CHANGE = frozenset(("change", "diff", "difference", "delta"))


def _words(label: str) -> set[str]:
    """The words of the tag of a ``run:tag`` label, lower case."""
    return set(re.split(r"[^a-z0-9]+", label.rpartition(":")[2].lower())) - {""}


def _pick(images: list[tuple[str, int, np.ndarray]]) -> tuple[tuple, tuple] | str:
    """The (tag, step, grid) of the filters before and after training, or what is missing."""
    by_tag: dict[str, list] = {}
    for item in images:
        by_tag.setdefault(item[0], []).append(item)
    plain = {t: v for t, v in by_tag.items() if not _words(t) & _CHANGE}
    for tag in sorted(plain):
        steps = sorted(plain[tag], key=lambda item: item[1])
        if steps[0][1] != steps[-1][1]:
            return steps[0], steps[-1]
    first = [i for t, v in plain.items() for i in v if _words(t) & _BEFORE]
    last = [i for t, v in plain.items() for i in v if _words(t) & _AFTER]
    if len(first) == 1 and len(last) == 1 and first[0] is not last[0]:
        return first[0], last[0]
    flat = sorted((i for v in plain.values() for i in v), key=lambda item: item[1])
    if len(flat) == 2 and flat[0][1] < flat[1][1]:
        return flat[0], flat[1]
    found = [f"{tag} at step {step}" for tag, step, _ in images]
    if len(flat) == 2:
        return (
            f"found two images at the same step ({found}): the check cannot tell which shows "
            f"the filters before training. Log both under one tag, at step 0 and at the last "
            f"step, or name them with before/after, e.g. filters/before and filters/after"
        )
    return (
        "need the filters before and after training: the same tag at two steps (before "
        "training at step 0, after at the last step), or two tags named with before/after, "
        f"e.g. filters/before and filters/after; found {found}"
    )


@exercise(
    LESSON,
    3,
    "FastNet's first-layer filters",
    hints=(
        "net.features_net[0][0].weight is 8 x 1 x 3 x 3: already a batch of eight one-channel "
        "images for writer.add_images, once it is scaled into [0, 1] and moved to the CPU.",
        "Keep a copy of the weights before training (.detach().cpu().clone(): without clone() "
        "the copy changes with the weights), train FastNet with train.fit, then log both under "
        "one tag, at step 0 and at the last step, in a run named ex3_<something>.",
        "Scale both with one symmetric scale, e.g. 0.5 + 0.5 * w / max|w| (gray = 0), so that the "
        "two images can be compared; repeat_interleave(10, dim=2) and dim=3 enlarge the tiles.",
    ),
    solution="Log 0.5 + 0.5 w / s (one scale s for both, tiles enlarged ten times) with "
    "add_images before training (step 0) and after one epoch, plus the change: each filter "
    "moves by a fifth to the whole of its initial size, yet keeps a cosine above 0.8 with where "
    "it began.",
)
def filters(attempt: Attempt) -> str:
    runs = attempt.need_runs("the filters logged with add_images, e.g. ex3_filters")
    images, shapes = [], []
    for run in runs:
        for tag in tags(run).get("images", []):
            for step, grid in events.images(run, tag):
                layout = _tiles(grid)
                shapes.append(f"{attempt.name(run)}:{tag} {grid.shape[0]}x{grid.shape[1]}")
                if layout:
                    images.append((f"{attempt.name(run)}:{tag}", step, grid))
    if not shapes:
        raise Incorrect(
            f"the runs {attempt.where()} hold no images: log the filters with writer.add_images"
        )
    expect(
        images,
        f"no image is a row of 8 square tiles, as add_images makes of the eight filters "
        f"(found {shapes[:4]}): log the 8 x 1 x 3 x 3 weight tensor itself",
    )
    picked = _pick(images)
    if isinstance(picked, str):
        raise Incorrect(picked)
    (tag0, step0, grid0), (tag1, step1, grid1) = picked
    expect(
        grid0.shape == grid1.shape,
        f"the images {tag0} ({grid0.shape[:2]}) and {tag1} ({grid1.shape[:2]}) differ in size",
    )
    for tag, grid in ((tag0, grid0), (tag1, grid1)):
        expect(
            grid.any(),
            f"every pixel of {tag} is black (0): the filters hold NaN (add_images draws NaN as "
            "black), or are all zero or negative. Did the training diverge (a NaN loss), or the "
            "scale divide by zero? Check torch.isnan(w).any() before logging",
        )
        black = float((grid[..., 0] == 0).mean())
        expect(
            black < 0.3,
            f"{black:.0%} of the pixels of {tag} are black (0): negative weights were cut off. "
            "add_images expects values in [0, 1]: scale the weights first, e.g. "
            "0.5 + 0.5 * w / w.abs().max()",
        )
    change = float(np.abs(grid1 - grid0).mean())
    expect(
        change > 1 / 255,
        f"the images {tag0} at step {step0} and {tag1} at step {step1} are the same picture: "
        "was the copy before training made without .clone() (detach() shares memory with the "
        "weights), or "
        "logged after training?",
    )
    rows, side = _tiles(grid0) or (1, 0)
    a, b = grid0[..., 0].ravel() - grid0.mean(), grid1[..., 0].ravel() - grid1.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    similar = float(a @ b) / norm if norm else 0.0
    return (
        f"{8 * rows} filters ({side} x {side} pixels each) before ({tag0}, step {step0}) and "
        f"after training ({tag1}, step {step1}); pixels changed by {255 * change:.0f}/255 on "
        f"average, correlation between the two pictures {similar:.2f}."
    )
