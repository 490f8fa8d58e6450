"""Checkers for lesson 11 (logging from distributed training)."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

from tbviz.exercises import Attempt, Incorrect, exercise, expect, tags

LESSON = "11_distributed_logging"

TRAIN_SIZE, BATCH_SIZE = 20_000, 64  # the lesson script's defaults (tbviz.ddp)
VAL_SIZE = 5000
MIN_TIMEOUT = 10  # seconds: a shorter timeout cannot tell a hang from torchrun's slow start

_RANK = re.compile(r"rank[ _-]?(\d+)", re.IGNORECASE)
# Family names (a tag with its rank taken out, e.g. "imgs_per_sec_*"): words end at anything
# but a letter or digit ("_" included, which \b would not take for an end).
_END, _START = r"(?![a-z0-9])", r"(?<![a-z0-9])"
_THROUGHPUT = re.compile(
    rf"throughput|per_?s(ec(ond)?)?{_END}|/s{_END}|{_START}[if]ps{_END}|speed", re.IGNORECASE
)
_DATA_TIME = re.compile(rf"data|load|fetch|wait|input|get|batch|time|ms{_END}", re.IGNORECASE)
_NAMING = (
    "name them so that their role shows, e.g. throughput/rank<r> (images per second) and "
    "data_ms/rank<r> (milliseconds spent getting the batch)"
)


def _steps_per_epoch(world_size: int) -> int:
    """Optimizer steps per epoch of the lesson's script with its default options."""
    return math.ceil((TRAIN_SIZE // world_size) / BATCH_SIZE)


def _one_writer(attempt: Attempt, run: Path) -> None:
    """:class:`Incorrect` unless the run directory holds exactly one event file."""
    files = [f for f in run.glob("events.out.tfevents.*") if f.is_file()]
    expect(
        len(files) <= 1,
        f"run {attempt.name(run)} has {len(files)} event files: either several ranks wrote "
        "(create the SummaryWriter on rank 0 only) or the run was launched twice into the same "
        "folder (delete the folder before launching again)",
    )


# ------------------------------------------------------------------ exercise 1: the straggler


def _by_rank(attempt: Attempt, top: str) -> dict[str, dict[int, list[tuple[int, float]]]]:
    """The scalars of one attempt folder (and its sub-runs, as ``add_scalars`` writes them)
    whose tag or sub-run names a rank: ``{tag with the rank taken out: {rank: points}}``."""
    families: dict[str, dict[int, list[tuple[int, float]]]] = {}
    for run in attempt.runs():
        name = attempt.name(run)
        if name.split("/")[0] != top:
            continue
        _one_writer(attempt, run)
        sub = name[len(top) :].strip("/")
        for tag in tags(run).get("scalars", []):
            label = f"{sub}/{tag}" if sub else tag
            match = _RANK.search(label)
            if not match:
                continue
            family = (label[: match.start()] + "*" + label[match.end() :]).strip("/_- ")
            points = attempt.scalars(run, tag)
            families.setdefault(family, {})[int(match.group(1))] = points
    return families


def _family(families: dict, pattern: re.Pattern, avoid: str | None = None) -> str | None:
    found = [f for f in sorted(families) if pattern.search(f) and f != avoid]
    return found[0] if found else None


def _medians(attempt: Attempt, top: str, family: str, ranks: dict) -> dict[int, float]:
    expect(
        sorted(ranks) == list(range(len(ranks))) and len(ranks) >= 2,
        f"run {top} has {family!r} for ranks {sorted(ranks)} only: gather every rank's number "
        "with dist.all_gather (every rank calls it) and log one tag per rank from rank 0",
    )
    return {rank: statistics.median(v for _, v in points) for rank, points in ranks.items()}


@exercise(
    LESSON,
    1,
    "who is slow?",
    hints=(
        "Two runs of one script launched with ddp.launch(..., script=...): ex1_no_straggler, "
        "and ex1_rank1_slow where rank 1 calls time.sleep(0.05) before each forward pass. Every "
        "rank measures two numbers every 10 steps; rank 0 logs them as throughput/rank<r> and "
        "data_ms/rank<r>.",
        "Throughput: images since the last point / wall-clock seconds since the last point. "
        "Data time: from the end of the previous step to just before net(x). Gather both with "
        "dist.all_gather(list_of_tensors, my_tensor), called on every rank.",
        "In backward() DDP all-reduces the gradients: no rank finishes a step before the "
        "slowest has arrived. What does that do to the fast rank's wall-clock throughput?",
    ),
    solution="A straggler script logs throughput/rank0-1 and data_ms/rank0-1 from rank 0 after "
    "an all_gather. Both ranks show the same throughput, which falls several-fold when rank 1 "
    "sleeps: the fast rank waits in the gradient all-reduce. Only rank 1's data time (50 ms) "
    "points at the straggler.",
)
def straggler(attempt: Attempt) -> str:
    runs = attempt.need_runs("one run with a slow rank and one without, e.g. ex1_rank1_slow")
    tops = sorted({attempt.name(run).split("/")[0] for run in runs})
    measured, unrecognised = {}, []
    for top in tops:
        families = _by_rank(attempt, top)
        throughput = _family(families, _THROUGHPUT)
        data_time = _family(families, _DATA_TIME, avoid=throughput)
        if throughput and data_time:
            measured[top] = (
                (throughput, _medians(attempt, top, throughput, families[throughput])),
                (data_time, _medians(attempt, top, data_time, families[data_time])),
            )
        else:
            roles = {throughput: "throughput", data_time: "data time"}
            unrecognised += [
                f"{top}: {family.replace('*', 'rank<r>')} ({roles.get(family, 'not recognised')})"
                for family in sorted(families)
            ]
    unclear = (
        f"; per-rank scalars found: {unrecognised[:6]}. The check tells throughput from data "
        f"time by their names: {_NAMING}"
        if unrecognised
        else ""
    )
    if not measured:
        seen = sorted({tag for run in runs for tag in _tags_of(run)})
        if unrecognised:
            raise Incorrect(
                f"no run {attempt.where()} has both a per-rank throughput and a per-rank data "
                f"time that the check recognises{unclear}"
            )
        raise Incorrect(
            f"no run {attempt.where()} has per-rank throughput and data time, e.g. "
            f"throughput/rank0, throughput/rank1, data_ms/rank0, data_ms/rank1 (found: "
            f"{seen[:8] or 'no scalars'})"
        )
    expect(
        len(measured) >= 2,
        f"only one run with per-rank throughput and data time ({next(iter(measured))}): "
        "launch the same script twice, once with rank 1 sleeping 50 ms per step and once without"
        f"{unclear}",
    )

    def mean_throughput(top: str) -> float:
        return statistics.mean(measured[top][0][1].values())

    slow = min(measured, key=mean_throughput)
    fast = max(measured, key=mean_throughput)
    for top in (slow, fast):
        tag, by_rank = measured[top][0]
        low, high = min(by_rank.values()), max(by_rank.values())
        expect(low > 0, f"run {top}: {tag!r} has a median of {low:g}; is it images per second?")
        expect(
            high / low < 1.25,
            f"run {top}: the ranks' {tag!r} differ ({_listed(by_rank)}): measure wall-clock "
            "throughput over whole steps (images / seconds since the last point, sleep and "
            "backward included), the way a job's speed is measured",
        )
    drop = mean_throughput(slow) / mean_throughput(fast)
    expect(
        drop < 0.85,
        f"runs {fast} and {slow} have about the same throughput ({mean_throughput(fast):.0f} and "
        f"{mean_throughput(slow):.0f}): in one of them, let rank 1 sleep 50 ms before each "
        "forward pass (time.sleep(0.05) when rank == 1)",
    )
    data_tag, data = measured[slow][1]
    straggler_rank = max(data, key=data.get)
    others = [v for r, v in data.items() if r != straggler_rank]
    baseline = max(measured[fast][1][1].values())
    expect(
        data[straggler_rank] > 3 * max(others) and data[straggler_rank] > 3 * baseline,
        f"in run {slow} (the slower one) {data_tag!r} is {_listed(data)}, without the sleep "
        f"{_listed(measured[fast][1][1])}: no rank stands out. Time only getting the batch (from "
        "the end of the previous step up to the forward pass, the sleep included); the wait in "
        "backward() is shared by every rank",
    )
    throughput_tag = measured[slow][0][0]
    return (
        f"the throughput ({throughput_tag}) is the same on every rank ({slow}: "
        f"{_listed(measured[slow][0][1])}; {fast}: {_listed(measured[fast][0][1])}; down to "
        f"{drop:.0%} with the slow rank), while the data time ({data_tag}) points at rank "
        f"{straggler_rank} ({_listed(data)})."
    )


def _tags_of(run: Path) -> list[str]:
    return tags(run).get("scalars", [])


def _listed(by_rank: dict[int, float]) -> str:
    def number(v: float) -> str:
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"

    return ", ".join(f"rank{r} {number(v)}" for r, v in sorted(by_rank.items()))


# ------------------------------------------------------------------ exercise 2: three ranks


def _world_size(steps: int) -> int | None:
    """The number of ranks whose epoch, with the script's defaults, has ``steps`` steps."""
    return next((w for w in range(1, 65) if _steps_per_epoch(w) == steps), None)


def _whole_split_accuracy(model_file: Path) -> tuple[float, int]:
    """Accuracy of the saved FastNet weights on the whole validation split, on the CPU, and
    the network's width (read from the weights)."""
    import torch

    from tbviz import data, models, train

    state = torch.load(model_file, map_location="cpu", weights_only=True)
    convs = [v for v in state.values() if getattr(v, "ndim", 0) == 4]
    expect(convs, f"{model_file.name} holds no convolution weights: is it FastNet's?")
    width = int(convs[0].shape[0])
    hidden = int(state["classifier.weight"].shape[1]) if "classifier.weight" in state else 128
    net = models.FastNet(width=width, hidden=hidden)
    net.load_state_dict(state)
    _, val_split, _ = data.load_splits()
    return train.evaluate(net, val_split)[1], width


@exercise(
    LESSON,
    2,
    "three processes",
    hints=(
        'ddp.launch(logs.run_dir(LESSON, "ex2_three_ranks"), nproc=3): the lesson\'s script, '
        "its default options, 3 ranks.",
        "Each rank gets 20,000 // 3 = 6,666 images, 64 per batch: read the step at which "
        "Accuracy/val was logged. To check Accuracy/val, load the run's model.pt into "
        "FastNet(width=8) and train.evaluate it on the whole validation split.",
    ),
    solution="ddp.launch(run, nproc=3): each rank takes 105 steps per epoch (157 with 2), one "
    "point per step, one event file; the logged Accuracy/val equals rank 0's saved weights "
    "evaluated on all 5,000 validation images, because sums and counts are all-reduced "
    "before dividing.",
)
def three_ranks(attempt: Attempt) -> str:
    runs = attempt.need_runs("the lesson's script launched with nproc=3, e.g. ex2_three_ranks")
    holding = attempt.runs_with("scalars", "Accuracy/val", runs)
    if not holding:
        held = sorted({t for run in runs for t in _tags_of(run)})
        raise Incorrect(
            f"none of the runs {attempt.where()} has the lesson script's scalar 'Accuracy/val' "
            f"(they have {held[:8] or 'none'}): launch the lesson's script itself, "
            "ddp.launch(run_dir, nproc=3), without script="
        )
    by_size = {}
    for run in holding:
        _one_writer(attempt, run)
        first = attempt.scalars(run, "Accuracy/val")[0][0]
        by_size.setdefault(_world_size(first), []).append((run, first))
    if 3 not in by_size:
        run, first = next(iter(by_size.values()))[0]
        size = _world_size(first)
        said = f"the step count of {size} processes" if size else "no number of processes"
        raise Incorrect(
            f"Accuracy/val of {attempt.name(run)} is at step {first}, {said} with the script's "
            f"default options; 3 processes take {_steps_per_epoch(3)} steps per epoch. Launch "
            "with nproc=3 and no other options"
        )
    run = by_size[3][0][0]
    name = attempt.name(run)
    steps_per_epoch = _steps_per_epoch(3)
    val = attempt.scalars(run, "Accuracy/val")
    expect(
        [s for s, _ in val] == [steps_per_epoch * (i + 1) for i in range(len(val))],
        f"Accuracy/val of {name} is at steps {[s for s, _ in val]}; once per epoch, at "
        f"multiples of {steps_per_epoch}, expected",
    )
    batch = attempt.scalars(run, "batch/accuracy")  # fails if a step appears twice
    expect(batch, f"batch/accuracy of {name} has no points")
    model_file = run / "model.pt"
    if not model_file.is_file():
        raise Incorrect(
            f"no model.pt in {name}: the lesson's script saves rank 0's weights there at the "
            "end. Launch tbviz.ddp itself and let it finish"
        )
    logged = val[-1][1]
    whole, width = _whole_split_accuracy(model_file)
    expect(
        abs(logged - whole) <= 1 / VAL_SIZE + 1e-6,
        f"{name} logged Accuracy/val {logged:.2%}, but its model.pt scores {whole:.2%} on the "
        "whole validation split: are the weights and the logs from the same launch? Delete the "
        "folder and launch again",
    )
    expect(whole > 0.7, f"the validation accuracy is only {whole:.1%}: did it train?")
    return (
        f"run {name}: one event file, {len(batch)} batch/accuracy points at distinct steps, "
        f"Accuracy/val at step {steps_per_epoch} = 3 ranks' steps per epoch "
        f"({_steps_per_epoch(2)} with 2); the logged accuracy {logged:.2%} is the whole split's: "
        f"rank 0's weights (FastNet width {width}) score accuracy {whole:.2%} on all "
        f"{VAL_SIZE:,} validation images."
    )


# ------------------------------------------------------------------ exercise 3: the hang

_TIMED_OUT = re.compile(r"torchrun did not finish in ([0-9.eE+-]+) s")


@exercise(
    LESSON,
    3,
    "a collective on rank 0 only",
    hints=(
        "The script: init_process_group('gloo'), then `if rank == 0: dist.all_reduce(t)`, then "
        "dist.barrier() on every rank. It needs a --run-dir argument, as launch passes one.",
        "try: ddp.launch(run_dir, script=path, timeout=15) / except TimeoutError as err: "
        "print(err), then ex3.check(err).",
    ),
    solution="The run hangs: rank 0 waits in the all_reduce, rank 1 in the barrier. After the "
    "timeout launch stops torchrun and both ranks and raises TimeoutError naming the usual "
    "cause: a collective that not every rank reached.",
    answer="ex3.check(err), the exception ddp.launch raised (or its message, str(err))",
)
def hang(attempt: Attempt, answer: object = None) -> str:
    if answer is None:
        raise Incorrect(
            "the answer is None: did ddp.launch return normally? Pass the exception it raised: "
            "try: ddp.launch(...) except TimeoutError as err: ex3.check(err)"
        )
    if isinstance(answer, BaseException):
        kind, message = type(answer).__name__, str(answer)
        if not isinstance(answer, TimeoutError):
            first = message.strip().splitlines()[-1] if message.strip() else ""
            why = {
                "RuntimeError": "the script failed instead of hanging",
                "TimeoutExpired": "that is subprocess's own timeout; launch with ddp.launch",
                "KeyboardInterrupt": "the run was interrupted; let launch's timeout stop it",
            }.get(kind, "a hung run ends in TimeoutError")
            raise Incorrect(f"the run ended in {kind}, not TimeoutError: {why} ({first[:200]})")
    elif isinstance(answer, str):
        kind, message = "message", answer
    else:
        raise Incorrect(
            f"the answer {answer!r:.60} is neither an exception nor a message; pass the exception "
            "ddp.launch raised, or its message: ex3.check(err) or ex3.check(str(err))"
        )
    if message.startswith("torchrun exited with code"):
        tail = message.strip().splitlines()[-1][:200]
        raise Incorrect(f"that is the message of a run that failed, not one that hung ({tail})")
    timed_out = _TIMED_OUT.search(message)
    if not timed_out:
        shown = message.strip()[:120] or "an empty message"
        raise Incorrect(
            f"this is not the TimeoutError of ddp.launch (it starts 'torchrun did not finish "
            f"in'): got {shown!r}. If launch returned normally, the script did not hang"
        )
    expect(
        "some ranks only" in message,
        "the message lacks launch's explanation of the hang; pass the whole exception",
    )
    try:
        timeout = float(timed_out.group(1))
    except ValueError:
        timeout = math.nan
    expect(
        timeout >= MIN_TIMEOUT,
        f"the timeout was {timed_out.group(1)} s: torchrun takes several seconds just to start "
        f"its ranks, so this does not show a hang. Launch again with timeout={MIN_TIMEOUT * 1.5:g}"
        " or more",
    )
    return (
        f"the run hung and was stopped after launch's {timeout:g} s timeout, with a TimeoutError "
        "that names the cause: a collective (here all_reduce) that not every rank reached."
    )
