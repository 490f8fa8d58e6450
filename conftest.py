"""Test-session set-up shared by the unit tests and the notebooks (nbval).

* TensorBoard logs go to ``$TBVIZ_LOGDIR``; when it is unset, to a fresh temporary directory,
  so a test run never touches the learner's own ``runs/``. ``make test`` sets it so that the
  after-lessons checks can read what the notebooks wrote.
* Tests marked ``after_lessons`` (they read the lessons' logs back) run after everything else.
* After each notebook, its ``%tensorboard`` frame must still be served (Run All leaves it alive).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.request

import pytest


def pytest_configure(config):
    if not os.environ.get("TBVIZ_LOGDIR"):
        os.environ["TBVIZ_LOGDIR"] = tempfile.mkdtemp(prefix="tbviz-test-runs-")


def pytest_report_header(config):
    return f"TensorBoard logs of this run: {os.environ['TBVIZ_LOGDIR']}"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("after_lessons") is not None)


FRAME_PORT = re.compile(r"port = (\d+);")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Note the port of every ``%tensorboard`` frame a notebook cell draws. The frame comes as
    an update of the "Launching TensorBoard..." output, which nbval does not keep."""
    notebook = item.parent
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    read = notebook.get_kernel_message
    item.frame_ports, item.frame_errors = [], []

    def reading(*args, **kwargs):
        msg = read(*args, **kwargs)
        if msg["msg_type"] in {"display_data", "update_display_data"}:
            data = msg["content"].get("data", {})
            item.frame_ports += FRAME_PORT.findall(str(data.get("text/html", "")))
            if str(data.get("text/plain", "")).startswith("ERROR:"):  # the magic's own errors
                item.frame_errors.append(data["text/plain"])
        return msg

    notebook.get_kernel_message = reading
    try:
        yield
    finally:
        del notebook.get_kernel_message  # back to the class's method


def _dead_frame(item, nextitem) -> str | None:
    """After a notebook's last cell, while its kernel still runs: what is wrong with the
    ``%tensorboard`` frames the notebook showed (None if nothing)."""
    notebook = item.parent
    if type(item).__name__ != "IPyNbCell" or (nextitem is not None and nextitem.parent is notebook):
        return None
    cells = [i for i in item.session.items if i.parent is notebook]
    errors = [error for cell in cells for error in getattr(cell, "frame_errors", [])]
    if errors:
        return f"{notebook.name}: %tensorboard showed no frame: {errors[0]}"
    for port in (port for cell in cells for port in getattr(cell, "frame_ports", [])):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=10) as r:
                runs = json.loads(r.read())
        except OSError as err:
            return (
                f"{notebook.name}: after the last cell, the %tensorboard frame's server "
                f"(port {port}) no longer answers ({err}): Run All leaves a dead frame"
            )
        if not runs:
            return f"{notebook.name}: the %tensorboard frame's server shows no runs"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Every notebook's ``%tensorboard`` frames must still be served after its last cell, as
    after Run All in JupyterLab (a lesson that stops the server its own frame shows, or whose
    magic cannot find TensorBoard, leaves a dead frame). Checked before the kernel stops."""
    problem = _dead_frame(item, nextitem)
    result = yield
    if problem:
        raise AssertionError(problem)
    return result
