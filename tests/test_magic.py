"""``%tensorboard`` where learners run it: a kernel whose environment's ``bin/`` is not on PATH
(VS Code, an unactivated virtual environment), a machine shared by several users, and Windows.

Each test starts a real kernel with the environment a learner's would have: PATH without this
environment's ``bin/`` and no ``TENSORBOARD_BINARY``. Servers are stopped by the tests.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tbviz import board

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)


def learner_env(tmp_path: Path) -> dict[str, str]:
    """This environment as an unactivated kernel sees it: its bin/ is not on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in {"TENSORBOARD_BINARY", "TMPDIR"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != BIN)
    env["TBVIZ_SYSTEM_TMP"] = str(tmp_path / "shared-tmp")  # stands for the machine's /tmp
    env["TMPDIR"] = env["TBVIZ_SYSTEM_TMP"]
    Path(env["TMPDIR"]).mkdir()
    return env


def answers(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/logdir", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def run_magic(tmp_path: Path, setup: str) -> tuple[str, list[str], list[str]]:
    """Run ``setup``, then ``%tensorboard`` over an empty log dir in a fresh kernel; return its
    text and HTML output, where the kernel keeps TensorBoard's records, and the ports in the
    output that answer while the kernel is still running."""
    from jupyter_client.manager import start_new_kernel

    logdir = tmp_path / "logs"
    logdir.mkdir()
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=learner_env(tmp_path))
    out: list[str] = []

    def keep(msg):
        content = msg["content"]
        data = content.get("data", {})
        out.append(content.get("text", "") + data.get("text/plain", "") + data.get("text/html", ""))

    try:
        for code in (setup, "%load_ext tensorboard", f'%tensorboard --logdir "{logdir}"'):
            reply = kc.execute_interactive(code, timeout=120, output_hook=keep)
            assert reply["content"]["status"] == "ok", out
        records: list[str] = []
        kc.execute_interactive(
            "from tensorboard import manager; print(manager._get_info_dir())",
            timeout=30,
            output_hook=lambda m: records.append(m["content"].get("text", "")),
        )
        text = "".join(out)
        ports = set(re.findall(r"port = (\d+);", text))
        return text, records, sorted(port for port in ports if answers(port))
    finally:
        kc.execute_interactive(
            "from tensorboard import manager\n"
            "import os, signal\n"
            "[os.kill(i.pid, signal.SIGTERM) for i in manager.get_all()]",
            timeout=30,
        )
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_magic_without_setup_cannot_find_tensorboard(tmp_path):
    """The failure learners meet: without its bin/ on PATH the magic finds no program."""
    text, _, live = run_magic(tmp_path, "pass")
    assert not live
    assert "Could not find `tensorboard`" in text, text[-500:]


def test_setup_magic_lets_the_magic_start_this_environments_tensorboard(tmp_path):
    text, records, live = run_magic(tmp_path, "from tbviz import board; board.setup_magic()")
    assert "Could not find `tensorboard`" not in text, text[-500:]
    assert len(live) == 1, f"the frame's server does not answer: {text[-500:]}"
    # the magic's records went to this user's own folder, not the shared temporary directory
    info_dir = Path("".join(records).strip())
    shared = tmp_path / "shared-tmp"
    assert info_dir.parent.parent == shared and info_dir.parent.name.startswith("tbviz-tmp-")
    assert not (shared / ".tensorboard-info").exists() or not any(
        (shared / ".tensorboard-info").iterdir()
    )


def test_two_users_get_separate_private_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("TBVIZ_SYSTEM_TMP", str(tmp_path))
    folders = []
    for uid in (1001, 1002):
        monkeypatch.setattr(os, "getuid", lambda uid=uid: uid)
        folders.append(board.user_temp_dir())
    assert folders[0] != folders[1]
    assert all((f.stat().st_mode & 0o777) == 0o700 for f in folders)


def test_board_refuses_on_windows_naming_wsl(monkeypatch, tmp_path):
    monkeypatch.setattr(board, "_is_windows", lambda: True)
    for call in (lambda: board.start(tmp_path), board.running, lambda: board.stop(1)):
        with pytest.raises(OSError, match="WSL"):
            call()


def test_missing_tensorboard_program_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match=r"pip install 'tensorboard>=2.21'"):
        board.tensorboard_binary()


def test_setup_magic_forgets_servers_that_died_with_an_earlier_kernel(tmp_path, monkeypatch):
    """A record left by a killed server makes the magic "reuse" it: a dead frame."""
    monkeypatch.setenv("TBVIZ_SYSTEM_TMP", str(tmp_path))
    monkeypatch.delenv("TMPDIR", raising=False)  # setup_magic sets these: restored afterwards
    monkeypatch.delenv("TENSORBOARD_BINARY", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)
    private = board.user_temp_dir()
    records = private / ".tensorboard-info"
    records.mkdir()
    dead = records / "pid-999999999.info"  # no such process
    dead.write_text("{}")
    try:
        board.setup_magic()
        assert not dead.exists()
    finally:
        tempfile.tempdir = None
