"""Checkers for lesson 00 (setup and a first run).

Exercises 1, 2 and 4 end in what the learner saw (folders, what was readable, a server's
answers), so their checks take that answer; exercise 2 also reads the four runs it wrote.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, NotAttempted, exercise, expect, tags

LESSON = "00_setup_and_first_run"

COMMENT = "_bs=64"
_DATE = re.compile(r"\d\d_\d\d-\d\d-\d\d_")  # SummaryWriter's <date>: Nov24_22-45-38


def _folder(value: Any, which: str) -> Path:
    """A folder from a path, a string or a writer (its ``log_dir``, or tensorboardX's
    ``logdir``)."""
    folder = getattr(value, "log_dir", None) or getattr(value, "logdir", None) or value
    if not isinstance(folder, str | os.PathLike):
        raise Incorrect(
            f"{which} should be a folder, the writer's log_dir (a str or Path), not "
            f"{type(value).__name__} {value!r}"
        )
    return Path(folder)


def _looks_default(folder: Path) -> bool:
    """Whether ``folder`` is a name SummaryWriter() makes: runs/<date>_<host><comment>."""
    return folder.parent.name == "runs" and bool(_DATE.search(folder.name))


@exercise(
    LESSON,
    1,
    "where a writer writes",
    hints=(
        "Print each writer's log_dir before you delete anything: that is where it writes, and "
        "what the check wants.",
        "Without a folder: runs/<date>_<host> plus the comment, relative to the working "
        "directory. With a folder, SummaryWriter(folder, comment=...) uses the folder as it is.",
        "Close both writers, shutil.rmtree each log_dir, and remove runs/ too if that left it "
        "empty; then ex1.check(no_folder.log_dir, chosen.log_dir).",
    ),
    solution="SummaryWriter(comment='_bs=64') writes to runs/<date>_<host>_bs=64; "
    "SummaryWriter(folder, comment='_bs=64') writes to exactly that folder and ignores the "
    "comment. Both folders (and the empty runs/) are deleted afterwards.",
    answer="ex1.check(no_folder.log_dir, chosen.log_dir): the folders of the writer without a "
    "folder and of the one with yours, after you deleted them",
)
def where_writers_write(attempt: Attempt, no_folder: Any = None, chosen: Any = None) -> str:
    if no_folder is None or chosen is None:
        raise NotAttempted(
            "pass both writers' folders: ex1.check(no_folder.log_dir, chosen.log_dir)"
        )
    default, mine = _folder(no_folder, "the first answer"), _folder(chosen, "the second answer")
    host = socket.gethostname()
    if not _looks_default(default):
        swapped = " (are the two swapped?)" if _looks_default(mine) else ""
        raise Incorrect(
            f"the folder {default.as_posix()} is not where SummaryWriter(comment={COMMENT!r}) "
            f"writes{swapped}: without "
            f"a folder a writer makes runs/<date>_<host>{COMMENT}. Pass that writer's log_dir first"
        )
    expect(
        default.name.endswith(f"_{host}{COMMENT}"),
        f"the folder name {default.name} does not end with _<host>{COMMENT} (this machine is "
        f"{host!r}): make "
        f"the first writer with SummaryWriter(comment={COMMENT!r})",
    )
    expect(
        not _looks_default(mine) and mine != default,
        f"the second folder, {mine.as_posix()}, is one SummaryWriter makes by itself: give the "
        f"second writer a folder of your choice, SummaryWriter('my_folder', comment={COMMENT!r})",
    )
    for folder in (default, mine):
        expect(
            not folder.exists(),
            f"the folder {folder.as_posix()} still exists: close its writer (writer.close()), "
            "then delete the folder (shutil.rmtree)",
        )
    runs = default.parent
    expect(
        not (runs.is_dir() and not any(runs.iterdir())),
        f"the folder {runs.as_posix()} that SummaryWriter() made is left behind, empty: delete "
        f"it too (Path({str(runs)!r}).rmdir())",
    )
    return (
        f"SummaryWriter(comment={COMMENT!r}) wrote to runs/<date>_<host>{COMMENT} with this "
        f"machine's name as <host>, the writer with a folder exactly to {mine.name} (the "
        "comment ignored), and both folders are deleted."
    )


def _writer_kind(run: Path) -> str:
    """Which SummaryWriter wrote a run: PyTorch's event files start with a source_metadata
    naming TensorBoard's writer and end their name in .<pid>.<n>; tensorboardX's do neither."""
    from tensorboard.backend.event_processing import event_file_loader

    files = events.event_files(run)
    for file in files:
        for event in event_file_loader.EventFileLoader(str(file)).Load():
            if event.HasField("source_metadata"):
                return "PyTorch"
            break
    if files and re.search(r"\.\d+\.\d+$", files[0].name):
        return "PyTorch"
    return "tensorboardX"


def _readable(seen: Any, runs: list[Path], attempt: Attempt) -> dict[Path, bool]:
    """The learner's {run: readable after 3 s}, keyed by run name or path, matched to runs."""
    if not isinstance(seen, dict):
        raise Incorrect(
            f"pass a dict {{run name: readable after 3 s}}, e.g. {{'ex2_x_default': False, ...}}, "
            f"not {type(seen).__name__}"
        )
    by_name = {}
    for key, value in seen.items():
        if not isinstance(key, str | os.PathLike):
            raise Incorrect(f"the key {key!r} is not a run name: key the dict by run names")
        if not isinstance(value, bool) and type(value).__name__ != "bool_":  # numpy's bool too
            raise Incorrect(
                f"the answer for {key} is {value!r}; say True (readable after 3 s) or False"
            )
        by_name[Path(key).name] = bool(value)
    missing = [attempt.name(run) for run in runs if run.name not in by_name]
    expect(
        not missing,
        f"your answer says nothing about {missing}: give True or False for each of the runs "
        f"{[attempt.name(run) for run in runs]}",
    )
    return {run: by_name[run.name] for run in runs}


