"""The committed notebooks: executed top to bottom, with outputs that hold on any machine.

nbval compares every output not marked ``nbval-ignore-output`` (a cell tag, or the comment
``# NBVAL_IGNORE_OUTPUT``) with what the notebook prints
on the machine that runs the tests. An output that names a path on the machine where the
notebook was executed passes there and fails everywhere else, so it must not be committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))

# An absolute path on Linux, macOS or Windows (the logs root, a temporary folder, a home).
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/])/(?:tmp|home|root|work|check|Users|var|content|opt|mnt|srv|private)/"
    r"|[A-Z]:\\\\?Users"
)


def output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":
        return "\n".join(output.traceback)
    return "\n".join(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))


def compared_outputs(nb):
    """(cell index, text) of each output that nbval compares."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if re.search(r"^# NBVAL_(IGNORE_OUTPUT|SKIP)\s*$", cell.source, flags=re.M):
            continue
        if {"nbval-ignore-output", "nbval-skip"} & set(cell.metadata.get("tags", [])):
            continue
        for output in cell.outputs:
            yield i, output_text(output)


def test_the_pattern_finds_machine_paths():
    assert ABSOLUTE_PATH.search("PosixPath('/check/work/main/.test-runs/00_setup')")
    assert ABSOLUTE_PATH.search("logdir /tmp/abc/runs")
    assert ABSOLUTE_PATH.search(r"C:\Users\ada\runs")
    assert not ABSOLUTE_PATH.search("runs/02_scalars/sgd")
    assert not ABSOLUTE_PATH.search("https://colab.research.google.com/github/x/y")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_outputs_name_no_machine_path(path):
    nb = nbformat.read(path, as_version=4)
    found = [
        (i, m.group(0)) for i, text in compared_outputs(nb) for m in ABSOLUTE_PATH.finditer(text)
    ]
    assert not found, (
        f"{path.name}: cells {found} print a path of the machine that executed them; print a path "
        "relative to the logs root, or don't end the cell with an expression that returns one"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_executed_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; execute it in a fresh kernel (make execute)"
    )
    errors = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    expected = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "raises-exception" in c.metadata.get("tags", [])
    ]
    assert errors == expected, f"{path.name}: cells {errors} end in an error"


LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_a_check_cell_that_asserts(path):
    nb = nbformat.read(path, as_version=4)
    checks = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and c.source.lstrip().startswith("# Check")
    ]
    assert checks and all("assert " in c for c in checks), f"{path.name}: no check cell"
