"""Every acknowledged write survives kill -9 of the process that made it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from registry.bootstrap import build_registry
from tests.support.world import seed_data_folder

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from registry.bootstrap import build_registry
    app = build_registry({"REGISTRY_DATA_DIR": sys.argv[1]})
    dyeing, paper = app.catalogue().entries["enterprises"][:2]
    n = 0
    while True:
        n += 1
        app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=dyeing, buyer=paper,
                              quantity=1, ref=f"K-{n}", at="2025-05-01T10:00:00+08:00",
                              reason="correction", administrator="admin-t")
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


ORDER_WRITER = textwrap.dedent("""
    import sys
    from domain.exchange.orders import Order
    from registry.bootstrap import build_registry
    app = build_registry({"REGISTRY_DATA_DIR": sys.argv[1]})
    a, b = sys.argv[2], sys.argv[3]
    n = 0
    while True:
        batch = []
        for _ in range(50):  # each pair trades; units and cash go back and forth
            n += 1
            seller, buyer = (b, a) if (n - 1) // 100 % 2 else (a, b)
            who, side = (seller, "S") if n % 2 else (buyer, "B")
            batch.append(Order(f"K-{n}", who, side, "L", 800_000, 1_000, "desk"))
        outcomes = app.exchange.submit_orders(instrument="COD-2025-MAOZHOU", requests=batch,
                                              at="2025-05-01T10:00:00+08:00")
        for o in outcomes:  # acknowledged only after the batch's save returned
            print(f"ack {o.order_id} {o.status} {o.error}", flush=True)
""")


def test_acknowledged_orders_survive_kill_9(tmp_path: Path) -> None:
    from tests.integration.test_exchange_journeys import exchange_world

    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = exchange_world(app)
    app.close()
    proc = subprocess.Popen([sys.executable, "-c", ORDER_WRITER, str(tmp_path), w.dyeing,
                             w.paper], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        _, order_id, status, error = line.split()
        assert status == "accepted", error
        acked.append(order_id)
        if len(acked) == 1_000:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    m = app.exchange.market("COD-2025-MAOZHOU")
    i = app.instrument("COD-2025-MAOZHOU")
    app.close()
    assert set(acked) <= m.seen  # every acknowledged order is stored, its batch replays
    assert sum(i.totals().values()) == i.issued()
