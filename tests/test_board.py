"""tbviz.board with real TensorBoard processes: start, reuse, list, stop, stale records,
loopback only. Every server a test starts is stopped by the test, by its own process id."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tbviz import board


@pytest.fixture
def started():
    """Collects the servers a test starts and stops them by pid afterwards."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if board._alive(pid):
            os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    board.clean_stale()


def listening_addresses(pid: int) -> set[str]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}


def test_start_listens_on_loopback_only(tmp_path, started):
    server = board.start(tmp_path)
    started.append(server.pid)
    assert not server.reused and server.host == "127.0.0.1"
    assert listening_addresses(server.pid) == {"127.0.0.1"}
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/data/logdir", timeout=5) as r:
        assert json.loads(r.read())["logdir"] == str(tmp_path.resolve())
    assert board.stop(server.pid)
    assert not board._alive(server.pid)


def test_reuse_same_logdir_new_server_for_another(tmp_path, started):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = board.start(tmp_path / "a")
    started.append(first.pid)
    again = board.start(tmp_path / "a")
    assert again.reused and (again.pid, again.port) == (first.pid, first.port)
    other = board.start(tmp_path / "b")
    started.append(other.pid)
    assert not other.reused and other.pid != first.pid
    assert {first.pid, other.pid} <= {b.pid for b in board.running()}
    assert {first.pid, other.pid} <= {b.pid for b in board.ours()}
    assert board.stop(first.port)  # by port
    assert board.stop(other)  # by Board
    live = {b.pid for b in board.running()}
    assert first.pid not in live and other.pid not in live


def test_stale_record_of_a_killed_server_is_cleaned(tmp_path, started):
    from tensorboard import manager

    server = board.start(tmp_path)
    started.append(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    os.waitpid(server.pid, 0)
    # TensorBoard's own list still holds the dead server: what %tensorboard would "reuse".
    assert server.pid in {i.pid for i in manager.get_all()}
    assert server.pid in board.clean_stale()
    assert server.pid not in {i.pid for i in manager.get_all()}
    assert server.pid not in {b.pid for b in board.running()}
    fresh = board.start(tmp_path)  # not "reused": the dead one is gone
    started.append(fresh.pid)
    assert not fresh.reused and fresh.pid != server.pid
    assert board.stop(fresh)


def test_stop_all_stops_only_the_course_servers(tmp_path, started, monkeypatch):
    # A registry of this test's own: stop_all stops every course server of this user, and the
    # other test worker's servers (another "session" of the same user) must not be in it.
    monkeypatch.setenv("TBVIZ_SYSTEM_TMP", str(tmp_path / "system-tmp"))
    (tmp_path / "system-tmp").mkdir()
    ours = board.start(tmp_path)
    started.append(ours.pid)
    port = board.free_port()
    foreign = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(tmp_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started.append(foreign.pid)
    deadline = time.monotonic() + 60
    while not board._responds(port):
        assert time.monotonic() < deadline, "the foreign TensorBoard did not start"
        time.sleep(0.2)
    assert board.stop_all() == [ours.pid]
    assert foreign.poll() is None, "stop_all must not stop a server the course did not start"
    assert board.stop(foreign.pid)
    foreign.wait(timeout=10)


def test_taken_port_gives_a_clear_error(tmp_path, started):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"Port {port} is taken"):
            board.start(tmp_path, port=port)


def test_stop_unknown_returns_false():
    assert board.stop(board.free_port()) is False
