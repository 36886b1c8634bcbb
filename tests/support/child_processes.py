"""A helper process (`registry.child_process`) must end with the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ends_with_its_parent(start: str, *, within: float = 20) -> bool:
    """Run a parent whose Python statement ``start`` binds ``p`` to a `ChildProcess`; once the
    child is ready, ``kill -9`` the parent (no clean-up of any kind): whether the child ends
    (or is left a zombie) within ``within`` seconds."""
    script = (f"import time\n{start}\n"
              "while not p.ready: time.sleep(0.05)\n"
              "print(p.child.pid, flush=True)\n"
              "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(child, 0)  # it runs
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True  # ended (and reaped by init)
        if _zombie(child):
            return True
        time.sleep(0.1)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return False
