"""Lesson 11: train FastNet with DistributedDataParallel, log from rank 0 only.

This module is a training script that ``torchrun`` starts once per rank (process):

    torchrun --standalone --nproc_per_node=2 -m tbviz.ddp --run-dir runs/ddp

(``python -m torch.distributed.run`` is the same program as ``torchrun``.) Each rank trains on
its own shard of Fashion-MNIST; DDP averages the gradients, so every rank takes the same
optimizer step. Metrics are summed over the ranks with ``dist.all_reduce`` and only rank 0
writes them. ``--every-rank-writes`` shows the pitfall: every rank opens a writer on the same
run and logs its own numbers.

:func:`launch` starts the script from a notebook and stops it if it hangs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter

from tbviz import data, logs, models, train

MODEL_FILE = "model.pt"
"""Rank 0 saves the trained weights here, in the run directory, for checking."""

HANG_HINT = (
    "A distributed run that never finishes is usually waiting in a collective that not every "
    "rank reached: an all_reduce, all_gather, broadcast or barrier called on some ranks only "
    "(e.g. inside `if rank == 0:`), or ranks with uneven numbers of batches, so that one rank "
    "waits in DDP's gradient all-reduce for ranks that have already finished."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="torchrun --standalone --nproc_per_node=2 -m tbviz.ddp",
        description="Lesson 11: DDP training that logs to TensorBoard from rank 0 only.",
    )
    p.add_argument(
        "--run-dir",
        "--logdir",
        dest="run_dir",
        type=Path,
        required=True,
        help="the run directory rank 0 writes to (--logdir is an older name for it)",
    )
    p.add_argument(
        "--every-rank-writes",
        action="store_true",
        help="the pitfall: every rank writes its own numbers to --run-dir",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cpu: gloo backend (default); cuda: nccl backend, one GPU per rank",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-size", type=int, default=20_000, help="training images in all")
    p.add_argument("--batch-size", type=int, default=64, help="per rank")
    p.add_argument("--lr", type=float, default=0.02, help="peak learning rate")
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--log-every", type=int, default=10, help="steps between batch/* points")
    return p.parse_args(argv)


def shard(n: int, rank: int, world_size: int, epoch: int = 0) -> torch.Tensor:
    """This rank's indices for one epoch, as ``DistributedSampler(drop_last=True)`` picks them
    after ``set_epoch(epoch)``: one shuffle shared by every rank (seeded with the epoch), cut to
    a multiple of ``world_size``, then every ``world_size``-th index starting at ``rank``."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch))
    usable = n - n % world_size  # every rank gets the same number of samples
    return order[rank:usable:world_size]


def global_mean(sums: list[float], device: torch.device) -> tuple[float, float]:
    """Loss and accuracy over every rank from this rank's ``[loss_sum, correct, seen]``.

    ``all_reduce`` adds the tensors of all ranks element by element, in place, so afterwards
    every rank holds the totals. Every rank must call it. With nccl the tensor must be on
    this rank's GPU, hence ``device``.
    """
    totals = torch.tensor(sums, dtype=torch.float64, device=device)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    loss_sum, correct, seen = totals.tolist()
    return loss_sum / seen, correct / seen


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    local_rank = int(os.environ["LOCAL_RANK"])  # set by torchrun, like RANK and WORLD_SIZE
    if args.device == "cuda":  # one process per GPU: LOCAL_RANK picks this machine's GPU
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl")
    else:
        device = torch.device("cpu")
        torch.set_num_threads(1)  # the ranks share the machine's cores
        dist.init_process_group("gloo")  # reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    rank, world_size = dist.get_rank(), dist.get_world_size()

    train_split, val_split, _ = data.load_splits()
    images, labels = data.subset(train_split.images, train_split.labels, args.train_size)
    # validation shards need not be equal (no DDP step runs on them): every image counts once
    val_mine = torch.arange(rank, len(val_split), world_size)
    val_part = data.Split(val_split.images[val_mine], val_split.labels[val_mine])

    torch.manual_seed(0)  # DDP copies rank 0's weights to every rank anyway
    net = models.FastNet(width=args.width).to(device)
    net = DistributedDataParallel(net, device_ids=[local_rank] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(shard(len(labels), rank, world_size)) / args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=steps_per_epoch * args.epochs
    )

    writer = None
    if args.every_rank_writes:  # the pitfall; the suffix only lets the lesson tell files apart
        writer = SummaryWriter(
            str(args.run_dir), flush_secs=logs.FLUSH_SECS, filename_suffix=f".rank{rank}"
        )
    elif rank == 0:  # the right way: one writer, in rank 0 (RANK, not LOCAL_RANK)
        writer = SummaryWriter(str(args.run_dir), flush_secs=logs.FLUSH_SECS)

    def averaged(sums: list[float]) -> tuple[float, float]:
        if args.every_rank_writes:  # wrong: this rank's own numbers, no all_reduce
            return sums[0] / sums[2], sums[1] / sums[2]
        return global_mean(sums, device)  # right: every rank joins, rank 0 logs the result

    step = 0  # optimizer steps so far: the same on every rank
    for epoch in range(args.epochs):
        net.train()
        mine = shard(len(labels), rank, world_size, epoch)  # a new shuffle every epoch
        whole, window = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]  # loss sum, correct, seen
        for x, y in data.batches(images[mine], labels[mine], args.batch_size, shuffle=False):
            x, y = x.to(device), y.to(device)
            logits = net(x)
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP all-reduces (averages) the gradients here
            optimizer.step()
            scheduler.step()
            step += 1
            batch = [loss.item() * len(y), (logits.argmax(1) == y).sum().item(), len(y)]
            for sums in (whole, window):
                for i, value in enumerate(batch):
                    sums[i] += value
            if step % args.log_every == 0:
                mean_loss, accuracy = averaged(window)
                if writer is not None:
                    writer.add_scalar("batch/loss", mean_loss, step)  # mean since last point
                    writer.add_scalar("batch/accuracy", accuracy, step)
                window = [0.0, 0.0, 0.0]

        # DDP keeps the weights equal, but each rank's BatchNorm statistics saw its own last
        # batch: give every rank rank 0's, so they all validate the model rank 0 saves.
        for buffer in net.module.buffers():
            dist.broadcast(buffer, src=0)
        val_loss, val_acc = train.evaluate(net.module, val_part)  # this rank's part only
        n_val = len(val_part)
        train_loss, train_acc = averaged(whole)
        val_loss, val_acc = averaged([val_loss * n_val, round(val_acc * n_val), n_val])
        metrics = {
            "Loss/train": train_loss,
            "Accuracy/train": train_acc,
            "Loss/val": val_loss,
            "Accuracy/val": val_acc,
        }
        if writer is not None:
            for tag, value in metrics.items():
                writer.add_scalar(tag, value, step)  # epoch values at the step that ends it

    if writer is not None:
        writer.close()
    if rank == 0:  # the same rule for checkpoints: one rank saves
        args.run_dir.mkdir(parents=True, exist_ok=True)
        torch.save(net.module.state_dict(), args.run_dir / MODEL_FILE)
        whose = "rank 0's shard only" if args.every_rank_writes else "all ranks"
        print(
            f"world size {world_size}: {len(mine)} images and {steps_per_epoch} steps per rank "
            f"and epoch; val accuracy {metrics['Accuracy/val']:.1%} ({whose})",
            flush=True,
        )
    # Tear down while Python is still whole: DDP holds the process group, and a group left for
    # the interpreter's exit can abort a rank there ("terminate called without an active
    # exception"), after all its work is done.
    del net, optimizer, scheduler
    gc.collect()
    dist.barrier()  # every rank done before any tears down
    dist.destroy_process_group()


