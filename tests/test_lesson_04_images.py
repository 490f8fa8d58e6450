"""After lesson 04: its logs hold the images the lesson teaches, with the expected sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "04_images"
SIDE = 28


def grid_shape(n: int, nrow: int, padding: int = 2) -> tuple[int, int, int]:
    """Height, width, channels of ``make_grid`` over n 28x28 images (RGB, even for grey)."""
    rows, cols = math.ceil(n / nrow), min(n, nrow)
    return rows * (SIDE + padding) + padding, cols * (SIDE + padding) + padding, 3


def tiles(pixels: np.ndarray, n: int, nrow: int, padding: int) -> list[np.ndarray]:
    """The n images of a grid laid out nrow per row, each SIDE x SIDE."""
    step = SIDE + padding
    out = []
    for k in range(n):
        top, left = padding + (k // nrow) * step, padding + (k % nrow) * step
        out.append(pixels[top : top + SIDE, left : left + SIDE])
    return out


def image(run, tag, step=-1) -> np.ndarray:
    images = events.images(run, tag)
    assert images, f"no image {tag!r} in {run}"
    return images[step][1]


def test_unnormalized_single_image_keeps_its_mid_tones(lesson_runs):
    run = lesson_runs(LESSON)["single"]
    right = image(run, "single/right_unnormalized")
    wrong = image(run, "single/wrong_normalized")
    assert right.shape == wrong.shape == (SIDE, SIDE, 3)
    # the normalized image clips everything below 0 to black, so it is darker overall
    assert wrong.mean() < 0.8 * right.mean()


def test_batches_are_tiled_into_grids(lesson_runs):
    run = lesson_runs(LESSON)["batch"]
    batch = image(run, "batch/add_images")
    assert batch.shape == (2 * SIDE, 8 * SIDE, 3), "add_images tiles 16 images 8 per row, no gaps"
    parts = tiles(batch, 16, 8, padding=0)
    assert len({part.tobytes() for part in parts}) == 16, "16 different images expected"
    assert image(run, "batch/make_grid").shape == grid_shape(16, nrow=8)
    assert image(run, "batch/add_image_grid").shape == grid_shape(8, nrow=4)


def test_dataformats_hw_and_hwc(lesson_runs):
    run = lesson_runs(LESSON)["formats"]
    gray, coloured = image(run, "formats/HW"), image(run, "formats/HWC")
    assert gray.shape == coloured.shape == (SIDE, SIDE, 3)
    assert np.array_equal(gray[..., 0], gray[..., 1]), "an HW image is grey"
    assert not np.array_equal(coloured[..., 0], coloured[..., 2]), "the HWC image has colour"


def test_augmented_views_are_logged_per_transform(lesson_runs):
    run = lesson_runs(LESSON)["augmentation"]
    for name in ("crop", "rotation", "erasing", "all"):
        pixels = image(run, f"augment/{name}", step=0)
        assert pixels.shape == grid_shape(16, nrow=8), name
        original, *views = tiles(pixels, 16, 8, padding=2)
        assert any(not np.array_equal(view, original) for view in views), f"{name} changed nothing"
    assert [step for step, _ in events.images(run, "augment/all")] == [0, 1, 2]


def test_imagefolder_run_has_images(lesson_runs):
    run = lesson_runs(LESSON)["imagefolder"]
    assert image(run, "folder/batch").shape == grid_shape(32, nrow=8)
    for name in ("bag", "sandal", "sneaker", "trouser"):
        assert image(run, f"folder/{name}").shape == (SIDE, 8 * SIDE, 3), name
