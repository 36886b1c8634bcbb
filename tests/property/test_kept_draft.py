"""The speed-up ``kept_draft`` (`domain.exchange.market.KeptDrafts`): a market's batch decides
on the draft its previous batch left instead of a new copy of the book. Two exchanges, one with
it and one without, take the same random steps (batches of orders, market orders, cancels,
amends and self-trades in two markets, a batch that fails midway, and between them events that
change a market outside its batches: a halt, a resume, a new price band cancelling resting
orders) and must answer every request alike and end with the same stored events and state;
after every step each draft the fast one keeps holds exactly its market's book and resting
orders, and each market the writer holds (whose book may be the very draft its last batch
was decided on, handed to the batch's event) equals the market rebuilt from its stored
events."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import RegistryError
from domain.exchange import market as market_module
from domain.exchange.cash import CashAccount
from domain.exchange.market import Market
from domain.exchange.orders import Amend, Cancel, Order
from registry.bootstrap import Registry, build_registry
from registry.speedups import Speedups
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, check_books, exchange_world
from tests.integration.test_speedups import stored
from tests.support.world import AT, World, code

WITHOUT = ",".join(n for n in Speedups.names() if n != "kept_draft")
POISONED = code(901)  # an enterprise whose cash postings cannot be applied: its batch fails
ticks = st.integers(min_value=-3, max_value=3).map(lambda t: PRICE + t * 10_000)
lots = st.integers(min_value=1, max_value=6).map(lambda n: n * 1_000)
MARKETS = ((COD, "dyeing", "paper"), (NOX, "electronics", "power"))


def world(speedups: str) -> tuple[Registry, World]:
    app = build_registry({"REGISTRY_STORE": "memory", "REGISTRY_SPEEDUPS": speedups})
    w = exchange_world(app)
    app.register_enterprise(credit_code=POISONED, name="Shenzhen Broken Ledger Co",
                            sector="TEXTILE_DYEING", prefecture="SHENZHEN", basin="MAOZHOU",
                            direct_discharger=True, at=AT)
    app.exchange.deposit(enterprise=POISONED, amount=10_000_000, reference="P",
                         administrator="c", at=AT)
    return app, w


@pytest.fixture
def drafts_made(monkeypatch: pytest.MonkeyPatch) -> list[market_module._Draft]:
    """Every draft the markets make from here on, in the order they are made."""
    drafts: list[market_module._Draft] = []

    class Counted(market_module._Draft):
        __slots__ = ()

        def __init__(self, m: Market) -> None:
            drafts.append(self)
            super().__init__(m)

    monkeypatch.setattr(market_module, "_Draft", Counted)
    return drafts


@pytest.fixture
def broken_postings(monkeypatch: pytest.MonkeyPatch) -> None:
    post = CashAccount.post

    def failing(self: CashAccount, **kwargs: Any) -> None:
        if self.owner == POISONED:
            raise OSError("the poisoned account's posting cannot be applied")
        post(self, **kwargs)

    monkeypatch.setattr(CashAccount, "post", failing)


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Cycles of batches for both markets, and between them a market event now and then."""
    out: list[tuple[str, Any]] = []
    n = 0
    for _ in range(draw(st.integers(2, 8))):
        event = draw(st.integers(0, 7))
        if event == 0:
            out.append(("halt", draw(st.sampled_from((COD, NOX)))))
        elif event == 1:
            out.append(("resume", draw(st.sampled_from((COD, NOX)))))
        elif event == 2:
            out.append(("band", (draw(st.sampled_from((COD, NOX))),
                                 PRICE + draw(st.integers(-6, 6)) * 10_000)))
        cycle: dict[str, list[Any]] = {}
        for market, seller, buyer in MARKETS:
            batch: list[Any] = []
            for _ in range(draw(st.integers(1, 8))):
                n += 1
                what = draw(st.integers(0, 11))
                earlier = f"o{draw(st.integers(1, n))}"
                if what == 0:
                    batch.append(("cancel", earlier, draw(st.sampled_from((seller, buyer)))))
                elif what == 1:
                    batch.append(("amend", earlier, draw(st.sampled_from((seller, buyer))),
                                  draw(lots), draw(st.one_of(st.none(), ticks))))
                elif what == 2:
                    batch.append(("poison", n))
                else:  # now and then an enterprise on both sides: self-trade prevention
                    side = draw(st.sampled_from("BS"))
                    who = draw(st.sampled_from((seller, buyer))) if what == 3 else (
                        buyer if side == "B" else seller)
                    batch.append((f"o{n}", who, side, draw(st.sampled_from("LLLM")),
                                  draw(ticks), draw(lots)))
            cycle[market] = batch
        out.append(("cycle", cycle))
    return out


def request(spec: Any, w: World) -> Any:
    if spec[0] == "cancel":
        return Cancel(spec[1], getattr(w, spec[2]), "u")
    if spec[0] == "amend":
        return Amend(spec[1], getattr(w, spec[2]), spec[3], spec[4], "u")
    if spec[0] == "poison":
        return Order(f"p{spec[1]}", POISONED, "B", "M", 0, 1_000, "x")
    oid, who, side, kind, price, qty = spec
    seller = who in ("dyeing", "electronics")
    account = getattr(w, who)
    if side == "S" and not seller:  # only the issued enterprise holds units: it sells
        side = "B"
    return Order(oid, account, side, kind, price, qty, "u")