@exercise(
    LESSON,
    2,
    "what flush_secs changes",
    hints=(
        "Four runs, one per writer, left open: ex2_torch_default (SummaryWriter(folder)), "
        "ex2_torch_logs (logs.writer), ex2_x_default (tensorboardX's SummaryWriter(folder)) "
        "and ex2_x_logs (logs.writer(..., writer_cls=XSummaryWriter)).",
        "Add one scalar to each, time.sleep(3), then for each run ask whether "
        "EventAccumulator(run).Reload().Tags()['scalars'] holds it; close the writers only "
        "afterwards.",
        "Pass what you saw: ex2.check({'ex2_torch_default': ..., 'ex2_torch_logs': ..., "
        "'ex2_x_default': ..., 'ex2_x_logs': ...}). Section 3's list says which writer buffers.",
    ),
    solution="Readable after 3 s: both logs.writer runs (flush every 2 s) and PyTorch's "
    "default writer without TensorFlow; tensorboardX at flush_secs=120 is not. On Colab "
    "(TensorFlow installed) PyTorch's default writer buffers too, so it reads False there.",
    answer="ex2.check(seen), seen = {run name: whether it was readable after 3 s} for your "
    "four ex2_ runs",
)
def flush_secs(attempt: Attempt, seen: Any = None) -> str:
    runs = attempt.need_runs(
        "one per writer: ex2_torch_default, ex2_torch_logs, ex2_x_default, ex2_x_logs"
    )
    if seen is None:
        raise NotAttempted("pass what you saw: ex2.check({run name: readable after 3 s, ...})")
    names = [attempt.name(run) for run in runs]
    expect(
        len(runs) == 4,
        f"{len(runs)} runs {names}; four expected, one per writer: ex2_torch_default, "
        "ex2_torch_logs, ex2_x_default, ex2_x_logs",
    )
    kind = {run: _writer_kind(run) for run in runs}
    for writer in ("PyTorch", "tensorboardX"):
        mine = [attempt.name(run) for run in runs if kind[run] == writer]
        expect(
            len(mine) == 2,
            f"{len(mine)} of the runs ({mine}) were written by {writer}'s SummaryWriter; two "
            "expected, one at the default flush_secs and one through logs.writer (pass "
            "writer_cls=XSummaryWriter for tensorboardX's)",
        )
        defaults = [name for name in mine if "default" in name]
        expect(
            len(defaults) == 1,
            f"of {writer}'s runs {mine}, name the one at the default flush_secs ..._default and "
            "the logs.writer one without 'default' (e.g. ..._logs), so the check knows which is "
            "which",
        )
    for run in runs:
        expect(
            tags(run).get("scalars"),
            f"the run {attempt.name(run)} has no scalar in its files: add one to each writer and, "
            "after your 3-second look, close the writers (close() writes what they hold)",
        )
        attempt.scalars(run, tags(run)["scalars"][0])  # a run written twice is reported
    answer = _readable(seen, runs, attempt)
    tensorflow = importlib.util.find_spec("tensorflow") is not None
    wrong = []
    for run, saw in answer.items():
        default = "default" in attempt.name(run)
        buffers = default and (kind[run] == "tensorboardX" or tensorflow)
        if saw == (not buffers):
            continue
        name = attempt.name(run)
        if saw:  # readable although the writer should still hold the event
            why = (
                f"{kind[run]}'s writer at the default flush_secs=120 keeps the event in a buffer "
                "for up to 120 s: did you read it after close() or flush()?"
            )
        elif not default:
            why = "logs.writer flushes every 2 s: did you wait 3 s (time.sleep(3)) before reading?"
        else:
            why = (
                "without TensorFlow PyTorch's writer appends each event at once: did you wait "
                "3 s before reading, with EventAccumulator(run).Reload()?"
            )
        wrong.append(
            f"your answer says {name} was {'' if saw else 'not '}readable after 3 s, but {why}"
        )
    expect(not wrong, "; ".join(wrong))
    readable = [attempt.name(run) for run, saw in answer.items() if saw]
    held = [attempt.name(run) for run, saw in answer.items() if not saw]
    where = "with TensorFlow installed (as on Colab)" if tensorflow else "without TensorFlow"
    return (
        f"two runs by each writer; after 3 s {readable} were readable and {held} not, as "
        f"expected {where}, and every run holds its scalar after close()."
    )


