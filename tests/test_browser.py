"""What a learner sees, in headless Chromium: TensorBoard's charts actually drawn, and the
``%tensorboard`` frame rendered inside a trusted lesson in JupyterLab.

Screenshots are saved in each test's temporary directory. Every server a test starts is
stopped by the test, by its own process id.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from tbviz import board

pytestmark = pytest.mark.after_lessons

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def browser(launch_chromium):
    return launch_chromium("--disable-gpu")


@pytest.fixture
def scalars_logdir() -> Path:
    """Lesson 02's runs, written by the notebooks before these checks."""
    logdir = Path(os.environ["TBVIZ_LOGDIR"]) / "02_scalars"
    assert logdir.is_dir(), "lesson 02 has not written its runs: run the notebooks first"
    return logdir


def coloured_pixels(png: bytes) -> int:
    """Pixels of a clearly coloured (saturated, not grey) hue: drawn lines, not grid or text."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    saturation = rgb.max(axis=2) - rgb.min(axis=2)
    return int((saturation > 60).sum())


def drawn_chart_pixels(page, url: str, shot: Path) -> int:
    """Open TensorBoard's Scalars dashboard and count coloured pixels inside its line charts."""
    page.goto(url)
    try:
        page.wait_for_selector("vz-line-chart2 path.line", timeout=30_000, state="attached")
    except Exception:  # playwright's TimeoutError: no chart at all
        page.screenshot(path=str(shot))
        return 0
    page.wait_for_timeout(1500)  # let the charts finish their first draw
    page.screenshot(path=str(shot))
    total = 0
    charts = page.locator("vz-line-chart2")
    for i in range(charts.count()):
        chart = charts.nth(i)
        if chart.is_visible():
            total += coloured_pixels(chart.screenshot())
    return total


def test_scalar_charts_are_drawn(browser, tmp_path, scalars_logdir):
    """The Scalars page for lesson 02's runs draws coloured lines; an empty one draws none."""
    lesson = scalars_logdir
    empty = tmp_path / "empty"
    empty.mkdir()
    page = browser.new_page()
    counts = {}
    for name, logdir in [("lesson", lesson), ("empty", empty)]:
        server = board.start(logdir)
        try:
            counts[name] = drawn_chart_pixels(
                page, f"http://127.0.0.1:{server.port}/#scalars", tmp_path / f"scalars_{name}.png"
            )
        finally:
            if not server.reused:
                assert board.stop(server.pid)
    page.close()
    assert (tmp_path / "scalars_lesson.png").stat().st_size > 10_000
    assert counts["lesson"] > 300, f"no lines drawn for lesson 02 ({counts})"
    assert counts["empty"] == 0, f"an empty log directory drew something ({counts})"


def tensorboard_cell_outputs(logdir: Path, workdir: Path):
    """Run ``%tensorboard`` in a real kernel; return its outputs and the live kernel."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(workdir))
    outputs = []
    displays: dict[str, int] = {}  # display id -> index in outputs

    def keep(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append(
                nbformat.v4.new_output("stream", name=content["name"], text=content["text"])
            )
        elif kind in {"display_data", "execute_result", "update_display_data"}:
            # %tensorboard shows "Launching..." first, then replaces it with the frame
            output = nbformat.v4.new_output(
                "display_data", data=content["data"], metadata=content.get("metadata", {})
            )
            display_id = content.get("transient", {}).get("display_id")
            if kind == "update_display_data" and display_id in displays:
                outputs[displays[display_id]] = output
            else:
                if display_id:
                    displays[display_id] = len(outputs)
                outputs.append(output)

    kc.execute_interactive("%load_ext tensorboard", timeout=60)
    reply = kc.execute_interactive(
        f'%tensorboard --logdir "{logdir}"', timeout=120, output_hook=keep
    )
    assert reply["content"]["status"] == "ok"
    return outputs, km, kc


def lesson_copy(workdir: Path, outputs, *, trusted: bool) -> Path:
    """Lesson 02 with its %tensorboard cell's output replaced by the live one."""
    nb = nbformat.read(ROOT / "notebooks" / "02_scalars.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "%tensorboard" in c.source)
    cell.outputs = outputs
    # Trust is recorded by a digest of the content: an identical copy of a trusted notebook is
    # trusted too, so the untrusted copy must differ.
    nb.metadata["tbviz_test_copy"] = "trusted" if trusted else "untrusted"
    path = workdir / ("02_scalars.ipynb" if trusted else "02_scalars_untrusted.ipynb")
    nbformat.write(nb, path)
    if trusted:
        subprocess.run(
            [sys.executable, "-m", "jupyter", "trust", str(path)], check=True, capture_output=True
        )
    return path


def start_jupyterlab(workdir: Path, port: int) -> subprocess.Popen:
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={workdir}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2):
                return lab
        except OSError:
            assert lab.poll() is None, "JupyterLab exited"
            assert time.monotonic() < deadline, "JupyterLab did not start in 90 s"
            time.sleep(0.5)


def frame_shows_tensorboard(page, url: str, shot: Path) -> bool:
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame == page.main_frame:
                continue
            try:
                if frame.locator("tb-webapp").count() and frame.get_by_text("TensorBoard").count():
                    page.locator("iframe").first.scroll_into_view_if_needed()
                    page.wait_for_timeout(2000)
                    page.screenshot(path=str(shot))
                    return True
            except Exception:  # a frame that navigated away meanwhile
                continue
        # the %tensorboard cell sits far down the lesson: bring it into view to render it
        cells = page.locator(".jp-OutputArea-output iframe, .jp-OutputArea-output")
        if cells.count():
            cells.last.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
    page.screenshot(path=str(shot))
    return False


def test_tensorboard_frame_in_jupyterlab(browser, tmp_path, scalars_logdir):
    logdir = scalars_logdir
    work = tmp_path / "lab"
    work.mkdir()
    outputs, km, kc = tensorboard_cell_outputs(logdir, work)
    servers = [b for b in board.running() if Path(b.logdir) == logdir]
    lab = None
    try:
        assert servers, "%tensorboard did not start a server"
        assert any("text/html" in o.get("data", {}) for o in outputs)
        lesson_copy(work, outputs, trusted=True)
        lesson_copy(work, outputs, trusted=False)
        port = board.free_port()
        lab = start_jupyterlab(work, port)
        # one JupyterLab workspace per notebook: a shared one would reopen the other's tab
        base = f"http://127.0.0.1:{port}/lab/workspaces"
        shown = {}
        for name in ("trusted", "untrusted"):
            page = browser.new_page()
            notebook = "02_scalars.ipynb" if name == "trusted" else "02_scalars_untrusted.ipynb"
            shown[name] = frame_shows_tensorboard(
                page, f"{base}/{name}/tree/{notebook}", tmp_path / f"jupyterlab_{name}.png"
            )
            page.close()
        trusted, untrusted = shown["trusted"], shown["untrusted"]
        assert trusted, "the trusted lesson did not show TensorBoard in its %tensorboard frame"
        assert not untrusted, "an untrusted notebook ran the frame's script: test proves nothing"
    finally:
        if lab is not None:
            os.kill(lab.pid, signal.SIGTERM)
            lab.wait(timeout=30)
        for server in servers:
            board.stop(server.pid)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
