"""The course's training loop, with full TensorBoard logging, and its command line.

Fast because the whole dataset sits in memory as one tensor and is batched by index (no
per-sample PIL pipeline), the network uses channels-last memory on the CPU, and a one-cycle
schedule reaches 91%+ test accuracy in a few epochs. Lessons 02-08 use :func:`fit`; lesson 02
writes the same loop out by hand first.

    python -m tbviz.train                      # defaults: 91%+ in well under a minute on 2 cores
    python -m tbviz.train --epochs 1 --no-log  # measure without logging
    python -m tbviz.train --logdir runs/train/mine --resume   # continue an interrupted run

The last line printed is one JSON object (test_accuracy, seconds, device, logdir, ...).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tbviz import data, logs, models, paths, plots, runtime

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or Inf; the message says when and what to try."""


class CheckpointMismatch(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


@dataclass
class Config:
    """Everything that defines a training run (logged as text and as hparams)."""

    epochs: int = 4
    batch_size: int = 256
    lr: float = 0.02
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    model: str = "fast"
    width: int = 16
    dropout: float = 0.0
    seed: int = 0
    val_size: int = 5000
    train_size: int = 0  # 0: every training image left after the validation split
    log_every: int = 50

    def validate(self) -> Config:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be positive, not {self.lr}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {sorted(OPTIMIZERS)}, "
                                           f"got {self.optimizer!r}"),
            (self.model in models.MODELS, f"model must be one of {sorted(models.MODELS)}, "
                                          f"got {self.model!r}"),
            (0 <= self.val_size < 60_000, f"val_size must be in 0..59999, got {self.val_size}"),
            (0 <= self.train_size <= 60_000 - self.val_size,
             f"train_size must be in 0..{60_000 - self.val_size}, got {self.train_size}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def build_model(self) -> nn.Module:
        if self.model == "fast":
            return models.FastNet(width=self.width, dropout=self.dropout)
        return models.build(self.model)


OPTIMIZERS = {
    "adamw": lambda params, cfg: torch.optim.AdamW(
        params, lr=cfg.lr, weight_decay=cfg.weight_decay
    ),
    "adam": lambda params, cfg: torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay),
    "sgd": lambda params, cfg: torch.optim.SGD(
        params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay
    ),
}


@dataclass
class History:
    """Per-epoch metrics of a :func:`fit` call."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    steps: int = 0
    logging_seconds: float = 0.0  # time spent logging and checkpointing, training excluded


class Stopwatch:
    """Adds up the seconds spent inside its ``with`` blocks (what logging costs a run)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