@exercise(
    LESSON,
    3,
    "predict the steps train.fit logs at",
    hints=(
        "A step counts batches seen. How many batches of 256 make 10,000 images?",
        "train.fit(net, train_split, val_split, train.Config(epochs=2, train_size=10_000, "
        "log_every=25, width=8), writer=...) in a run named ex3_<something>.",
        "10,000 images in batches of 256 make ceil(10000 / 256) = 40 steps per epoch, so "
        "Loss/val sits at 40 and 80, and batch/loss, every 25 batches, at 25, 50 and 75.",
    ),
    solution="Two epochs of 40 steps (10,000 images, batches of 256): Loss/val at steps 40 "
    "and 80, batch/loss every 25 batches, at 25, 50 and 75.",
)
def fit_steps(attempt: Attempt) -> str:
    run = attempt.run_with("scalars", "Loss/val")
    name = attempt.name(run)
    epochs = [step for step, _ in attempt.scalars(run, "Loss/val")]
    batches = [step for step, _ in attempt.scalars(run, "batch/loss")]
    expect(
        len(epochs) == 2,
        f"Loss/val has {len(epochs)} point(s), one per epoch; train two epochs "
        "(train.Config(epochs=2, ...))",
    )
    if epochs != [40, 80]:
        per_epoch = epochs[0]
        images = "55,000 images, the whole training split" if per_epoch == 215 else "not 10,000"
        raise Incorrect(
            f"Loss/val is at steps {epochs}, so an epoch is {per_epoch} steps ({images}?): "
            "10,000 images in batches of 256 make 40 steps per epoch. Train on the first "
            "10,000 (train.Config(train_size=10_000, ...)) with the default batch_size 256"
        )
    expect(
        batches == [25, 50, 75],
        f"the batch/loss points are at steps {batches}; with log_every=25 it is logged every "
        "25 batches, at 25, 50 and 75 of the 80",
    )
    accuracy = attempt.scalars(run, "Accuracy/val")
    last = accuracy[-1][1] if accuracy else float("nan")
    expect(last > 0.7, f"the last Accuracy/val is {last:.3f}: did the network train?")
    return (
        f"in {name} batch/loss is at steps {batches} and Loss/val at {epochs}: 40 steps per "
        f"epoch for 10,000 images in batches of 256; validation accuracy {last:.1%}."
    )


