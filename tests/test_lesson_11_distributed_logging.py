"""After-lesson checks: the logs of notebooks/11_distributed_logging.ipynb's two DDP launches."""

from __future__ import annotations

from collections import Counter

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "11_distributed_logging"
TAGS = {"batch/loss", "batch/accuracy", "Loss/val", "Accuracy/val"}


def test_the_two_runs_exist(lesson_runs):
    assert set(lesson_runs(LESSON)) == {"rank0_writes", "every_rank_writes"}


def test_rank0_writes_has_one_writer_and_one_point_per_step(lesson_runs):
    run = lesson_runs(LESSON)["rank0_writes"]
    assert len(events.event_files(run)) == 1, "only rank 0 should have created a writer"
    assert set(events.tags(run)["scalars"]) == TAGS
    for tag in TAGS:
        steps = Counter(step for step, _ in events.scalars(run, tag))
        assert max(steps.values()) == 1, f"{tag}: several points at one step: {steps}"
    assert len(events.scalars(run, "batch/accuracy")) >= 10
    assert events.scalars(run, "Accuracy/val")[-1][1] > 0.83


def test_every_rank_writes_has_two_writers_and_duplicate_points(lesson_runs):
    runs = lesson_runs(LESSON)
    run = runs["every_rank_writes"]
    files = events.event_files(run)
    assert len(files) == 2, f"expected one event file per rank, found {len(files)}"
    assert sorted(f.name.rsplit(".", 1)[-1] for f in files) == ["rank0", "rank1"]
    steps = Counter(step for step, _ in events.scalars(run, "batch/accuracy"))
    assert set(steps.values()) == {2}, f"expected two points per step, got {steps}"
    good_steps = {step for step, _ in events.scalars(runs["rank0_writes"], "batch/accuracy")}
    assert set(steps) == good_steps


def test_averaged_metric_is_the_mean_of_the_ranks(lesson_runs):
    runs = lesson_runs(LESSON)
    merged = events.scalars(runs["every_rank_writes"], "Accuracy/val")
    assert len(merged) == 2
    averaged = events.scalars(runs["rank0_writes"], "Accuracy/val")[0][1]
    mean = (merged[0][1] + merged[1][1]) / 2
    assert averaged == pytest.approx(mean, abs=1e-3)
    assert merged[0][1] != merged[1][1], "the ranks scored different shards"
