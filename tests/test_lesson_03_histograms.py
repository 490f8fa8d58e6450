"""After lesson 03: its logs hold the histograms the lesson teaches."""

from __future__ import annotations

import itertools
import math

import pytest

from tbviz import events, models

pytestmark = pytest.mark.after_lessons

LESSON = "03_histograms"
PARAMETERS = [name for name, _ in models.FastNet(width=16).named_parameters()]


def _histograms(run, tag):
    return [e.histogram_value for e in events.accumulator(run).Histograms(tag)]


def test_every_parameter_has_weight_and_gradient_histograms_at_several_steps(lesson_runs):
    run = lesson_runs(LESSON)["healthy"]
    acc = events.accumulator(run)
    histograms = set(acc.Tags()["histograms"])
    for name in PARAMETERS:
        for kind in ("weights", "grads"):
            tag = f"{kind}/{name}"
            assert tag in histograms, f"{tag} missing from the healthy run"
            steps = sorted({e.step for e in acc.Histograms(tag)})
            assert len(steps) >= 3, f"{tag} logged only at steps {steps}"
            assert all(e.histogram_value.num > 0 for e in acc.Histograms(tag))


def test_healthy_run_trained(lesson_runs):
    run = lesson_runs(LESSON)["healthy"]
    ((_, val_acc),) = events.scalars(run, "accuracy/val")
    assert val_acc > 0.85, f"healthy run reached only {val_acc:.3f} validation accuracy"
    losses = [v for _, v in events.scalars(run, "loss/train")]
    assert losses[-1] < losses[0], "the training loss should fall"


def test_shifting_normal_mean_moves_from_minus_10_to_9(lesson_runs):
    run = lesson_runs(LESSON)["shifting_normal"]
    logged = events.accumulator(run).Histograms("normal/shifting_mean")
    assert [e.step for e in logged] == list(range(20))
    means = [e.histogram_value.sum / e.histogram_value.num for e in logged]
    assert abs(means[0] + 10) < 0.3, f"step 0 mean {means[0]:.2f}, expected about -10"
    assert abs(means[-1] - 9) < 0.3, f"step 19 mean {means[-1]:.2f}, expected about 9"
    rises = [b - a for a, b in itertools.pairwise(means)]
    assert all(0.7 < d < 1.3 for d in rises), f"the mean should rise by about 1 per step: {rises}"


def test_widening_normal_spreads_out(lesson_runs):
    run = lesson_runs(LESSON)["shifting_normal"]
    stds = [
        math.sqrt(h.sum_squares / h.num - (h.sum / h.num) ** 2)
        for h in _histograms(run, "normal/widening")
    ]
    assert stds[-1] > 5 * stds[0], f"the spread should grow from 0.5 to 5.25: {stds[0]}, {stds[-1]}"


def test_dying_run_has_exactly_zero_gradients(lesson_runs):
    run = lesson_runs(LESSON)["dying"]
    last = _histograms(run, "grads/head.1.weight")[-1]
    assert last.min == last.max == 0.0, "the dead layer's gradients should all be exactly 0"
    final_loss = events.scalars(run, "loss/train")[-1][1]
    assert abs(final_loss - math.log(10)) < 0.05, f"a dead network guesses: loss {final_loss:.3f}"


def test_exploding_run_grows_then_counts_nonfinite_values(lesson_runs):
    run = lesson_runs(LESSON)["exploding"]
    grads = _histograms(run, "grads/features_net.1.0.weight")
    largest = [max(abs(h.min), abs(h.max)) for h in grads]
    assert largest[-1] > 1e3 * largest[0], f"gradients should explode: {largest}"
    counters = [t for t in events.tags(run)["scalars"] if t.startswith("nonfinite/")]
    assert counters, "log_parameters should have counted NaN/Inf values as nonfinite/<tag>"
    assert all(v > 0 for t in counters for _, v in events.scalars(run, t))


def test_nonfinite_values_are_counted_not_histogrammed(lesson_runs):
    run = lesson_runs(LESSON)["nonfinite"]
    acc = events.accumulator(run)
    plain = acc.Histograms("plain/some_nan")[0].histogram_value
    assert math.isnan(plain.sum), "a plain histogram of NaN values has a NaN sum"
    safe = acc.Histograms("safe/some_nan")
    assert [e.step for e in safe] == [0, 1, 2]
    assert all(e.histogram_value.num == 995 and math.isfinite(e.histogram_value.sum) for e in safe)
    assert [v for _, v in events.scalars(run, "nonfinite/safe/some_nan")] == [5.0, 5.0, 5.0]
    assert [v for _, v in events.scalars(run, "nonfinite/safe/all_nan")] == [1000.0] * 3
    assert "safe/all_nan" not in acc.Tags()["histograms"]
    assert "plain/all_nan" not in acc.Tags()["histograms"]
