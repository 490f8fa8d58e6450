"""Running a lesson twice gives the same outputs and leaves no duplicate runs or stale
projector entries (the lesson replaces its own runs, nothing else)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

ROOT = Path(__file__).resolve().parent.parent
LESSON = "06_embeddings"  # the lesson with the most to go stale: projector files and config


def snapshot(root: Path) -> dict[str, object]:
    lesson = root / LESSON
    return {
        # event files directly in each run: a second writer on the same run would add one
        "runs": {
            str(r.relative_to(lesson)): len(list(r.glob("events.out.tfevents.*")))
            for r in events.run_dirs(lesson)
        },
        "projector": sorted(str(p.relative_to(lesson)) for p in lesson.rglob("*.pbtxt")),
        "tensors": sorted(str(p.relative_to(lesson)) for p in lesson.rglob("tensors.tsv")),
        "configs": {str(p.relative_to(lesson)): p.read_text() for p in lesson.rglob("*.pbtxt")},
    }


def test_second_run_of_a_lesson_matches_the_first(tmp_path):
    root = Path(os.environ["TBVIZ_LOGDIR"])
    assert (root / LESSON).is_dir(), f"{LESSON} has not run yet: run the notebooks first"
    other = root / "00_setup_and_first_run"
    others_before = sorted(p.name for p in events.event_files(other))
    first = snapshot(root)
    assert first["runs"], f"no runs under {root / LESSON}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", f"notebooks/{LESSON}.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        # one CPU thread, as make test executes notebooks (and as they were committed)
        env={**os.environ, "TBVIZ_LOGDIR": str(root), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, "the second run's outputs differ:\n" + proc.stdout[-4000:]
    second = snapshot(root)
    # the same runs with as many event files each (the lesson's "scratch" run has two writers
    # on purpose, to show the projector pitfall); a rerun that appended would add one per run
    assert second["runs"] == first["runs"], f"before {first['runs']}, after {second['runs']}"
    assert second["projector"] == first["projector"] and second["tensors"] == first["tensors"]
    assert {k: sorted(v.splitlines()) for k, v in second["configs"].items()} == {
        k: sorted(v.splitlines()) for k, v in first["configs"].items()
    }
    assert sorted(p.name for p in events.event_files(other)) == others_before, (
        "re-running one lesson touched another lesson's runs"
    )
