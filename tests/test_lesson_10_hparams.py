"""After-lesson checks: what notebooks/10_hparams.ipynb logged for the HParams dashboard."""

from __future__ import annotations

import itertools

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "10_hparams"
GRID = {"lr": [0.003, 0.03], "batch_size": [64, 256], "optimizer": ["adamw", "sgd"]}
METRICS = {"hparam/val_accuracy", "hparam/val_loss"}


def test_every_trial_is_one_run_with_an_hparams_session(lesson_runs):
    runs = lesson_runs(LESSON)
    assert len(runs) >= 8, f"expected at least 8 trials, found {sorted(runs)}"
    for name, run in runs.items():
        assert "/" not in name, f"{name}: add_hparams wrote a sub-run (run_name='.' missing?)"
        hparams = events.hparams(run)
        assert set(hparams) == set(GRID), f"{name}: hparams {hparams}"


def test_metrics_sit_beside_the_curves(lesson_runs):
    for name, run in lesson_runs(LESSON).items():
        scalar_tags = set(events.tags(run)["scalars"])
        assert scalar_tags >= METRICS, f"{name}: missing {METRICS - scalar_tags}"
        assert {"Loss/train", "Accuracy/val"} <= scalar_tags, f"{name}: no training curves"
        for metric in METRICS:
            assert len(events.scalars(run, metric)) == 1, f"{name}: {metric} logged more than once"
        accuracy = events.scalars(run, "hparam/val_accuracy")[0][1]
        assert 0.1 < accuracy <= 1.0, f"{name}: val accuracy {accuracy}"
        assert accuracy == pytest.approx(events.scalars(run, "Accuracy/val")[-1][1])


def test_hparam_values_cover_the_grid(lesson_runs):
    seen = set()
    for run in lesson_runs(LESSON).values():
        hparams = events.hparams(run)
        assert isinstance(hparams["batch_size"], float), "numbers are stored as floats"
        seen.add((hparams["lr"], int(hparams["batch_size"]), hparams["optimizer"]))
    assert seen == set(itertools.product(*GRID.values())), f"grid not covered: {sorted(seen)}"


def test_the_best_trial_learned(lesson_runs):
    best = max(
        events.scalars(run, "hparam/val_accuracy")[0][1] for run in lesson_runs(LESSON).values()
    )
    assert best > 0.83, f"best trial reached only {best:.1%}"
