"""The checkers' framework and the progress report: verdicts, hints, kept answers, odd input,
and ``python -m tbviz.exercises report`` for a learner and for a classroom."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from exercise_helpers import assert_verdict, verdict, write_scalars

from tbviz import exercises, logs
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED
from tbviz.exercises import __main__ as report

LESSON = "02_scalars"


def gradient_run(run: str, lesson: str = LESSON, *, writer_cls=None, steps: int = 500) -> Path:
    """Lesson 02's exercise 1 done right: x, f and f'(x) of SGD on (x - 1)^2, lr = 0.01."""
    x = torch.tensor(5.0, requires_grad=True)
    opt = torch.optim.SGD([x], lr=0.01)
    with logs.writer(lesson, run, writer_cls=writer_cls) as writer:
        for step in range(steps):
            f = (x - 1) ** 2
            opt.zero_grad()
            f.backward()
            writer.add_scalar("quadratic/x", x.item(), step)
            writer.add_scalar("quadratic/grad", x.grad.item(), step)
            opt.step()
    return logs.run_dir(lesson, run)


def test_every_lesson_has_checkers_for_its_exercises():
    """As many checkers as the lesson notebook has exercises, numbered 1..n, each with hints."""
    import json

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for lesson in exercises.LESSONS:
        nb = json.loads((notebooks / f"{lesson}.ipynb").read_text(encoding="utf-8"))
        headings = [
            line
            for cell in nb["cells"]
            if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines()
            if line.startswith("### Exercise ")
        ]
        checks = exercises.for_lesson(lesson)
        assert [ex.number for ex in checks] == list(range(1, len(headings) + 1)), lesson
        for ex, heading in zip(checks, headings, strict=True):
            assert heading.startswith(f"### Exercise {ex.number}:"), (lesson, heading)
            assert len(ex.hints) >= 2 and ex.solution_text, ex.label
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        for ex in checks:  # a check cell right in the lesson
            assert f"ex{ex.number}.check(" in code, (lesson, ex.number)


def test_verdict_words_and_printing(attempt_root, capsys):
    ex1 = exercises.for_lesson(LESSON)[0]
    ex1.check()
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1 (log the gradient) · Not attempted: no run 02_scalars/ex1_*")
    gradient_run("ex1_mine")
    result = ex1.result()
    assert result and result.verdict == CORRECT and "all 500 steps" in result.message


def test_hints_come_one_after_another(capsys):
    ex1 = exercises.for_lesson(LESSON)[0]
    ex1.hint()
    ex1.hint()
    ex1.hint()  # no third hint: the last one again
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Hint 1 of 2 (call hint() again for the next): ")
    assert out[1].startswith("Hint 2 of 2: ") and out[2] == out[1]
    with pytest.raises(ValueError, match="hints 1 to 2, not 5"):
        ex1.hint(5)
    ex1.solution()
    assert "solutions/02_scalars_solutions.ipynb, 'Exercise 1'" in capsys.readouterr().out


def test_solutions_folder_uses_the_lessons_checkers(attempt_root):
    gradient_run("ex1_a", lesson="02_scalars_solutions")
    assert verdict("02_scalars_solutions", 1).verdict == CORRECT
    assert verdict(LESSON, 1).verdict == NOT_ATTEMPTED  # the lesson's own folder is apart
    with pytest.raises(ValueError, match="not a lesson of this course"):
        exercises.for_lesson("99_nothing")


def test_exercise_runs_are_told_apart_by_number(attempt_root):
    gradient_run("ex12_other")  # not exercise 1's
    gradient_run("example")
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "02_scalars/ex1_*")
    gradient_run("ex1")  # exactly exN counts
    assert verdict(LESSON, 1).verdict == CORRECT


# ------------------------------------------------------------------------------ odd input


def test_empty_run_folder(attempt_root):
    (attempt_root / LESSON / "ex1_empty").mkdir(parents=True)
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "with TensorBoard logs")


def test_nan_values_are_named(attempt_root):
    write_scalars(
        attempt_root / LESSON / "ex1_nan",
        {"quadratic/x": [(0, 5.0), (1, math.nan)], "quadratic/grad": [(0, 8.0), (1, math.nan)]},
    )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "NaN or infinite at steps [1]")


def test_another_lessons_run(attempt_root):
    write_scalars(attempt_root / LESSON / "ex1_copied", {"Loss/train": [(100, 0.5)]})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "'quadratic/grad'", "Loss/train")


def test_run_written_twice(attempt_root):
    run = gradient_run("ex1_twice")
    write_scalars(run, {"quadratic/grad": [(0, 8.0)], "quadratic/x": [(0, 5.0)]})  # a 2nd file
    assert_verdict(verdict(LESSON, 1), INCORRECT, "some steps twice (2 event files)")


def test_deleted_event_file(attempt_root):
    run = gradient_run("ex1_gone")
    for file in run.iterdir():
        file.unlink()
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "02_scalars/ex1_*")


def test_tensorboardx_logs(attempt_root):
    from tensorboardX import SummaryWriter as XWriter

    gradient_run("ex1_tbx", writer_cls=XWriter)
    assert verdict(LESSON, 1).verdict == CORRECT


def test_unreadable_event_file_is_a_verdict_not_a_crash(attempt_root):
    run = attempt_root / LESSON / "ex1_garbage"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.0.host").write_bytes(b"\x00\x01not an event file" * 10)
    result = verdict(LESSON, 1)
    assert result.verdict in {INCORRECT, NOT_ATTEMPTED}, result


def test_checks_that_take_an_answer_keep_their_verdict(attempt_root):
    calls = []

    def checker(attempt, value):
        calls.append(value)
        if value != 42:
            raise exercises.Incorrect(f"{value} is not the answer")
        return "42 it is"

    ex = exercises.Exercise(
        LESSON, 9, "a test exercise", checker, ("h1", "h2"), "s", answer="ex9.check(value)"
    )
    ex = ex.bound(attempt_root / LESSON)
    assert_verdict(ex.result(), NOT_ATTEMPTED, "ex9.check(value)")
    assert_verdict(ex.result(41), INCORRECT, "41 is not the answer")
    assert_verdict(ex.result(), INCORRECT, "41 is not the answer")  # kept, not re-run
    assert_verdict(ex.result(value=42), CORRECT, "42 it is")
    assert_verdict(ex.result(), CORRECT, "42 it is")
    assert calls == [41, 42]
    assert (attempt_root / LESSON / ".checks" / "ex9.json").is_file()
    # a call the check does not take: how to call it, and the kept verdict stays
    assert_verdict(ex.result(1, 2), INCORRECT, "called as ex9.check(value)")
    assert_verdict(ex.result(), CORRECT, "42 it is")
    assert calls == [41, 42]


# ------------------------------------------------------------------------------ the report


def run_report(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tbviz.exercises", "report", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def verdict_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line[:5].strip().count(".") == 1]


def test_report_on_an_empty_root_says_not_attempted_everywhere(tmp_path):
    done = run_report(env={"TBVIZ_LOGDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = verdict_lines(done.stdout)
    assert len(lines) == len(exercises.all_exercises()) >= 30
    for line in lines:
        words = [v for v in (CORRECT, INCORRECT, NOT_ATTEMPTED) if f"  {v}  " in line]
        assert words == [NOT_ATTEMPTED], line
    assert f"0 of {len(lines)} correct, 0 incorrect, {len(lines)} not attempted" in done.stdout


def test_report_for_one_learner(attempt_root):
    gradient_run("ex1_ok")
    write_scalars(attempt_root / LESSON / "ex4_wrong", {"Accuracy/train_eval": [(1, 0.9)]})
    lines = {line.split()[0]: line for line in verdict_lines(report_learner(attempt_root))}
    assert f"  {CORRECT}  " in lines["02.1"] and f"  {INCORRECT}  " in lines["02.4"]
    assert f"  {NOT_ATTEMPTED}  " in lines["02.2"]


def report_learner(root: Path, solutions: bool = False) -> str:
    import io

    out = io.StringIO()
    report.report_learner(root, solutions, out=out)
    return out.getvalue()


def test_report_for_a_classroom_with_csv(tmp_path, monkeypatch):
    classroom = tmp_path / "class"
    for student, runs in {"ada": ["ex1_a"], "bob": [], "cy": ["ex1_b"]}.items():
        monkeypatch.setenv("TBVIZ_LOGDIR", str(classroom / student))
        (classroom / student / LESSON).mkdir(parents=True)
        for run in runs:
            gradient_run(run, steps=500 if student == "ada" else 10)
    (classroom / "notes").mkdir()  # not a learner: skipped
    table = tmp_path / "class.csv"
    done = run_report("--logdir", str(classroom), "--csv", str(table))
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert set(rows) >= {"student", "ada", "bob", "cy"} and "notes" not in rows
    with table.open(encoding="utf-8") as f:
        header, *body = list(csv.reader(f))
    assert header[0] == "student" and "02.1" in header and len(header) > 30
    by_student = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert [by_student[s]["02.1"] for s in ("ada", "bob", "cy")] == [
        CORRECT,
        NOT_ATTEMPTED,
        INCORRECT,  # 10 steps: the last gradient is nowhere near 0
    ]
    assert by_student["ada"]["02.2"] == NOT_ATTEMPTED
    assert rows["ada"].endswith(f"1/{len(header) - 1}")


def test_report_refuses_what_it_cannot_do(tmp_path):
    done = run_report("--logdir", str(tmp_path / "missing"))
    assert done.returncode == 2 and "is not a folder" in done.stderr
    (tmp_path / LESSON).mkdir()
    done = run_report("--logdir", str(tmp_path), "--csv", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "--csv is for a classroom folder" in done.stderr
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.after_lessons
def test_report_after_the_notebooks_ran():
    """Over the logs of this test run: the lessons leave every exercise to the learner (not
    attempted), and the solutions notebooks solve every one (correct)."""
    root = Path(os.environ["TBVIZ_LOGDIR"])
    assert (root / LESSON).is_dir(), f"no lesson logs in {root}: run the notebooks first"
    total = len(exercises.all_exercises())
    lessons = run_report("--logdir", str(root))
    assert f"0 of {total} correct, 0 incorrect, {total} not attempted" in lessons.stdout
    solutions = run_report("--logdir", str(root), "--solutions")
    wrong = [line for line in verdict_lines(solutions.stdout) if f"  {CORRECT}  " not in line]
    assert not wrong, "\n".join(wrong)
    assert f"{total} of {total} correct" in solutions.stdout
