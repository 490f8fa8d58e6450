"""After lesson 06: every embedding it logged is listed in its run's projector config, with
tensors, metadata and a sprite that match."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from tbviz import events
from tbviz.data import CLASSES

pytestmark = pytest.mark.after_lessons

LESSON = "06_embeddings"
STEPS = 55_000 // 256 + 1  # one epoch: 55k training images (5k held out), batches of 256
# run -> {tensor name: (rows, columns)}
EXPECTED = {
    "pixels": {"pixels:00000": (100, 784)},
    "features": {"before_training:00000": (500, 128), f"after_training:{STEPS:05d}": (500, 128)},
}


@pytest.fixture
def runs(lesson_runs):
    return lesson_runs(LESSON)


def config(run) -> ProjectorConfig:
    return text_format.Parse((run / "projector_config.pbtxt").read_text(), ProjectorConfig())


def read_rows(path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_runs(runs):
    assert set(EXPECTED) | {"scratch"} == set(runs)


@pytest.mark.parametrize("run_name", sorted(EXPECTED))
def test_config_lists_every_embedding(runs, run_name):
    names = [e.tensor_name for e in config(runs[run_name]).embeddings]
    assert sorted(names) == sorted(EXPECTED[run_name])


@pytest.mark.parametrize("run_name", sorted(EXPECTED))
def test_embedding_files_match(runs, run_name):
    run = runs[run_name]
    for embedding in config(run).embeddings:
        rows, columns = EXPECTED[run_name][embedding.tensor_name]
        tag, step = embedding.tensor_name.split(":")
        assert embedding.tensor_path == f"{step}/{tag}/tensors.tsv"

        tensors = read_rows(run / embedding.tensor_path)
        assert len(tensors) == rows, embedding.tensor_name
        assert {len(row) for row in tensors} == {columns}, embedding.tensor_name
        values = [float(v) for v in tensors[0]]
        assert all(math.isfinite(v) for v in values)

        metadata = (run / embedding.metadata_path).read_text().splitlines()
        assert len(metadata) == rows  # one column, so no header line
        assert set(metadata) <= set(CLASSES)
        assert len(set(metadata)) >= 8, "a random sample should cover nearly every class"

        sprite = plt.imread(run / embedding.sprite.image_path)
        side = math.ceil(math.sqrt(rows)) * 28  # a square grid of 28x28 thumbnails
        assert sprite.shape[:2] == (side, side), sprite.shape
        assert list(embedding.sprite.single_image_dim) == [28, 28]
        assert sprite.max() > 0.5, "the thumbnails should not be black"


def test_features_change_with_training(runs):
    run = runs["features"]
    by_name = {e.tensor_name: e for e in config(run).embeddings}
    before = read_rows(run / by_name["before_training:00000"].tensor_path)
    after = read_rows(run / by_name[f"after_training:{STEPS:05d}"].tensor_path)
    assert before != after
    assert (
        by_name["before_training:00000"].metadata_path
        != by_name[f"after_training:{STEPS:05d}"].metadata_path
    )


def test_training_curves_in_the_features_run(runs):
    points = events.scalars(runs["features"], "Accuracy/val")
    assert [step for step, _ in points] == [STEPS]
    assert points[-1][1] > 0.85


def test_second_writer_rewrote_the_scratch_config(runs):
    run = runs["scratch"]
    assert [e.tensor_name for e in config(run).embeddings] == ["third:00000"]
    assert sorted(p.name for p in (run / "00000").iterdir()) == ["first", "second", "third"]
