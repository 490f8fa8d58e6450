"""Lesson 08's checkers: a correct attempt, typical wrong ones, and none.

Trainings take a minute each, so the losses are made up: shaped like the lesson's runs (8
batches per epoch, 20 epochs), written by the same kind of loop a learner writes."""

from __future__ import annotations

from exercise_helpers import assert_verdict, verdict, write_scalars

from tbviz import logs
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "08_overfitting"
PER_EPOCH = 8  # 2,000 images in batches of 256


def overfitting(epochs=20, floor=0.5, best=6):
    """(train, val) losses of a network that memorizes: val bottoms out at epoch ``best``."""
    train = [1.2 * 0.7**e for e in range(epochs)]
    val = [floor + 0.003 * (e - best + 1) ** 2 for e in range(epochs)]
    return train, val


def early_stopping_loop(run, val_losses, train_losses, *, patience=3, off_by_one=False):
    """A learner's loop: log each epoch at step = batches seen, stop after ``patience``
    epochs without a new lowest validation loss (``off_by_one``: stop at the first worse)."""
    best_loss, best_epoch = float("inf"), 0
    with logs.writer(LESSON, run) as writer:
        for epoch, (train_loss, val_loss) in enumerate(
            zip(train_losses, val_losses, strict=True), start=1
        ):
            writer.add_scalar("Loss/train", train_loss, epoch * PER_EPOCH)
            writer.add_scalar("Loss/val", val_loss, epoch * PER_EPOCH)
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
            elif patience is not None and epoch - best_epoch >= (1 if off_by_one else patience):
                break


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "08_overfitting/ex1_*")
    train, val = overfitting()
    early_stopping_loop("ex1_patience=3", val, train, patience=None)  # never stops
    assert_verdict(verdict(LESSON, 1), INCORRECT, "trained 14 more epochs", "after epoch 9")
    early_stopping_loop("ex1_patience=3", val, train, off_by_one=True)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "stopped 1 epoch later")
    early_stopping_loop("ex1_patience=3", val, train)
    assert_verdict(verdict(LESSON, 1), CORRECT, "at epoch 6 (step 48)", "after epoch 9")


def test_ex1_steps_and_end_of_epochs(attempt_root):
    train, val = overfitting(epochs=8, best=6)  # the epochs run out before patience does
    early_stopping_loop("ex1_short", val, train)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "stopped 2 epochs later", "allow more")
    run = attempt_root / LESSON / "ex1_short"
    logs.writer(LESSON, "ex1_short").close()
    train, val = overfitting(epochs=9)
    write_scalars(  # logged at step = epoch
        run, {"Loss/train": list(enumerate(train, 1)), "Loss/val": list(enumerate(val, 1))}
    )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "not the epoch")


def augmentation_runs(root, plain, augmented):
    for name, (train, val) in (("ex2_plain", plain), ("ex2_augmented", augmented)):
        logs.writer(LESSON, name).close()  # start afresh
        steps = [PER_EPOCH * (e + 1) for e in range(len(train))]
        write_scalars(
            root / LESSON / name,
            {
                "Loss/train": zip(steps, train, strict=True),
                "Loss/val": zip(steps, val, strict=True),
            },
        )


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2_plain")
    plain = overfitting()
    # augmented copies made once: just more images to memorize, the gap stays
    augmentation_runs(
        attempt_root, plain, ([t * 1.3 for t in plain[0]], [v * 0.95 for v in plain[1]])
    )
    assert_verdict(verdict(LESSON, 2), INCORRECT, "shrinks only")
    # the batch rolled along dim 0: labels no longer match, nothing is learned
    augmentation_runs(attempt_root, plain, ([2.3] * 20, [2.3] * 20))
    assert_verdict(verdict(LESSON, 2), INCORRECT, "dims 2 and 3")
    augmentation_runs(
        attempt_root,
        plain,
        ([1.2 - 0.04 * e for e in range(20)], [1.0 - 0.025 * e for e in range(20)]),
    )
    assert_verdict(verdict(LESSON, 2), CORRECT, "ex2_plain", "ex2_augmented", "shrinks from")


def test_ex2_run_names(attempt_root):
    plain = overfitting()
    for name in ("ex2_no_augmentation", "ex2_augmentation"):  # the solution's names
        steps = [PER_EPOCH * (e + 1) for e in range(20)]
        write_scalars(
            attempt_root / LESSON / name,
            {
                "Loss/train": zip(steps, plain[0], strict=True),
                "Loss/val": zip(steps, plain[1], strict=True),
            },
        )
    assert_verdict(verdict(LESSON, 2), INCORRECT, "shrinks only from")
    write_scalars(attempt_root / LESSON / "ex2_augmented_too", {"Loss/val": [(8, 1.0)]})
    assert_verdict(verdict(LESSON, 2), INCORRECT, "expected two runs")


def capacity_run(root, width, hidden, final_train, epochs=20):
    name = f"ex3_width={width},hidden={hidden}"
    steps = [PER_EPOCH * (e + 1) for e in range(epochs)]
    train = [2.0 - (2.0 - final_train) * (e + 1) / epochs for e in range(epochs)]
    write_scalars(
        root / LESSON / name,
        {
            "Loss/train": zip(steps, train, strict=True),
            "Loss/val": zip(steps, [t + 0.1 for t in train], strict=True),
        },
    )


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "ex3_width=1,hidden=4")
    capacity_run(attempt_root, 1, 4, 0.641)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "double once more, to width=2,hidden=8")
    capacity_run(attempt_root, 4, 16, 0.2)  # skipped a size
    assert_verdict(verdict(LESSON, 3), INCORRECT, "no run for ['width=2,hidden=8']")
    capacity_run(attempt_root, 2, 8, 0.308)
    assert_verdict(verdict(LESSON, 3), CORRECT, "width 2 with 8 hidden units")


def test_ex3_off_path_and_other_setup(attempt_root):
    capacity_run(attempt_root, 1, 4, 0.641)
    capacity_run(attempt_root, 2, 4, 0.4)  # only the width doubled
    assert_verdict(verdict(LESSON, 3), INCORRECT, "double both together")
    (attempt_root / LESSON / "ex3_width=2,hidden=4").rename(attempt_root / LESSON / "other")
    logs.writer(LESSON, "ex3_width=1,hidden=4").close()
    capacity_run(attempt_root, 1, 4, 0.45, epochs=60)  # trained longer than the lesson
    assert_verdict(verdict(LESSON, 3), INCORRECT, "not above 0.5")
