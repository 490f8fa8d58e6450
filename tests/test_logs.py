"""Log layout (lesson runs, reruns, unique ad-hoc names), validated helpers, reading back."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tbviz import events, logs, paths


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("TBVIZ_LOGDIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_logs_root_defaults_to_repo_runs(monkeypatch):
    monkeypatch.delenv("TBVIZ_LOGDIR", raising=False)
    assert paths.logs_root() == paths.repo_root() / "runs"


def test_lesson_writer_layout_and_readback(root):
    with logs.writer("02_scalars", "sgd") as writer:
        for step in range(5):
            writer.add_scalar("Loss/train", 1.0 / (step + 1), step)
    run = root / "02_scalars" / "sgd"
    assert events.run_dirs(root) == [run]
    assert events.scalars(run, "Loss/train") == [(s, pytest.approx(1 / (s + 1))) for s in range(5)]
    assert "Loss/train" in events.tags(run)["scalars"]


def test_rerun_replaces_only_that_run(root):
    for _ in range(2):
        with logs.writer("03_histograms", "a") as writer:
            writer.add_scalar("x", 1.0, 0)
    with logs.writer("03_histograms", "b") as writer:
        writer.add_scalar("x", 2.0, 0)
    with logs.writer("04_images", "keep") as writer:
        writer.add_scalar("x", 3.0, 0)
    assert len(events.event_files(root / "03_histograms" / "a")) == 1  # not two after a rerun
    logs.reset_lesson("03_histograms")
    assert not any((root / "03_histograms").iterdir())
    assert events.scalars(root / "04_images" / "keep", "x") == [(0, 3.0)]


def test_reset_lesson_keeps_exercise_attempts(root):
    for run in ("demo", "ex1", "ex2_lr=0.5", "ex12_b", "example"):
        with logs.writer("02_scalars", run) as writer:
            writer.add_scalar("x", 1.0, 0)
    (root / "02_scalars" / ".checks").mkdir()
    (root / "02_scalars" / ".checks" / "ex1.json").write_text("{}")
    logs.reset_lesson("02_scalars")
    left = sorted(p.name for p in (root / "02_scalars").iterdir())
    assert left == [".checks", "ex1", "ex12_b", "ex2_lr=0.5"]
    assert logs.lesson_runs("02_scalars") == []  # the lesson's own runs: none left
    with logs.writer("02_scalars", "demo") as writer:
        writer.add_scalar("x", 1.0, 0)
    with logs.writer_at(root / "02_scalars" / "ex3_search" / "trial") as writer:
        writer.add_scalar("x", 1.0, 0)
    assert logs.lesson_runs("02_scalars") == [root / "02_scalars" / "demo"]
    assert logs.lesson_runs("04_images") == []  # no folder yet
    with logs.writer("02_scalars_solutions", "ex1") as writer:  # the course's own runs
        writer.add_scalar("x", 1.0, 0)
    logs.reset_lesson("02_scalars_solutions")
    assert not any((root / "02_scalars_solutions").iterdir())


def test_writers_flush_within_seconds(root):
    """tensorboardX buffers events for flush_secs (default 120 s); ours must flush in seconds."""
    from tensorboardX import SummaryWriter as XWriter

    def on_disk(run):
        return bool(events.event_files(run)) and "live" in events.tags(run)["scalars"]

    slow_dir = root / "default"
    slow = XWriter(str(slow_dir))
    writer = logs.writer("00_setup_and_first_run", "live", writer_cls=XWriter)
    run = root / "00_setup_and_first_run" / "live"
    try:
        slow.add_scalar("live", 1.0, 0)
        writer.add_scalar("live", 1.0, 0)
        deadline = time.monotonic() + logs.FLUSH_SECS + 3
        while not on_disk(run):
            assert time.monotonic() < deadline, "not on disk within FLUSH_SECS + 3 s"
            time.sleep(0.2)
        assert not on_disk(slow_dir), "the default writer flushed early: this test proves nothing"
    finally:
        writer.close()
        slow.close()


def test_experiment_names_are_unique_and_announced(root, capsys, monkeypatch):
    monkeypatch.setattr(logs.time, "strftime", lambda fmt: "20261124-120000")  # one second
    first = logs.unique_run_dir("trial")
    second = logs.unique_run_dir("trial")
    assert first != second and first.exists() and second.exists()
    assert first.parent == root / "experiments"
    assert (first.name, second.name) == ("trial-20261124-120000", "trial-20261124-120000-2")
    assert "'trial-20261124-120000' already exists" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", ".", "with space"])
def test_bad_names_are_refused(root, bad):
    with pytest.raises(ValueError, match="not a valid name"):
        logs.writer("02_scalars", bad)


def test_tensorboardx_writer_is_accepted(root):
    from tensorboardX import SummaryWriter as XWriter

    with logs.writer("00_setup_and_first_run", "tbx", writer_cls=XWriter) as writer:
        writer.add_scalar("Loss/train", 0.5, 1)
        logs.add_histogram(writer, "weights", torch.randn(100), 1)
    run = root / "00_setup_and_first_run" / "tbx"
    assert events.scalars(run, "Loss/train") == [(1, 0.5)]
    assert events.histogram_steps(run, "weights") == [1]


# ------------------------------------------------------------------ validated logging helpers


class Recorder:
    """Counts calls; it stands in for a writer where only validation is under test."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


