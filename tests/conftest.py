"""Fixtures for the tests that read back what the lessons logged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tbviz import events


@pytest.fixture
def lesson_runs():
    """``lesson_runs("02_scalars")`` -> {run name: run dir} of what that notebook logged.

    Fails (never skips) when the lesson has not written its logs: these checks run after the
    notebooks in ``make test``, which executes every notebook first.
    """

    def runs(lesson: str) -> dict[str, Path]:
        root = Path(os.environ["TBVIZ_LOGDIR"]) / lesson
        found = events.run_dirs(root) if root.exists() else []
        assert found, (
            f"no TensorBoard runs under {root}: execute notebooks/{lesson}.ipynb first "
            f"(make test runs the notebooks before these checks)"
        )
        return {str(r.relative_to(root)): r for r in found}

    return runs
