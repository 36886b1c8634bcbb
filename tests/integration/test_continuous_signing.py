"""The ledger follows the store in its own thread and signs without anyone asking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from ledger.checkpoint import verify_checkpoint
from registry.bootstrap import build_registry
from registry.ledger_follower import (
    ContinuousSigner,
    LedgerFollower,
    LedgerSettings,
    open_ledger,
    store_leaves,
)
from tests.integration.test_ledger_rederive import rewrite_leaf
from tests.support.world import AT, code, seed_data_folder


def eventually(condition: Callable[[], bool], *, rounds: int = 500) -> bool:
    """Poll without asserting on time: the bound is generous, the test waits only as needed."""
    for _ in range(rounds):
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_every_committed_event_is_signed_without_a_reader(tmp_path: Path) -> None:
    env = seed_data_folder(tmp_path)
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        signer = ContinuousSigner(LedgerFollower(app, ledger), threading.Lock(), interval=0.01)
        signer.start()
        try:
            assert eventually(lambda: ledger.signed_size == len(
                app.recorder.select_notifications(1, 10_000)) > 0)
            first = ledger.signed_size
            app.exchange.deposit(enterprise=code(1), amount=1000, reference="DEP-CONT-1",
                                 administrator="admin-cash", at=AT)
            assert eventually(lambda: ledger.signed_size > first)
            note = ledger.latest_checkpoint()
            assert note is not None
            assert verify_checkpoint(note=note, vkey=ledger.vkey).size == ledger.signed_size
            delay = signer.merge_delay()
            assert delay.count == ledger.signed_size and delay.p50 <= delay.p99 <= delay.max
        finally:
            signer.stop()
    app.close()


def test_a_leaf_that_does_not_re_derive_stops_the_signer_loudly(tmp_path: Path) -> None:
    env = seed_data_folder(tmp_path)
    settings = LedgerSettings.from_env(env)
    app = build_registry(env)
    with open_ledger(settings) as ledger:
        ledger.append_many(list(store_leaves(app)))
    rewrite_leaf(Path(settings.directory) / "leaves.bin", 4, b'"version":', b'"versioN":')
    with open_ledger(settings) as ledger:
        signer = ContinuousSigner(LedgerFollower(app, ledger), threading.Lock(), interval=0.01,
                                  retry=0.01)
        signer.start()
        try:
            assert eventually(lambda: signer.last_error is not None)
            assert "leaf 4" in str(signer.last_error)
            assert ledger.latest_checkpoint() is None and ledger.signed_size == 0
        finally:
            signer.stop()
    app.close()
