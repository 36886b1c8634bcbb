"""CPU time of the auditor's replay over `loadtests.bench_replay`'s export, for comparisons.

`loadtests.bench_replay` reports wall-clock rates, which swing twofold on a shared machine; this
builds the same history and export (``build(events, 7)``, ``write_export``) and prints, as one
JSON line, the best of ``repeats`` replays (`registry.audit.replay_export`) in process CPU time
(the pool's workers included) and in wall-clock time, in one process and with the default split.
It imports only names every checkout since bf02440 has, so it measures the tree it runs in:

    cd <checkout> && PYTHONPATH=. <python> /path/to/loadtests/bench_replay_cpu.py 30000 3
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from loadtests.bench_replay import build, write_export
from registry.audit import replay_export


def cpu_seconds() -> float:
    """This process's CPU time and that of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str]) -> int:
    events_wanted, repeats = int(argv[0]), int(argv[1])
    events = build(events_wanted, 7)
    out: dict[str, float | int] = {"events": len(events)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_export(events, folder)
        out["bytes"] = (folder / "entries.jsonl").stat().st_size
        for label, workers in (("one", 1), ("default", None)):
            cpus, walls = [], []
            for _ in range(repeats):
                cpu, wall = cpu_seconds(), time.perf_counter()
                replay_export(folder, workers=workers)
                walls.append(time.perf_counter() - wall)
                cpus.append(cpu_seconds() - cpu)
            out[f"{label}_cpu_s"] = min(cpus)
            out[f"{label}_wall_s"] = min(walls)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
