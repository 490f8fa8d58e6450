"""Lesson 11: what its notebooks cannot check for themselves.

The notebooks' check cells assert what the lesson claims about its logs. Here: what TensorBoard
itself serves for the two runs (through a real server), and the parts of ``tbviz.ddp`` that the
notebooks do not exercise (the ``--logdir`` alias, a failing rank).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.data import server_ingester

from tbviz import board, ddp, events

LESSON = "11_distributed_logging"


def test_run_dir_flag_and_its_older_name():
    assert ddp.parse_args(["--run-dir", "runs/a"]).run_dir == Path("runs/a")
    assert ddp.parse_args(["--logdir", "runs/b"]).run_dir == Path("runs/b")
    with pytest.raises(SystemExit):
        ddp.parse_args([])


def test_command_runs_the_module_with_torchrun():
    cmd = ddp.command("runs/x", "--epochs", "2", nproc=3)
    assert cmd[1:] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=3",
        "-m",
        "tbviz.ddp",
        "--run-dir",
        "runs/x",
        "--epochs",
        "2",
    ]


@pytest.mark.slow
def test_a_failing_rank_raises_with_its_error(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(
        "import torch.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "if dist.get_rank() == 1:\n"
        "    raise ValueError('rank 1 gives up')\n"
        "dist.destroy_process_group()\n"
    )
    with pytest.raises(RuntimeError, match="rank 1 gives up"):
        ddp.launch(tmp_path / "run", script=script, timeout=120)


def served_points(root: Path, tag: str, *extra_args: str) -> dict[str, list[tuple[int, float]]]:
    """{run: [(step, value), ...]} of ``tag`` as a real TensorBoard over ``root`` serves them."""
    started = board.start(root, extra_args=extra_args)
    try:
        served = {}
        for run in ("rank0_writes", "every_rank_writes"):
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            url = f"http://127.0.0.1:{started.port}/data/plugin/scalars/scalars?{query}"
            with urllib.request.urlopen(url, timeout=60) as response:
                served[run] = [(step, value) for _, step, value in json.loads(response.read())]
        return served
    finally:
        if not started.reused:
            board.stop(started.pid)


def fast_loader_available() -> bool:
    try:
        server_ingester.get_server_binary()
    except server_ingester.NoDataServerError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.after_lessons
def test_what_tensorboard_draws_for_the_pitfall_run(lesson_runs, tmp_path):
    """The lesson's reading of the TensorBoard chart. The default (fast) loader takes the second
    rank's file, which starts again at step 10, for a restart and keeps only the points of the
    file read last: one rank's numbers, one point per step. --load_fast=false keeps them all."""
    runs = lesson_runs(LESSON)
    root = tmp_path / LESSON  # a copy: the lesson's own %tensorboard server would be reused
    shutil.copytree(Path(os.environ["TBVIZ_LOGDIR"]) / LESSON, root)
    files = events.event_files(runs["every_rank_writes"])
    assert len(files) == 2
    last_file = EventAccumulator(str(files[-1])).Reload()
    last = [(e.step, pytest.approx(e.value)) for e in last_file.Scalars("batch/accuracy")]
    every_point = [
        (s, pytest.approx(v))
        for s, v in events.scalars(runs["every_rank_writes"], "batch/accuracy")
    ]
    assert len(every_point) == 2 * len(last) >= 20

    default = served_points(root, "batch/accuracy")
    assert default["every_rank_writes"] == (last if fast_loader_available() else every_point)
    assert [s for s, _ in default["rank0_writes"]] == [s for s, _ in last]
    legacy = served_points(root, "batch/accuracy", "--load_fast=false")
    assert legacy["every_rank_writes"] == every_point
