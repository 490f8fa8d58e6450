"""The course's training loop, with TensorBoard logging (lesson 02 writes it out by hand).

Fast because the whole dataset sits in memory as one tensor and is batched by index (no
per-sample PIL pipeline), the network uses channels-last memory on the CPU, and a one-cycle
schedule reaches 91%+ test accuracy in a few epochs. Lessons 00, 06, 07, 08, 09 and 10 call
:func:`fit`. The command line, ``python -m tbviz.train``, is :mod:`tbviz.train_cli`.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tbviz import data, logs, models, plots, runtime
from tbviz.data import Split

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or Inf; the message says when and what to try."""


class CheckpointMismatch(ValueError):
    """A checkpoint does not fit the model it is loaded into."""


@dataclass
class Config:
    """Everything that defines a training run (logged as text and as hparams)."""

    epochs: int = 4  # passes over the training split
    batch_size: int = 256  # images per optimizer step
    lr: float = 0.02  # peak learning rate of the one-cycle schedule
    optimizer: str = "adamw"  # a key of OPTIMIZERS
    weight_decay: float = 1e-4  # L2 pull towards zero (lesson 08); 0 switches it off
    model: str = "fast"  # a key of models.MODELS: "fast" (FastNet) or "tutorial"
    width: int = 16  # FastNet: channels of the first conv block (the second has twice as many)
    hidden: int = 128  # FastNet: units of the hidden fully connected layer
    dropout: float = 0.0  # FastNet: dropout before the classifier (lesson 08)
    seed: int = 0  # seeds the shuffling (and the split, in the command line)
    val_size: int = 5000  # validation images held out of the 60,000 training images
    train_size: int = 0  # 0: every training image left after the validation split
    log_every: int = 50  # batches between two points of the batch/* curves

    def validate(self) -> Config:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be positive, not {self.lr}"),
            (
                self.optimizer in OPTIMIZERS,
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}",
            ),
            (
                self.model in models.MODELS,
                f"model must be one of {sorted(models.MODELS)}, got {self.model!r}",
            ),
            (0 <= self.val_size < 60_000, f"val_size must be in 0..59999, got {self.val_size}"),
            (
                0 <= self.train_size <= 60_000 - self.val_size,
                f"train_size must be in 0..{60_000 - self.val_size}, got {self.train_size}",
            ),
            (
                self.width >= 1 and self.hidden >= 1,
                f"width and hidden must be >= 1, got {self.width} and {self.hidden}",
            ),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def build_model(self) -> nn.Module:
        """The network this configuration describes (lesson 00's one way to make ``net``)."""
        if self.model == "fast":
            return models.FastNet(width=self.width, hidden=self.hidden, dropout=self.dropout)
        return models.build(self.model)

    def check_describes(self, net: nn.Module) -> None:
        """Refuse a course network that differs from this configuration, so that the logged
        config and hparams describe the network actually trained. Other networks pass."""
        actual = models.describe(net)
        if actual["model"] not in models.MODELS:
            return
        wrong = [
            f"{key}={value!r} (cfg says {getattr(self, key)!r})"
            for key, value in actual.items()
            if value != getattr(self, key)
        ]
        if wrong:
            raise ValueError(
                f"net is not the network cfg describes: it has {', '.join(wrong)}. Build it "
                f"with net = cfg.build_model(), or change cfg to match it"
            )


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
    steps: int = 0  # batches seen at the end of the last epoch
    logging_seconds: float = 0.0  # time spent logging and checkpointing, training excluded

    def record(
        self, train_loss: float, train_acc: float, val_loss: float, val_acc: float, steps: int
    ) -> dict[str, float]:
        """Append one epoch; return its metrics by tag name."""
        for values, value in (
            (self.train_loss, train_loss),
            (self.train_acc, train_acc),
            (self.val_loss, val_loss),
            (self.val_acc, val_acc),
        ):
            values.append(value)
        self.steps = steps
        return {
            "Loss/train": train_loss,
            "Accuracy/train": train_acc,
            "Loss/val": val_loss,
            "Accuracy/val": val_acc,
        }

    def summary(self) -> str:
        """The last epoch in one line."""
        return (
            f"train loss {self.train_loss[-1]:.3f}, acc {100 * self.train_acc[-1]:.1f}% | "
            f"val loss {self.val_loss[-1]:.3f}, acc {100 * self.val_acc[-1]:.1f}%"
        )


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


