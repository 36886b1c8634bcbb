"""Where the service's time goes during a load run: py-spy sampling of the service's processes.

``run_load --profile`` records each Locust run with ``py-spy record --format raw`` (collapsed
stacks, one ``frame;frame;… count`` line per distinct stack) into ``NAME.folded``;
`top` ranks functions by the share of samples they appear in (inclusive) and are on top of
(self). py-spy is a tool, not a dependency: ``pip install py-spy`` to use ``--profile``.

Run on its own: ``.venv/bin/python -m loadtests.load_profile RESULTS/orders.folded``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def start(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` and its children (uvicorn workers) for ``seconds``; None without
    py-spy."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("   (py-spy not installed: no profile)")
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--duration",
                             str(seconds), "--rate", "200", "--format", "raw", "--nonblocking",
                             "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(text: str) -> str:
    """``function (path:line)`` -> ``function (path)``: rank functions, not lines."""
    name, _, where = text.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def top(folded: Path, n: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        if any(f.startswith(("epoll_wait", "select ", "wait (threading", "_wait_for_tstate"))
               for f in frames[-1:]):
            continue  # idle threads waiting for work
        total += count
        for f in set(frames):
            inclusive[f] += count
        own[frames[-1]] += count
    if not total:
        return f"{folded}: no busy samples"
    lines = [f"{folded.name}: {total:,} busy samples",
             "inclusive  self  function"]
    for f, c in inclusive.most_common(n):
        lines.append(f"{c / total:8.1%} {own[f] / total:6.1%}  {f[:110]}")
    lines.append("top self time:")
    for f, c in own.most_common(12):
        lines.append(f"{c / total:8.1%}  {f[:110]}")
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(top(Path(arg)))
