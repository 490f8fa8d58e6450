"""Lesson 11's checkers: a correct attempt, typical wrong ones, and none.

The DDP trainings themselves take minutes, so exercises 1 and 2 get their logs written here as
rank 0 would write them; exercise 2's weights come from a short real training. Exercise 3's
wrong answer with a too-short timeout is a real ``ddp.launch``."""

from __future__ import annotations

import math
import shutil

import pytest
import torch
from exercise_helpers import assert_verdict, verdict, write_scalars
from torch import nn

from tbviz import data, ddp, models, train
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "11_distributed_logging"


# ------------------------------------------------------------------ exercise 1


def straggler_run(root, name, throughput, data_ms, *, steps=(10, 20, 30, 40, 50), fresh=True):
    """A straggler run as rank 0 logs it after all_gather: ``{rank: value}`` per quantity.
    ``fresh``: replace the run (as a new launch into a deleted folder would)."""
    if fresh:
        shutil.rmtree(root / LESSON / name, ignore_errors=True)
    scalars = {}
    for r, value in throughput.items():
        scalars[f"throughput/rank{r}"] = [(s, value * (1 + 0.01 * i)) for i, s in enumerate(steps)]
    for r, value in data_ms.items():
        scalars[f"data_ms/rank{r}"] = [(s, value) for s in steps]
    return write_scalars(root / LESSON / name, scalars)


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "11_distributed_logging/ex1_*")
    straggler_run(attempt_root, "ex1_no_straggler", {0: 7043, 1: 7017}, {0: 0.1, 1: 0.1})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "only one run", "once without")
    # Rank 1 forgot to sleep in the second run: nothing slows down.
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 7001, 1: 6990}, {0: 0.1, 1: 0.12})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "about the same throughput", "sleep 50 ms")
    # The data time measured up to the end of backward(): it holds the wait, on every rank.
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 1035, 1: 1036}, {0: 52.0, 1: 52.3})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "no rank stands out", "up to the forward pass")
    # Throughput timed without the sleep: the ranks disagree.
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 1035, 1: 6900}, {0: 0.1, 1: 50.2})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "the ranks' 'throughput/*' differ", "wall-clock")
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 1035, 1: 1036}, {0: 0.1, 1: 50.2})
    assert_verdict(
        verdict(LESSON, 1),
        CORRECT,
        "the same on every rank",
        "down to 15%",
        "points at rank 1 (rank0 0.1, rank1 50.2)",
    )


def test_ex1_rank0_numbers_only_or_every_rank_writing(attempt_root):
    straggler_run(attempt_root, "ex1_no_straggler", {0: 7043, 1: 7017}, {0: 0.1, 1: 0.1})
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 1035}, {0: 0.1})  # no all_gather
    assert_verdict(verdict(LESSON, 1), INCORRECT, "for ranks [0] only", "dist.all_gather")
    # Every rank opened a writer on the run: two event files.
    straggler_run(attempt_root, "ex1_rank1_slow", {0: 1035, 1: 1036}, {0: 0.1, 1: 50.2})
    straggler_run(
        attempt_root, "ex1_rank1_slow", {0: 1036, 1: 1035}, {0: 50.2, 1: 0.1}, fresh=False
    )
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 event files", "rank 0 only")


def test_ex1_other_tag_names_and_add_scalars(attempt_root):
    """Tags are not prescribed: rank-first names, seconds, add_scalars sub-runs all pass."""
    steps = (10, 20, 30)
    write_scalars(
        attempt_root / LESSON / "ex1_even",
        {f"rank{r}/images_per_sec": [(s, 7000.0 + r) for s in steps] for r in range(2)}
        | {f"rank{r}/load_s": [(s, 0.0001) for s in steps] for r in range(2)},
    )
    for key, value in (("throughput", [1030.0, 1031.0]), ("data_wait_s", [0.0001, 0.05])):
        for r in range(2):  # what writer.add_scalars(key, {"rank0": ..., "rank1": ...}) writes
            write_scalars(
                attempt_root / LESSON / "ex1_slow" / f"{key}_rank{r}",
                {key: [(s, value[r]) for s in steps]},
            )
    assert_verdict(verdict(LESSON, 1), CORRECT, "points at rank 1")
    write_scalars(attempt_root / LESSON / "ex1_nan", {"throughput/rank0": [(10, math.nan)]})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "NaN")


