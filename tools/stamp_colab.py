"""Re-stamp every notebook's Colab badge and Colab install cell from tbviz.REPOSITORY.

A teacher who forks the course sets ``REPOSITORY = "owner/name"`` in src/tbviz/__init__.py and
runs this once:

    python tools/stamp_colab.py          # rewrite what differs, list the notebooks changed
    python tools/stamp_colab.py --check  # change nothing; exit 1 if any notebook is off

Only the badge link in the first markdown cell and the ``git+https://github.com/...`` URL in the
install cell are touched; outputs and everything else stay as they are.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMG) + r"\)\]\([^)]*\)")
INSTALL = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+")


def repository() -> str:
    text = (ROOT / "src" / "tbviz" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^REPOSITORY = "([\w.-]+/[\w.-]+)"', text, re.M)
    if not match:
        raise SystemExit('error: REPOSITORY = "owner/name" not found in src/tbviz/__init__.py')
    return match.group(1)


def badge(repo: str, path: Path) -> str:
    url = f"https://colab.research.google.com/github/{repo}/blob/main/{path.as_posix()}"
    return f"[![Open In Colab]({BADGE_IMG})]({url})"


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").rglob("*.ipynb"))


def stamp(path: Path, repo: str) -> tuple[str, list[str]]:
    """Return the notebook's stamped JSON text and a list of problems found (empty: fine)."""
    nb = nbformat.read(path, as_version=4)
    rel = path.relative_to(ROOT)
    problems = []
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first is None or not BADGE.search(first.source):
        problems.append("no Colab badge in the first markdown cell")
    else:
        first.source = BADGE.sub(badge(repo, rel), first.source, count=1)
    installs = [c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    if not installs or not INSTALL.search(installs[0].source):
        problems.append(
            "no Colab install cell (a git+https://github.com/... install guarded by google.colab)"
        )
    else:
        installs[0].source = INSTALL.sub(f"git+https://github.com/{repo}", installs[0].source)
    return nbformat.writes(nb) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="report, change nothing")
    args = p.parse_args(argv)
    repo = repository()
    off, broken = [], []
    for path in notebooks():
        text, problems = stamp(path, repo)
        rel = path.relative_to(ROOT)
        if problems:
            broken.append(f"{rel}: {'; '.join(problems)}")
        if text != path.read_text(encoding="utf-8"):
            off.append(str(rel))
            if not args.check:
                path.write_text(text, encoding="utf-8")
    for line in broken:
        print("error:", line, file=sys.stderr)
    verb = "differ from" if args.check else "re-stamped for"
    print(f"{len(off)} notebook(s) {verb} {repo}" + (": " + ", ".join(off) if off else ""))
    return 1 if broken or (args.check and off) else 0


if __name__ == "__main__":
    sys.exit(main())
