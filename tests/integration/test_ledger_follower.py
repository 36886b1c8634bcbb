"""The ledger follower: one leaf per committed event, commit order, resumable after kill -9."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import rfc8785

from registry.bootstrap import build_registry
from registry.ledger_follower import LedgerFollower, LedgerSettings, decode_leaf, open_ledger
from tests.support.world import build_world, issue, seed_data_folder

ROOT = Path(__file__).resolve().parents[2]


def notification_ids(env: dict[str, str]) -> list[int]:
    app = build_registry(env)
    try:
        return [n.id for n in app.recorder.select_notifications(1, 10_000)]
    finally:
        app.close()


def test_every_committed_event_becomes_one_canonical_leaf_in_commit_order(tmp_path: Path) -> None:
    env = seed_data_folder(tmp_path)
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        follower = LedgerFollower(app, ledger, checkpoint_every=7)
        appended = follower.catch_up(page=4)
        ids = notification_ids(env)
        assert appended == ledger.size == len(ids)
        records = [decode_leaf(ledger.leaf(i)) for i in range(ledger.size)]
        assert [r["position"] for r in records] == ids
        for i in range(ledger.size):
            leaf = ledger.leaf(i)
            assert rfc8785.dumps(json.loads(leaf)) == leaf
        assert set(records[0]) == {"position", "aggregate_id", "version", "topic", "timestamp",
                                   "payload", "leaf_format", "subjects"}
        assert records[0]["leaf_format"] == 2
        assert records[-1]["subjects"][-1]["type"] == "instrument"
        assert records[-1]["topic"] == "surplus:Instrument.Transferred.v1"
        assert records[-1]["payload"]["rule_version"] == "GD-2023.1"
        assert follower.catch_up() == 0  # nothing new: no duplicate
    app.close()


KILLER = textwrap.dedent("""
    import os, signal, sys
    from registry.bootstrap import build_registry
    from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
    env = {"REGISTRY_DATA_DIR": sys.argv[1]}
    app = build_registry(env)
    ledger = open_ledger(LedgerSettings.from_env(env))
    pages = 0
    real = ledger.append_many
    def append_then_die(leaves):
        global pages
        pages += 1
        if pages == 3:
            # half a batch reaches the file, then the process dies without any clean-up
            real(leaves[: len(leaves) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real(leaves)
    ledger.append_many = append_then_die
    LedgerFollower(app, ledger, checkpoint_every=3).catch_up(page=4)
""")


def test_follower_resumes_after_being_killed_mid_batch(tmp_path: Path) -> None:
    env = seed_data_folder(tmp_path)
    done = subprocess.run([sys.executable, "-c", KILLER, str(tmp_path)], cwd=ROOT, check=False)
    assert done.returncode == -9
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        assert 0 < ledger.size < len(notification_ids(env))  # it really stopped part-way
        LedgerFollower(app, ledger).catch_up(page=4)
        positions = [decode_leaf(ledger.leaf(i))["position"] for i in range(ledger.size)]
    assert positions == notification_ids(env)  # no gap, no duplicate
    app.close()


def test_follower_continues_with_events_committed_later(tmp_path: Path) -> None:
    env = seed_data_folder(tmp_path)
    app = build_registry(env)
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        follower = LedgerFollower(app, ledger)
        first = follower.catch_up()
        dyeing, paper = app.catalogue().entries["enterprises"][:2]
        before = app.queries.position()
        app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=paper, buyer=dyeing, quantity=5,
                              ref="T-2", at="2025-04-02T10:00:00+08:00",
                              reason="correction", administrator="admin-t")
        added = app.queries.position() - before
        # the recorded reference, its authorisation, the buyer's confirmed right (amended by
        # the purchase; the seller holds none) and the instrument's transfer
        assert added == 4
        assert follower.catch_up() == added
        assert ledger.size == first + added
        checkpoint = ledger.latest_checkpoint()
        assert checkpoint is not None and f"\n{first + added}\n" in checkpoint
    app.close()


@pytest.mark.postgres
def test_follower_on_postgresql_numbers_every_event_in_commit_order(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    env = {**postgres_env, "REGISTRY_STORE": "postgres", "REGISTRY_DATA_DIR": str(tmp_path)}
    app = build_registry(env)
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    ids = [n.id for n in app.recorder.select_notifications(1, 10_000)]
    with open_ledger(LedgerSettings.from_env(env)) as ledger:
        assert LedgerFollower(app, ledger).catch_up(page=7) == len(ids)
        assert [decode_leaf(ledger.leaf(i))["position"] for i in range(ledger.size)] == ids
    app.close()
