"""Feedback on your own attempt at each exercise: ``check()``, ``hint()`` and ``solution()``.

In a lesson, right after each exercise::

    ex1, ex2, ex3 = exercises.for_lesson(LESSON)
    ex1.check()  # reads your logs and says: not attempted, incorrect (what is wrong) or correct
    ex1.hint()  # a nudge; call it again for the next one
    ex1.solution()  # where the worked solution is

A checker finds your attempt by its run names: exercise N's runs are the runs of the lesson
whose name is ``exN`` or starts with ``exN_`` (``logs.writer(LESSON, "ex2_lr=0.5")``). A few
exercises end in an answer rather than a log (a path, a number, an error); their ``check``
takes that answer, and the verdict is kept in ``<lesson>/.checks/`` so the report sees it.

``python -m tbviz.exercises report`` prints every exercise's verdict for a log root (yours, or
a classroom folder of learners). Each lesson's checkers live in ``tbviz.exercises.lessonNN``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tbviz import events, paths

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"
VERDICTS = (CORRECT, INCORRECT, NOT_ATTEMPTED)

LESSONS = (
    "00_setup_and_first_run",
    "01_model_graph",
    "02_scalars",
    "03_histograms",
    "04_images",
    "05_figures",
    "06_embeddings",
    "07_pr_curves",
    "08_overfitting",
    "09_activations_gradients",
    "10_hparams",
    "11_distributed_logging",
)
SOLUTIONS_SUFFIX = "_solutions"
RECORDS = ".checks"  # where verdicts of checks that take an answer are kept, per lesson dir


class NotAttempted(Exception):
    """Raised by a checker: there is nothing to check yet (say what was looked for, where)."""


class Incorrect(Exception):
    """Raised by a checker: the attempt is there but wrong (say specifically what is wrong)."""


@dataclass(frozen=True)
class Result:
    """One verdict: ``verdict`` is one of :data:`VERDICTS`; ``message`` says why."""

    exercise: str
    verdict: str
    message: str

    def __bool__(self) -> bool:
        return self.verdict == CORRECT

    def __str__(self) -> str:  # the message as written: it may start with a tag, which has a case
        return f"{self.exercise} · {self.verdict.capitalize()}: {self.message}"


@dataclass(frozen=True)
class Attempt:
    """What a checker reads: the runs of one exercise in one lesson directory."""

    lesson_dir: Path
    number: int

    @property
    def prefix(self) -> str:
        return f"ex{self.number}"

    def where(self) -> str:
        """The runs looked for, relative to the log root, e.g. ``02_scalars/ex1_*``."""
        return f"{self.lesson_dir.name}/{self.prefix}_*"

    def runs(self) -> list[Path]:
        """This exercise's runs: folders ``exN`` or ``exN_*`` of the lesson (and the runs
        below them) that hold event files, sorted by name."""
        if not self.lesson_dir.is_dir():
            return []
        pattern = re.compile(rf"^{self.prefix}($|_)")
        found: set[Path] = set()
        for child in sorted(self.lesson_dir.iterdir()):
            if child.is_dir() and pattern.match(child.name):
                found.update(events.run_dirs(child))
        return sorted(found)

    def need_runs(self, what: str = "") -> list[Path]:
        """:meth:`runs`, or :class:`NotAttempted` naming where they were looked for."""
        runs = self.runs()
        if not runs:
            hint = f" ({what})" if what else ""
            raise NotAttempted(
                f"no run {self.where()} with TensorBoard logs{hint}. Name this exercise's runs "
                f'{self.prefix}_<something>, e.g. logs.writer(LESSON, "{self.prefix}_try1").'
            )
        return runs

    def name(self, run: Path) -> str:
        """A run's name as TensorBoard shows it under this lesson."""
        return run.relative_to(self.lesson_dir).as_posix()

    def runs_with(self, kind: str, tag: str, runs: Iterable[Path] | None = None) -> list[Path]:
        """The runs holding ``tag`` of ``kind`` (scalars, histograms, images, tensors, ...)."""
        runs = self.need_runs() if runs is None else list(runs)
        return [run for run in runs if tag in tags(run).get(kind, [])]

    def run_with(self, kind: str, tag: str) -> Path:
        """The one run holding ``tag``; :class:`Incorrect` if none does (naming what they hold)
        or if several do (the check would not know which to read)."""
        runs = self.need_runs()
        holding = self.runs_with(kind, tag, runs)
        if not holding:
            held = sorted({t for run in runs for t in tags(run).get(kind, [])})
            raise Incorrect(
                f"none of the runs {self.where()} has {kind} {tag!r}; they have {held or 'none'}"
            )
        if len(holding) > 1:
            names = [self.name(run) for run in holding]
            raise Incorrect(f"{len(holding)} runs have {tag!r} ({names}); keep one")
        return holding[0]

    def scalars(self, run: Path, tag: str, *, finite: bool = True) -> list[tuple[int, float]]:
        """``(step, value)`` of one scalar tag, checked: present, each step once, finite."""
        return scalars(run, tag, finite=finite, name=self.name(run))

    def record(self) -> dict | None:
        """The kept verdict of an exercise whose check takes an answer (None if none)."""
        path = self.lesson_dir / RECORDS / f"{self.prefix}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def tags(run: Path) -> dict[str, list[str]]:
    """A run's tags by kind; an empty dict for a run without readable events."""
    try:
        return events.tags(run)
    except FileNotFoundError:
        return {}


