"""Lesson 00's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from exercise_helpers import assert_verdict, verdict, write_scalars
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboardX import SummaryWriter as XSummaryWriter
from torch.utils.tensorboard import SummaryWriter

from tbviz import board, logs
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "00_setup_and_first_run"


def test_ex1(attempt_root, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()  # not tmp_path, whose runs/ is the log root
    monkeypatch.chdir(tmp_path / "work")  # SummaryWriter() writes runs/<date>_<host> here
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "ex1.check(no_folder.log_dir")
    no_folder = SummaryWriter(comment="_bs=64")
    chosen = SummaryWriter(tmp_path / "chosen", comment="_bs=64")
    for writer in (no_folder, chosen):
        writer.close()
    assert_verdict(verdict(LESSON, 1, no_folder.log_dir, chosen.log_dir), INCORRECT, "still exists")
    assert_verdict(
        verdict(LESSON, 1, chosen.log_dir, no_folder.log_dir), INCORRECT, "are the two swapped?"
    )
    twice = SummaryWriter(comment="_again")  # a second writer without a folder
    twice.close()
    assert_verdict(
        verdict(LESSON, 1, no_folder.log_dir, twice.log_dir), INCORRECT, "a folder of your choice"
    )
    shutil.rmtree(no_folder.log_dir)
    shutil.rmtree(twice.log_dir)
    shutil.rmtree(chosen.log_dir)
    assert_verdict(
        verdict(LESSON, 1, no_folder.log_dir, chosen.log_dir), INCORRECT, "left behind, empty"
    )
    Path("runs").rmdir()
    result = verdict(LESSON, 1, no_folder, chosen)  # the writers themselves are fine too
    assert_verdict(result, CORRECT, "_bs=64", "comment ignored", "both folders are deleted")
    # The verdict is kept: check() without the answer (and the report) shows it.
    kept = verdict(LESSON, 1)  # kept for the report (its message may say that it was kept)
    assert kept.verdict == result.verdict and kept.message.endswith(result.message)


def test_ex1_comment_and_odd_answers(attempt_root, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    plain = SummaryWriter()  # no comment
    plain.close()
    shutil.rmtree(plain.log_dir)
    assert_verdict(verdict(LESSON, 1, plain.log_dir, tmp_path / "mine"), INCORRECT, "_<host>_bs=64")
    assert_verdict(verdict(LESSON, 1, 3, tmp_path / "mine"), INCORRECT, "not int 3")


def four_writers(*, sleep: float = 0.0) -> dict[str, bool]:
    """The exercise done right: one scalar into four open writers; what is readable after
    ``sleep`` seconds, then closed."""
    lesson_dir = logs.lesson_dir(LESSON)
    opened = {
        "ex2_torch_default": SummaryWriter(lesson_dir / "ex2_torch_default"),
        "ex2_torch_logs": logs.writer(LESSON, "ex2_torch_logs"),
        "ex2_x_default": XSummaryWriter(str(lesson_dir / "ex2_x_default")),
        "ex2_x_logs": logs.writer(LESSON, "ex2_x_logs", writer_cls=XSummaryWriter),
    }
    for writer in opened.values():
        writer.add_scalar("live", 1.0, 0)
    time.sleep(sleep)
    seen = {
        name: "live" in EventAccumulator(str(lesson_dir / name)).Reload().Tags()["scalars"]
        for name in opened
    }
    for writer in opened.values():
        writer.close()
    return seen


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2.check(seen)")
    assert_verdict(verdict(LESSON, 2, {}), NOT_ATTEMPTED, "00_setup_and_first_run/ex2_*")
    seen = four_writers(sleep=3)  # really wait: the check's expectations must match reality
    assert seen == {
        "ex2_torch_default": True,  # no TensorFlow in the course's test environment
        "ex2_torch_logs": True,
        "ex2_x_default": False,
        "ex2_x_logs": True,
    }
    assert_verdict(verdict(LESSON, 2, seen), CORRECT, "['ex2_x_default'] not", "without TensorFlow")
    after_close = dict.fromkeys(seen, True)  # read after close(): everything is there
    assert_verdict(
        verdict(LESSON, 2, after_close), INCORRECT, "ex2_x_default was readable", "close()"
    )
    too_early = {**seen, "ex2_torch_logs": False}
    assert_verdict(verdict(LESSON, 2, too_early), INCORRECT, "flushes every 2 s")
    assert_verdict(verdict(LESSON, 2, {"ex2_x_logs": True}), INCORRECT, "says nothing about")
    assert_verdict(verdict(LESSON, 2, list(seen)), INCORRECT, "pass a dict")
    paths = {str(logs.run_dir(LESSON, name)): saw for name, saw in seen.items()}
    assert verdict(LESSON, 2, paths).verdict == CORRECT  # keyed by paths works too


def test_ex2_writers_told_apart(attempt_root):
    lesson_dir = logs.lesson_dir(LESSON)
    for name in ("ex2_torch_default", "ex2_torch_logs", "ex2_x_default", "ex2_x_logs"):
        write_scalars(lesson_dir / name, {"live": [(0, 1.0)]})  # all four by PyTorch's writer
    seen = dict.fromkeys(("ex2_torch_default", "ex2_torch_logs", "ex2_x_logs"), True)
    result = verdict(LESSON, 2, {**seen, "ex2_x_default": False})
    assert_verdict(result, INCORRECT, "4 of the runs", "writer_cls=XSummaryWriter")
    shutil.rmtree(lesson_dir / "ex2_x_logs")
    assert_verdict(verdict(LESSON, 2, seen), INCORRECT, "four expected")


def fit_run(run: str, batch_steps, epoch_steps, accuracy=(0.82, 0.85)) -> None:
    """What train.fit logs, at the given steps (a hand-written stand-in for a training)."""
    logs.writer(LESSON, run).close()  # start the run afresh
    write_scalars(
        logs.run_dir(LESSON, run),
        {
            "batch/loss": [(s, 1.0 / s) for s in batch_steps],
            "Loss/val": [(s, 0.4) for s in epoch_steps],
            "Accuracy/val": list(zip(epoch_steps, accuracy, strict=False)),
        },
    )


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "00_setup_and_first_run/ex3_*")
    fit_run("ex3_small", range(25, 430, 25), [215, 430])  # the whole training split
    assert_verdict(verdict(LESSON, 3), INCORRECT, "an epoch is 215 steps", "train_size=10_000")
    fit_run("ex3_small", [25, 50, 75], [40])
    assert_verdict(verdict(LESSON, 3), INCORRECT, "1 point(s), one per epoch")
    fit_run("ex3_small", range(10, 81, 10), [40, 80])  # lesson's log_every=10
    assert_verdict(verdict(LESSON, 3), INCORRECT, "log_every=25")
    fit_run("ex3_small", [25, 50, 75], [40, 80], accuracy=(0.1, float("nan")))
    assert_verdict(verdict(LESSON, 3), INCORRECT, "NaN or infinite")
    fit_run("ex3_small", [25, 50, 75], [40, 80])
    assert_verdict(verdict(LESSON, 3), CORRECT, "at steps [25, 50, 75]", "[40, 80]", "85.0%")


def test_ex3_hints_nudge_first(capsys):
    """The first hint asks the question; only the last one gives the steps."""
    from tbviz import exercises

    ex3 = exercises.for_lesson(LESSON)[2]
    ex3.hint()
    first = capsys.readouterr().out
    assert "batches of 256" in first and "10,000" in first
    assert "40" not in first and "80" not in first
    ex3.hint(len(ex3.hints))
    assert "40 and 80" in capsys.readouterr().out


@pytest.fixture
def hello(attempt_root):
    """The lesson's hello run, and the servers a test starts, killed by pid afterwards."""
    run = logs.run_dir(LESSON, "hello")
    write_scalars(
        run, {"hello/sine": [(s, 0.1 * s) for s in range(5)], "hello/step_squared": [(0, 0.0)]}
    )
    servers: list[board.Board] = []
    yield run, servers
    for server in servers:
        if board._alive(server.pid):
            os.kill(server.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(server.pid, 0)
    board.clean_stale()


def test_ex4(hello):
    run, servers = hello
    assert_verdict(verdict(LESSON, 4), NOT_ATTEMPTED, "ex4.check(server, runs, tags)")
    server = board.start(run)
    servers.append(server)

    def ask(path):
        with urllib.request.urlopen(f"{server.url}{path}", timeout=10) as response:
            return json.loads(response.read())

    for _ in range(60):
        runs = ask("data/runs")
        if runs:
            break
        time.sleep(0.5)
    tags = ask("data/plugin/scalars/tags")
    assert_verdict(verdict(LESSON, 4, server, runs, tags), INCORRECT, "still answers")
    assert board.stop(server)
    assert_verdict(verdict(LESSON, 4, server), INCORRECT, "pass what the server answered")
    lesson_wide = ["first_training", "hello", "tensorboardX"]  # started on the lesson's folder
    assert_verdict(verdict(LESSON, 4, server, lesson_wide, tags), INCORRECT, "own folder")
    assert_verdict(verdict(LESSON, 4, server, runs, ["hello/sine"]), INCORRECT, "scalar tags")
    result = verdict(LESSON, 4, server.port, runs, tags)
    assert_verdict(result, CORRECT, "'hello/sine', 'hello/step_squared'", "no longer answers")
    kept = verdict(LESSON, 4)  # kept for the report (its message may say that it was kept)
    assert kept.verdict == result.verdict and kept.message.endswith(result.message)