def _port(server: Any) -> int:
    port = getattr(server, "port", server)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise Incorrect(
            f"the first answer should be the server (board.start's result) or its port, not "
            f"{server!r}"
        )
    return port


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _as_json(value: Any) -> Any:
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _tag_names(answer: Any) -> set[str]:
    """Tag names from /data/plugin/scalars/tags's JSON ({run: {tag: ...}}) or a list of tags."""
    answer = _as_json(answer)
    if isinstance(answer, dict):
        if answer and all(isinstance(v, dict) and not k.count("/") for k, v in answer.items()):
            return {tag for per_run in answer.values() for tag in per_run}
        return set(answer)
    if isinstance(answer, list | tuple | set):
        return {str(tag) for tag in answer}
    raise Incorrect(
        f"the tags answer should be what /data/plugin/scalars/tags returned (a dict) or a list "
        f"of tag names, not {type(answer).__name__}"
    )


@exercise(
    LESSON,
    4,
    "a server for one run",
    hints=(
        "board.start(logdir / 'hello') starts a server for that one folder; server.port is its "
        "port. A run at the log directory itself is listed as '.'.",
        "Ask http://127.0.0.1:<port>/data/runs and /data/plugin/scalars/tags with "
        "urllib.request.urlopen and json.loads; the server may need a second to read the run.",
        "board.stop(server), then ex4.check(server, runs, tags) with the two answers.",
    ),
    solution="server = board.start(logdir / 'hello'); /data/runs answers ['.'] and "
    "/data/plugin/scalars/tags {'.': {'hello/sine': ..., 'hello/step_squared': ...}}; after "
    "board.stop(server) the port refuses connections.",
    answer="ex4.check(server, runs, tags): the server (or its port) after you stopped it, and "
    "what /data/runs and /data/plugin/scalars/tags answered while it ran",
)
def one_run_server(attempt: Attempt, server: Any = None, runs: Any = None, tags: Any = None) -> str:
    if server is None:
        raise NotAttempted("pass the server and its answers: ex4.check(server, runs, tags)")
    port = _port(server)
    expect(
        runs is not None and tags is not None,
        "pass what the server answered too: ex4.check(server, runs, tags), runs from "
        "/data/runs and tags from /data/plugin/scalars/tags",
    )
    runs = _as_json(runs)
    expect(
        isinstance(runs, list | tuple),
        f"runs should be the list /data/runs returned, not {type(runs).__name__}",
    )
    expect(
        runs,
        "/data/runs answered no run: the server reads the folder in the background, so ask "
        "again after a second; is it the hello run's folder?",
    )
    expect(
        list(runs) == ["."],
        f"the server served the runs {list(runs)}: start it on the hello run's own folder, "
        "board.start(logdir / 'hello'), so that it serves that one run (listed as '.')",
    )
    found = _tag_names(tags)
    wanted = {"hello/sine", "hello/step_squared"}
    expect(
        found == wanted,
        f"the scalar tags were {sorted(found)}; the hello run has {sorted(wanted)}: ask "
        "/data/plugin/scalars/tags of the server that shows the hello run",
    )
    expect(
        not _answers(port),
        f"port {port} still answers: stop the server with board.stop(server), then check again",
    )
    return (
        f"the server served one run ('.') with the scalar tags {sorted(found)}, and after it "
        f"stopped its port no longer answers (127.0.0.1:{port} refuses connections)."
    )