def scalars(
    run: Path, tag: str, *, finite: bool = True, name: str | None = None
) -> list[tuple[int, float]]:
    """The points of a scalar tag for a checker: :class:`Incorrect` when the tag is missing,
    a step appears twice (two event files: the run was written twice), or (``finite``) a
    value is NaN or infinite."""
    name = name or run.name
    held = tags(run).get("scalars", [])
    if tag not in held:
        raise Incorrect(f"run {name} has no scalar {tag!r}; it has {sorted(held) or 'none'}")
    points = events.scalars(run, tag)
    each_step_once([step for step, _ in points], repr(tag), run, name)
    if finite:
        bad = [step for step, value in points if not math.isfinite(value)]
        if bad:
            raise Incorrect(f"{tag!r} in run {name} is NaN or infinite at steps {bad[:5]}")
    return points


def each_step_once(steps: list[int], what: str, run: Path, name: str | None = None) -> None:
    """:class:`Incorrect` when ``what`` (a tag of any kind, e.g. "histogram 'x'") has a step
    more than once in ``run``: the run was written twice, each time into a new event file."""
    if len(set(steps)) != len(steps):
        files = len(events.event_files(run))
        raise Incorrect(
            f"{what} in run {name or run.name} has some steps twice ({files} event files): the "
            "run was written more than once. Delete it, or write it with logs.writer, which "
            "starts afresh"
        )


