"""After lesson 07: the precision-recall curves it logged, read back from its event files."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.util import tensor_util

from tbviz import data, events

pytestmark = pytest.mark.after_lessons

LESSON = "07_pr_curves"
PR_TAGS = sorted(f"pr/{name}" for name in data.CLASSES)


def curves(run, tag: str) -> dict[int, np.ndarray]:
    """{step: 6 x num_thresholds array} of one PR-curve tag."""
    logged = events.accumulator(run).Tensors(tag)
    return {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in logged}


def area(table: np.ndarray) -> float:
    """Area under a read-back curve, over the thresholds where something was called positive."""
    tp, fp, _tn, _fn, precision, recall = table
    called = tp + fp > 0
    p, r = precision[called], recall[called]
    return float((p[1:] * (r[:-1] - r[1:])).sum() + p[-1] * r[-1])


@pytest.fixture
def per_class(lesson_runs):
    runs = lesson_runs(LESSON)
    assert "per_class" in runs, f"lesson 07 has no run 'per_class': {sorted(runs)}"
    return runs["per_class"]


def test_one_curve_per_class_at_two_or_more_steps(per_class):
    assert sorted(events.tags(per_class)["tensors"]) == PR_TAGS
    steps = {tag: sorted(curves(per_class, tag)) for tag in PR_TAGS}
    assert len(steps["pr/Shirt"]) >= 2, steps["pr/Shirt"]
    assert all(s == steps["pr/Shirt"] for s in steps.values()), steps


def test_tensors_hold_counts_precision_and_recall(per_class):
    for tag in PR_TAGS:
        for step, table in curves(per_class, tag).items():
            assert table.shape == (6, 127), (tag, step, table.shape)
            tp, fp, tn, fn, precision, recall = table
            assert ((precision >= 0) & (precision <= 1)).all(), (tag, step)
            assert ((recall >= 0) & (recall <= 1)).all(), (tag, step)
            # every threshold counts all 10,000 test images, 1,000 of them of this class
            assert np.allclose(tp + fp + tn + fn, 10_000), (tag, step)
            assert np.allclose(tp + fn, 1_000), (tag, step)
            assert (np.diff(recall) <= 1e-6).all(), f"{tag}: recall must fall as thresholds rise"


def test_trouser_is_easy_and_shirt_is_weakest(per_class):
    last = max(curves(per_class, "pr/Trouser"))
    areas = {tag: area(curves(per_class, tag)[last]) for tag in PR_TAGS}
    assert areas["pr/Trouser"] > 0.9, areas
    assert areas["pr/Trouser"] > areas["pr/Shirt"] + 0.05, areas
    assert min(areas, key=areas.get) == "pr/Shirt", areas


def test_curves_improve_with_training(per_class):
    steps = sorted(curves(per_class, "pr/Shirt"))
    first, last = steps[0], steps[-1]
    mean_area = {
        step: np.mean([area(curves(per_class, tag)[step]) for tag in PR_TAGS])
        for step in (first, last)
    }
    assert mean_area[last] > mean_area[first] + 0.1, mean_area
    accuracy = events.scalars(per_class, "Accuracy/test")
    assert [step for step, _ in accuracy] == steps
    assert accuracy[-1][1] > 0.85, accuracy


def test_predictions_as_labels_give_a_flattering_curve(lesson_runs):
    runs = lesson_runs(LESSON)
    right = curves(runs["by_hand"], "Shirt")
    wrong = curves(runs["wrong_labels"], "Shirt")
    assert list(right) == list(wrong) == [1]
    assert area(wrong[1]) > area(right[1]) + 0.1, (area(wrong[1]), area(right[1]))
