"""After lesson 02: the quadratic runs, the add_scalars sub-runs and the training curves."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "02_scalars"
EPOCH_TAGS = ("Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test")
NUM_EPOCHS = 2


@pytest.fixture
def runs(lesson_runs):
    return lesson_runs(LESSON)


def test_the_lesson_runs_are_there(runs):
    expected = {
        "sgd_lr=0.01",
        "sgd_lr=0.1",
        "adam_lr=0.1",
        "steep_lr=0.02",
        "steep_lr=0.2",
        "add_scalars_demo",
        "add_scalars_demo/overlay_f_lr=0.01",
        "add_scalars_demo/overlay_f_lr=0.1",
        "live",
        "fashion_fastnet",
    }
    assert set(runs) == expected


def test_quadratic_logs_x_and_f_every_step(runs):
    xs = events.scalars(runs["sgd_lr=0.01"], "quadratic/x")
    fs = events.scalars(runs["sgd_lr=0.01"], "quadratic/f")
    assert [s for s, _ in xs] == list(range(500)) == [s for s, _ in fs]
    assert xs[0][1] == 5.0 and fs[0][1] == 16.0  # x starts at 5, f(5) = 25 - 10 + 1
    for (_, x), (_, f) in zip(xs, fs, strict=True):
        assert f == pytest.approx((x - 1) ** 2, abs=1e-5)


def test_quadratic_converges_to_one(runs):
    last_x = events.scalars(runs["sgd_lr=0.01"], "quadratic/x")[-1][1]
    # SGD shrinks the distance by 0.98 per step: 4 * 0.98**499 = 1.7e-4
    assert abs(last_x - 1) < 1e-3
    for name in ("sgd_lr=0.1", "adam_lr=0.1"):
        assert abs(events.scalars(runs[name], "quadratic/x")[-1][1] - 1) < 1e-3, name


def test_learning_rate_typo_diverges(runs):
    good = [f for _, f in events.scalars(runs["steep_lr=0.02"], "quadratic/f")]
    typo = [f for _, f in events.scalars(runs["steep_lr=0.2"], "quadratic/f")]
    assert good[0] == typo[0] == 160.0
    assert good[-1] < 1e-3
    assert all(later > earlier for earlier, later in pairwise(typo))
    assert typo[5] > 1e6


def test_add_scalars_makes_one_sub_run_per_key(runs):
    assert events.tags(runs["add_scalars_demo"])["scalars"] == []
    for key in ("lr=0.01", "lr=0.1"):
        points = events.scalars(runs[f"add_scalars_demo/overlay_f_{key}"], "overlay/f")
        assert [s for s, _ in points] == list(range(100))
        assert points[0][1] == 16.0
    fast = events.scalars(runs["add_scalars_demo/overlay_f_lr=0.1"], "overlay/f")[-1][1]
    slow = events.scalars(runs["add_scalars_demo/overlay_f_lr=0.01"], "overlay/f")[-1][1]
    assert fast < slow


def test_training_logs_four_tags_once_per_epoch(runs):
    run = runs["fashion_fastnet"]
    assert set(EPOCH_TAGS) <= set(events.tags(run)["scalars"])
    for tag in EPOCH_TAGS:
        points = events.scalars(run, tag)
        assert [s for s, _ in points] == list(range(1, NUM_EPOCHS + 1)), tag
        assert all(math.isfinite(v) for _, v in points), tag


def test_training_values_are_plausible(runs):
    run = runs["fashion_fastnet"]
    for split in ("train", "test"):
        accuracy = [v for _, v in events.scalars(run, f"Accuracy/{split}")]
        loss = [v for _, v in events.scalars(run, f"Loss/{split}")]
        assert all(0.80 < a < 0.97 for a in accuracy), (split, accuracy)
        assert all(0.1 < v < 0.6 for v in loss), (split, loss)
        assert accuracy[-1] > accuracy[0] and loss[-1] < loss[0], split
    assert events.scalars(run, "Accuracy/test")[-1][1] > 0.87


def test_batch_loss_every_ten_batches(runs):
    points = events.scalars(runs["fashion_fastnet"], "batch/loss")
    steps = [s for s, _ in points]
    assert steps == list(range(10, 10 * len(steps) + 1, 10))
    assert len(steps) == 43  # 2 epochs x 215 batches of 256 (55,000 images), one point per 10
