"""Checkers for lesson 08 (overfitting and underfitting)."""

from __future__ import annotations

import re
from pathlib import Path

from tbviz.exercises import Attempt, Incorrect, exercise, expect

LESSON = "08_overfitting"
PATIENCE = 3
UNDERFIT_TRAIN_LOSS = 0.5  # the lesson's rule: a final training loss above this underfits
OVERFIT_GAP = 0.3  # the lesson's rule: a final Loss/val this far above Loss/train


def _losses(attempt: Attempt, run: Path) -> tuple[list[int], list[float], list[float]]:
    """(steps, Loss/train, Loss/val) of a run, one point per epoch at the same steps."""
    name = attempt.name(run)
    val = attempt.scalars(run, "Loss/val")
    train = attempt.scalars(run, "Loss/train")
    if val and val[0][0] == 0 and (not train or train[0][0] != 0):
        val = val[1:]  # an evaluation before training, at step 0: not an epoch
    steps = [s for s, _ in val]
    expect(
        [s for s, _ in train] == steps,
        f"in run {name} Loss/train is at steps {[s for s, _ in train][:8]} and Loss/val at "
        f"{steps[:8]}: log both once per epoch, at the same step (batches seen)",
    )
    expect(len(steps) >= 2, f"run {name} has {len(steps)} epoch of losses; train several")
    per = steps[0]
    expect(
        per > 1,
        f"run {name} logs its losses at steps {steps[:5]}: the step should be the number of "
        "batches seen, not the epoch",
    )
    expect(
        steps == [per * (i + 1) for i in range(len(steps))],
        f"run {name} logs its losses at steps {steps[:8]}: once per epoch, at step = batches "
        f"seen, gives multiples of the batches per epoch ({per})",
    )
    return steps, [v for _, v in train], [v for _, v in val]


@exercise(
    LESSON,
    1,
    "early stopping with patience",
    hints=(
        "What must the loop remember about the best epoch so far, and when does it know "
        "that patience has run out?",
        "Keep best_loss and best_epoch; after each epoch's evaluation, a lower Loss/val makes "
        "this epoch the best (save copy.deepcopy(net.state_dict())), otherwise stop once "
        "epoch - best_epoch reaches patience.",
        "Log Loss/train and Loss/val at step = batches seen before deciding whether to stop, "
        "in one run ex1_<something>; give it enough epochs (the lesson's 20 on 2,000 images) "
        "for the validation loss to turn up.",
    ),
    solution="A hand-written AdamW loop at a constant learning rate that keeps the best weights "
    "with copy.deepcopy and breaks when epoch - best_epoch >= 3: its last logged epoch is three "
    "after the one with the lowest Loss/val.",
)
def early_stopping(attempt: Attempt) -> str:
    run = attempt.run_with("scalars", "Loss/val")
    steps, train, val = _losses(attempt, run)
    best = min(range(len(val)), key=val.__getitem__)
    after = len(val) - 1 - best
    lowest = f"lowest Loss/val ({val[best]:.3f}) is at epoch {best + 1} (step {steps[best]})"
    where = f"the {lowest}"
    expect(
        after <= PATIENCE,
        f"{where}, but it trained {after} more epochs: with patience {PATIENCE} it should stop "
        f"after epoch {best + 1 + PATIENCE}, {PATIENCE} epochs without a new lowest Loss/val",
    )
    expect(
        after == PATIENCE,
        f"{where} and it stopped {after} epoch{'s' if after != 1 else ''} later: patience "
        f"{PATIENCE} waits {PATIENCE} epochs without improvement. If it ran out of epochs first, "
        "allow more; if it stopped at the first worse epoch, count the epochs since the best one",
    )
    expect(train[-1] < train[0], f"Loss/train does not fall ({train[0]:.3f} to {train[-1]:.3f})")
    return (
        f"in run {attempt.name(run)} its {lowest}; it stopped after epoch {len(val)}, exactly "
        f"{PATIENCE} epochs later, with one point per epoch every {steps[0]} batches."
    )


def _augmented(name: str) -> bool:
    name = name.lower()
    plain = ("no_aug", "noaug", "no-aug", "without", "plain", "non_aug", "unaug")
    if re.search(r"aug(ment(ed|ation)?)?=(false|0|no|off|none)($|[^a-z0-9])", name):
        return False
    return "aug" in name and not any(word in name for word in plain)


