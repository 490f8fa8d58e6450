"""Lesson 10's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import itertools
import shutil

from exercise_helpers import assert_verdict, verdict
from torch.utils.tensorboard import SummaryWriter

from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "10_hparams"
LESSON_GRID = {"lr": [0.003, 0.03], "batch_size": [64, 256], "optimizer": ["adamw", "sgd"]}
WD_GRID = {"lr": [0.003, 0.03], "weight_decay": [0.0, 0.05]}
WD_RESULTS = {  # (lr, wd): (val accuracy, val loss), as the solutions measured them
    (0.003, 0.0): (0.839, 0.447),
    (0.003, 0.05): (0.837, 0.448),
    (0.03, 0.0): (0.839, 0.430),
    (0.03, 0.05): (0.843, 0.424),
}


def trial(run, hparams, accuracy, loss, *, domains=None, run_name="."):
    """A trial as the lesson logs it: its curves' last points and add_hparams."""
    with SummaryWriter(str(run)) as writer:
        writer.add_scalar("Accuracy/val", accuracy, 156)
        writer.add_scalar("Loss/val", loss, 156)
        metrics = {"hparam/val_accuracy": accuracy, "hparam/val_loss": loss}
        writer.add_hparams(
            hparams, metrics, hparam_domain_discrete=domains, run_name=run_name, global_step=156
        )
    return run


def lesson_trials(root):
    """The lesson's eight trials, with (0.03, 64, adamw) and (0.003, 64, adamw) on top."""
    for i, (lr, bs, opt) in enumerate(itertools.product(*LESSON_GRID.values())):
        acc = {(0.03, 64, "adamw"): 0.849, (0.003, 64, "adamw"): 0.846}.get((lr, bs, opt))
        hparams = {"lr": lr, "batch_size": bs, "optimizer": opt}
        trial(root / LESSON / f"lr={lr},bs={bs},opt={opt}", hparams, acc or 0.8 - i / 100, 0.5)


def wd_search(folder, *, keys=("lr", "weight_decay", "batch_size", "optimizer"), skip=()):
    for (lr, wd), (acc, loss) in WD_RESULTS.items():
        if (lr, wd) in skip:
            continue
        full = {"lr": lr, "weight_decay": wd, "batch_size": 128, "optimizer": "adamw"}
        hparams = {k: full[k] for k in keys}
        domains = {k: v for k, v in WD_GRID.items() if k in keys}
        trial(folder / f"lr={lr},wd={wd}", hparams, acc, loss, domains=domains)


def test_ex1(attempt_root):
    lesson = attempt_root / LESSON
    lesson_trials(attempt_root)
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "10_hparams/ex1_*")
    wd_search(lesson / "ex1_search", keys=("lr", "batch_size", "optimizer"))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "have no 'weight_decay'")
    shutil.rmtree(lesson / "ex1_search")
    wd_search(lesson / "ex1_search", skip={(0.03, 0.05)})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "grid is not complete", "(0.03, 0.05)")
    shutil.rmtree(lesson / "ex1_search")
    for (lr, wd), (acc, loss) in WD_RESULTS.items():  # flat, beside the lesson's eight trials
        hparams = {"lr": lr, "weight_decay": wd, "batch_size": 128, "optimizer": "adamw"}
        trial(lesson / f"ex1_lr={lr},wd={wd}", hparams, acc, loss, domains=WD_GRID)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "beside 8 other runs", "a folder of their own")
    for run in lesson.glob("ex1_*"):
        shutil.rmtree(run)
    wd_search(lesson / "ex1_weight_decay")
    assert_verdict(verdict(LESSON, 1), CORRECT, "4 trials", "in 10_hparams/ex1_weight_decay")


def test_ex1_without_run_name(attempt_root):
    hparams = {"lr": 0.003, "weight_decay": 0.0, "batch_size": 128, "optimizer": "adamw"}
    trial(attempt_root / LESSON / "ex1_wd" / "a", hparams, 0.8, 0.5, run_name=None)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "time stamp", "run_name='.'")


