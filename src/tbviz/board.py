"""Start, reuse, list and stop TensorBoard servers from Python (lesson 00).

The ``%tensorboard`` magic is the quickest way to open TensorBoard in a notebook; this module is
what to use when the magic is not enough: from a script, in a classroom where many servers run,
or when an old server keeps showing stale logs.

* :func:`start` reuses a live server already showing the same log directory, or starts one on
  127.0.0.1 and a free port. It never listens beyond loopback unless ``host`` says so.
* :func:`running` lists live servers (the ones ``%tensorboard`` knows about too) and removes the
  records that dead ones left behind (:func:`clean_stale`).
* :func:`stop` stops one server by pid or port; :func:`stop_all` stops those the course started.

The servers run as child processes of the Python process that started them (a notebook's kernel),
so they end when it ends.

:func:`setup_magic` prepares ``%tensorboard`` for two situations it does not handle itself: a
kernel whose environment's ``bin/`` is not on PATH (VS Code, an unactivated virtual environment),
and a machine shared by several users, whose records would otherwise sit in one shared folder.

Linux and macOS only: on native Windows, use WSL (or ``%tensorboard`` and ``tensorboard --logdir``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tbviz import paths

LOOPBACK = "127.0.0.1"


def _is_windows() -> bool:
    return os.name == "nt"


def _require_posix() -> None:
    """This module uses POSIX process calls (signals, waitpid, /proc): refuse clearly elsewhere."""
    if _is_windows():
        raise OSError(
            "tbviz.board runs on Linux and macOS only. On Windows, run the course in WSL "
            "(Windows Subsystem for Linux), or use the %tensorboard magic or "
            "'tensorboard --logdir runs' in a terminal instead."
        )


def tensorboard_binary() -> Path:
    """The ``tensorboard`` program of the Python running this code (its environment's bin/)."""
    folder = Path(sys.executable).parent
    for name in ("tensorboard", "tensorboard.exe"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"no tensorboard program next to {sys.executable}: install TensorBoard into this "
        f"environment with: {sys.executable} -m pip install 'tensorboard>=2.21'"
    )


def user_temp_dir() -> Path:
    """A temporary folder of this user's own (mode 700): TensorBoard's records go there."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    base = Path(os.environ.get("TBVIZ_SYSTEM_TMP") or tempfile.gettempdir())
    if base.name.startswith("tbviz-tmp-"):  # already ours (setup_magic ran before)
        return base
    folder = base / f"tbviz-tmp-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def setup_magic() -> dict[str, str]:
    """Prepare ``%tensorboard`` in this kernel (lesson 00); return what it set.

    * ``TENSORBOARD_BINARY``: the magic runs ``tensorboard`` from PATH, which fails in a kernel
      whose environment's ``bin/`` is not on PATH; this points it at this environment's program.
      An existing setting is kept.
    * ``TMPDIR``: the magic keeps its records of running servers in ``<tmp>/.tensorboard-info``,
      one folder for every user of the machine, so one user's ``%tensorboard`` can list and even
      reuse another's server. A per-user temporary folder keeps them apart. The servers the magic
      starts inherit it.
    * Records of servers that are gone (killed with an earlier kernel) are removed, so the
      magic starts a new server instead of "reusing" a dead one.
    """
    changed = {}
    if not os.environ.get("TENSORBOARD_BINARY"):
        os.environ["TENSORBOARD_BINARY"] = changed["TENSORBOARD_BINARY"] = str(tensorboard_binary())
    if not _is_windows():
        private = str(user_temp_dir())
        if os.environ.get("TMPDIR") != private:
            os.environ.setdefault("TBVIZ_SYSTEM_TMP", tempfile.gettempdir())
            os.environ["TMPDIR"] = changed["TMPDIR"] = private
            tempfile.tempdir = None  # gettempdir() reads TMPDIR again
        # a server that died with an earlier kernel leaves its record, and the magic would
        # "reuse" it and show a dead frame (restart the kernel, Run All): forget those
        clean_stale()
    return changed


@dataclass(frozen=True)
class Board:
    """A running TensorBoard server."""

    pid: int
    port: int
    logdir: str
    host: str = LOOPBACK
    reused: bool = False

    @property
    def url(self) -> str:
        host = "localhost" if self.host in {LOOPBACK, "localhost"} else self.host
        return f"http://{host}:{self.port}/"


def _info_dir() -> Path:
    """Where TensorBoard records running servers (shared with ``%tensorboard``).

    ``_get_info_dir`` is private to TensorBoard, but it is the one place that says where the
    magic keeps its records; tests/test_magic.py fails if it moves.
    """
    from tensorboard import manager

    return Path(manager._get_info_dir())


def _registry() -> Path:
    """Where this package records the servers it started (to stop only those)."""
    folder = user_temp_dir() / "boards"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, not ours to touch
        return True
    status = Path(f"/proc/{pid}/status")
    if status.exists():  # an exited child not yet reaped is a zombie: count it as dead
        try:
            state = next(x for x in status.read_text().splitlines() if x.startswith("State:"))
        except (OSError, StopIteration):
            return True
        return "Z" not in state.split()[1]
    return True


def _responds(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/data/logdir", timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def clean_stale() -> list[int]:
    """Delete the records of servers whose process is gone (e.g. killed with SIGKILL), which
    ``%tensorboard`` would otherwise "reuse"; return their pids."""
    removed = []
    for folder, pattern in ((_info_dir(), "pid-*.info"), (_registry(), "*.json")):
        for record in folder.glob(pattern):
            try:
                pid = int(record.stem.removeprefix("pid-"))
            except ValueError:
                continue
            if not _alive(pid):
                record.unlink(missing_ok=True)
                removed.append(pid)
    return sorted(set(removed))


def running() -> list[Board]:
    """Live TensorBoard servers on this machine that this user can see (stale records removed)."""
    _require_posix()
    from tensorboard import manager

    clean_stale()
    return [
        Board(pid=i.pid, port=i.port, logdir=i.logdir) for i in manager.get_all() if _alive(i.pid)
    ]


def ours() -> list[Board]:
    """Live servers that this package started."""
    clean_stale()
    boards = []
    for record in _registry().glob("*.json"):
        info = json.loads(record.read_text())
        boards.append(Board(**info))
    return boards


def start(
    logdir: Path | str | None = None,
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    reload_interval: float = 2.0,
    timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
) -> Board:
    """Show ``logdir`` (default: the course's logs root) in TensorBoard; return the server.

    A live server already showing the same directory is reused (``reused=True``). Otherwise a
    new one starts on ``host`` (127.0.0.1 unless you ask otherwise, e.g. ``"0.0.0.0"`` to let
    other machines see it) and on ``port`` (default: a free one).
    """
    _require_posix()
    logdir = Path(logdir if logdir is not None else paths.logs_root()).expanduser().resolve()
    logdir.mkdir(parents=True, exist_ok=True)
    for board in running():
        same = Path(board.logdir).resolve() == logdir and port in (None, board.port)
        if same and _responds(board.port):
            return Board(board.pid, board.port, board.logdir, host, reused=True)
    port = port or free_port(LOOPBACK)
    command = [
        sys.executable,
        "-m",
        "tensorboard.main",
        "--logdir",
        str(logdir),
        "--host",
        host,
        "--port",
        str(port),
        "--reload_interval",
        str(reload_interval),
        *extra_args,
    ]
    fd, log_name = tempfile.mkstemp(prefix="tbviz-board-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = Path(log_name).read_text(errors="replace")[-2000:]
            hint = ""
            if "already in use" in output or "Address already in use" in output:
                hint = f"\nPort {port} is taken: pass another port, or port=None for a free one."
            raise RuntimeError(
                f"TensorBoard exited with code {process.returncode}:\n{output}{hint}"
            )
        if _responds(port):
            board = Board(process.pid, port, str(logdir), host)
            record = _registry() / f"{process.pid}.json"
            record.write_text(
                json.dumps(
                    {"pid": board.pid, "port": board.port, "logdir": board.logdir, "host": host}
                )
            )
            return board
        time.sleep(0.2)
    process.kill()
    raise TimeoutError(f"TensorBoard did not answer on port {port} within {timeout} s")


def stop(board: Board | int, *, timeout: float = 10.0) -> bool:
    """Stop a server given as a :class:`Board`, a pid or a port. True if one was stopped."""
    _require_posix()
    if isinstance(board, Board):
        pid = board.pid
    else:
        matches = [b for b in running() + ours() if board in (b.pid, b.port)]
        if not matches:
            return False
        pid = matches[0].pid
    if not _alive(pid):
        clean_stale()
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # reap it when it is our child, so it does not linger as a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            pass
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    clean_stale()
    return True


def stop_all() -> list[int]:
    """Stop every server this package started; return their pids."""
    stopped = [b.pid for b in ours() if stop(b)]
    return stopped


def display(board: Board, height: int = 800) -> None:
    """Show a running server inline in a notebook (the same iframe ``%tensorboard`` draws)."""
    from tensorboard import notebook

    notebook.display(port=board.port, height=height)


def main(argv: list[str] | None = None) -> None:
    """``python -m tbviz.board [start|list|stop PID_OR_PORT|stop-all] [--logdir D]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m tbviz.board", description=__doc__.split("\n")[0])
    p.add_argument(
        "action", nargs="?", default="start", choices=["start", "list", "stop", "stop-all", "clean"]
    )
    p.add_argument("target", nargs="?", type=int, help="pid or port (for stop)")
    p.add_argument("--logdir", default=None, help="default: the course's logs root")
    p.add_argument("--port", type=int, default=None)
    args = p.parse_args(argv)
    if args.action == "start":
        board = start(args.logdir, port=args.port)
        state = "already running" if board.reused else "started"
        print(f"TensorBoard {state} (pid {board.pid}) for {board.logdir}: open {board.url}")
        if not board.reused:
            print("Press Ctrl-C to stop it.")
            try:
                while _alive(board.pid):
                    time.sleep(1)
            except KeyboardInterrupt:
                stop(board)
    elif args.action == "list":
        for b in running():
            print(f"pid {b.pid}  {b.url}  {b.logdir}")
    elif args.action == "stop":
        if args.target is None:
            raise SystemExit("error: say which server to stop: a pid or a port (see 'list')")
        if not stop(args.target):
            raise SystemExit(f"error: no running TensorBoard with pid or port {args.target}")
    elif args.action == "stop-all":
        print("stopped:", stop_all() or "none")
    else:
        print("removed stale records:", clean_stale() or "none")


if __name__ == "__main__":
    main()
