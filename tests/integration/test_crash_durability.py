"""Every acknowledged write survives kill -9 of the process that made it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from registry.bootstrap import build_registry
from tests.world import seed_data_folder

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from registry.bootstrap import build_registry
    app = build_registry({"REGISTRY_DATA_DIR": sys.argv[1]})
    dyeing, paper = app.catalogue().entries["enterprises"][:2]
    n = 0
    while True:
        n += 1
        app.transfer(instrument="COD-2025-MAOZHOU", seller=dyeing, buyer=paper, quantity=1,
                     ref=f"K-{n}", at="2025-05-01T10:00:00+08:00")
        print(f"ack K-{n}", flush=True)  # acknowledged only after the save returned
""")


def test_acknowledged_transfers_survive_kill_9(tmp_path: Path) -> None:
    seed_data_folder(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(line.split()[1])
        if len(acked) == 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    refs = [e.ref for e in app.events.get(app.instrument("COD-2025-MAOZHOU").id)
            if type(e).__name__ == "Transferred"]
    app.close()
    assert set(acked) <= set(refs)  # every acknowledged transfer is stored (maybe one more)
    assert len(refs) == len(set(refs))  # and none twice
