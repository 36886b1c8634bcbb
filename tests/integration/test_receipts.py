"""Receipts prove exactly what they claim: the typed subject, the event, the position, and the
subject's own sealed parts; nothing of the other parties of a batch."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from domain.errors import NotFound
from domain.exchange.orders import Amend, Cancel, Order
from ledger.log import Ledger
from registry.bootstrap import Registry, build_registry
from registry.leaves import event_key
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
from registry.log_reader import LogReader
from registry.receipts import (
    ReceiptError,
    RecentLeafIndexes,
    find_order_batch,
    leaf_index,
    ledger_index,
    receipt,
    verify_receipt,
)
from tests.integration.test_exchange_journeys import (
    COD,
    NOX,
    PRICE,
    exchange_world,
    trading_day,
)
from tests.support.store_faults import FailingInserts
from tests.support.world import AT, World


@dataclass
class Logged:
    app: Registry
    world: World
    ledger: Ledger
    follower: LedgerFollower
    vkey: str

    def leaves(self) -> list[dict[str, Any]]:
        return [json.loads(self.ledger.leaf(i)) for i in range(self.ledger.size)]

    def position_of(self, topic: str, nth: int = 0) -> int:
        found = [r["position"] for r in self.leaves() if event_key(r["topic"]) == topic]
        return int(found[nth])

    def receipt(self, position: int, **subject: str) -> dict[str, Any]:
        return receipt(self.ledger, position, follower=self.follower, **subject)


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Logged]:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    w = exchange_world(app)
    trading_day(app, w)
    # a transfer whose own reference reads like a trade id must never pass for that trade
    app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=1000,
                          ref=f"{COD}:971", at="2025-04-01T10:00:00+08:00",
                          reason="correction", administrator="admin-1")
    ledger = open_ledger(LedgerSettings.from_env(env))
    follower = LedgerFollower(app, ledger)
    follower.catch_up()
    yield Logged(app, w, ledger, follower, ledger.vkey)
    ledger.close()
    app.close()


def test_a_trade_receipt_names_its_trade_and_discloses_only_that_trade(logged: Logged) -> None:
    position = logged.position_of("Market.BatchMatched")
    batch = next(r for r in logged.leaves() if r["position"] == position)
    trade_ids = [s["id"] for s in batch["subjects"] if s["type"] == "trade"]
    assert len(trade_ids) >= 2  # the batch holds other trades than the one we ask about
    r = logged.receipt(position, subject_type="trade", subject=trade_ids[1])
    checked = verify_receipt(r, vkey=logged.vkey, subject=trade_ids[1], subject_type="trade",
                             event="BatchMatched")
    assert list(checked.disclosed) == ["trades/1"] and checked.disclosed["trades/1"][0] == \
        trade_ids[1]
    leaf = base64.b64decode(r["leaf"]).decode()
    assert '"ops":{"$sealed":"list"' in leaf and logged.world.paper not in leaf
    assert "\"s1\"" not in leaf and "\"b1\"" not in leaf, leaf  # no order id is readable


def test_the_subject_must_be_an_exact_typed_subject_of_the_leaf(logged: Logged) -> None:
    position = logged.position_of("Instrument.Transferred")
    r = logged.receipt(position)
    assert (r["subject_type"], r["subject"], r["event"]) == ("transfer", f"{COD}:971",
                                                             "Transferred")
    verify_receipt(r, vkey=logged.vkey, subject=f"{COD}:971", subject_type="transfer")
    with pytest.raises(ReceiptError, match="not 'trade'"):
        verify_receipt(r, vkey=logged.vkey, subject=f"{COD}:971", subject_type="trade")
    with pytest.raises(ReceiptError, match="not '971'"):
        verify_receipt(r, vkey=logged.vkey, subject="971")  # no substring match
    with pytest.raises(ReceiptError, match="does not name"):
        verify_receipt({**r, "subject": "971"}, vkey=logged.vkey)


@pytest.mark.parametrize(("claim", "value", "message"), [
    ("subject", "COD-2025-MAOZHOU:1", "does not name"),
    ("subject_type", "trade", "does not name"),
    ("event", "TradeRejected", "claims event TradeRejected"),
    ("position", 1, "claims position 1"),
    ("index", 0, "claims index 0"),
])
def test_a_receipts_own_claims_are_checked_without_being_asked(
        logged: Logged, claim: str, value: object, message: str) -> None:
    r = logged.receipt(logged.position_of("Instrument.Transferred"))
    verify_receipt(r, vkey=logged.vkey)
    with pytest.raises(ReceiptError, match=message):
        verify_receipt({**r, claim: value}, vkey=logged.vkey)


def test_a_disclosed_part_must_open_its_commitment_and_belong_to_the_subject(
        logged: Logged) -> None:
    position = logged.position_of("Market.BatchMatched")
    batch = next(r for r in logged.leaves() if r["position"] == position)
    first = next(s["id"] for s in batch["subjects"] if s["type"] == "trade")
    r = logged.receipt(position, subject_type="trade", subject=first)
    opening = r["disclosed"]["trades/0"]
    doctored = {**opening, "value": [*opening["value"][:5], opening["value"][5] + 1000,
                                     *opening["value"][6:]]}
    with pytest.raises(ReceiptError, match="does not open its commitment"):
        verify_receipt({**r, "disclosed": {"trades/0": doctored}}, vkey=logged.vkey)
    with pytest.raises(ReceiptError, match="not one of the subject's parts"):
        verify_receipt({**r, "disclosed": {**r["disclosed"], "ops/0": opening}},
                       vkey=logged.vkey)


@pytest.mark.parametrize(("topic", "kind", "subject"), [
    ("CashAccount.Deposited", "deposit", "DEP-0"),
    ("Instrument.LotIssued", "lot", None),
    ("Market.Opened", "market", COD),
])
def test_every_kind_of_event_names_a_typed_subject(logged: Logged, topic: str, kind: str,
                                                   subject: str | None) -> None:
    r = logged.receipt(logged.position_of(topic))
    assert r["subject_type"] == kind
    if subject is not None:
        assert r["subject"] == subject
    verify_receipt(r, vkey=logged.vkey, subject=r["subject"], subject_type=kind)


def test_the_aggregate_subject_comes_from_its_creation_event(logged: Logged) -> None:
    """Events whose payload names no subject (an agreement's Settled, an auction's Cleared)
    still name their aggregate: here every leaf ends with the aggregate's natural key."""
    for record in logged.leaves():
        owner = record["subjects"][-1]
        assert owner["id"] and owner["id"] != record["aggregate_id"], record["topic"]
    posted = logged.position_of("CashAccount.Posted")
    r = logged.receipt(posted, subject_type="cash_account")
    assert r["subject"] in (logged.world.paper, logged.world.dyeing)


