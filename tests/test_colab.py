"""Colab: every lesson's badge opens that lesson, and its install cell runs only on Colab."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

import tbviz

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("stamp_colab", ROOT / "tools" / "stamp_colab.py")
stamp_colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stamp_colab)

NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def test_there_are_lessons():
    names = [p.name for p in NOTEBOOKS]
    assert "00_setup_and_first_run.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badge_matches_the_notebooks_own_path(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    links = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]*)\)", first.source)
    rel = path.relative_to(ROOT).as_posix()
    assert links == [f"https://colab.research.google.com/github/{tbviz.REPOSITORY}/blob/main/{rel}"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_runs_only_on_colab_and_installs_only_tbviz(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    install = next(src for src in code if "pip" in src and "install" in src)
    assert install == code[0], "the Colab install cell must be the first code cell"
    assert 'if "google.colab" in sys.modules:' in install
    quoted = re.findall(r'"([^"]+)"', install)  # every string in the cell, in order
    course = f"tbviz @ git+https://github.com/{tbviz.REPOSITORY}"
    assert quoted == ["google.colab", course, "-m", "pip", "install", "--quiet"], quoted
    assert '"--quiet", course]' in install


def test_stamping_is_a_no_op_on_the_committed_notebooks():
    assert stamp_colab.main(["--check"]) == 0


def test_stamping_for_a_fork_rewrites_badge_and_install_url():
    path = ROOT / "notebooks" / "00_setup_and_first_run.ipynb"
    text, problems = stamp_colab.stamp(path, "teacher/fork")
    assert problems == []
    nb = nbformat.reads(text, as_version=4)
    assert (
        "https://colab.research.google.com/github/teacher/fork/blob/main/notebooks/"
        "00_setup_and_first_run.ipynb"
    ) in nb.cells[0].source
    assert "git+https://github.com/teacher/fork" in nb.cells[1].source
    assert tbviz.REPOSITORY not in nb.cells[0].source + nb.cells[1].source
    original = nbformat.read(path, as_version=4)
    assert [c.get("outputs") for c in nb.cells] == [c.get("outputs") for c in original.cells]
