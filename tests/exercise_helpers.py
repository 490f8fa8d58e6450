"""What the checkers' tests (``test_exercises_*.py``) share: write a run's scalars, get one
exercise's verdict, assert on it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from tbviz import exercises


def write_scalars(run: Path, scalars: dict[str, Iterable[tuple[int, float]]]) -> Path:
    """Write ``{tag: [(step, value), ...]}`` into run directory ``run``; return it."""
    with SummaryWriter(str(run)) as writer:
        for tag, points in scalars.items():
            for step, value in points:
                writer.add_scalar(tag, value, step)
    return run


def verdict(lesson: str, number: int, *answer, root: Path | None = None, **named):
    """The :class:`tbviz.exercises.Result` of exercise ``number`` of ``lesson``."""
    ex = exercises.for_lesson(lesson, root)[number - 1]
    assert ex.number == number
    return ex.result(*answer, **named)


def assert_verdict(result, verdict: str, *fragments: str) -> None:
    """The verdict is ``verdict`` and its message contains every fragment."""
    assert result.verdict == verdict, str(result)
    for fragment in fragments:
        assert fragment in result.message, f"{fragment!r} not in: {result.message}"