def test_the_ledger_index_is_counted_in_the_store_before_and_after_the_leaf(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    try:
        w = exchange_world(app)
        ledger = open_ledger(LedgerSettings.from_env(env))
        follower = LedgerFollower(app, ledger)
        follower.catch_up()
        signed = follower.tip()
        assert signed == (ledger.size, follower.last_position())
        trading_day(app, w)  # stored, not yet leaves
        head = LogReader(app).head()
        positions = [n.id for n in LogReader(app).select(signed[1] + 1, head)]
        assert len(positions) > 5
        before = {p: leaf_index(follower, p) for p in positions}
        assert follower.tip() == signed  # nothing appended by asking
        follower.catch_up()
        assert before == {p: ledger_index(ledger, p) for p in positions}
        after = {p: leaf_index(follower, p) for p in [1, *positions]}
        assert after == {p: ledger_index(ledger, p) for p in [1, *positions]}
        with pytest.raises(NotFound):
            leaf_index(follower, head + 1)
        monkeypatch.setattr("registry.receipts.COUNT_BACK", 0)
        assert leaf_index(follower, 1) is None  # far back: the ledger's own search
        ledger.close()
    finally:
        app.close()


def test_a_batchs_outcomes_carry_the_position_the_log_holds_their_requests_at(
        tmp_path: Path) -> None:
    """The position the save hands back on each outcome is the ``BatchMatched`` that
    searching the log after the position read before finds for the request, also when a
    request failing beyond its refusal cuts its market's batch into pieces (a leaf each);
    refusals carry none. Its ledger index, counted once and kept, is the leaf's."""
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    ledger = open_ledger(LedgerSettings.from_env(env))
    try:
        w = exchange_world(app)
        follower = LedgerFollower(app, ledger)
        follower.catch_up()
        trading_day(app, w)
        before = app.queries.position()
        broken = Order("p", ["not", "a", "code"], "B", "L", PRICE, 1_000, "x")  # type: ignore[arg-type]
        results = app.exchange.submit_order_batches(at=AT, batches={
            COD: [Order("c-s", w.dyeing, "S", "L", PRICE, 10_000, "d"),
                  Order("c-b", w.paper, "B", "L", PRICE, 4_000, "p"), broken,
                  Order("c-b2", w.paper, "B", "L", PRICE, 2_000, "p"),
                  Cancel("s2", w.dyeing, "d"),
                  Order("c-big", w.paper, "B", "L", PRICE, 10_000_000, "p")],
            NOX: [Order("n-s", w.electronics, "S", "L", PRICE, 5_000, "e")],
        })
        positions = {}
        for code in (COD, NOX):
            outcomes = results[code]
            assert isinstance(outcomes, list)
            for o in outcomes:
                if o.exception is not None:
                    assert o.position is None
                    continue
                found = find_order_batch(follower, before, instrument=code,
                                         order_id=o.order_id)
                assert found is not None and o.position == found[0]
                positions[code, o.order_id] = o.position
        assert {o.status for o in results[COD]} >= {"rejected", "accepted", "cancelled"}
        # the broken order cut the batch into [c-s], [c-b] and the rest: three leaves
        assert len({positions[COD, o] for o in ("c-s", "c-b", "c-b2")}) == 3
        assert positions[COD, "c-b2"] == positions[COD, "s2"]
        assert results[COD][5].error == "InsufficientFunds"  # type: ignore[index]
        kept = RecentLeafIndexes(follower, kept=2)
        counted = {p: kept(p) for p in set(positions.values())}
        assert counted == {p: leaf_index(follower, p) for p in counted}
        later = [Order("late", w.paper, "B", "L", PRICE - 9_000, 1_000, "p")]
        app.exchange.submit_orders(instrument=COD, at=AT, requests=later)
        follower.catch_up()
        assert counted == {p: ledger_index(ledger, p) for p in counted}
        assert {p: kept(p) for p in counted} == counted
    finally:
        ledger.close()
        app.close()


def test_a_commit_resolved_after_a_failure_still_gives_each_outcome_its_own_batch(
        tmp_path: Path) -> None:
    """A save whose commit went through but whose answer was lost returns no recordings (the
    store is asked whether its events are there: they are). The outcomes still carry their
    own batch's position, found in the log: an amendment's is the amendment's batch, not the
    one that first accepted the order (which also names it)."""
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    ledger = open_ledger(LedgerSettings.from_env(env))
    try:
        w = exchange_world(app)
        follower = LedgerFollower(app, ledger)
        trading_day(app, w)
        (placed,) = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order("r1", w.paper, "B", "L", PRICE - 5_000, 2_000, "p")])
        assert placed.position is not None
        fault = FailingInserts(app, when="after")  # committed, its answer lost
        before = app.queries.position()
        (amended,) = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Amend("r1", w.paper, 1_000, None, "p")])
        fault.restore()
        assert amended.exception is None and amended.status == "amended"
        found = find_order_batch(follower, before, instrument=COD, order_id="r1")
        assert found is not None and amended.position == found[0] != placed.position
        assert amended.position > before
    finally:
        ledger.close()
        app.close()


def test_a_store_failing_again_while_positions_are_looked_for_leaves_the_write_done(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit went through and its answer was lost; the store then fails again while the
    batch's position is looked for (a database restarting). The request is still answered
    as done (never as refused: it is stored), its position left unknown."""
    env = {"REGISTRY_DATA_DIR": str(tmp_path / "data")}
    app = build_registry(env)
    try:
        w = exchange_world(app)
        trading_day(app, w)

        def store_down(*args: Any, **kwargs: Any) -> Any:
            raise OperationalError("the database system is starting up")

        fault = FailingInserts(app, when="after")  # committed, its answer lost
        monkeypatch.setattr(app.recorder, "max_notification_id", store_down)
        (placed,) = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order("r2", w.paper, "B", "L", PRICE - 5_000, 2_000, "p")])
        fault.restore()
        monkeypatch.undo()
        assert placed.exception is None and placed.status == "accepted"
        assert placed.position is None
        assert app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Cancel("r2", w.paper, "p")])[0].status == "cancelled"  # it was stored
    finally:
        app.close()
