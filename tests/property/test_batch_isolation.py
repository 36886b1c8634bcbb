"""A request that fails beyond its own refusal fails alone: poison requests at random places in
several markets' batches are answered with their error, and every other request gets exactly
the outcome, and leaves exactly the state, it would have had without them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.exchange.cash import CashAccount
from domain.exchange.orders import Cancel, Order
from registry.bootstrap import Registry, build_registry
from registry.order_gateway import OrderGateway
from tests.integration.test_exchange_journeys import COD, NOX, PRICE, check_books, exchange_world
from tests.support.world import AT, World, code

POISONED = code(900)  # an enterprise in good standing whose cash postings cannot be applied
ticks = st.integers(min_value=-3, max_value=3).map(lambda t: PRICE + t * 10_000)
lots = st.integers(min_value=1, max_value=6).map(lambda n: n * 1_000)


def world() -> tuple[Registry, World]:
    app = build_registry({"REGISTRY_STORE": "memory"})
    w = exchange_world(app)
    app.register_enterprise(credit_code=POISONED, name="Shenzhen Broken Ledger Co",
                            sector="TEXTILE_DYEING", prefecture="SHENZHEN", basin="MAOZHOU",
                            direct_discharger=True, at=AT)
    app.exchange.deposit(enterprise=POISONED, amount=10_000_000, reference="P", administrator="c",
                         at=AT)
    return app, w


@pytest.fixture
def broken_postings(monkeypatch: pytest.MonkeyPatch) -> None:
    post = CashAccount.post

    def failing(self: CashAccount, **kwargs: Any) -> None:
        if self.owner == POISONED:
            raise OSError("the poisoned account's posting cannot be applied")
        post(self, **kwargs)

    monkeypatch.setattr(CashAccount, "post", failing)


def poison(kind: int, n: int) -> Order:
    if kind == 0:  # the matching itself raises on it (an account that is not a code)
        return Order(f"p{n}", ["not", "a", "code"], "B", "L", PRICE, 1_000, "x")  # type: ignore[arg-type]
    return Order(f"p{n}", POISONED, "B", "M", 0, 1_000, "x")  # its cash posting fails


@st.composite
def cycles(draw: st.DrawFn) -> list[dict[str, list[tuple[bool, Any]]]]:
    """Two cycles of batches for both markets; each request marked poison or not."""
    out = []
    n = 0
    for _ in range(2):
        cycle: dict[str, list[tuple[bool, Any]]] = {}
        for market, seller, buyer in ((COD, "dyeing", "paper"), (NOX, "electronics", "power")):
            batch: list[tuple[bool, Any]] = []
            for _ in range(draw(st.integers(1, 6))):
                n += 1
                if draw(st.integers(0, 3)) == 0:
                    batch.append((True, poison(draw(st.integers(0, 1)), n)))
                    continue
                if draw(st.integers(0, 5)) == 0:
                    batch.append((False, ("cancel", f"o{draw(st.integers(1, n))}", seller)))
                    continue
                side = draw(st.sampled_from("BS"))
                batch.append((False, (f"o{n}", buyer if side == "B" else seller, side,
                                      draw(st.sampled_from("LLM")), draw(ticks), draw(lots))))
            cycle[market] = batch
        out.append(cycle)
    return out


def request(spec: Any, w: World) -> Any:
    if isinstance(spec, Order):
        return spec
    if spec[0] == "cancel":
        return Cancel(spec[1], getattr(w, spec[2]), "u")
    oid, who, side, kind, price, qty = spec
    return Order(oid, getattr(w, who), side, kind, price, qty, "u")


def state(app: Registry, w: World) -> Any:
    markets = {
        c: (app.exchange.market(c).orders, app.exchange.market(c).pending) for c in (COD, NOX)}
    cash = {who: (app.exchange.cash_account(who).balance, app.exchange.cash_account(who).reserved)
            for who in (w.dyeing, w.paper, w.electronics, w.power, POISONED)}
    units = {c: app.instrument(c).balances() for c in (COD, NOX)}
    return markets, cash, units


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(plan=cycles())
def test_poison_requests_fail_alone(broken_postings: None,
                                    plan: list[dict[str, list[tuple[bool, Any]]]]) -> None:
    poisoned_app, w = world()
    clean_app, w2 = world()
    assert w == w2
    for cycle in plan:
        with_poison = poisoned_app.exchange.submit_order_batches(at=AT, batches={
            c: [request(spec, w) for _, spec in batch] for c, batch in cycle.items()})
        without = clean_app.exchange.submit_order_batches(at=AT, batches={
            c: [request(spec, w) for bad, spec in batch if not bad]
            for c, batch in cycle.items()})
        for c, batch in cycle.items():
            got, want = with_poison[c], without[c]
            assert isinstance(got, list) and isinstance(want, list)
            clean = iter(want)
            for (bad, _), outcome in zip(batch, got, strict=True):
                if bad:
                    assert outcome.status == "rejected" and outcome.exception is not None
                else:
                    assert outcome[:6] == next(clean)[:6]
    assert state(poisoned_app, w) == state(clean_app, w)
    check_books(poisoned_app)


def test_a_poison_request_through_the_gateway_fails_only_its_caller(
        broken_postings: None) -> None:
    app, w = world()
    gateway = OrderGateway(app.exchange.submit_order_batches, clock=lambda: AT, max_wait=0.0)
    app.exchange.submit_order(instrument=NOX, order_id="n-s", account=w.electronics, side="S",
                              kind="L", price=PRICE, qty=5_000, entered_by="e", at=AT)
    bad = gateway._submit(at=AT, batches={
        COD: [poison(1, 1), Order("c-s", w.dyeing, "S", "L", PRICE, 1_000, "d")],
        NOX: [Order("n-b", w.power, "B", "L", PRICE, 5_000, "q")]})
    assert bad[COD][0].status == "rejected" and bad[COD][0].error == "OSError"
    assert bad[COD][1].status == "accepted"
    assert bad[NOX][0].fills and bad[NOX][0].status == "accepted"
    check_books(app)