def evaluate(net: nn.Module, split: Split, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``net`` on ``split`` (on the net's device)."""
    total_loss, correct = 0.0, 0
    with models.eval_mode(net) as device:
        for images, labels in data.batches(split.images, split.labels, batch_size, shuffle=False):
            images, labels = images.to(device), labels.to(device)
            logits = net(images)
            total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
    return total_loss / len(split), correct / len(split)


def config_markdown(cfg: Config, extra: dict[str, Any] | None = None) -> str:
    """The run configuration as a markdown table (logged with ``add_text``)."""
    rows = {**asdict(cfg), **(extra or {})}
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def save_checkpoint(
    path: Path, net: nn.Module, optimizer, scheduler, epoch: int, step: int, cfg: Config
) -> None:
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


def make_optimizer(net: nn.Module, cfg: Config, steps_per_epoch: int) -> tuple[Any, Any]:
    """cfg's optimizer and a one-cycle schedule planned for all of cfg's epochs."""
    optimizer = OPTIMIZERS[cfg.optimizer](net.parameters(), cfg)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch
    )
    return optimizer, scheduler


@dataclass
class _Window:
    """Loss and accuracy summed over some batches (an epoch, or the batches since a log point)."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0

    def add(self, loss: float, correct: int, n: int) -> None:
        self.loss += loss * n
        self.correct += correct
        self.seen += n

    def means(self) -> tuple[float, float]:
        return self.loss / self.seen, self.correct / self.seen

    def reset(self) -> None:
        self.loss, self.correct, self.seen = 0.0, 0, 0


def _train_epoch(
    net,
    train: Split,
    cfg: Config,
    optimizer,
    scheduler,
    generator,
    *,
    step: int,
    epoch: int,
    writer: Any,
    window: _Window,
    stopwatch: Stopwatch,
    bar: Any,
) -> tuple[int, _Window]:
    """One pass over ``train``; every ``cfg.log_every`` batches logs ``batch/*`` as means over
    ``window``, the batches since the last point (which may lie in the previous epoch).
    Returns the step reached (batches seen) and the epoch's sums."""
    net.train()
    whole = _Window()
    for images, labels in data.batches(
        train.images, train.labels, cfg.batch_size, generator=generator
    ):
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
        hits = (logits.detach().argmax(1) == labels).sum().item()
        for sums in (whole, window):
            sums.add(loss.item(), hits, len(labels))
        if writer is not None and step % cfg.log_every == 0:
            with stopwatch:
                window_loss, window_acc = window.means()
                writer.add_scalar("batch/loss", window_loss, step)  # mean since the last point
                writer.add_scalar("batch/accuracy", window_acc, step)
                writer.add_scalar("batch/lr", scheduler.get_last_lr()[0], step)
            window.reset()
        if bar is not None:
            bar.update()
    return step, whole


def _log_epoch(
    writer: Any,
    net: nn.Module,
    step: int,
    metrics: dict[str, float],
    *,
    histograms: bool,
    figures: bool,
    sample: tuple,
    warned: set[str],
) -> None:
    """Epoch tags at ``step`` (batches seen, the one step axis of every tag: an exact purge
    on resume), then the optional histograms and predictions picture."""
    for tag, value in metrics.items():
        if not math.isnan(value):
            writer.add_scalar(tag, value, step)
    if histograms:
        logs.log_parameters(writer, net, step, warned=warned)
    if figures:  # lesson 05's predictions figure, drawn with Pillow (fast)
        writer.add_image(
            "predictions", plots.predictions_image(net, *sample), step, dataformats="HWC"
        )


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
    histograms: bool = False,
    figures: bool = False,
    progress: bool = False,
    verbose: bool = True,
) -> History:
    """Train ``net`` (built from ``cfg``) with cfg's optimizer and a one-cycle schedule, on
    the first ``cfg.train_size`` images of ``train`` (all of them when it is 0).

    With a ``writer`` it logs ``batch/loss``, ``batch/accuracy`` and ``batch/lr`` every
    ``cfg.log_every`` batches, and ``Loss/train``, ``Accuracy/train``, ``Loss/val`` and
    ``Accuracy/val`` at the end of every epoch, all at step = batches seen; ``histograms``
    adds weight and gradient histograms and ``figures`` a predictions picture per epoch.
    ``checkpoint`` saves after every epoch; ``resume`` (a loaded checkpoint) continues from
    it. A NaN/Inf loss stops with :class:`TrainingDiverged`; Ctrl-C flushes and re-raises.
    """
    cfg.validate().check_describes(net)
    if cfg.train_size:
        train = train.first(cfg.train_size)
    device = device or runtime.device()
    net = net.to(device, memory_format=torch.channels_last)
    train, val = train.to(device), val.to(device)
    optimizer, scheduler = make_optimizer(net, cfg, math.ceil(len(train) / cfg.batch_size))
    generator = torch.Generator().manual_seed(cfg.seed)
    start_epoch, step = _restore(resume, optimizer, scheduler, generator, len(train))
    history, stopwatch, warned, window = History(steps=step), Stopwatch(), set(), _Window()
    sample = val.images[:4].cpu(), val.labels[:4].cpu()
    bar = _progress_bar(cfg, start_epoch, len(train)) if progress else None
    try:
        for epoch in range(start_epoch, cfg.epochs):
            started = time.perf_counter()
            step, sums = _train_epoch(
                net,
                train,
                cfg,
                optimizer,
                scheduler,
                generator,
                step=step,
                epoch=epoch,
                writer=writer,
                window=window,
                stopwatch=stopwatch,
                bar=bar,
            )
            metrics = history.record(*sums.means(), *_validate(net, val), step)
            with stopwatch:
                if writer is not None:
                    _log_epoch(
                        writer,
                        net,
                        step,
                        metrics,
                        histograms=histograms,
                        figures=figures,
                        sample=sample,
                        warned=warned,
                    )
                if checkpoint is not None:
                    save_checkpoint(checkpoint, net, optimizer, scheduler, epoch + 1, step, cfg)
            if verbose:
                _say(
                    bar,
                    f"epoch {epoch + 1}/{cfg.epochs}: {history.summary()} | "
                    f"{time.perf_counter() - started:.1f} s",
                )
    except KeyboardInterrupt:
        if writer is not None:
            writer.flush()
        if verbose:
            where = f"; the last finished epoch is saved in {checkpoint}" if checkpoint else ""
            print(
                f"interrupted at step {step}: everything logged so far is kept{where}",
                file=sys.stderr,
            )
        raise
    finally:
        history.logging_seconds = stopwatch.seconds
        if bar is not None:
            bar.close()
    return history


def _restore(
    resume: dict[str, Any] | None, optimizer, scheduler, generator, n_train: int
) -> tuple[int, int]:
    """Load the optimizer and schedule of a checkpoint; return (first epoch, step)."""
    if resume is None:
        return 0, 0
    optimizer.load_state_dict(resume["optimizer"])
    scheduler.load_state_dict(resume["scheduler"])
    # replay the shuffles of finished epochs so a resumed run sees the same batches
    for _ in range(resume["epoch"]):
        torch.randperm(n_train, generator=generator)
    return resume["epoch"], resume["step"]


def _validate(net: nn.Module, val: Split) -> tuple[float, float]:
    return evaluate(net, val) if len(val) else (float("nan"), float("nan"))


def _progress_bar(cfg: Config, start_epoch: int, n_train: int) -> Any:
    from tqdm import tqdm

    total = (cfg.epochs - start_epoch) * math.ceil(n_train / cfg.batch_size)
    return tqdm(total=total, unit="batch", file=sys.stderr, dynamic_ncols=True)


def _say(bar: Any, line: str) -> None:
    if bar is not None:
        bar.write(line)
    else:
        print(line, flush=True)


def custom_scalars_layout() -> dict:
    """A Custom Scalars layout that puts train and validation curves in one chart each."""
    return {
        "Training": {
            "Loss (train vs val)": ["Multiline", ["Loss/train", "Loss/val"]],
            "Accuracy (train vs val)": ["Multiline", ["Accuracy/train", "Accuracy/val"]],
        }
    }


if __name__ == "__main__":  # python -m tbviz.train: the command line lives in train_cli
    from tbviz.train_cli import main

    main()