def test_ex1_underscore_rank_names(attempt_root):
    """Words followed by "_" (per_sec_rank_0) are words: names from the review pass."""
    steps = (10, 20, 30)
    for name, (throughput, wait) in {
        "ex1_even": ((7000.0, 7001.0), (0.1, 0.1)),
        "ex1_slow": ((1030.0, 1031.0), (0.1, 50.0)),
    }.items():
        write_scalars(
            attempt_root / LESSON / name,
            {f"imgs_per_sec_rank_{r}": [(s, throughput[r]) for s in steps] for r in range(2)}
            | {f"batch_wait_ms_rank_{r}": [(s, wait[r]) for s in steps] for r in range(2)},
        )
    assert_verdict(verdict(LESSON, 1), CORRECT, "(imgs_per_sec_*)", "points at rank 1")
    shutil.rmtree(attempt_root / LESSON / "ex1_slow")
    write_scalars(
        attempt_root / LESSON / "ex1_slow",
        {f"images_per_second_rank{r}": [(s, 1030.0) for s in steps] for r in range(2)}
        | {f"data_ms_rank{r}": [(s, 0.1 + 50 * r) for s in steps] for r in range(2)},
    )
    assert_verdict(verdict(LESSON, 1), CORRECT, "(images_per_second_*)")


def test_ex1_unrecognised_rank_names(attempt_root):
    """Per-rank scalars whose role the names do not tell: the message lists them and says how
    to name them."""
    steps = (10, 20, 30)
    for name in ("ex1_even", "ex1_slow"):
        write_scalars(
            attempt_root / LESSON / name,
            {f"{key}/rank{r}": [(s, 1.0) for s in steps] for key in ("a", "b") for r in range(2)},
        )
    assert_verdict(
        verdict(LESSON, 1),
        INCORRECT,
        "ex1_even: a/rank<r> (not recognised)",
        "throughput/rank<r>",
        "data_ms/rank<r>",
    )
    shutil.rmtree(attempt_root / LESSON / "ex1_slow")
    straggler_run(attempt_root, "ex1_even", {0: 7043, 1: 7017}, {0: 0.1, 1: 0.1})
    write_scalars(
        attempt_root / LESSON / "ex1_slow",
        {f"imgs/rank{r}": [(s, 1030.0) for s in steps] for r in range(2)}
        | {f"data_ms/rank{r}": [(s, 0.1 + 50 * r) for s in steps] for r in range(2)},
    )
    assert_verdict(
        verdict(LESSON, 1),
        INCORRECT,
        "only one run",
        "ex1_slow: data_ms/rank<r> (data time)",
        "ex1_slow: imgs/rank<r> (not recognised)",
        "throughput/rank<r>",
    )


def test_ex1_unrelated_scalars(attempt_root):
    write_scalars(attempt_root / LESSON / "ex1_try", {"batch/loss": [(10, 1.0)]})
    assert_verdict(verdict(LESSON, 1), INCORRECT, "throughput/rank0", "batch/loss")


# ------------------------------------------------------------------ exercise 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A FastNet(width=8) trained briefly (one process), its model.pt and its val accuracy."""
    torch.manual_seed(0)
    train_split, val_split, _ = data.load_splits()
    net = models.FastNet(width=8)
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.01)
    for x, y in data.batches(train_split.images[:6400], train_split.labels[:6400], 64):
        loss = nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("model") / ddp.MODEL_FILE
    torch.save(net.state_dict(), path)
    return path, train.evaluate(net, val_split)[1]