# ------------------------------------------------------------------ launching from a notebook


def command(
    run_dir: Path | str, *options: str, nproc: int = 2, script: Path | str | None = None
) -> list[str]:
    """The torchrun command line for this module (or for ``script``, a .py file)."""
    target = [str(script)] if script is not None else ["-m", "tbviz.ddp"]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",  # = torchrun, with this Python
        "--standalone",  # one machine; the ranks meet on a free local port
        f"--nproc_per_node={nproc}",
        *target,
        "--run-dir",
        str(run_dir),
        *options,
    ]


def _stop(proc: subprocess.Popen) -> None:
    """End torchrun and its ranks. torchrun starts each rank in a session of its own and
    passes SIGTERM on to them, so it gets SIGTERM first; SIGKILL (torchrun only) if it is still
    there 40 s later."""
    if os.name == "nt":  # /T: the whole tree of processes
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=40)  # torchrun gives its ranks 30 s, then kills them
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def _one_run_at_a_time() -> Iterator[None]:
    """Two torchruns at once compete for the same cores, which makes both slow and their
    timings meaningless; launches on this machine take turns instead."""
    if os.name == "nt":
        yield
        return
    import fcntl

    from tbviz.board import user_temp_dir

    with (user_temp_dir() / "ddp-launch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def launch(
    run_dir: Path | str,
    *options: str,
    nproc: int = 2,
    script: Path | str | None = None,
    timeout: float = 300,
) -> str:
    """Run :func:`command` like typing it in a terminal, and return what the ranks printed.

    Plus: it waits at most ``timeout`` seconds, then ends torchrun and every rank and raises
    ``TimeoutError`` with the usual causes of a hang; a failed run raises ``RuntimeError``
    with the end of its error output. On Windows it sets ``USE_LIBUV=0``, which torchrun
    needs there. Runs launched at the same time on one machine wait for each other.
    """
    env = dict(os.environ)
    if os.name == "nt":
        env.setdefault("USE_LIBUV", "0")
        group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        group = {"start_new_session": True}  # its own process group, to end it as a whole
    cmd = command(run_dir, *options, nproc=nproc, script=script)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with _one_run_at_a_time(), subprocess.Popen(cmd, env=env, **pipes, **group) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException as exc:  # the timeout, or an interrupted kernel: end it all
            _stop(proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=10)  # the ranks' ends of the pipes close as they exit
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            raise TimeoutError(
                f"torchrun did not finish in {timeout:g} s and was stopped, with its ranks.\n"
                + HANG_HINT
            ) from None
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun exited with code {proc.returncode}:\n{err[-3000:]}")
    return out.strip()


if __name__ == "__main__":
    main()
