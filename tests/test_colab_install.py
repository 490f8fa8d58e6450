"""The Colab path: the package installed the way a lesson's install cell installs it (the
package alone, not editable, no extras), the notebooks opened outside the repository.

A fresh virtual environment gets ``pip install <this repository>`` (with constraints.txt, so the
same versions as the rest of the tests) plus the kernel machinery Colab provides (ipykernel,
nbclient). Every lesson, and the solutions that use a package beyond the lessons', then runs in a
folder outside the repository. Logs must land under that folder, data comes from the machine
(Debian's package here) into the user cache, and nothing may import what the package did not
install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# solutions that import something their lesson does not (tensorboardX in 00)
SOLUTIONS = [ROOT / "notebooks" / "solutions" / "00_setup_and_first_run_solutions.ipynb"]


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """(python of a fresh environment with only the package installed, a folder outside the
    repository holding copies of the notebooks, the environment to run them with)."""
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt")]
    subprocess.run([*pip, str(ROOT)], check=True, timeout=900)  # what the install cell does
    subprocess.run([*pip, "ipykernel", "nbclient"], check=True, timeout=300)  # Colab's runtime
    work = base / "content"  # Colab's working directory is /content
    work.mkdir()
    for path in [*LESSONS, *SOLUTIONS]:
        shutil.copy(path, work / path.name)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TBVIZ_", "TENSORBOARD_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env["XDG_CACHE_HOME"] = str(base / "cache")  # the package's data cache, outside the repo
    env["OMP_NUM_THREADS"] = "1"
    return python, work, env


def test_the_package_is_installed_not_linked_to_the_repository(colab_like):
    python, work, env = colab_like
    where = subprocess.run(
        [str(python), "-c", "import tbviz, tbviz.paths as p; print(tbviz.__file__, p.repo_root())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not where[0].startswith(str(ROOT)), where
    assert where[1] == "None", where


def test_every_lesson_runs_outside_the_repository(colab_like):
    python, work, env = colab_like

    def execute(path: Path) -> tuple[str, int, str]:
        proc = subprocess.run(
            [str(python.with_name("jupyter-execute")), "--timeout=600", path.name],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        return path.name, proc.returncode, proc.stderr[-3000:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(execute, [*LESSONS, *SOLUTIONS]))
    failed = [f"{name}:\n{err}" for name, code, err in results if code != 0]
    assert not failed, "\n\n".join(failed)
    written = {p.name for p in (work / "runs").iterdir()}  # lessons write runs/<lesson>
    assert {p.stem for p in LESSONS} <= written, sorted(written)
    assert (Path(env["XDG_CACHE_HOME"]) / "tbviz" / "FashionMNIST" / "raw").is_dir()
