"""The command line of the training loop: ``python -m tbviz.train`` (or ``tbviz-train``).

    python -m tbviz.train                        # defaults: 91%+ in well under a minute on 2 cores
    python -m tbviz.train --epochs 1 --no-log    # measure without logging
    python -m tbviz.train --run-dir runs/train/mine --resume   # continue an interrupted run

``--run-dir`` is one run's directory (``--logdir`` is kept as an alias for it); the log
directory TensorBoard opens is the root above the runs. A run directory that already holds a
run is never overwritten. The last line printed is one JSON object (test_accuracy, seconds,
device, run_dir, logging_seconds, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from tbviz import data, events, logs, models, paths, runtime
from tbviz.train import (
    CHECKPOINT,
    OPTIMIZERS,
    Config,
    Stopwatch,
    TrainingDiverged,
    config_markdown,
    custom_scalars_layout,
    evaluate,
    fit,
    load_checkpoint,
    read_checkpoint,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags; a Config field's flag defaults to None, meaning "not given"."""
    defaults = Config()
    p = argparse.ArgumentParser(
        prog="python -m tbviz.train",
        description="Train the course's model on Fashion-MNIST with full TensorBoard logging.",
    )
    p.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    p.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    p.add_argument("--lr", type=float, help=f"peak learning rate, default {defaults.lr}")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help=f"default {defaults.optimizer}")
    p.add_argument("--model", choices=sorted(models.MODELS), help=f"default {defaults.model}")
    p.add_argument("--width", type=int, help=f"channels (fast model), default {defaults.width}")
    p.add_argument("--seed", type=int, help=f"default {defaults.seed}")
    p.add_argument(
        "--device",
        default=None,
        help="cuda, mps or cpu (default: $TBVIZ_DEVICE, else the best available)",
    )
    p.add_argument(
        "--run-dir",
        "--logdir",
        dest="run_dir",
        type=Path,
        default=None,
        help="this run's directory (default: a new <logs root>/train/<model>-<time>); "
        "--logdir is an older name for it",
    )
    p.add_argument(
        "--resume", action="store_true", help=f"continue the run in --run-dir from its {CHECKPOINT}"
    )
    p.add_argument("--no-log", action="store_true", help="log nothing (for measuring)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--train-size", type=int, help="train on the first N training images only (default: all)"
    )
    return p.parse_args(argv)


def _prepare_run_dir(args: argparse.Namespace, cfg: Config) -> Path | None:
    if args.no_log:
        if args.resume:
            raise SystemExit("error: --resume needs the logs; drop --no-log")
        return None
    if args.run_dir is None:
        if args.resume:
            raise SystemExit("error: --resume needs --run-dir: the run to continue")
        return logs.unique_run_dir(cfg.model, paths.logs_root() / "train")
    run_dir = args.run_dir.expanduser().resolve()
    if args.resume:
        if not (run_dir / CHECKPOINT).is_file():
            raise SystemExit(f"error: nothing to resume: {run_dir / CHECKPOINT} does not exist")
    elif events.event_files(run_dir) or (run_dir / CHECKPOINT).exists():
        raise SystemExit(
            f"error: {run_dir} already holds a run; pass --resume to continue it, or choose "
            f"another --run-dir (nothing was overwritten)"
        )
    return run_dir


# Config fields that the command line sets: field batch_size is flag --batch-size.
CLI_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "model", "width", "seed", "train_size")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields whose flags were given on the command line."""
    return {field: getattr(args, field) for field in CLI_FIELDS if getattr(args, field) is not None}


def _resumed_config(args: argparse.Namespace, state: dict[str, Any], run_dir: Path) -> Config:
    """The saved run's settings; a flag that asks for other ones is an error, not ignored.

    ``--epochs`` cannot extend a run either: its one-cycle schedule was planned for the saved
    number of epochs and has brought the learning rate down to almost zero by the end.
    """
    cfg = Config(**state["config"])
    changed = [
        f"--{field.replace('_', '-')} {value} (the run has {getattr(cfg, field)})"
        for field, value in _given(args).items()
        if value != getattr(cfg, field)
    ]
    if changed:
        why = (
            " (its one-cycle learning-rate schedule was planned for that many epochs, so a "
            "longer run is a new run)"
            if "epochs" in _given(args)
            else ""
        )
        raise SystemExit(
            f"error: --resume continues the run in {run_dir} with its saved settings{why}; it "
            f"cannot change {', '.join(changed)}. Drop those flags, or start a new run with "
            f"another --run-dir (nothing was changed)"
        )
    if state["epoch"] >= cfg.epochs:
        raise SystemExit(f"error: the run in {run_dir} already finished its {cfg.epochs} epochs")
    return cfg


def main(argv: list[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(**_given(args))
    try:
        cfg.validate()
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    device = runtime.device(args.device)
    run_dir = _prepare_run_dir(args, cfg)
    resume = None
    if args.resume:
        resume = read_checkpoint(run_dir / CHECKPOINT)
        cfg = _resumed_config(args, resume, run_dir)
    runtime.seed(cfg.seed)
    net = cfg.build_model()
    if resume is not None:
        load_checkpoint(run_dir / CHECKPOINT, net, state=resume)
    train, val, test = data.load_splits(cfg.val_size, cfg.seed)
    writer = None
    logging_time = Stopwatch()  # writer set-up, hparams and close; fit times its own logging
    if run_dir is not None:
        # purge_step drops events logged after the checkpoint, so resumed curves continue
        # exactly where the saved epoch ended.
        with logging_time:
            writer = logs.writer_at(run_dir, purge_step=resume["step"] + 1 if resume else None)
            if not resume:
                writer.add_text("config", config_markdown(cfg, {"device": str(device)}))
                writer.add_custom_scalars(custom_scalars_layout())
    try:
        history = fit(
            net,
            train,
            val,
            cfg,
            writer=writer,
            device=device,
            checkpoint=run_dir / CHECKPOINT if run_dir else None,
            resume=resume,
            histograms=True,
            figures=True,
            progress=not args.no_progress,
        )
        test_loss, test_acc = evaluate(net, test.to(device))
        seconds = time.perf_counter() - started
        result = {
            "test_accuracy": round(test_acc, 4),
            "test_loss": round(test_loss, 4),
            "seconds": round(seconds, 2),
            "device": str(device),
            "run_dir": str(run_dir) if run_dir else None,
            "epochs": cfg.epochs,
            "model": cfg.model,
            "parameters": models.count_parameters(net),
        }
        if writer is not None:
            with logging_time:
                writer.add_hparams(
                    {k: v for k, v in asdict(cfg).items() if k not in {"log_every", "val_size"}},
                    {"hparam/test_accuracy": test_acc, "hparam/test_loss": test_loss},
                    run_name=".",
                    global_step=history.steps,
                )
    except KeyboardInterrupt:
        if run_dir is not None:
            print(
                f"resume with: python -m tbviz.train --run-dir {run_dir} --resume", file=sys.stderr
            )
        raise SystemExit(130) from None
    except TrainingDiverged as err:
        raise SystemExit(f"error: {err}") from None
    finally:
        if writer is not None:
            with logging_time:
                writer.close()
    # what logging cost this run (writer, scalars, histograms, pictures, checkpoints, hparams)
    result["logging_seconds"] = round(logging_time.seconds + history.logging_seconds, 2)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