def expect(condition: Any, message: str) -> None:
    """:class:`Incorrect` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Incorrect(message)


@dataclass
class Exercise:
    """One exercise of a lesson: ``check()``, ``hint()``, ``solution()`` (see the module)."""

    lesson: str
    number: int
    title: str
    checker: Callable[..., str]
    hints: tuple[str, ...]
    solution_text: str
    answer: str | None = None  # for a check that takes an answer: how to call it
    lesson_dir: Path | None = None
    _hints_shown: int = field(default=0, repr=False)

    @property
    def label(self) -> str:
        return f"Exercise {self.number} ({self.title})"

    def bound(self, lesson_dir: Path) -> Exercise:
        return Exercise(
            self.lesson,
            self.number,
            self.title,
            self.checker,
            self.hints,
            self.solution_text,
            self.answer,
            lesson_dir,
        )

    def _attempt(self, lesson_dir: Path | None) -> Attempt:
        lesson_dir = lesson_dir or self.lesson_dir or paths.logs_root() / self.lesson
        return Attempt(Path(lesson_dir), self.number)

    def result(self, *answer: Any, lesson_dir: Path | None = None, **named: Any) -> Result:
        """The verdict, without printing. An exercise that takes an answer, called without
        one, gives the verdict kept from its last check (or *not attempted*)."""
        attempt = self._attempt(lesson_dir)
        if self.answer and not answer and not named:
            kept = attempt.record()
            if kept and kept.get("verdict") in VERDICTS:
                message = f"(kept from your last check) {kept.get('message', '')}"
                return Result(self.label, kept["verdict"], message)
            return Result(
                self.label,
                NOT_ATTEMPTED,
                f"this exercise is checked from your answer: {self.answer} "
                f"(no earlier check kept in {attempt.lesson_dir.name}/{RECORDS}).",
            )
        try:
            inspect.signature(self.checker).bind(attempt, *answer, **named)
        except TypeError as err:  # a call the check does not take: say how, keep nothing
            usage = self.answer or f"{attempt.prefix}.check(), with no arguments"
            return Result(self.label, INCORRECT, f"this check is called as {usage} ({err}).")
        try:
            verdict, message = CORRECT, self.checker(attempt, *answer, **named)
        except NotAttempted as why:
            verdict, message = NOT_ATTEMPTED, str(why)
        except Incorrect as why:
            verdict, message = INCORRECT, str(why)
        except FileNotFoundError as err:  # a run deleted while it was being read
            verdict, message = NOT_ATTEMPTED, f"a file of the attempt is gone: {err}"
        except Exception as err:  # odd input: say what was found instead of a traceback
            verdict, message = INCORRECT, f"could not read the attempt: {type(err).__name__}: {err}"
        result = Result(self.label, verdict, message)
        if self.answer and (answer or named):
            self._keep(attempt, result)
        return result

    def _keep(self, attempt: Attempt, result: Result) -> None:
        folder = attempt.lesson_dir / RECORDS
        folder.mkdir(parents=True, exist_ok=True)
        record = {"verdict": result.verdict, "message": result.message, "time": time.time()}
        (folder / f"{attempt.prefix}.json").write_text(json.dumps(record), encoding="utf-8")

    def check(self, *answer: Any, **named: Any) -> None:
        """Print the verdict on your attempt: not attempted, incorrect or correct, and why."""
        print(self.result(*answer, **named))

    def hint(self, number: int | None = None) -> None:
        """Print a hint; each call without ``number`` gives the next one."""
        if number is None:
            self._hints_shown = min(self._hints_shown + 1, len(self.hints))
            number = self._hints_shown
        if not 1 <= number <= len(self.hints):
            raise ValueError(f"{self.label} has hints 1 to {len(self.hints)}, not {number}")
        more = " (call hint() again for the next)" if number < len(self.hints) else ""
        print(f"Hint {number} of {len(self.hints)}{more}: {self.hints[number - 1]}")

    def solution(self) -> None:
        """Print where the worked solution is, and its gist."""
        notebook = f"solutions/{self.lesson}{SOLUTIONS_SUFFIX}.ipynb"
        print(f"Solution: {notebook}, 'Exercise {self.number}'. {self.solution_text}")


_REGISTRY: dict[str, dict[int, Exercise]] = {}


def exercise(
    lesson: str,
    number: int,
    title: str,
    *,
    hints: Iterable[str],
    solution: str,
    answer: str | None = None,
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register a checker: ``checker(attempt, *answer) -> str`` returns what it verified,
    or raises :class:`NotAttempted` / :class:`Incorrect` with what it found. ``hints`` go from
    a nudge to nearly the answer; ``solution`` is the gist of the worked solution. ``answer``,
    for an exercise that ends in an answer rather than a log, says how to pass it, e.g.
    ``"ex1.check(default_dir, chosen_dir), the two folders the writers wrote to"``."""
    if lesson not in LESSONS:
        raise ValueError(f"unknown lesson {lesson!r}; lessons are {LESSONS}")

    def register(checker: Callable[..., str]) -> Callable[..., str]:
        _REGISTRY.setdefault(lesson, {})[number] = Exercise(
            lesson, number, title, checker, tuple(hints), solution, answer
        )
        return checker

    return register


def _load(lesson: str) -> dict[int, Exercise]:
    import importlib

    if lesson not in _REGISTRY:
        importlib.import_module(f"tbviz.exercises.lesson{lesson[:2]}")
    return _REGISTRY.get(lesson, {})


def lesson_of(name: str) -> str:
    """The lesson a log folder belongs to: ``02_scalars`` for itself and its solutions."""
    base = name.removesuffix(SOLUTIONS_SUFFIX)
    if base not in LESSONS:
        raise ValueError(f"{name!r} is not a lesson of this course; lessons are {LESSONS}")
    return base


def for_lesson(lesson: str, root: Path | str | None = None) -> tuple[Exercise, ...]:
    """The exercises of ``lesson`` (``LESSON`` of a lesson or of its solutions notebook), in
    order, checking the runs under ``<root>/<lesson>`` (root: the course's log root)."""
    root = Path(root) if root is not None else paths.logs_root()
    exercises = _load(lesson_of(lesson))
    return tuple(exercises[n].bound(root / lesson) for n in sorted(exercises))


def all_exercises() -> list[Exercise]:
    """Every exercise of the course, lesson by lesson."""
    return [ex for lesson in LESSONS for _, ex in sorted(_load(lesson).items())]