def ddp_run(root, name, *, nproc, val_acc, model=None):
    """What the lesson's script (default options) makes rank 0 write with ``nproc`` ranks."""
    steps_per_epoch = math.ceil(20_000 // nproc / 64)
    logged = range(10, steps_per_epoch + 1, 10)
    run = write_scalars(
        root / LESSON / name,
        {
            "batch/loss": [(s, 1.0 - s / 500) for s in logged],
            "batch/accuracy": [(s, 0.5 + s / 500) for s in logged],
            "Loss/train": [(steps_per_epoch, 0.6)],
            "Accuracy/train": [(steps_per_epoch, 0.78)],
            "Loss/val": [(steps_per_epoch, 0.4)],
            "Accuracy/val": [(steps_per_epoch, val_acc)],
        },
    )
    if model is not None:
        shutil.copy(model, run / ddp.MODEL_FILE)
    return run


def test_ex2(attempt_root, trained):
    model, acc = trained
    assert acc > 0.7, acc
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "nproc=3")
    run = ddp_run(attempt_root, "ex2_three_ranks", nproc=2, val_acc=acc, model=model)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "at step 157", "2 processes", "105 steps")
    shutil.rmtree(run)
    ddp_run(attempt_root, "ex2_three_ranks", nproc=3, val_acc=acc)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no model.pt")
    shutil.rmtree(run)
    ddp_run(attempt_root, "ex2_three_ranks", nproc=3, val_acc=acc - 0.01, model=model)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "same launch")
    shutil.rmtree(run)
    ddp_run(attempt_root, "ex2_three_ranks", nproc=3, val_acc=acc, model=model)
    assert_verdict(verdict(LESSON, 2), CORRECT, "step 105", "157 with 2", f"accuracy {acc:.2%}")
    ddp_run(attempt_root, "ex2_three_ranks", nproc=3, val_acc=acc)  # launched again, same folder
    assert_verdict(verdict(LESSON, 2), INCORRECT, "2 event files", "launched twice")


def test_ex2_not_the_lesson_script(attempt_root):
    write_scalars(attempt_root / LESSON / "ex2_mine", {"loss": [(1, 1.0)]})
    assert_verdict(verdict(LESSON, 2), INCORRECT, "'Accuracy/val'", "without script=")


# ------------------------------------------------------------------ exercise 3


def launch_error(timeout):
    """What ddp.launch raises when its run hangs past ``timeout`` seconds."""
    return TimeoutError(
        f"torchrun did not finish in {timeout:g} s and was stopped, with its ranks.\n"
        + ddp.HANG_HINT
    )


def test_ex3(attempt_root):
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "checked from your answer", "ex3.check(err)")
    assert_verdict(verdict(LESSON, 3, None), INCORRECT, "return normally")
    failed = RuntimeError("torchrun exited with code 1:\nValueError: rank 1 gives up")
    assert_verdict(verdict(LESSON, 3, failed), INCORRECT, "failed instead of hanging")
    assert_verdict(verdict(LESSON, 3, str(failed)), INCORRECT, "failed, not one that hung")
    assert_verdict(verdict(LESSON, 3, "rank 1 finished\nrank 0 finished"), INCORRECT, "not hang")
    assert_verdict(verdict(LESSON, 3, 42), INCORRECT, "neither an exception nor a message")
    assert_verdict(verdict(LESSON, 3, launch_error(15)), CORRECT, "15 s timeout", "all_reduce")
    assert_verdict(verdict(LESSON, 3), CORRECT, "15 s timeout")  # the kept verdict
    assert_verdict(verdict(LESSON, 3, str(launch_error(20))), CORRECT, "20 s timeout")


def test_ex3_timeout_too_short_to_show_a_hang(attempt_root, tmp_path):
    script = tmp_path / "finishes.py"  # would finish, but not within 1 s of torchrun's start
    script.write_text("import time\ntime.sleep(30)\n")
    with pytest.raises(TimeoutError) as caught:
        ddp.launch(tmp_path / "run", script=script, timeout=1)
    assert_verdict(verdict(LESSON, 3, caught.value), INCORRECT, "timeout was 1 s", "timeout=15")