@exercise(
    LESSON,
    2,
    "augmentation as a regularizer",
    hints=(
        "Two runs of the same loop and network: ex2_plain and ex2_augmented, the lesson's "
        "baseline (2,000 images, 20 epochs, width 8, no weight decay).",
        "Augment inside the batch loop, so every batch gets a fresh draw: flip a random half "
        "with torch.where(mask[:, None, None, None], images.flip(3), images), then "
        "images.roll((dy, dx), dims=(2, 3)). Never augment the validation images.",
        "Compare the final gaps, Loss/val - Loss/train, of the two runs.",
    ),
    solution="A fresh random flip and a shift of up to two pixels per batch: the augmented run's "
    "training loss no longer collapses to zero, its validation loss ends lower, and the gap "
    "shrinks from about 0.9 to about 0.1.",
)
def augmentation(attempt: Attempt) -> str:
    runs = attempt.need_runs("two runs, e.g. ex2_plain and ex2_augmented")
    names = [attempt.name(r) for r in runs]
    augmented = [r for r in runs if _augmented(attempt.name(r))]
    plain = [r for r in runs if not _augmented(attempt.name(r))]
    expect(
        len(augmented) == 1 and len(plain) == 1,
        f"expected two runs, one with 'aug' in its name (ex2_augmented) and one without "
        f"(ex2_plain); found {names}",
    )
    steps_p, train_p, val_p = _losses(attempt, plain[0])
    steps_a, train_a, val_a = _losses(attempt, augmented[0])
    expect(
        steps_p == steps_a,
        f"the runs end at steps {steps_p[-1]} and {steps_a[-1]} after {len(steps_p)} and "
        f"{len(steps_a)} epochs: train both the same way, only the augmentation differing",
    )
    gap_p, gap_a = val_p[-1] - train_p[-1], val_a[-1] - train_a[-1]
    name_p, name_a = attempt.name(plain[0]), attempt.name(augmented[0])
    expect(
        gap_p > OVERFIT_GAP,
        f"without augmentation ({name_p}) the final gap Loss/val - Loss/train is only "
        f"{gap_p:.3f}: train the lesson's baseline (2,000 images, 20 epochs) so that there is "
        "overfitting to cure",
    )
    expect(
        gap_a < gap_p - 0.1,
        f"the gap shrinks only from {gap_p:.3f} to {gap_a:.3f}: draw a fresh random flip and "
        "shift for every batch inside the loop (augmented copies made once are just more images "
        "to memorize)",
    )
    expect(
        val_a[-1] < val_p[-1],
        f"with augmentation Loss/val ends at {val_a[-1]:.3f}, not below the plain run's "
        f"{val_p[-1]:.3f}: the network learned less, not just memorized less. Do the labels still "
        "belong to their images (roll along dims 2 and 3, not the batch)?",
    )
    return (
        f"the final gap Loss/val - Loss/train shrinks from {gap_p:.3f} ({name_p}) to "
        f"{gap_a:.3f} ({name_a}), and Loss/val ends lower ({val_p[-1]:.3f} to {val_a[-1]:.3f})."
    )


def _size(name: str) -> tuple[int, int] | None:
    width, hidden = re.search(r"width=(\d+)", name), re.search(r"hidden=(\d+)", name)
    return (int(width.group(1)), int(hidden.group(1))) if width and hidden else None


def _label(size: tuple[int, int]) -> str:
    return f"width={size[0]},hidden={size[1]}"


@exercise(
    LESSON,
    3,
    "just enough capacity",
    hints=(
        "One run per size, named after it: ex3_width=1,hidden=4, ex3_width=2,hidden=8, ... each "
        "train.fit on the lesson's 2,000 images with replace(base, width=w, hidden=h).",
        "The lesson's rule: a final Loss/train above 0.5 underfits. Stop at the first size "
        "whose final training loss is 0.5 or less.",
    ),
    solution="width=1,hidden=4 underfits (final training loss about 0.64); doubling both once, "
    "width=2,hidden=8, is already enough (about 0.31).",
)
def capacity(attempt: Attempt) -> str:
    runs = attempt.need_runs("one per size, e.g. ex3_width=1,hidden=4")
    by_size: dict[tuple[int, int], Path] = {}
    for run in runs:
        size = _size(attempt.name(run))
        expect(
            size is not None,
            f"run {attempt.name(run)} does not say its size: name the runs after it, "
            "ex3_width=1,hidden=4, ex3_width=2,hidden=8, ...",
        )
        expect(size not in by_size, f"two runs are for {_label(size)}; keep one")
        by_size[size] = run
    path = [(2**i, 4 * 2**i) for i in range(12)]
    off = [_label(s) for s in by_size if s not in path]
    expect(
        not off,
        f"{off} are not on the doubling path from width 1 and 4 hidden units "
        "(width=1,hidden=4, width=2,hidden=8, width=4,hidden=16, ...): double both together",
    )
    finals, steps = {}, {}
    for size, run in by_size.items():
        run_steps, train, _ = _losses(attempt, run)
        finals[size], steps[size] = train[-1], run_steps
    expect(
        len({tuple(s) for s in steps.values()}) == 1,
        f"the runs train for different numbers of steps "
        f"({ {_label(s): v[-1] for s, v in steps.items()} }): use the lesson's set-up for all",
    )
    tried = sorted(by_size)
    missing = [_label(s) for s in path[: path.index(tried[-1]) + 1] if s not in by_size]
    expect(not missing, f"no run for {missing}; start at width=1,hidden=4 and double each time")
    expect(
        finals[path[0]] > UNDERFIT_TRAIN_LOSS,
        f"the tiny network (width=1,hidden=4) ends with Loss/train {finals[path[0]]:.3f}, not "
        f"above {UNDERFIT_TRAIN_LOSS}: train it as the lesson does (2,000 images, 20 epochs)",
    )
    fits = [s for s in tried if finals[s] <= UNDERFIT_TRAIN_LOSS]
    summary = ", ".join(f"{finals[s]:.3f} for {_label(s)}" for s in tried)
    if not fits:
        raise Incorrect(
            f"every size tried still underfits (final Loss/train {summary}: all above "
            f"{UNDERFIT_TRAIN_LOSS}): double once more, to {_label(path[len(tried)])}"
        )
    smallest = fits[0]
    return (
        f"final Loss/train {summary}; the smallest size that no longer underfits (Loss/train <= "
        f"{UNDERFIT_TRAIN_LOSS}) is width {smallest[0]} with {smallest[1]} hidden units."
    )
