"""Leaves encoded in a process of their own (`registry.leaf_process`): the ledger they make is
the ledger the follower makes alone, byte for byte; a child that fails hands the work back to
the follower with nothing lost or doubled; the child ends with the process that started it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.log import Ledger
from registry.bootstrap import Registry, build_registry
from registry.leaf_process import LeafProcess, wanted
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
from tests.integration.test_exchange_journeys import COD, exchange_world, trading_day
from tests.support.child_processes import ends_with_its_parent
from tests.support.world import World


def _ready(process: LeafProcess) -> LeafProcess:
    deadline = time.monotonic() + 60
    while not process.ready:
        assert time.monotonic() < deadline, "the leaf process did not start"
        time.sleep(0.05)
    return process


def _ledger(env: dict[str, str], name: str) -> Ledger:
    return open_ledger(LedgerSettings.from_env(
        {**env, "REGISTRY_LEDGER_DIR": str(Path(env["REGISTRY_DATA_DIR"]) / name)}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[dict[str, str], Registry, World]]:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    w = exchange_world(app)
    trading_day(app, w)
    yield env, app, w
    app.close()


def test_the_leaves_a_child_encodes_are_the_followers_own(
        store: tuple[dict[str, str], Registry, World]) -> None:
    env, app, w = store
    alone, helped = _ledger(env, "alone"), _ledger(env, "helped")
    seal = LedgerFollower(app, alone).encoder.seal
    process = _ready(LeafProcess(env, seal.secret))
    try:
        asked: list[int] = []
        page = process.page

        def counted(*args: int) -> object:
            asked.append(1)
            return page(*args)

        process.page = counted  # type: ignore[method-assign]
        follower = LedgerFollower(app, helped, checkpoint_every=50, seal=seal)
        follower.encode_in(process)
        assert follower.catch_up(page=20) == LedgerFollower(
            app, alone, checkpoint_every=50, seal=seal).catch_up(page=20)
        assert len(asked) > 2 and process.ready  # the child encoded every page
        assert alone.size > 50 and list(alone.leaves()) == list(helped.leaves())
        assert alone.root() == helped.root() and helped.signed_size == helped.size
        # more events, followed again: the child reads on from where the ledger stands
        app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=1000,
                              ref="T-1", at="2025-04-01T10:00:00+08:00", reason="correction",
                              administrator="admin-1")
        assert follower.catch_up() > 0
        LedgerFollower(app, alone, seal=seal).catch_up()
        assert list(alone.leaves()) == list(helped.leaves())
    finally:
        process.close()
        alone.close()
        helped.close()


def test_a_failed_child_hands_the_encoding_back(
        store: tuple[dict[str, str], Registry, World],
        caplog: pytest.LogCaptureFixture) -> None:
    env, app, w = store
    alone, helped = _ledger(env, "alone"), _ledger(env, "helped")
    seal = LedgerFollower(app, alone).encoder.seal
    process = _ready(LeafProcess(env, seal.secret))
    try:
        follower = LedgerFollower(app, helped, seal=seal)
        follower.encode_in(process)
        follower.catch_up(page=40)
        os.kill(process.child.pid, signal.SIGKILL)
        process.child.wait()
        app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=1000,
                              ref="T-2", at="2025-04-01T10:00:00+08:00", reason="correction",
                              administrator="admin-1")
        with caplog.at_level(logging.WARNING, logger="registry.child_process"):
            assert follower.catch_up() > 0  # encoded here (once: the ledgers below agree)
        assert not process.ready
        assert "the ledger follower encodes leaves itself" in caplog.text
        LedgerFollower(app, alone, seal=seal).catch_up()
        assert list(alone.leaves()) == list(helped.leaves())
        assert helped.signed_size == helped.size
    finally:
        process.close()
        alone.close()
        helped.close()


def _follows_alone(app: Registry, ledger: Ledger, process: LeafProcess) -> None:
    """A follower given a ``process`` that does not answer appends every stored event."""
    follower = LedgerFollower(app, ledger)
    follower.encode_in(process)
    assert follower.catch_up() == ledger.size > 0


def test_a_child_error_is_answered_by_the_follower(
        store: tuple[dict[str, str], Registry, World]) -> None:
    env, app, _ = store
    helped = _ledger(env, "helped")
    process = _ready(LeafProcess(env, b"x" * 32))
    try:
        # the child's store is another: a page it cannot read is refused, never half-encoded
        assert process.page(-5, 0, 0, "many") is None  # type: ignore[arg-type]
        assert not process.ready
        _follows_alone(app, helped, process)
    finally:
        process.close()
        helped.close()


def test_the_child_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    build_registry(env).close()
    assert ends_with_its_parent("from registry.leaf_process import LeafProcess\n"
                                f"p = LeafProcess({env!r}, b'k' * 32)")


def test_only_where_another_process_sees_the_store() -> None:
    assert wanted({"REGISTRY_LEAF_PROCESS": "1", "REGISTRY_DATA_DIR": "d"})
    assert not wanted({"REGISTRY_DATA_DIR": "d"})  # an app built otherwise: unless asked
    assert not wanted({"REGISTRY_LEAF_PROCESS": "1", "REGISTRY_STORE": "memory"})
    with pytest.raises(ValueError, match="REGISTRY_LEAF_PROCESS"):
        wanted({"REGISTRY_LEAF_PROCESS": "yes"})


def test_no_process_to_be_had_leaves_the_encoding_to_the_follower(
        store: tuple[dict[str, str], Registry, World], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    env, app, _ = store
    helped = _ledger(env, "helped")

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", refused)
    with caplog.at_level(logging.WARNING, logger="registry.child_process"):
        process = LeafProcess(env, b"k" * 32)
    try:
        assert not process.ready and "could not start" in caplog.text
        _follows_alone(app, helped, process)
    finally:
        process.close()
        helped.close()
