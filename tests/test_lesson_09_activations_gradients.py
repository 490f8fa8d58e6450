"""After lesson 09: activations, gradient norms and dead-ReLU fractions logged from hooks for
both deep networks, the vanishing gradient of the sigmoid network, and the ten
activation-maximization images."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "09_activations_gradients"
LAYERS = [f"layer{i}" for i in range(1, 9)]
NUM_STEPS, LOG_EVERY = 300, 25
LOGGED_STEPS = [1, *range(LOG_EVERY, NUM_STEPS + 1, LOG_EVERY)]
MLPS = ["sigmoid", "relu_bn"]


@pytest.fixture
def runs(lesson_runs):
    return lesson_runs(LESSON)


def last_grad_norms(run) -> list[float]:
    return [events.scalars(run, f"grad_norm/{name}")[-1][1] for name in LAYERS]


def test_runs(runs):
    assert set(runs) == {"sigmoid", "relu_bn", "fastnet", "fastnet_actmax"}


@pytest.mark.parametrize("kind", MLPS)
def test_activation_histograms(runs, kind):
    histograms = events.tags(runs[kind])["histograms"]
    assert sorted(histograms) == sorted(
        [f"activations/{name}" for name in LAYERS] + ["activation_grads/layer1"]
    )
    for tag in histograms:
        assert events.histogram_steps(runs[kind], tag) == LOGGED_STEPS, (kind, tag)


def test_activation_values(runs):
    acc = events.accumulator(runs["sigmoid"])
    for name in LAYERS:  # a sigmoid's outputs lie in (0, 1)
        for event in acc.Histograms(f"activations/{name}"):
            h = event.histogram_value
            assert h.min >= 0 and h.max <= 1, (name, event.step, h.min, h.max)
            assert h.num == 128 * 64, (name, h.num)  # one batch of 128 x 64 units
    acc = events.accumulator(runs["relu_bn"])
    for name in LAYERS:  # ReLU outputs are >= 0 and many are exactly 0
        h = acc.Histograms(f"activations/{name}")[-1].histogram_value
        assert h.min == 0 and h.max > 0, (name, h.min, h.max)


@pytest.mark.parametrize("kind", MLPS)
def test_grad_norm_scalars(runs, kind):
    for name in LAYERS:
        points = events.scalars(runs[kind], f"grad_norm/{name}")
        assert [s for s, _ in points] == LOGGED_STEPS, (kind, name)
        assert all(np.isfinite(v) and v > 0 for _, v in points), (kind, name)


def test_vanishing_ratio(runs):
    sigmoid, relu_bn = last_grad_norms(runs["sigmoid"]), last_grad_norms(runs["relu_bn"])
    assert sigmoid[0] / sigmoid[-1] < 1e-4, sigmoid
    assert 0.1 < relu_bn[0] / relu_bn[-1] < 10, relu_bn
    # in the sigmoid network every layer gets less gradient than the one above it
    assert all(a < b for a, b in itertools.pairwise(sigmoid)), sigmoid


def test_accuracies(runs):
    val = {kind: events.scalars(runs[kind], "Accuracy/val")[-1] for kind in MLPS}
    assert val["sigmoid"][0] == val["relu_bn"][0] == NUM_STEPS, val
    assert val["relu_bn"][1] > 0.75, val
    assert val["sigmoid"][1] < 0.3, val
    assert events.scalars(runs["fastnet"], "Accuracy/val")[-1][1] > 0.85


def test_dead_relu_scalars(runs):
    scalars = events.tags(runs["relu_bn"])["scalars"]
    for name in LAYERS:
        assert f"dead_relu/{name}" in scalars, name
        points = events.scalars(runs["relu_bn"], f"dead_relu/{name}")
        assert [s for s, _ in points] == LOGGED_STEPS, name
        # fractions of 64 units, each in [0, 1]
        assert all(0 <= v <= 1 and abs(v * 64 - round(v * 64)) < 1e-4 for _, v in points), name
    assert not any(t.startswith("dead_relu/") for t in events.tags(runs["sigmoid"])["scalars"])


def test_config_and_layout(runs):
    for kind in [*MLPS, "fastnet"]:
        assert "config/text_summary" in events.tags(runs[kind])["tensors"], kind
    assert "custom_scalars__config__" in events.tags(runs["sigmoid"])["tensors"]


def test_activation_max_images(runs):
    logged = events.images(runs["fastnet_actmax"], "activation_max/classes")
    assert len(logged) == 1
    step, grid = logged[0]
    assert step == 200
    assert grid.shape[:2] == (2 * 28, 8 * 28), grid.shape  # add_images: 8 tiles to a row
    tiles = np.stack(
        [
            grid[28 * (c // 8) : 28 * (c // 8 + 1), 28 * (c % 8) : 28 * (c % 8 + 1), 0]
            for c in range(10)
        ]
    )
    assert (grid[28:, 2 * 28 :] == 0).all(), "the grid should hold exactly ten images"
    assert all(tile.std() > 0.05 for tile in tiles), "an optimized image is blank"
    assert ((tiles >= 0) & (tiles <= 1)).all()
    for a in range(10):
        for b in range(a + 1, 10):
            assert np.abs(tiles[a] - tiles[b]).mean() > 0.02, (a, b)
    # the mean class logit rose during the optimization
    logits = events.scalars(runs["fastnet_actmax"], "activation_max/mean_class_logit")
    assert logits[-1][1] > logits[0][1] + 5, logits
