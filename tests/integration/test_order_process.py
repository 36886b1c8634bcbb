"""Order batches written in a process of their own (`registry.order_process`): the child answers
each batch with what the registry here answers and stores what it stores; a batch it cannot
take is written here; a batch it took and never answered is in doubt, and said so; the child
ends with the process that started it."""

from __future__ import annotations

import io
import logging
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.errors import NotFound
from domain.exchange.orders import Order, Outcome
from loadtests.load_checks import Report, check_books, scan_markets, stored_events
from loadtests.load_world import MARKETS, Manifest, seed
from registry import order_child
from registry.acting import acting
from registry.bootstrap import Registry, build_registry
from registry.child_process import read_frame, write_frame
from registry.order_process import OrderProcess, answer, wanted
from registry.storage import OutcomeUnknown
from tests.support.child_processes import ends_with_its_parent

AT = "2025-06-02T10:00:00+08:00"


def _ready(process: OrderProcess) -> OrderProcess:
    deadline = time.monotonic() + 120
    while not process.ready:
        assert time.monotonic() < deadline, "the order process did not start"
        time.sleep(0.05)
    return process


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[dict[str, str], Manifest, Registry]]:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    manifest = seed(env, traders=4)
    app = build_registry(env)
    yield env, manifest, app
    app.close()


def _batches(manifest: Manifest, rng: random.Random, k: int) -> dict[str, list[Order]]:
    """One gateway cycle: a few limit orders on every market, crossing often."""
    out: dict[str, list[Order]] = {}
    for m in MARKETS:
        out[m.instrument] = [
            Order(f"{m.kind}-{k}-{j}", rng.choice(manifest.traders), rng.choice("BS"), "L",
                  m.reference_price + rng.randint(-3, 3) * m.tick, rng.randint(1, 4) * 1000,
                  f"desk-{j}")
            for j in range(6)]
    return out


def _stored_ids(app: Registry) -> Counter[str]:
    """How many times each order id is stored, over every market."""
    out: Counter[str] = Counter()
    for ids in scan_markets(app).orders.values():
        out.update(ids)
    return out


def _books(app: Registry) -> dict[str, Any]:
    return {m.instrument: app.exchange.market(m.instrument).book for m in MARKETS}


def test_the_child_answers_and_stores_what_the_registry_here_does(tmp_path: Path) -> None:
    """Two stores seeded alike get the same cycles: one written here, one by the child. The
    outcomes (ids, fills, trades, resting, log positions) and the books are the same, and
    the child's store equals its own replay."""
    here_env = {"REGISTRY_DATA_DIR": str(tmp_path / "here")}
    child_env = {"REGISTRY_DATA_DIR": str(tmp_path / "child")}
    manifest = seed(here_env, traders=4)
    assert seed(child_env, traders=4) == manifest
    here, there = build_registry(here_env), build_registry(child_env)
    process = _ready(OrderProcess(child_env, there.exchange.submit_order_batches))
    try:
        rng = random.Random(7)
        for k in range(12):
            batches = _batches(manifest, rng, k)
            mine = here.exchange.submit_order_batches(batches=batches, at=AT)
            theirs = process.submit_order_batches(batches=batches, at=AT)
            assert theirs == mine
        assert process.sent == 12 and process.ready  # every cycle was the child's
        fills = [f for os in mine.values() if isinstance(os, list) for o in os for f in o.fills]
        assert fills  # the cycles traded
        assert _books(there) == _books(here)
        report = Report()
        check_books(report, there, scan_markets(there))
        assert report.ok, report.failed
    finally:
        process.close()
        here.close()
        there.close()