@pytest.mark.parametrize(
    ("images", "fmt", "message"),
    [
        (torch.rand(1, 28, 28), "NCHW", r"shape \(1, 28, 28\) \(3-D\) but dataformats='NCHW'"),
        (torch.rand(28, 28, 1), "CHW", "28 channels"),
        (torch.rand(4, 5, 28, 28), "NCHW", "5 channels"),
        (torch.rand(0, 1, 28, 28), "NCHW", "empty"),
        (torch.full((1, 28, 28), float("nan")), "CHW", "NaN or Inf"),
    ],
)
def test_image_checks_name_shape_and_layout(images, fmt, message):
    with pytest.raises(ValueError, match=message):
        logs.check_images(images, fmt)


def test_image_type_error():
    with pytest.raises(TypeError, match=r"images must be a torch\.Tensor or numpy array, got list"):
        logs.check_images([[0.0]], "HW")


def test_image_grid_logs_one_tiled_image():
    writer = Recorder()
    grid = logs.add_image_grid(writer, "grid", torch.rand(16, 1, 28, 28), 3, nrow=8)
    assert grid.shape == (3, 2 * 28 + 3 * 2, 8 * 28 + 9 * 2)
    assert writer.calls[0][0] == "add_image" and writer.calls[0][1][2] == 3


