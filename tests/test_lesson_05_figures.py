"""After lesson 05: the figures it logged are in the event files, at the right steps and sizes."""

from __future__ import annotations

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "05_figures"
STEPS_PER_EPOCH = 55_000 // 256 + 1  # 55k training images (5k held out), batches of 256
NUM_EPOCHS = 2
FIGURE_EVERY = 50


@pytest.fixture
def runs(lesson_runs):
    return lesson_runs(LESSON)


def test_runs(runs):
    assert set(runs) == {"samples", "training"}


def test_sample_grids(runs):
    images = events.tags(runs["samples"])["images"]
    assert sorted(images) == ["samples/by_hand", "samples/image_grid"]
    for tag in images:
        logged = events.images(runs["samples"], tag)
        assert [step for step, _ in logged] == [0], tag
        height, width, channels = logged[0][1].shape
        assert channels in (3, 4), tag
        assert 200 <= width <= 2000 and 200 <= height <= 2000, (tag, width, height)
        assert 0.7 < width / height < 1.2, (tag, width, height)  # a 3x3 grid is about square


def test_predictions_every_n_batches(runs):
    acc = events.accumulator(runs["training"])
    logged = acc.Images("predictions")
    steps = [e.step for e in logged]
    assert steps == list(range(FIGURE_EVERY, NUM_EPOCHS * STEPS_PER_EPOCH + 1, FIGURE_EVERY))
    for e in logged:
        assert 400 <= e.width <= 3000, e.width
        assert 2.5 < e.width / e.height < 5, (e.width, e.height)  # four panels in a row


def test_predictions_change_during_training(runs):
    logged = events.images(runs["training"], "predictions")
    first, last = logged[0][1], logged[-1][1]
    assert first.shape == last.shape
    assert abs(first - last).mean() > 0.001  # the titles (and colours) changed


def test_confusion_matrix_per_epoch(runs):
    acc = events.accumulator(runs["training"])
    logged = acc.Images("confusion_matrix")
    assert [e.step for e in logged] == [STEPS_PER_EPOCH * (k + 1) for k in range(NUM_EPOCHS)]
    for e in logged:
        assert 300 <= e.width <= 2000 and 300 <= e.height <= 2000, (e.width, e.height)


def test_training_reached_a_real_accuracy(runs):
    points = events.scalars(runs["training"], "Accuracy/val")
    assert [step for step, _ in points] == [STEPS_PER_EPOCH * (k + 1) for k in range(NUM_EPOCHS)]
    assert points[-1][1] > 0.87, points
    assert points[-1][1] >= points[0][1] - 0.01, points
    losses = events.scalars(runs["training"], "Loss/train")
    assert len(losses) == len(range(FIGURE_EVERY, NUM_EPOCHS * STEPS_PER_EPOCH + 1, FIGURE_EVERY))
    assert losses[-1][1] < losses[0][1], losses
