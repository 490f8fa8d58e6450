"""After lesson 08: the overfitting and underfitting runs it logged, read back from the logs."""

from __future__ import annotations

import pytest
from tensorboard.plugins.custom_scalar import layout_pb2

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "08_overfitting"
FOUR_TAGS = ["Loss/train", "Loss/val", "Accuracy/train", "Accuracy/val"]


@pytest.fixture
def runs(lesson_runs):
    found = lesson_runs(LESSON)
    assert len(found) >= 4, f"expected at least 4 runs, got {sorted(found)}"
    missing = {"baseline", "dropout", "weight_decay", "tiny"} - set(found)
    assert not missing, f"runs missing from lesson 08: {sorted(missing)}"
    return found


def final(run, tag: str) -> float:
    return events.scalars(run, tag)[-1][1]


def test_every_run_logs_train_and_val_curves_at_the_same_steps(runs):
    for name, run in runs.items():
        steps = {tag: [step for step, _ in events.scalars(run, tag)] for tag in FOUR_TAGS}
        assert len(steps["Loss/val"]) >= 10, (name, steps["Loss/val"])
        assert all(s == steps["Loss/val"] for s in steps.values()), (name, steps)


def test_every_run_stores_a_custom_scalars_layout(runs):
    for name, run in runs.items():
        acc = events.accumulator(run)
        assert "custom_scalars__config__" in acc.Tags()["tensors"], name
        raw = acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0]
        layout = layout_pb2.Layout.FromString(raw)
        multiline = [
            set(chart.multiline.tag)
            for category in layout.category
            for chart in category.chart
            if chart.HasField("multiline")
        ]
        assert {"Loss/train", "Loss/val"} in multiline, (name, layout)


def test_baseline_overfits_more_than_the_regularized_runs(runs):
    def gap(name: str) -> float:
        return final(runs[name], "Loss/val") - final(runs[name], "Loss/train")

    assert gap("baseline") > 0.3, gap("baseline")
    for name in ("dropout", "weight_decay"):
        assert gap("baseline") > gap(name) + 0.2, (name, gap(name), gap("baseline"))
    val = [value for _, value in events.scalars(runs["baseline"], "Loss/val")]
    best = val.index(min(val))
    assert best < len(val) - 3, f"the baseline's val loss was lowest at epoch {best + 1}"
    assert val[-1] > 1.15 * val[best], val


def test_tiny_model_underfits(runs):
    tiny, baseline = runs["tiny"], runs["baseline"]
    assert final(tiny, "Loss/train") > 0.5 > final(baseline, "Loss/train")
    assert final(tiny, "Accuracy/train") < final(baseline, "Accuracy/train") - 0.1
    assert final(tiny, "Loss/val") - final(tiny, "Loss/train") < 0.3