def test_ex2(attempt_root):
    lesson = attempt_root / LESSON
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2.check(best_by_loss")
    assert_verdict(verdict(LESSON, 2, "a", "b"), NOT_ATTEMPTED, "exercise 1's trials")
    wd_search(lesson / "ex1_weight_decay")
    wrong = verdict(LESSON, 2, "lr=0.03,wd=0.0", "lr=0.03,wd=0.05")  # by loss: the runner-up
    assert_verdict(wrong, INCORRECT, "lr=0.03,wd=0.05 has the lowest, 0.4240")
    assert_verdict(verdict(LESSON, 2), INCORRECT, "has the lowest")  # the kept verdict
    assert_verdict(verdict(LESSON, 2, "lr=0.03,wd=0.05", 3), INCORRECT, "run name or a run folder")
    assert_verdict(verdict(LESSON, 2, "nope", "lr=0.03,wd=0.05"), INCORRECT, "not one of")
    best = lesson / "ex1_weight_decay" / "lr=0.03,wd=0.05"
    assert_verdict(verdict(LESSON, 2, best, {"run": best.name}), CORRECT, "the same trial")


def test_ex2_disagree(attempt_root):
    folder = attempt_root / LESSON / "ex1_wd"
    trial(folder / "a", {"lr": 0.003, "weight_decay": 0.0}, 0.85, 0.45)
    trial(folder / "b", {"lr": 0.003, "weight_decay": 0.05}, 0.84, 0.44)
    trial(folder / "c", {"lr": 0.03, "weight_decay": 0.0}, 0.85, 0.46)  # ties a on accuracy
    assert_verdict(verdict(LESSON, 2, "ex1_wd/b", "c"), CORRECT, "different trials")
    assert_verdict(verdict(LESSON, 2, "b", "b"), INCORRECT, "has the highest, 85.00%")


SEED_ACC = {0.03: [0.849, 0.845, 0.844], 0.003: [0.846, 0.851, 0.862]}


def seed_runs(folder, seeds=(0, 1, 2), *, with_seed=True, same=False, lrs=(0.03, 0.003)):
    for lr, seed in itertools.product(lrs, seeds):
        hparams = {"lr": lr, "batch_size": 64, "optimizer": "adamw"}
        if with_seed:
            hparams["seed"] = seed
        accs = SEED_ACC.get(lr, SEED_ACC[0.03])
        acc = accs[0] if same else accs[seed]
        trial(folder / f"lr={lr},seed={seed}", hparams, acc, 0.4)


def test_ex3(attempt_root):
    folder = attempt_root / LESSON / "ex3_seeds"
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "10_hparams/ex3_*")
    seed_runs(folder, with_seed=False)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "have no 'seed'")
    shutil.rmtree(folder)
    seed_runs(folder, same=True)
    assert_verdict(verdict(LESSON, 3), INCORRECT, "exactly the same val accuracy", "runtime.seed")
    shutil.rmtree(folder)
    seed_runs(folder, lrs=(0.03, 0.3))
    assert_verdict(verdict(LESSON, 3), INCORRECT, "lr=0.3", "not one of the lesson's two best")
    shutil.rmtree(folder)
    seed_runs(folder)
    assert_verdict(verdict(LESSON, 3), CORRECT, "lr=0.003 averages 85.3%", "seeds 0, 1, 2", "a tie")


def test_ex3_seed_zero_from_the_lesson(attempt_root):
    lesson_trials(attempt_root)
    seed_runs(attempt_root / LESSON / "ex3_seeds", seeds=(1, 2))
    result = verdict(LESSON, 3)
    assert_verdict(result, CORRECT, "over seeds 0, 1, 2", "lr=0.03 84.6%")
    # In the lesson's folder itself, beside the eight trials without a seed key: one search
    # per log directory.
    for run in (attempt_root / LESSON / "ex3_seeds").iterdir():
        shutil.move(run, attempt_root / LESSON / f"ex3_{run.name}")
    assert_verdict(verdict(LESSON, 3), INCORRECT, "another search", "'ex3_seeds'")