@dataclass
class Split:
    """Images (N x 1 x 28 x 28, normalized) and labels (N) held in memory."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


def load_splits(val_size: int = 5000, seed: int = 0) -> tuple[Split, Split, Split]:
    """Train / validation / test splits of Fashion-MNIST; validation comes out of the 60k
    training images (a fixed random subset), the 10k test images stay untouched."""
    images, labels = data.tensors(train=True)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    test = Split(*data.tensors(train=False))
    train = Split(images[train_idx], labels[train_idx])
    return train, Split(images[val_idx], labels[val_idx]), test


@torch.no_grad()
def evaluate(net: nn.Module, split: Split, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``net`` on ``split``."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    total_loss, correct = 0.0, 0
    for images, labels in data.batches(split.images, split.labels, batch_size, shuffle=False):
        images, labels = images.to(device), labels.to(device)
        logits = net(images)
        total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    net.train(was_training)
    return total_loss / len(split), correct / len(split)


@torch.no_grad()
def predict_probs(net: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Softmax probabilities (N x classes) for ``images``, on the CPU."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    out = [torch.softmax(net(chunk.to(device)), 1).cpu() for chunk in images.split(batch_size)]
    net.train(was_training)
    return torch.cat(out)


def config_markdown(cfg: Config, extra: dict[str, Any] | None = None) -> str:
    """The run configuration as a markdown table (logged with ``add_text``)."""
    rows = {**asdict(cfg), **(extra or {})}
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def save_checkpoint(path: Path, net: nn.Module, optimizer, scheduler, epoch: int, step: int,
                    cfg: Config) -> None:
    """Save atomically (temporary name, then rename): an interrupted save loses nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(
        {
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "step": step,
            "config": asdict(cfg),
        },
        tmp,
    )
    tmp.replace(path)


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``: no code in the file is run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint(
    path: Path | str, net: nn.Module, *, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Load a checkpoint into ``net``; return the whole dict (``state``: one read already).

    Raises :class:`CheckpointMismatch` naming both models when the weights do not fit.
    """
    path = Path(path)
    if state is None:
        state = read_checkpoint(path)
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as err:
        saved = state.get("config", {})
        first = str(err).strip().splitlines()[:3]
        raise CheckpointMismatch(
            f"checkpoint {path} was saved from model {saved.get('model')!r} "
            f"(width {saved.get('width')}), which does not fit {type(net).__name__}: "
            f"{' '.join(first)}\nLoad it into the same model, or start a new run."
        ) from None
    return state


def fit(
    net: nn.Module,
    train: Split,
    val: Split,
    cfg: Config,
    *,
    writer: Any = None,
    device: torch.device | None = None,
    checkpoint: Path | None = None,
    resume: dict[str, Any] | None = None,
    histograms: bool = True,
    figures: bool = True,
    progress: bool = False,
    verbose: bool = True,
) -> History:
    """Train ``net`` with cfg's optimizer and a one-cycle learning-rate schedule.

    With a ``writer`` it logs: ``batch/loss`` and ``batch/accuracy`` every ``cfg.log_every``
    batches; ``Loss/train``, ``Loss/val``, ``Accuracy/train``, ``Accuracy/val`` per epoch
    (at the step that ends the epoch: every tag shares the one step axis, batches seen);
    weight and gradient histograms per epoch; a predictions-vs-truth figure per epoch.
    With ``checkpoint`` it saves the model after every epoch; ``resume``
    (a loaded checkpoint) continues from it. A NaN/Inf loss stops training with
    :class:`TrainingDiverged`; Ctrl-C (KeyboardInterrupt) flushes the writer and re-raises.
    """
    cfg.validate()
    device = device or runtime.device()
    net = net.to(device, memory_format=torch.channels_last)
    train, val = train.to(device), val.to(device)
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = OPTIMIZERS[cfg.optimizer](net.parameters(), cfg)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch
    )
    start_epoch, step = 0, 0
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        start_epoch, step = resume["epoch"], resume["step"]
        # replay the shuffles of finished epochs so a resumed run sees the same batches
        for _ in range(start_epoch):
            torch.randperm(len(train), generator=generator)
    history = History(steps=step)
    logging_time = Stopwatch()
    warned: set[str] = set()
    sample = val.images[:4].cpu(), val.labels[:4].cpu()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=(cfg.epochs - start_epoch) * steps_per_epoch, unit="batch",
                   file=sys.stderr, dynamic_ncols=True)
    try:
        for epoch in range(start_epoch, cfg.epochs):
            net.train()
            started = time.perf_counter()
            seen = correct = 0
            loss_sum = 0.0
            window_loss = window_correct = window_seen = 0.0
            for images, labels in data.batches(train.images, train.labels, cfg.batch_size,
                                               generator=generator):
                logits = net(images)
                loss = nn.functional.cross_entropy(logits, labels)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss.item()} at step {step + 1} (epoch {epoch + 1}); "
                        f"training stopped. Lower the learning rate (lr={cfg.lr}) or check the "
                        f"inputs for NaN; everything logged so far is kept."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                step += 1
                with torch.no_grad():
                    hits = (logits.argmax(1) == labels).sum().item()
                batch_loss = loss.item() * len(labels)
                seen += len(labels)
                correct += hits
                loss_sum += batch_loss
                window_loss += batch_loss
                window_correct += hits
                window_seen += len(labels)
                if writer is not None and step % cfg.log_every == 0:
                    with logging_time:
                        writer.add_scalar("batch/loss", window_loss / window_seen, step)
                        writer.add_scalar("batch/accuracy", window_correct / window_seen, step)
                        writer.add_scalar("batch/lr", scheduler.get_last_lr()[0], step)
                    window_loss = window_correct = window_seen = 0.0
                if bar is not None:
                    bar.update()
            train_loss, train_acc = loss_sum / seen, correct / seen
            val_loss, val_acc = evaluate(net, val) if len(val) else (float("nan"),) * 2
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            history.steps = step
            seconds = time.perf_counter() - started
            with logging_time:
                if writer is not None:
                    at = step  # one step axis (batches seen) for every tag: exact purge on resume
                    writer.add_scalar("Loss/train", train_loss, at)
                    writer.add_scalar("Accuracy/train", train_acc, at)
                    if len(val):
                        writer.add_scalar("Loss/val", val_loss, at)
                        writer.add_scalar("Accuracy/val", val_acc, at)
                    if histograms:
                        logs.log_parameters(writer, net, at, warned=warned)
                    if figures:  # lesson 05's predictions figure, drawn with Pillow (fast)
                        writer.add_image("predictions", plots.predictions_image(net, *sample), at,
                                         dataformats="HWC")
                if checkpoint is not None:
                    save_checkpoint(checkpoint, net, optimizer, scheduler, epoch + 1, step, cfg)
            if verbose:
                line = (f"epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.3f}, "
                        f"acc {100 * train_acc:.1f}% | val loss {val_loss:.3f}, "
                        f"acc {100 * val_acc:.1f}% | {seconds:.1f} s")
                (bar.write(line) if bar is not None else print(line, flush=True))
    except KeyboardInterrupt:
        if writer is not None:
            writer.flush()
        if verbose:
            where = f"; the last finished epoch is saved in {checkpoint}" if checkpoint else ""
            print(f"interrupted at step {step}: everything logged so far is kept{where}",
                  file=sys.stderr)
        raise
    finally:
        history.logging_seconds = logging_time.seconds
        if bar is not None:
            bar.close()
    return history


def custom_scalars_layout() -> dict:
    """A Custom Scalars layout that puts train and validation curves in one chart each."""
    return {
        "Training": {
            "Loss (train vs val)": ["Multiline", ["Loss/train", "Loss/val"]],
            "Accuracy (train vs val)": ["Multiline", ["Accuracy/train", "Accuracy/val"]],
        }
    }


# ----------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Config()
    p = argparse.ArgumentParser(
        prog="python -m tbviz.train",
        description="Train the course's model on Fashion-MNIST with full TensorBoard logging.",
    )
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer)
    p.add_argument("--model", choices=sorted(models.MODELS), default=defaults.model)
    p.add_argument("--width", type=int, default=defaults.width, help="channels (fast model)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--logdir", type=Path, default=None,
                   help="run directory (default: a new <logs root>/train/<model>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --logdir from its {CHECKPOINT}")
    p.add_argument("--no-log", action="store_true", help="log nothing (for measuring)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--train-size", type=int, default=0,
                   help="train on the first N training images only (default: all)")
    return p.parse_args(argv)


def _prepare_logdir(args: argparse.Namespace, cfg: Config) -> Path | None:
    if args.no_log:
        if args.resume:
            raise SystemExit("error: --resume needs the logs; drop --no-log")
        return None
    if args.logdir is None:
        if args.resume:
            raise SystemExit("error: --resume needs --logdir: the run to continue")
        return logs.unique_run_dir(cfg.model, paths.logs_root() / "train")
    logdir = args.logdir.expanduser().resolve()
    if args.resume:
        if not (logdir / CHECKPOINT).is_file():
            raise SystemExit(f"error: nothing to resume: {logdir / CHECKPOINT} does not exist")
    elif logs.event_files(logdir) or (logdir / CHECKPOINT).exists():
        raise SystemExit(
            f"error: {logdir} already holds a run; pass --resume to continue it, or choose "
            f"another --logdir (nothing was overwritten)"
        )
    return logdir


# Config fields that the command line sets: field batch_size is flag --batch-size.
CLI_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "model", "width", "seed", "train_size")


def _resumed_config(args: argparse.Namespace, state: dict[str, Any], logdir: Path) -> Config:
    """The saved run's settings; a flag that asks for other ones is an error, not ignored."""
    cfg = Config(**state["config"])
    defaults = parse_args([])
    changed = [
        f"--{field.replace('_', '-')} {getattr(args, field)} (the run has {getattr(cfg, field)})"
        for field in CLI_FIELDS
        if getattr(args, field) != getattr(defaults, field)
        and getattr(args, field) != getattr(cfg, field)
    ]
    if changed:
        raise SystemExit(
            f"error: --resume continues the run in {logdir} with its saved settings; it cannot "
            f"change {', '.join(changed)}. Drop those flags, or start a new run with another "
            f"--logdir (nothing was changed)"
        )
    if state["epoch"] >= cfg.epochs:
        raise SystemExit(f"error: the run in {logdir} already finished its {cfg.epochs} epochs")
    return cfg


def main(argv: list[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config(**{field: getattr(args, field) for field in CLI_FIELDS})
    try:
        cfg.validate()
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    device = runtime.device(args.device)
    logdir = _prepare_logdir(args, cfg)
    resume = None
    if args.resume:
        resume = read_checkpoint(logdir / CHECKPOINT)
        cfg = _resumed_config(args, resume, logdir)
    runtime.seed(cfg.seed)
    net = cfg.build_model()
    if resume is not None:
        load_checkpoint(logdir / CHECKPOINT, net, state=resume)
    train, val, test = load_splits(cfg.val_size, cfg.seed)
    if cfg.train_size:
        train = Split(train.images[: cfg.train_size], train.labels[: cfg.train_size])
    writer = None
    logging_time = Stopwatch()  # writer set-up, hparams and close; fit times its own logging
    if logdir is not None:
        # purge_step drops events logged after the checkpoint, so resumed curves continue
        # exactly where the saved epoch ended.
        with logging_time:
            writer = logs.writer_at(logdir, purge_step=resume["step"] + 1 if resume else None)
            if not resume:
                writer.add_text("config", config_markdown(cfg, {"device": str(device)}))
                writer.add_custom_scalars(custom_scalars_layout())
    try:
        history = fit(net, train, val, cfg, writer=writer, device=device,
            checkpoint=logdir / CHECKPOINT if logdir else None, resume=resume,
            progress=not args.no_progress)
        test_loss, test_acc = evaluate(net, test.to(device))
        seconds = time.perf_counter() - started
        result = {
            "test_accuracy": round(test_acc, 4),
            "test_loss": round(test_loss, 4),
            "seconds": round(seconds, 2),
            "device": str(device),
            "logdir": str(logdir) if logdir else None,
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
        if logdir is not None:
            print(f"resume with: python -m tbviz.train --logdir {logdir} --resume",
                  file=sys.stderr)
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
