"""Run All in JupyterLab, in headless Chromium, as a learner does it: lesson 00 opened in
JupyterLab, Run → Run All Cells, then every cell must have run without an error and the
lesson's ``%tensorboard`` frame must still show TensorBoard at the end.

Lesson 00 is the lesson that starts and stops servers; for every lesson, that its frame's server
still answers after the last cell is checked while nbval runs it (conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time

import pytest
from test_browser import ROOT, start_jupyterlab

from tbviz import board

pytestmark = pytest.mark.after_lessons

LESSON = "00_setup_and_first_run.ipynb"


@pytest.fixture(scope="module")
def browser(launch_chromium):
    return launch_chromium("--disable-gpu")


def prompts(page) -> list[str]:
    # textContent, not innerText: cells outside the viewport are not rendered (content-visibility)
    return [t.strip() for t in page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()]


def tensorboard_in_a_frame(page) -> bool:
    for frame in page.frames:
        if frame == page.main_frame:
            continue
        try:
            if frame.locator("tb-webapp").count() and frame.get_by_text("TensorBoard").count():
                return True
        except Exception:  # a frame that navigated away meanwhile
            continue
    return False


def test_run_all_in_jupyterlab_ends_with_a_live_frame(browser, tmp_path, monkeypatch):
    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, work / LESSON)
    monkeypatch.setenv("TBVIZ_LOGDIR", str(tmp_path / "runs"))  # the kernel inherits it
    port = board.free_port()
    lab = start_jupyterlab(work, port)
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{port}/lab/workspaces/runall/tree/{LESSON}")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        page.wait_for_selector(
            ".jp-DebuggerBugButton, .jp-KernelStatus, .jp-Toolbar", timeout=60_000
        )
        page.wait_for_timeout(3000)  # the kernel starts
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + 300
        while not all(re.fullmatch(r"\[\d+\]:", p) for p in prompts(page)):
            assert time.monotonic() < deadline, f"Run All did not finish: {prompts(page)}"
            page.wait_for_timeout(1000)
        texts = page.locator(".jp-OutputArea-output").all_text_contents()
        errors = [t for t in texts if "Traceback (most recent call last)" in t]
        assert not errors, errors[0][-1500:]
        frame = page.locator(".jp-OutputArea-output iframe").last
        seen = False
        for _ in range(30):
            frame.scroll_into_view_if_needed()
            if tensorboard_in_a_frame(page):
                seen = True
                break
            page.wait_for_timeout(1000)
        page.screenshot(path=str(tmp_path / "run_all_end.png"))
        assert seen, "after Run All, lesson 00's %tensorboard frame does not show TensorBoard"
    finally:
        page.close()
        os.kill(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
        board.stop_all()
