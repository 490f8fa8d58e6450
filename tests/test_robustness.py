"""Mistakes learners make once: NaN losses, Ctrl-C mid-epoch, foreign checkpoints, two runs at
the same time. Each must end in a clear message or a correct result, and lose nothing."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from tbviz import data, events, logs, models, train

CLI = [sys.executable, "-m", "tbviz.train", "--no-progress"]


def small_splits(n: int = 1024):
    tr, val, _ = data.load_splits()
    return (
        data.Split(tr.images[:n], tr.labels[:n]),
        data.Split(val.images[:256], val.labels[:256]),
    )


def test_nonfinite_loss_stops_training_with_a_clear_message(tmp_path):
    tr, val = small_splits()
    cfg = train.Config(epochs=1, width=4, batch_size=128, log_every=1)
    # one corrupted image, placed where fit's seeded shuffle puts it: in the third batch
    order = torch.randperm(len(tr), generator=torch.Generator().manual_seed(cfg.seed))
    bad = tr.images.clone()
    bad[order[2 * 128 + 5]] = float("nan")
    run = tmp_path / "nan"
    with logs.writer_at(run) as writer, pytest.raises(train.TrainingDiverged) as err:
        train.fit(
            cfg.build_model(), data.Split(bad, tr.labels), val, cfg, writer=writer, verbose=False
        )
    message = str(err.value)
    assert "the loss became nan at step 3 (epoch 1)" in message
    assert "Lower the learning rate" in message and "check the inputs for NaN" in message
    assert [s for s, _ in events.scalars(run, "batch/loss")] == [1, 2]  # kept what was logged


@pytest.mark.slow
def test_cli_reports_divergence_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [
            *CLI,
            "--lr",
            "1e6",
            "--optimizer",
            "sgd",
            "--epochs",
            "1",
            "--train-size",
            "2048",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: the loss became")
    assert "Traceback" not in proc.stderr
    assert events.event_files(tmp_path / "run"), "what was logged before divergence is kept"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_interrupt_then_resume_continues_the_curves(tmp_path):
    """Ctrl-C mid-epoch: a readable log and the last finished epoch's checkpoint; --resume
    continues at the right steps, and the half-finished epoch's points are purged."""
    logdir = tmp_path / "run"
    args = [
        "--epochs",
        "3",
        "--train-size",
        "12800",
        "--batch-size",
        "128",
        "--width",
        "4",
        "--run-dir",
        str(logdir),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        wait_for(
            lambda: (logdir / train.CHECKPOINT).exists() or proc.poll() is not None,
            240,
            "the first epoch's checkpoint",
        )
        steps_per_epoch = 12800 // 128
        # let part of epoch 2 be logged, then press "stop"
        wait_for(
            lambda: (
                any(s > steps_per_epoch + 50 for s, _ in _safe_scalars(logdir, "batch/loss"))
                or proc.poll() is not None
            ),
            240,
            "epoch 2 to get going",
        )
        assert proc.poll() is None, "training finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"resume with: python -m tbviz.train --run-dir {logdir} --resume" in err
    assert "Traceback" not in err
    saved = torch.load(logdir / train.CHECKPOINT, weights_only=True)
    assert saved["epoch"] == 1 and saved["step"] == steps_per_epoch
    interrupted = [s for s, _ in events.scalars(logdir, "batch/loss")]
    assert max(interrupted) > steps_per_epoch + 50  # the half epoch was logged and flushed

    resumed = subprocess.run(
        [*CLI, "--run-dir", str(logdir), "--resume"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["epochs"] == 3 and result["test_accuracy"] > 0.75
    steps = [s for s, _ in events.scalars(logdir, "batch/loss")]
    assert steps == list(range(50, 3 * steps_per_epoch + 1, 50)), "duplicate or missing steps"
    assert [s for s, _ in events.scalars(logdir, "Loss/train")] == [
        steps_per_epoch,
        2 * steps_per_epoch,
        3 * steps_per_epoch,
    ]


def _safe_scalars(logdir: Path, tag: str):
    try:
        return events.scalars(logdir, tag)
    except (FileNotFoundError, KeyError):
        return []


@pytest.mark.slow
def test_resume_without_a_checkpoint_says_so(tmp_path):
    proc = subprocess.run(
        [*CLI, "--run-dir", str(tmp_path), "--resume"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert f"nothing to resume: {tmp_path / train.CHECKPOINT} does not exist" in proc.stderr


@pytest.mark.slow
def test_resume_refuses_flags_that_change_the_saved_run(tmp_path):
    """--resume --lr 0.1 must not train on silently with the saved lr: it says which flags
    conflict, and leaves the run as it was."""
    cfg = train.Config(epochs=3, width=4, lr=0.02, batch_size=128)
    net = cfg.build_model()
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    path = tmp_path / train.CHECKPOINT
    train.save_checkpoint(path, net, optimizer, scheduler, 1, 10, cfg)
    before = path.read_bytes()
    proc = subprocess.run(
        [
            *CLI,
            "--run-dir",
            str(tmp_path),
            "--resume",
            "--lr",
            "0.1",
            "--epochs",
            "5",
            "--batch-size",
            "128",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot change --epochs 5 (the run has 3), --lr 0.1 (the run has 0.02)" in proc.stderr
    assert "batch-size" not in proc.stderr  # the same as the saved value: no conflict
    assert path.read_bytes() == before
    assert not events.event_files(tmp_path)


@pytest.mark.slow
def test_resume_names_a_default_valued_flag_too(tmp_path):
    """--epochs 4 equals the CLI's default; it must still count as given: a 1-epoch run
    resumed with --epochs 4 is refused for that flag, not "already finished"."""
    cfg = train.Config(epochs=1, width=4)
    net = cfg.build_model()
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    train.save_checkpoint(tmp_path / train.CHECKPOINT, net, optimizer, scheduler, 1, 10, cfg)
    proc = subprocess.run(
        [*CLI, "--logdir", str(tmp_path), "--resume", "--epochs", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # --logdir: the old name
    assert proc.returncode == 1, proc.stderr
    assert "cannot change --epochs 4 (the run has 1)" in proc.stderr
    assert "one-cycle learning-rate schedule" in proc.stderr
    assert "already finished" not in proc.stderr


class NotAWeight:
    """Anything that is not a tensor or plain data: weights_only loading must refuse it."""


def test_checkpoints_load_weights_only(tmp_path):
    net = models.FastNet(width=4)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": net.state_dict(), "extra": NotAWeight()}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        train.load_checkpoint(path, models.FastNet(width=4))


def test_checkpoint_from_another_model_names_both(tmp_path):
    tr, val = small_splits(256)
    cfg = train.Config(epochs=1, width=4)
    path = tmp_path / "checkpoint.pt"
    train.fit(cfg.build_model(), tr, val, cfg, checkpoint=path, verbose=False)
    with pytest.raises(train.CheckpointMismatch) as err:
        train.load_checkpoint(path, models.TutorialNet())
    message = str(err.value)
    assert "saved from model 'fast' (width 4)" in message and "TutorialNet" in message
    assert "Missing key(s)" in message or "Unexpected key(s)" in message
    with pytest.raises(train.CheckpointMismatch, match="width 4"):
        train.load_checkpoint(path, models.FastNet(width=8))
    state = train.load_checkpoint(path, models.FastNet(width=4))
    assert state["epoch"] == 1


WRITER_SCRIPT = textwrap.dedent("""
    import sys
    import torch
    from tbviz import logs
    with logs.writer("concurrency", sys.argv[1]) as writer:
        for step in range(300):
            writer.add_scalar("value", float(step), step)
            writer.add_histogram("h", torch.full((10,), float(step)), step)
    print(logs.unique_run_dir("same", announce=False).name)
""")


@pytest.mark.slow
def test_two_processes_writing_at_once_both_complete(tmp_path):
    env = {**os.environ, "TBVIZ_LOGDIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, f"run{i}"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    names = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for i in range(2):
        run = tmp_path / "concurrency" / f"run{i}"
        assert events.scalars(run, "value") == [(s, float(s)) for s in range(300)]
        assert len(events.histogram_steps(run, "h")) == 300
    assert len(set(names)) == 2, "two runs started at once got the same ad-hoc name"
