"""The app of each uvicorn worker in the PostgreSQL load runs (`loadtests.serve_workers`).

Each worker is a process with its own registry over the shared PostgreSQL store; order books
keep one writer across workers through `registry.book_lock`.

The ledger is a single-writer folder (``flock``), and the API state opens it for writing in
every process, so with ``LOADTEST_LEDGER_PER_WORKER=1`` each worker follows the store into its own
folder (``ledger-worker-PID`` in the data folder): each is a complete copy of the same log,
leaves in the store's commit order, checkpoints signed with the same key. The canonical ledger
(``ledger/``) is brought up to date by the CLI after the run and checked against the checkpoint
taken before it. A deployment with several workers would instead run one follower process and
let the workers read its ledger.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from api.app import create_app
from registry.gc_pause import settle_heap


def create() -> FastAPI:
    env = dict(os.environ)
    if env.get("LOADTEST_LEDGER_PER_WORKER") == "1":
        data = env.get("REGISTRY_DATA_DIR", "data")
        env["REGISTRY_LEDGER_DIR"] = os.path.join(data, f"ledger-worker-{os.getpid()}")
    app = create_app(env)
    settle_heap()  # as `registry serve` does (registry.gc_pause)
    return app
