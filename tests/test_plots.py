"""The predictions picture the training loop logs every epoch, drawn with Pillow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from tbviz import data, events, plots


class AlwaysClass(nn.Module):
    """A network that predicts one class for every image, with a known probability."""

    def __init__(self, cls: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(10))
        with torch.no_grad():
            self.logits[cls] = 5.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), 10)


@pytest.fixture(scope="module")
def images():
    _, val, _ = data.load_splits()
    return val.images[:4]


def colour_pixels(region: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(region.astype(int) - colour).sum(axis=-1) < 60).sum())


def test_captions_are_green_when_right_and_red_when_wrong(images):
    labels = torch.tensor([0, 3, 0, 5])
    picture = plots.predictions_image(AlwaysClass(0), images, labels, scale=4)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    tiles = np.split(picture, 4, axis=1)
    captions = [tile[4 * 2 + 28 * 4 :] for tile in tiles]  # below the top padding and thumbnail
    for caption, right in zip(captions, [True, False, True, False], strict=True):
        green, red = colour_pixels(caption, plots.RIGHT), colour_pixels(caption, plots.WRONG)
        assert (green > 50 and red == 0) if right else (red > 50 and green == 0)


def test_thumbnails_show_each_image_dark_on_white(images):
    scale = 3
    picture = plots.predictions_image(
        AlwaysClass(2), images, torch.tensor([2, 2, 2, 2]), scale=scale
    )
    side = 28 * scale
    tiles = np.split(picture, 4, axis=1)
    for tile, image in zip(tiles, images, strict=True):
        left = (tile.shape[1] - side) // 2
        thumb = tile[2 * scale : 2 * scale + side, left : left + side, 0][::scale, ::scale]
        expected = 255 * (1 - data.unnormalize(image).squeeze().numpy())
        assert np.abs(thumb.astype(float) - expected).max() <= 1


def test_caption_names_predicted_and_true_class(images):
    """The same picture with another prediction differs only where the caption is."""
    labels = torch.tensor([1, 1, 1, 1])
    a = plots.predictions_image(AlwaysClass(1), images, labels)
    b = plots.predictions_image(AlwaysClass(7), images, labels)
    changed_rows = np.nonzero((a != b).any(axis=(1, 2)))[0]
    assert len(changed_rows) and changed_rows.min() >= 4 * 2 + 28 * 4


@pytest.mark.slow
def test_training_loop_logs_without_importing_matplotlib(tmp_path):
    """matplotlib costs the logged run about a second to import: the loop must not need it."""
    script = textwrap.dedent(f"""
        import sys
        from tbviz import data, events, logs, train
        tr, val, _ = data.load_splits()
        cfg = train.Config(epochs=1, width=4, log_every=5)
        with logs.writer_at({str(tmp_path)!r}) as writer:
            train.fit(cfg.build_model(), data.Split(tr.images[:512], tr.labels[:512]),
                      data.Split(val.images[:64], val.labels[:64]), cfg, writer=writer,
                      histograms=True, figures=True, verbose=False)
        print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"

    logged = events.accumulator(tmp_path)
    assert len(logged.Images("predictions")) == 1
    assert any(tag.startswith("grads/") for tag in logged.Tags()["histograms"])


def test_rebinned_density_of_default_buckets_is_flat_for_uniform_values(tmp_path):
    """TensorBoard's default buckets shrink towards zero: raw counts of uniform values dip
    there, the re-binned density is flat at 1/2 on [-1, 1], as the dashboard draws it."""
    from torch.utils.tensorboard import SummaryWriter

    values = torch.rand(100_000, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_histogram("uniform", values, 0)
    (event,) = events.accumulator(tmp_path).Histograms("uniform")
    counts = np.asarray(event.histogram_value.bucket)
    assert counts.max() > 5 * np.median(counts[counts > 0])  # raw counts: far from flat
    density = plots.rebinned_density(event, np.linspace(-1, 1, 11))
    assert np.allclose(density, 0.5, rtol=0.05), density
