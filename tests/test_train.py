"""The training path: what the CLI logs, determinism, live visibility in a real TensorBoard."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
import torch

from tbviz import board, data, events, logs, models, train


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One real CLI run with a small epoch budget (1 epoch), full logging on."""
    logdir = tmp_path_factory.mktemp("cli") / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tbviz.train",
            "--epochs",
            "1",
            "--run-dir",
            str(logdir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return logdir, result, proc


@pytest.mark.slow
def test_cli_prints_json_last(cli_run):
    logdir, result, _ = cli_run
    assert {"test_accuracy", "seconds", "device", "run_dir", "logging_seconds"} <= result.keys()
    assert result["run_dir"] == str(logdir)
    assert result["device"] == "cpu" or result["device"].startswith(("cuda", "mps"))
    assert 0.85 < result["test_accuracy"] <= 1.0  # one epoch of the default model
    assert result["seconds"] > 0
    assert 0 < result["logging_seconds"] < result["seconds"]  # the logging work, timed inside


@pytest.mark.slow
def test_cli_logs_everything_the_course_promises(cli_run):
    logdir, result, _ = cli_run
    acc = events.accumulator(logdir)
    tags = acc.Tags()
    steps = 55_000 // 256 + 1  # one epoch of 55k training images, batch 256
    for tag in ("batch/loss", "batch/accuracy", "batch/lr"):
        points = acc.Scalars(tag)
        assert [e.step for e in points] == list(range(50, steps + 1, 50)), tag
    for tag in ("Loss/train", "Loss/val", "Accuracy/train", "Accuracy/val"):
        assert [e.step for e in acc.Scalars(tag)] == [steps], tag
    assert 0.8 < acc.Scalars("Accuracy/val")[0].value < 1
    net = models.FastNet()
    for name, _ in net.named_parameters():
        assert events.histogram_steps(logdir, f"weights/{name}") == [steps]
        assert events.histogram_steps(logdir, f"grads/{name}") == [steps]
    assert [e.step for e in acc.Images("predictions")] == [steps]
    assert acc.Images("predictions")[0].width > 300
    assert "config/text_summary" in tags["tensors"]
    hparams = events.hparams(logdir)
    assert hparams["lr"] == pytest.approx(0.02) and hparams["model"] == "fast"
    assert events.scalars(logdir, "hparam/test_accuracy")[0][1] == pytest.approx(
        result["test_accuracy"], abs=1e-4
    )
    assert (logdir / train.CHECKPOINT).is_file()


@pytest.mark.slow
def test_cli_refuses_to_overwrite_a_run(cli_run):
    logdir, _, _ = cli_run
    before = sorted(p.name for p in logdir.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "tbviz.train", "--epochs", "1", "--run-dir", str(logdir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "already holds a run; pass --resume" in proc.stderr
    assert sorted(p.name for p in logdir.iterdir()) == before


@pytest.mark.slow
def test_cli_rejects_bad_options():
    proc = subprocess.run(
        [sys.executable, "-m", "tbviz.train", "--lr", "-1", "--no-log"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "lr must be positive, not -1.0" in proc.stderr


def small_splits(n: int = 2048):
    tr, val, _ = data.load_splits()
    return tr.first(n), val.first(512)


def test_fit_refuses_a_net_that_cfg_does_not_describe():
    """The logged config must describe the network trained: a mismatch is refused."""
    tr, val = small_splits(256)
    cfg = train.Config(epochs=1, width=8)
    with pytest.raises(ValueError, match=r"width=16 \(cfg says 8\).*cfg.build_model\(\)"):
        train.fit(models.FastNet(width=16), tr, val, cfg, verbose=False)
    with pytest.raises(ValueError, match=r"hidden=512 \(cfg says 128\)"):
        train.fit(models.FastNet(width=8, hidden=512), tr, val, cfg, verbose=False)
    with pytest.raises(ValueError, match=r"dropout=0.5 \(cfg says 0.0\)"):
        train.fit(models.FastNet(width=8, dropout=0.5), tr, val, cfg, verbose=False)
    history = train.fit(models.FastNet(width=8), tr, val, cfg, verbose=False)  # matches
    assert history.steps == 1
    shorter = train.Config(epochs=1, width=8, batch_size=64, train_size=128)
    assert train.fit(shorter.build_model(), tr, val, shorter, verbose=False).steps == 2


class RecordingWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, step))


def test_batch_points_average_the_batches_since_the_last_point(monkeypatch):
    """log_every=3 with 4 batches an epoch: the point at step 6 covers steps 4, 5 and 6, one of
    which lies in the previous epoch (it must not restart at the epoch boundary)."""
    tr, val = small_splits(256)
    cfg = train.Config(epochs=2, width=4, batch_size=64, log_every=3)
    covered = []
    means = train._Window.means

    def recording(window):
        covered.append(window.seen)
        return means(window)

    monkeypatch.setattr(train._Window, "means", recording)
    writer = RecordingWriter()
    train.fit(cfg.build_model(), tr, val, cfg, writer=writer, verbose=False)
    points = [step for tag, step in writer.scalars if tag == "batch/loss"]
    assert points == [3, 6]
    # means() is called for the two batch points and once per epoch (the epoch's sums)
    assert covered == [3 * 64, 4 * 64, 3 * 64, 4 * 64], covered


def test_training_is_deterministic_for_a_seed():
    tr, val = small_splits()
    cfg = train.Config(epochs=2, width=8, seed=3)
    runs = []
    for _ in range(2):
        torch.manual_seed(cfg.seed)
        history = train.fit(
            cfg.build_model(), tr, val, cfg, device=torch.device("cpu"), verbose=False
        )
        runs.append((history.train_loss, history.val_loss, history.val_acc))
    assert runs[0] == runs[1]
    torch.manual_seed(4)
    other = train.fit(
        cfg.build_model(),
        tr,
        val,
        train.Config(epochs=2, width=8, seed=4),
        device=torch.device("cpu"),
        verbose=False,
    )
    assert other.train_loss != runs[0][0]


def _server_scalars(port: int, run: str, tag: str) -> list:
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    url = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?{query}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:  # 400 until the run and tag exist
        return []


@pytest.mark.slow
def test_live_scalar_visible_within_five_seconds(tmp_path):
    """A scalar logged during training shows through a running TensorBoard within 5 s."""
    server = board.start(tmp_path)
    try:
        writer = logs.writer_at(tmp_path / "live")
        try:
            writer.add_scalar("batch/loss", 1.0, 1)  # the run exists before we time
            deadline = time.monotonic() + 30
            while not _server_scalars(server.port, "live", "batch/loss"):
                assert time.monotonic() < deadline, "the run never appeared"
                time.sleep(0.2)
            delays = []
            for step in (2, 3, 4):
                writer.add_scalar("batch/loss", 1.0 / step, step)
                logged = time.monotonic()
                while True:
                    got = [p[1] for p in _server_scalars(server.port, "live", "batch/loss")]
                    if step in got:
                        delays.append(time.monotonic() - logged)
                        break
                    assert time.monotonic() - logged < 5.0, f"step {step} not visible in 5 s"
                    time.sleep(0.1)
        finally:
            writer.close()
    finally:
        assert board.stop(server)
    assert max(delays) < 5.0