def test_a_market_that_cannot_run_fails_alone_as_it_does_here(
        seeded: tuple[dict[str, str], Manifest, Registry]) -> None:
    env, manifest, app = seeded
    process = _ready(OrderProcess(env, app.exchange.submit_order_batches))
    try:
        code = MARKETS[0].instrument
        order = Order("o-1", manifest.traders[0], "B", "L", MARKETS[0].reference_price, 1000,
                      "desk-1")
        results = process.submit_order_batches(
            batches={"NO-SUCH-MARKET": [order], code: [order]}, at=AT)
        assert isinstance(results["NO-SUCH-MARKET"], NotFound)
        assert "not found" in str(results["NO-SUCH-MARKET"])
        (outcome,) = results[code]  # type: ignore[misc]
        assert isinstance(outcome, Outcome) and outcome.status == "accepted"
        assert process.sent == 1
        assert _stored_ids(app) == Counter(["o-1"])  # stored
    finally:
        process.close()


def test_a_child_that_cannot_start_leaves_every_batch_here(
        seeded: tuple[dict[str, str], Manifest, Registry], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    env, manifest, app = seeded

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", refused)
    with caplog.at_level(logging.WARNING, logger="registry.child_process"):
        process = OrderProcess(env, app.exchange.submit_order_batches)
    try:
        assert not process.ready and "could not start" in caplog.text
        assert "the order gateway writes its batches itself" in caplog.text
        results = process.submit_order_batches(batches=_batches(manifest, random.Random(1), 0),
                                               at=AT)
        assert process.sent == 0
        assert all(o.status != "rejected" for os in results.values()
                   if isinstance(os, list) for o in os)
        assert sum(len(b) for b in _books(app).values()) > 0  # written here
    finally:
        process.close()


def test_a_child_that_ended_between_batches_leaves_the_next_here(
        seeded: tuple[dict[str, str], Manifest, Registry],
        caplog: pytest.LogCaptureFixture) -> None:
    env, manifest, app = seeded
    process = _ready(OrderProcess(env, app.exchange.submit_order_batches))
    try:
        os.kill(process.child.pid, signal.SIGKILL)
        process.child.wait()
        with caplog.at_level(logging.WARNING, logger="registry.child_process"):
            results = process.submit_order_batches(
                batches=_batches(manifest, random.Random(2), 0), at=AT)
        assert "order process" in caplog.text and not process.ready
        assert process.sent == 0 and all(isinstance(os, list) for os in results.values())
        ids = [o.order_id for os in results.values() if isinstance(os, list) for o in os]
        assert _stored_ids(app) == Counter(ids)
    finally:
        process.close()


def test_a_batch_the_child_took_and_never_answered_is_in_doubt(
        seeded: tuple[dict[str, str], Manifest, Registry]) -> None:
    """The child stops answering (here: stopped before it read the batch): the batch is in
    doubt, the child is ended before the answer, and a re-run is written here, once."""
    env, manifest, app = seeded
    process = _ready(OrderProcess(env, app.exchange.submit_order_batches))
    try:
        process.timeout = 0.5
        os.kill(process.child.pid, signal.SIGSTOP)
        batches = _batches(manifest, random.Random(3), 0)
        with pytest.raises(OutcomeUnknown, match="may or may not be stored"):
            process.submit_order_batches(batches=batches, at=AT)
        assert process.child.poll() is not None  # ended: it stores nothing more
        assert not process.ready and process.sent == 0
        assert sum(len(b) for b in _books(app).values()) == 0  # (it never read the batch)
        again = process.submit_order_batches(batches=batches, at=AT)  # the clients' re-run
        ids = [o.order_id for os in again.values() if isinstance(os, list) for o in os]
        assert _stored_ids(app) == Counter(ids)  # each stored once
    finally:
        process.close()


def _queued_trade(process: OrderProcess, manifest: Manifest) -> tuple[str, str]:
    """A trade worth more than the market's threshold, waiting in the verification queue."""
    m = MARKETS[2]
    assert m.verify_above is not None
    qty = (m.verify_above // m.reference_price + 5) * 1000
    seller, buyer = manifest.traders[:2]
    results = process.submit_order_batches(batches={m.instrument: [
        Order("big-sell", seller, "S", "L", m.reference_price, qty, "desk-1"),
        Order("big-buy", buyer, "B", "L", m.reference_price, qty, "desk-2")]}, at=AT)
    fills = [f for o in results[m.instrument] for f in o.fills]  # type: ignore[union-attr]
    assert fills and fills[0][3] == "pending"
    return m.instrument, fills[0][0]


def test_the_queues_decisions_are_written_by_the_child_as_their_administrator(
        seeded: tuple[dict[str, str], Manifest, Registry]) -> None:
    env, manifest, app = seeded
    process = _ready(OrderProcess(env, app.exchange.submit_order_batches))

    def here(**kwargs: object) -> None:
        raise AssertionError("written here")

    try:
        code, trade = _queued_trade(process, manifest)
        with acting("user:admin-2"):
            process.command("approve_trade", {"instrument": code, "trade_id": trade,
                                              "administrator": "user:admin-2", "at": AT},
                            here=here)
        assert process.sent == 2 and app.exchange.market(code).pending == {}
        approved = [e for _, e in stored_events(app) if type(e).__name__ == "TradeApproved"]
        assert [(e.trade_id, e.actor) for e in approved] == [(trade, "user:admin-2")]
        # the same refusal as here: the trade is no longer waiting
        with acting("user:admin-3"), pytest.raises(NotFound):
            process.command("reject_trade", {"instrument": code, "trade_id": trade,
                                             "administrator": "user:admin-3",
                                             "reason": "late", "at": AT}, here=here)
        with pytest.raises(ValueError, match="does not write"):
            process.command("deposit", {}, here=here)
    finally:
        process.close()


def test_an_answer_that_cannot_travel_is_sent_as_an_error(
        seeded: tuple[dict[str, str], Manifest, Registry],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's loop, run here over pipes of bytes: a result a pickle refuses goes back as
    a `RuntimeError` naming why, and the loop goes on to the next batch."""
    env, manifest, _ = seeded

    class Odd(Exception):
        def __init__(self) -> None:
            super().__init__("odd")
            self.lock = threading.Lock()  # no pickle takes a lock

    calls: list[int] = []

    def answered(registry: Any, frame: Any) -> tuple[str, Any]:
        calls.append(1)
        return ("raised", Odd()) if len(calls) == 1 else answer(registry, frame)

    monkeypatch.setattr(order_child, "answer", answered)
    source, out = io.BytesIO(), io.BytesIO()
    write_frame(source, env)
    batches = _batches(manifest, random.Random(4), 0)
    write_frame(source, ("batch", batches, AT))
    write_frame(source, ("batch", batches, AT))
    source.seek(0)
    order_child.serve(source, out)
    out.seek(0)
    assert read_frame(out) == "ready"
    kind, error = read_frame(out)
    assert kind == "raised" and isinstance(error, RuntimeError)
    assert "could not return its answer" in str(error)
    kind, results = read_frame(out)
    assert kind == "done" and set(results) == set(batches)


def test_the_child_ends_with_the_process_that_started_it(
        seeded: tuple[dict[str, str], Manifest, Registry]) -> None:
    env = seeded[0]
    assert ends_with_its_parent("from registry.order_process import OrderProcess\n"
                                f"p = OrderProcess({env!r}, None)")


def test_only_where_another_process_sees_the_store() -> None:
    assert wanted({"REGISTRY_ORDER_PROCESS": "1", "REGISTRY_DATA_DIR": "d"})
    assert not wanted({"REGISTRY_DATA_DIR": "d"})  # an app built otherwise: unless asked
    assert not wanted({"REGISTRY_ORDER_PROCESS": "1", "REGISTRY_STORE": "memory"})
    with pytest.raises(ValueError, match="REGISTRY_ORDER_PROCESS"):
        wanted({"REGISTRY_ORDER_PROCESS": "yes"})
