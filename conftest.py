"""Test-session set-up shared by the unit tests and the notebooks (nbval).

* TensorBoard logs go to ``$TBVIZ_LOGDIR``; when it is unset, to a fresh temporary directory,
  so a test run never touches the learner's own ``runs/``. ``make test`` sets it so that the
  after-lessons checks can read what the notebooks wrote.
* Tests marked ``after_lessons`` (they read the lessons' logs back) run after everything else.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    if not os.environ.get("TBVIZ_LOGDIR"):
        os.environ["TBVIZ_LOGDIR"] = tempfile.mkdtemp(prefix="tbviz-test-runs-")


def pytest_report_header(config):
    return f"TensorBoard logs of this run: {os.environ['TBVIZ_LOGDIR']}"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("after_lessons") is not None)