def take(app: Registry, w: World, step: tuple[str, Any]) -> Any:
    what, arg = step
    try:
        if what == "halt":
            app.lifecycle.halt_market(instrument=arg, reason="check", administrator="admin-1",
                                      at=AT)
        elif what == "resume":
            app.lifecycle.resume_market(instrument=arg, reason="check",
                                        administrator="admin-1", at=AT)
        elif what == "band":
            app.exchange.set_market_parameters(instrument=arg[0], administrator="admin-2",
                                               at=AT, reference_price=arg[1])
        else:
            got = app.exchange.submit_order_batches(at=AT, batches={
                c: [request(spec, w) for spec in batch] for c, batch in arg.items()})
            return {c: [o[:6] for o in out] if isinstance(out, list) else repr(out)
                    for c, out in got.items()}
    except RegistryError as exc:  # a halt of a halted market, a resume of a running one
        return type(exc).__name__
    return None


def state(app: Registry, w: World) -> Any:
    markets = {c: (app.exchange.market(c).orders, app.exchange.market(c).pending,
                   app.exchange.market(c).book.snapshot()) for c in (COD, NOX)}
    cash = {who: (app.exchange.cash_account(who).balance, app.exchange.cash_account(who).reserved)
            for who in (w.dyeing, w.paper, w.electronics, w.power, POISONED)}
    return markets, cash, {c: app.instrument(c).balances() for c in (COD, NOX)}


def kept_drafts_hold_their_markets(app: Registry) -> int:
    """Every draft the writer keeps that its market would take holds the market's book and
    resting orders; returns how many there are."""
    writer = app.exchange.exchange_writes.writer()
    held = 0
    for market, version, draft in writer.drafts._kept.values():
        cached = writer.cache.get(Market.create_id(market.instrument))
        if cached is market and version == market.version:
            assert draft.book.snapshot() == market.book.snapshot()
            assert draft.orders == market.orders
            held += 1
    return held


def held_markets_equal_their_replay(app: Registry) -> None:
    """Each market the writer holds, whether its last batch's event applied the ops or took
    the draft (`Market._adopt`), equals the market rebuilt from its stored events."""
    for market in app.exchange.exchange_writes.writer().cache.values():
        if isinstance(market, Market):
            replayed = app.exchange.market(market.instrument)
            assert market.book.snapshot() == replayed.book.snapshot()
            assert (market.orders, market.seen, market.batches, market.pending) == (
                replayed.orders, replayed.seen, replayed.batches, replayed.pending)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(plan=steps())
def test_a_kept_draft_decides_what_a_new_copy_does(broken_postings: None,
                                                  plan: list[tuple[str, Any]]) -> None:
    fast, w = world("all")
    plain, w2 = world(WITHOUT)
    assert w == w2
    for step in plan:
        assert take(fast, w, step) == take(plain, w, step), step
        kept_drafts_hold_their_markets(fast)
        held_markets_equal_their_replay(fast)
    assert not plain.exchange.exchange_writes.writer().drafts._kept
    assert state(fast, w) == state(plain, w)
    assert stored(fast) == stored(plain)
    check_books(fast)


def test_the_next_batch_decides_on_the_kept_draft_until_another_event_moves_the_market(
        monkeypatch: pytest.MonkeyPatch, drafts_made: list[market_module._Draft]) -> None:
    monkeypatch.setattr(market_module, "ADOPT_OPS_PER_ORDER", 0)  # the draft is always kept
    app, w = world("all")

    def batch(n: int) -> None:
        app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order(f"s{n}", w.dyeing, "S", "L", PRICE + 10_000, 1_000, "d"),
            Order(f"b{n}", w.paper, "B", "L", PRICE - 10_000, 1_000, "p")])

    for n in range(3):
        batch(n)
    assert len(drafts_made) == 1  # the first batch copied the book, the next two took its draft
    assert kept_drafts_hold_their_markets(app) == 1
    app.lifecycle.halt_market(instrument=COD, reason="check", administrator="admin-1", at=AT)
    app.lifecycle.resume_market(instrument=COD, reason="check", administrator="admin-1",
                                at=AT)
    batch(3)
    assert len(drafts_made) == 2  # the halt moved the market: a new copy
    assert len(app.exchange.market(COD).orders) == 8


def test_a_batch_large_against_its_book_hands_its_draft_to_its_event(
        drafts_made: list[market_module._Draft]) -> None:
    """Two orders a batch against a book of at most four resting: the batch's event takes the
    draft (the market's book is the draft's), nothing is kept, the next batch copies again,
    and the market equals its replay."""
    app, w = world("all")
    writer = app.exchange.exchange_writes.writer()
    for n in range(2):
        app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order(f"s{n}", w.dyeing, "S", "L", PRICE + 10_000, 1_000, "d"),
            Order(f"b{n}", w.paper, "B", "L", PRICE - 10_000, 1_000, "p")])
        held = writer.cache[Market.create_id(COD)]
        assert held.book is drafts_made[-1].book and held.orders is drafts_made[-1].orders
        assert "_decided" not in held.__dict__
        assert not writer.drafts._kept
    assert len(drafts_made) == 2
    held_markets_equal_their_replay(app)
    assert len(held.orders) == 4