def test_embedding_checks():
    writer = Recorder()
    with pytest.raises(ValueError, match=r"features must be 2-D .* got shape \(10, 1, 28, 28\)"):
        logs.add_embedding(writer, torch.rand(10, 1, 28, 28))
    with pytest.raises(ValueError, match="metadata has 9 entries but features has 10 rows"):
        logs.add_embedding(writer, torch.rand(10, 4), metadata=list(range(9)))
    with pytest.raises(ValueError, match="label_img has 3 images but features has 10 rows"):
        logs.add_embedding(writer, torch.rand(10, 4), label_img=torch.rand(3, 1, 28, 28))
    with pytest.raises(ValueError, match="label_img has shape"):
        logs.add_embedding(writer, torch.rand(10, 4), label_img=torch.rand(10, 28, 28))
    with pytest.raises(ValueError, match=r"floats in \[0, 1\].*float\(\) / 255"):
        uint8 = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
        logs.add_embedding(writer, torch.rand(10, 4), label_img=uint8)
    with pytest.raises(ValueError, match=r"data\.unnormalize"):
        logs.add_embedding(writer, torch.rand(10, 4), label_img=torch.rand(10, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        logs.add_embedding(writer, torch.rand(10, 4), label_img=torch.rand(10, 4, 28, 28))
    assert writer.calls == []
    logs.add_embedding(writer, np.random.rand(10, 4), metadata=range(10))
    assert writer.calls[0][0] == "add_embedding"


def test_pr_curve_checks():
    writer = Recorder()
    classes = ["a", "b", "c"]
    probs = torch.softmax(torch.randn(6, 3), 1)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="differ in length"):
        logs.add_pr_curves(writer, labels[:5], probs, classes)
    with pytest.raises(ValueError, match=r"\[0, 1\] \(apply softmax"):
        logs.add_pr_curves(writer, labels, probs * 3 - 1, classes)
    with pytest.raises(TypeError, match="predicted probabilities where the true labels belong"):
        logs.add_pr_curves(writer, probs[:, 0], probs, classes)
    with pytest.raises(ValueError, match=r"N x 3"):
        logs.add_pr_curves(writer, labels, probs[:, :2], classes)
    assert writer.calls == []
    logs.add_pr_curves(writer, labels, probs, classes, step=2)
    assert [c[1][0] for c in writer.calls] == ["pr/a", "pr/b", "pr/c"]
    assert torch.equal(writer.calls[1][1][1], labels == 1)


def test_pr_curves_refuse_predictions_passed_as_labels():
    probs = torch.softmax(torch.randn(200, 3), 1)
    predictions = probs.argmax(1)
    with pytest.raises(ValueError, match="look like the model's predictions"):
        logs.add_pr_curves(Recorder(), predictions, probs, ["a", "b", "c"])
    writer = Recorder()
    logs.add_pr_curves(writer, predictions, probs, ["a", "b", "c"], check_predictions=False)
    assert len(writer.calls) == 3


def test_empty_histogram_is_refused():
    with pytest.raises(ValueError, match="values for histogram 'w' is empty"):
        logs.add_histogram(Recorder(), "w", torch.tensor([]), 0)


def test_nonfinite_parameters_are_counted_and_warned_once(root):
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight[0, :2] = float("nan")
        net[0].weight[1, 0] = float("inf")
    warned: set[str] = set()
    with logs.writer("03_histograms", "nan") as writer, warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for step in range(3):
            bad = logs.log_parameters(writer, net, step, warned=warned)
            assert bad == 3
    messages = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
    assert len(messages) == 1 and messages[0].startswith("weights/0.weight: 3 of 12 values")
    run = root / "03_histograms" / "nan"
    assert events.scalars(run, "nonfinite/weights/0.weight") == [(0, 3.0), (1, 3.0), (2, 3.0)]
    assert events.histogram_steps(run, "weights/0.weight") == [0, 1, 2]
    hist = events.accumulator(run).Histograms("weights/0.weight")[0].histogram_value
    assert hist.num == 9 and math.isfinite(hist.sum)


def test_all_nan_histogram_does_not_crash(root):
    with logs.writer("03_histograms", "allnan") as writer:
        assert logs.add_histogram(writer, "grads/x", torch.full((5,), float("nan")), 0) == 5
    run = root / "03_histograms" / "allnan"
    assert events.scalars(run, "nonfinite/grads/x") == [(0, 5.0)]
    assert "grads/x" not in events.tags(run)["histograms"]


def test_histogram_buckets_match_the_values(root):
    values = torch.linspace(-1, 1, 1001)
    with logs.writer("03_histograms", "buckets") as writer:
        logs.add_histogram(writer, "v", values, 0)
        logs.add_histogram(writer, "const", torch.zeros(7), 0)
    acc = events.accumulator(root / "03_histograms" / "buckets")
    h = acc.Histograms("v")[0].histogram_value
    assert (h.min, h.max, h.num) == (-1.0, 1.0, 1001)
    assert sum(h.bucket) == 1001 and h.bucket[0] == 0 and h.bucket_limit[0] == -1.0
    assert h.sum == pytest.approx(0.0, abs=1e-6)  # float32 linspace
    c = acc.Histograms("const")[0].histogram_value
    assert (c.num, sum(c.bucket), c.min, c.max) == (7, 7, 0.0, 0.0)


def test_image_grid_scales_uint8_like_add_image(tmp_path):
    """uint8 pixels are 0..255 for add_image; the grid helper must not make them 255x brighter."""
    with logs.writer_at(tmp_path) as writer:
        grid = logs.add_image_grid(writer, "g", torch.full((4, 1, 8, 8), 51, dtype=torch.uint8))
    assert torch.allclose(grid[:, 2:10, 2:10], torch.tensor(0.2))
