"""``python -m tbviz.exercises report``: every exercise's verdict, for one learner or a class.

* One learner: ``report`` (the course's log root, ``$TBVIZ_LOGDIR``) or ``report --logdir DIR``
  prints one line per exercise with exactly one of *correct*, *incorrect*, *not attempted*.
* A classroom: ``report --logdir CLASS`` where ``CLASS/<student>/<lesson>/...`` holds each
  learner's log root prints a table of students by exercises; ``--csv FILE`` writes it.
* ``--solutions`` reports on the solutions notebooks' runs (``<lesson>_solutions``) instead.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from tbviz import exercises, paths
from tbviz.exercises import (
    CORRECT,
    INCORRECT,
    LESSONS,
    NOT_ATTEMPTED,
    SOLUTIONS_SUFFIX,
    Exercise,
    Result,
)

MARKS = {CORRECT: "✓", INCORRECT: "✗", NOT_ATTEMPTED: "·"}


def exercise_id(ex: Exercise) -> str:
    """``02.1`` for lesson 02's exercise 1."""
    return f"{ex.lesson[:2]}.{ex.number}"


def is_learner_root(folder: Path) -> bool:
    """A log root of one learner: it holds a lesson's folder (or its solutions')."""
    return any(
        (folder / lesson).is_dir() or (folder / f"{lesson}{SOLUTIONS_SUFFIX}").is_dir()
        for lesson in LESSONS
    )


def verdicts(root: Path, solutions: bool = False) -> list[tuple[Exercise, Result]]:
    """Every exercise of the course with its verdict for the learner whose log root is ``root``."""
    suffix = SOLUTIONS_SUFFIX if solutions else ""
    out = []
    for ex in exercises.all_exercises():
        out.append((ex, ex.result(lesson_dir=root / f"{ex.lesson}{suffix}")))
    return out


def students(root: Path) -> list[Path]:
    """The learners of a classroom folder: its sub-folders that are a learner's log root."""
    return [p for p in sorted(root.iterdir()) if p.is_dir() and is_learner_root(p)]


def report_learner(root: Path, solutions: bool, out=sys.stdout) -> dict[str, int]:
    counts = dict.fromkeys((CORRECT, INCORRECT, NOT_ATTEMPTED), 0)
    width = max(len(verdict) for verdict in counts)
    for ex, result in verdicts(root, solutions):
        counts[result.verdict] += 1
        print(
            f"{exercise_id(ex):>5}  {result.verdict:<{width}}  {ex.title}: {result.message}",
            file=out,
        )
    total = sum(counts.values())
    print(
        f"{counts[CORRECT]} of {total} correct, {counts[INCORRECT]} incorrect, "
        f"{counts[NOT_ATTEMPTED]} not attempted (log root {root})",
        file=out,
    )
    return counts


def class_table(root: Path, solutions: bool) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per student: name, then each exercise's verdict)."""
    header = ["student"] + [exercise_id(ex) for ex in exercises.all_exercises()]
    rows = []
    for student in students(root):
        rows.append([student.name] + [r.verdict for _, r in verdicts(student, solutions)])
    return header, rows


def report_class(root: Path, solutions: bool, csv_path: Path | None, out=sys.stdout) -> None:
    header, rows = class_table(root, solutions)
    name_width = max(len("student"), *(len(row[0]) for row in rows))
    lessons = []  # one column group per lesson: "02: ✓✓✗·"
    for ex_id in header[1:]:
        if not lessons or lessons[-1][0] != ex_id[:2]:
            lessons.append((ex_id[:2], 0))
        lessons[-1] = (lessons[-1][0], lessons[-1][1] + 1)
    print(
        f"{'student':<{name_width}}  "
        + " ".join(f"{lesson:<{n}}" for lesson, n in lessons)
        + "  correct",
        file=out,
    )
    for row in rows:
        marks, i = [], 1
        for _, n in lessons:
            marks.append("".join(MARKS[v] for v in row[i : i + n]))
            i += n
        correct = sum(v == CORRECT for v in row[1:])
        print(
            f"{row[0]:<{name_width}}  " + " ".join(marks) + f"  {correct}/{len(row) - 1}", file=out
        )
    print(
        "   ".join(f"{MARKS[v]} {v}" for v in (CORRECT, INCORRECT, NOT_ATTEMPTED)),
        file=out,
    )
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header, *rows])
        print(f"wrote {csv_path}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tbviz.exercises",
        description="Check every exercise of the course from the logs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="every exercise's verdict, for a learner or a class")
    rep.add_argument(
        "--logdir",
        type=Path,
        default=None,
        help="a learner's log root, or a classroom folder of them (default: $TBVIZ_LOGDIR, "
        "else the course's runs/)",
    )
    rep.add_argument("--csv", type=Path, default=None, help="classroom: also write the table here")
    rep.add_argument(
        "--solutions", action="store_true", help="report on the solutions notebooks' runs"
    )
    args = parser.parse_args(argv)
    root = (args.logdir or paths.logs_root()).expanduser()
    if args.logdir is not None and not root.is_dir():
        parser.error(f"--logdir {root} is not a folder")
    if not root.is_dir() or is_learner_root(root) or not students(root):
        if args.csv is not None:
            parser.error(
                f"{root} is one learner's log root; --csv is for a classroom folder "
                "(<folder>/<student>/<lesson>/...)"
            )
        report_learner(root, args.solutions)
    else:
        report_class(root, args.solutions, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
