"""Long work shows progress on a terminal and prints nothing extra when output is not one."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.support.world import seed_data_folder

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], *, tty: bool) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "cli", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not tty:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        return done.returncode, done.stdout, done.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(cmd, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(), b"".join(chunks).decode(errors="replace"), ""


def test_export_and_verify_are_quiet_when_not_on_a_terminal(tmp_path: Path) -> None:
    seed_data_folder(tmp_path / "d")
    status, out, err = run(["--data-dir", str(tmp_path / "d"), "ledger", "export",
                            str(tmp_path / "x")], tty=False)
    assert status == 0 and err == ""
    assert out.startswith("exported ") and len(out.splitlines()) == 1
    status, out, err = run(["ledger", "verify", str(tmp_path / "x"), "--vkey",
                            str(tmp_path / "x" / "vkey")], tty=False)
    assert status == 0 and err == "" and out.startswith("OK: ")


def test_export_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    seed_data_folder(tmp_path / "d")
    status, screen, _ = run(["--data-dir", str(tmp_path / "d"), "ledger", "export",
                             str(tmp_path / "x")], tty=True)
    assert status == 0
    assert "ledger: exporting" in screen and "entries" in screen
