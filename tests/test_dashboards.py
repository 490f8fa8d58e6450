"""A real TensorBoard over the logs this test run's lessons wrote: every dashboard the course
teaches has data, asked through TensorBoard's own HTTP API."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tbviz import board

pytestmark = pytest.mark.after_lessons


@pytest.fixture(scope="module")
def server():
    root = Path(os.environ["TBVIZ_LOGDIR"])
    assert root.is_dir() and any(root.iterdir()), f"no lesson logs in {root}: run the notebooks"
    started = board.start(root, extra_args=("--samples_per_plugin", "images=100"))
    assert not started.reused or started.logdir == str(root.resolve())
    yield started
    if not started.reused:
        assert board.stop(started.pid)


def get(server, path: str, **query):
    url = f"http://127.0.0.1:{server.port}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def runs_of(tags_by_run: dict, lesson: str) -> dict:
    return {run: tags for run, tags in tags_by_run.items() if run.startswith(f"{lesson}/") and tags}


def test_runs_of_every_lesson_are_listed(server):
    runs = get(server, "/data/runs")
    lessons = {run.split("/")[0] for run in runs}
    expected = {p.stem for p in (Path(__file__).parent.parent / "notebooks").glob("[0-9]*.ipynb")}
    assert expected <= lessons, f"lessons without runs: {sorted(expected - lessons)}"


def test_scalars(server):
    tags = runs_of(get(server, "/data/plugin/scalars/tags"), "02_scalars")
    assert tags, "no scalars from lesson 02"
    run = next(r for r, t in tags.items() if "Loss/train" in t)
    points = get(server, "/data/plugin/scalars/scalars", run=run, tag="Loss/train")
    assert len(points) >= 2 and all(len(p) == 3 for p in points)  # wall time, step, value


@pytest.mark.parametrize("plugin", ["histograms", "distributions"])
def test_histograms_and_distributions(server, plugin):
    tags = runs_of(get(server, f"/data/plugin/{plugin}/tags"), "03_histograms")
    run, run_tags = next((r, t) for r, t in tags.items() if any("grads/" in t_ for t_ in t))
    tag = next(t for t in run_tags if t.startswith("grads/"))
    data = get(server, f"/data/plugin/{plugin}/{plugin}", run=run, tag=tag)
    assert len(data) >= 3


@pytest.mark.parametrize("lesson", ["04_images", "05_figures", "09_activations_gradients"])
def test_images(server, lesson):
    tags = runs_of(get(server, "/data/plugin/images/tags"), lesson)
    assert tags, f"no images from {lesson}"
    run, run_tags = next(iter(tags.items()))
    tag = next(iter(run_tags))
    images = get(server, "/data/plugin/images/images", run=run, tag=tag)
    assert images and images[0]["query"]
    url = f"http://127.0.0.1:{server.port}/data/plugin/images/individualImage?{images[0]['query']}"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"


def test_graphs(server):
    info = get(server, "/data/plugin/graphs/info")
    graphs = [
        run
        for run, item in info.items()
        if run.startswith("01_model_graph/") and item.get("run_graph")
    ]
    assert graphs, "no graph from lesson 01"
    url = f"http://127.0.0.1:{server.port}/data/plugin/graphs/graph?" + urllib.parse.urlencode(
        {"run": graphs[0], "conceptual": "false"}
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        assert b"node {" in response.read()


def test_projector(server):
    runs = [r for r in get(server, "/data/plugin/projector/runs") if r.startswith("06_embeddings")]
    assert runs, "no projector run from lesson 06"
    info = get(server, "/data/plugin/projector/info", run=runs[0])
    assert info["embeddings"]
    shape = info["embeddings"][0]["tensorShape"]
    assert shape[0] >= 100 and shape[1] >= 2


def test_pr_curves(server):
    tags = runs_of(get(server, "/data/plugin/pr_curves/tags"), "07_pr_curves")
    run, run_tags = max(tags.items(), key=lambda item: len(item[1]))  # the all-classes run
    assert len(run_tags) >= 10, "one PR curve per class"
    tag = next(iter(run_tags))
    curves = get(server, "/data/plugin/pr_curves/pr_curves", run=run, tag=tag)
    entry = curves[run][-1]
    assert all(0 <= p <= 1 for p in entry["precision"])


def test_custom_scalars(server):
    layouts = {}
    for run in get(server, "/data/runs"):
        if run.startswith("08_overfitting/"):
            layout = get(server, "/data/plugin/custom_scalars/layout", run=run)
            if layout:
                layouts[run] = layout
    assert layouts, "no custom scalars layout from lesson 08"
    layout = next(iter(layouts.values()))
    charts = [c for cat in layout["category"] for c in cat["chart"]]
    assert any(len(c["multiline"]["tag"]) >= 2 for c in charts if "multiline" in c)


def test_text(server):
    tags = get(server, "/data/plugin/text/tags")
    assert runs_of(tags, "01_model_graph"), "no text (torchinfo table) from lesson 01"


def test_hparams(server):
    body = json.dumps(
        {
            "experimentName": "",
            "allowedStatuses": [
                "STATUS_SUCCESS",
                "STATUS_UNKNOWN",
                "STATUS_FAILURE",
                "STATUS_RUNNING",
            ],
            "colParams": [],
            "startIndex": 0,
            "sliceSize": 1000,
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/data/plugin/hparams/session_groups",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        groups = json.loads(response.read())["sessionGroups"]
    lesson = [g for g in groups if g["name"].startswith("10_hparams/")]
    assert len(lesson) >= 8, f"{len(lesson)} HParams sessions from lesson 10"
    assert all(g["metricValues"] for g in lesson), "every session has metrics"
