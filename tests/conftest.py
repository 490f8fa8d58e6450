"""Fixtures for the tests that read back what the lessons logged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tbviz import events


@pytest.fixture
def lesson_runs():
    """``lesson_runs("02_scalars")`` -> {run name: run dir} of what that notebook logged.

    Fails (never skips) when the lesson has not written its logs: these checks run after the
    notebooks in ``make test``, which executes every notebook first.
    """

    def runs(lesson: str) -> dict[str, Path]:
        root = Path(os.environ["TBVIZ_LOGDIR"]) / lesson
        found = events.run_dirs(root) if root.exists() else []
        assert found, (
            f"no TensorBoard runs under {root}: execute notebooks/{lesson}.ipynb first "
            f"(make test runs the notebooks before these checks)"
        )
        return {str(r.relative_to(root)): r for r in found}

    return runs


# Flags for headless Chromium; each browser test module adds its own graphics flags: WebGL (the
# Projector) needs --use-angle=swiftshader --enable-unsafe-swiftshader, not --disable-gpu.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    message = "no Chromium found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def launch_chromium(tmp_path_factory):
    """``launch_chromium(*flags)`` -> a headless Chromium (a playwright browser context) with
    :data:`CHROMIUM_FLAGS` plus ``flags``; every one launched is closed after the module."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    playwright = sync_playwright().start()
    contexts = []

    def launch(*flags: str):
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=[*CHROMIUM_FLAGS, *flags],
            viewport={"width": 1400, "height": 1000},
        )
        contexts.append(context)
        return context

    yield launch
    for context in contexts:
        context.close()
    playwright.stop()


@pytest.fixture
def attempt_root(tmp_path, monkeypatch):
    """A learner's empty log root for the exercise checkers' tests (``$TBVIZ_LOGDIR``)."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("TBVIZ_LOGDIR", str(root))
    return root
