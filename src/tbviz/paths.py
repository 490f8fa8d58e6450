"""Where the course keeps its data and its TensorBoard logs (lesson 00).

* Logs: ``$TBVIZ_LOGDIR``, else ``runs/`` at the repository root, else ``./runs``.
* Data: ``$TBVIZ_DATA``, else ``data/`` at the repository root, else a user cache directory
  (``$XDG_CACHE_HOME/tbviz`` or ``~/.cache/tbviz``), as when the package is installed without
  the repository (Colab).
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path | None:
    """The course repository this package was installed from, or None (e.g. a pip install)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        pyproject = parent / "pyproject.toml"
        in_repo = pyproject.is_file() and (parent / "notebooks").is_dir()
        if in_repo and 'name = "tbviz"' in pyproject.read_text(encoding="utf-8"):
            return parent
    return None


def logs_root() -> Path:
    """The directory under which every run is written; TensorBoard's ``--logdir``."""
    env = os.environ.get("TBVIZ_LOGDIR")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    return (root / "runs") if root else (Path.cwd() / "runs").resolve()


def data_root() -> Path:
    """The directory that holds ``FashionMNIST/raw/`` (torchvision's layout)."""
    env = os.environ.get("TBVIZ_DATA")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    if root:
        return root / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "tbviz"
