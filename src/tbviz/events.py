"""Reading TensorBoard logs back: what every lesson's static picture and self-check use.

Lesson 00 shows the three plain lines this module saves you (``EventAccumulator(run)``,
``.Reload()``, ``.Scalars(tag)``). The same, plus: every event is kept (the accumulator's
defaults keep only some histograms and images), a missing run or tag is an error that names
what the run does hold, and logged images come back as pixel arrays.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

KEEP_ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0}
"""``size_guidance`` that keeps every event (0 means no limit)."""


def event_files(logdir: Path | str) -> list[Path]:
    """Every event file below ``logdir`` (sorted)."""
    return sorted(Path(logdir).rglob("events.out.tfevents.*"))


def run_dirs(logdir: Path | str) -> list[Path]:
    """Every directory below (or at) ``logdir`` that holds event files: TensorBoard's runs."""
    return sorted({f.parent for f in event_files(logdir)})


def accumulator(run: Path | str):
    """TensorBoard's ``EventAccumulator`` over one run directory, loaded, keeping every event."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = Path(run)
    if not event_files(run):
        raise FileNotFoundError(f"no TensorBoard event files under {run}")
    return EventAccumulator(str(run), size_guidance=KEEP_ALL).Reload()


def tags(run: Path | str) -> dict[str, list[str]]:
    """The tags of one run by kind (scalars, histograms, images, tensors, graph, ...)."""
    return accumulator(run).Tags()


def scalars(run: Path | str, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of one scalar tag, in step order."""
    acc = accumulator(run)
    if tag not in acc.Tags()["scalars"]:
        raise KeyError(f"no scalar {tag!r} in {run}; it has {sorted(acc.Tags()['scalars'])}")
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def histogram_steps(run: Path | str, tag: str) -> list[int]:
    """The steps at which histogram ``tag`` was logged."""
    return [e.step for e in accumulator(run).Histograms(tag)]


def images(run: Path | str, tag: str) -> list[tuple[int, np.ndarray]]:
    """``(step, H x W x C array)`` of every image logged under ``tag``, decoded from the PNGs
    in the logs, with values in [0, 1] (what matplotlib's ``imshow`` expects)."""
    from PIL import Image

    acc = accumulator(run)
    if tag not in acc.Tags()["images"]:
        raise KeyError(f"no image {tag!r} in {run}; it has {sorted(acc.Tags()['images'])}")
    out = []
    for event in acc.Images(tag):
        with Image.open(io.BytesIO(event.encoded_image_string)) as picture:
            out.append((event.step, np.asarray(picture, dtype=np.float32) / 255))
    return out


def hparams(run: Path | str) -> dict[str, Any]:
    """The hparams of a run logged with ``add_hparams(..., run_name='.')``: {name: value}."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = pea.EventAccumulator(str(run))
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    for raw in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        if data.HasField("session_start_info"):
            out: dict[str, Any] = {}
            for key, value in data.session_start_info.hparams.items():
                kind = value.WhichOneof("kind")
                out[key] = getattr(value, kind)
            return out
    raise KeyError(f"no hparams session in {run}")
