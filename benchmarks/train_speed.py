"""Training speed: the tutorial-style baseline vs the course's default run, side by side.

Runs, as whole processes and alternating, several pairs of
  * the baseline (benchmarks/tutorial_baseline.py: batch 4, per-sample DataLoader, 1 epoch),
  * ``python -m tbviz.train`` with its defaults (full logging),
  * ``python -m tbviz.train --no-log`` (the same run, logging off),
then prints wall-time ratios measured within each pair, and the accuracies. Ratios, not absolute
times, are what it reports: absolute times depend on the machine and on what else it is doing.

    python benchmarks/train_speed.py               # 3 pairs on the best device
    python benchmarks/train_speed.py --pairs 5 --device cpu --write   # update the tables

With --write the results table goes into benchmarks/README.md and the top-level README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START, END = "<!-- benchmark-table -->", "<!-- /benchmark-table -->"


def run(command: list[str]) -> dict:
    """Run one training process; return its JSON result plus the wall time measured here."""
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")
    p.add_argument("--write", action="store_true", help="update the README tables")
    args = p.parse_args()
    py = sys.executable
    device = ["--device", args.device] if args.device else []
    rows = []
    with tempfile.TemporaryDirectory(prefix="tbviz-bench-") as tmp:
        for i in range(args.pairs):
            base = run(
                [py, str(HERE / "tutorial_baseline.py"), "--logdir", f"{tmp}/base{i}", *device]
            )
            logged = [
                py,
                "-m",
                "tbviz.train",
                "--run-dir",
                f"{tmp}/fast{i}",
                "--no-progress",
                *device,
            ]
            unlogged = [py, "-m", "tbviz.train", "--no-log", "--no-progress", *device]
            # alternate which of the two goes first, so that an order effect (a run right after
            # the long baseline) does not count as logging overhead or as its absence
            if i % 2 == 0:
                fast, nolog = run(logged), run(unlogged)
            else:
                nolog, fast = run(unlogged), run(logged)
            row = {
                "baseline_s": base["wall"],
                "course_s": fast["wall"],
                "nolog_s": nolog["wall"],
                "speed_ratio": fast["wall"] / base["wall"],
                "logging_overhead": fast["wall"] / nolog["wall"] - 1,
                "logging_share": fast["logging_seconds"] / fast["wall"],
                "baseline_acc": base["test_accuracy"],
                "course_acc": fast["test_accuracy"],
                "device": fast["device"],
            }
            rows.append(row)
            print(
                f"pair {i + 1}: baseline {base['wall']:.1f} s ({base['test_accuracy']:.2%}) | "
                f"course {fast['wall']:.1f} s ({fast['test_accuracy']:.2%}) | "
                f"no logging {nolog['wall']:.1f} s | ratio {row['speed_ratio']:.2f} | "
                f"logging overhead {row['logging_overhead']:+.1%} "
                f"(timed inside the run: {fast['logging_seconds']:.2f} s)",
                flush=True,
            )
    ratio = statistics.median(r["speed_ratio"] for r in rows)
    overhead = statistics.median(r["logging_overhead"] for r in rows)
    share = statistics.median(r["logging_share"] for r in rows)
    dev = rows[0]["device"]
    table = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine(dev)}, device `{dev}`, "
            f"{len(rows)} alternating pairs (medians):",
            "",
            "| run | wall time (s) | test accuracy |",
            "|---|---|---|",
            f"| tutorial-style loop (batch 4, per-sample DataLoader, 1 epoch) | "
            f"{statistics.median(r['baseline_s'] for r in rows):.1f} | "
            f"{statistics.median(r['baseline_acc'] for r in rows):.2%} |",
            f"| `python -m tbviz.train` (defaults, full logging) | "
            f"{statistics.median(r['course_s'] for r in rows):.1f} | "
            f"{statistics.median(r['course_acc'] for r in rows):.2%} |",
            f"| `python -m tbviz.train --no-log` | "
            f"{statistics.median(r['nolog_s'] for r in rows):.1f} | |",
            "",
            f"Wall-time ratio course / baseline: **{ratio:.2f}x** (target <= 0.5x). "
            f"Logging overhead: **{overhead:+.1%}** (target <= 5%). Whole processes, data loading "
            f"and evaluation included. Logging work timed inside the logged run (every writer "
            f"call, the per-epoch pictures and histograms, checkpoints, hparams): "
            f"**{share:.1%}** of its wall time.",
            "",
            "Per pair (wall-clock noise on a shared machine is several percent either way): ratio "
            + ", ".join(f"{r['speed_ratio']:.2f}" for r in rows)
            + "; logging overhead "
            + ", ".join(f"{r['logging_overhead']:+.1%}" for r in rows)
            + ".",
        ]
    )
    print()
    print(table)
    ok = ratio <= 0.5 and overhead <= 0.05 and min(r["course_acc"] for r in rows) >= 0.91
    print("\ntargets met" if ok else "\ntargets NOT met")
    if args.write:
        for readme in (HERE / "README.md", ROOT / "README.md"):
            text = readme.read_text()
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
