"""Lesson 11: train FastNet with DistributedDataParallel and log from rank 0 only.

Launch it with torchrun, which starts one process per rank and tells each one who it is:

    python -m torch.distributed.run --nproc_per_node=2 scripts/ddp_train.py --logdir runs/ddp

Each process trains on its own shard of Fashion-MNIST; DDP averages the gradients, so every
rank holds the same model after each step. Metrics are summed over the ranks with
``dist.all_reduce`` and only rank 0 writes them. ``--every-rank-writes`` shows the pitfall:
every rank opens a writer on the same run and logs its own, un-averaged numbers.
"""

from __future__ import annotations

import argparse
import math
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter

from tbviz import data, logs, models, train


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--logdir", required=True, help="the run directory rank 0 writes to")
    p.add_argument(
        "--every-rank-writes",
        action="store_true",
        help="the pitfall: every rank writes its own numbers to --logdir",
    )
    p.add_argument("--train-size", type=int, default=20_000, help="training images in all")
    p.add_argument("--batch-size", type=int, default=64, help="per rank")
    p.add_argument("--lr", type=float, default=0.02, help="peak learning rate")
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--log-every", type=int, default=10, help="steps between logged points")
    return p.parse_args()


def shard(n: int, rank: int, world_size: int, seed: int = 0) -> torch.Tensor:
    """This rank's indices, as DistributedSampler picks them: one shuffle shared by all ranks
    (same seed), cut to a multiple of world_size, then every world_size-th index."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    usable = n - n % world_size  # every rank gets the same number of samples
    return order[rank:usable:world_size]


def global_mean(loss_sum: float, correct: int, seen: int) -> tuple[float, float]:
    """Loss and accuracy over every rank: all_reduce sums each rank's tensor in place, so
    afterwards every rank holds the totals."""
    totals = torch.tensor([loss_sum, correct, seen], dtype=torch.float64)
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    loss_sum, correct, seen = totals.tolist()
    return loss_sum / seen, correct / seen


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)  # the ranks share the machine's cores
    dist.init_process_group("gloo")  # reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    rank, world_size = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ["LOCAL_RANK"])

    train_split, val_split, _ = data.load_splits()
    images, labels = data.subset(train_split.images, train_split.labels, args.train_size)
    mine = shard(len(labels), rank, world_size)
    images, labels = images[mine], labels[mine]
    val_mine = shard(len(val_split), rank, world_size)

    torch.manual_seed(0)  # DDP copies rank 0's weights to every rank anyway
    net = DistributedDataParallel(models.FastNet(width=args.width))
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr)
    steps = math.ceil(len(labels) / args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=steps)

    writer = None
    if args.every_rank_writes:  # the pitfall; the suffix only lets the lesson tell files apart
        writer = SummaryWriter(
            args.logdir, flush_secs=logs.FLUSH_SECS, filename_suffix=f".rank{rank}"
        )
    elif rank == 0:  # the right way: one writer, in rank 0
        writer = SummaryWriter(args.logdir, flush_secs=logs.FLUSH_SECS)

    net.train()
    loss_sum = correct = seen = 0.0
    generator = torch.Generator().manual_seed(rank)
    for step, (x, y) in enumerate(
        data.batches(images, labels, args.batch_size, generator=generator), start=1
    ):
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        optimizer.step()
        scheduler.step()
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if step % args.log_every == 0 or step == steps:
            if args.every_rank_writes:  # wrong: this rank's own numbers, no all_reduce
                mean_loss, accuracy = loss_sum / seen, correct / seen
            else:  # right: every rank joins the all_reduce, rank 0 logs the result
                mean_loss, accuracy = global_mean(loss_sum, correct, seen)
            if writer is not None:
                writer.add_scalar("batch/loss", mean_loss, step)
                writer.add_scalar("batch/accuracy", accuracy, step)
            loss_sum = correct = seen = 0.0

    # validation: each rank scores its half of the validation split, then the sums are pooled
    val_loss, val_acc = train.evaluate(
        net.module, data.Split(val_split.images[val_mine], val_split.labels[val_mine])
    )
    n_val = len(val_mine)
    if args.every_rank_writes:
        mean_loss, accuracy = val_loss, val_acc
    else:
        mean_loss, accuracy = global_mean(val_loss * n_val, round(val_acc * n_val), n_val)
    if writer is not None:
        writer.add_scalar("Loss/val", mean_loss, steps)
        writer.add_scalar("Accuracy/val", accuracy, steps)
        writer.close()
    if rank == 0:
        whose = "rank 0's shard only" if args.every_rank_writes else "all ranks"
        print(
            f"world size {world_size}, local rank {local_rank}: {len(labels)} images and "
            f"{steps} steps per rank; val accuracy {100 * accuracy:.1f}% ({whose})",
            flush=True,
        )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
