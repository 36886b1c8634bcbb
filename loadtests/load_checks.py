"""After a load run: check that nothing was lost, from the store itself.

- every order (and cancel) the service acknowledged is in the store exactly once, and no order
  id was accepted twice at all;
- units of every instrument and cash over all accounts are conserved (nothing created or lost;
  no account below zero);
- every market's book, rebuilt from its events by the registry, equals the book obtained by
  re-running the accepted requests recorded in its ``BatchMatched`` events through a fresh copy
  of the pure matching core.

The ledger checks (the export verifies and extends the checkpoint taken before the run) are
CLI calls made by `loadtests.run_load`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.matching import BookRules, OrderBook
from loadtests.load_world import Manifest
from registry.bootstrap import Registry, build_registry
from registry.events import stored_events, to_record

OPENED = "surplus:Market.Opened.v1"
PARAMETERS = "surplus:Market.ParametersSet.v1"
BATCH = "surplus:Market.BatchMatched.v1"


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> None:
        (self.passed if ok else self.failed).append(text)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class StoredRequests:
    """What the markets' batches recorded, per instrument: order and cancel ids with counts,
    and the book re-run from those requests."""

    orders: dict[str, Counter[str]] = field(default_factory=dict)
    cancels: dict[str, Counter[str]] = field(default_factory=dict)
    replayed: dict[str, OrderBook] = field(default_factory=dict)


def _rules(params: Mapping[str, Any]) -> BookRules:
    return BookRules(tick=params["tick"], reference_price=params["reference_price"],
                     band_pct=params["band_pct"], min_lot=params["min_lot"],
                     max_order=params["max_order"])


def scan_markets(app: Registry) -> StoredRequests:
    """Read every market event in commit order and re-run the accepted requests."""
    out = StoredRequests()
    names: dict[str, str] = {}  # market aggregate id -> instrument code
    for position, event in stored_events(app):
        record = to_record(position, event)
        topic = record["topic"]
        if topic not in (OPENED, PARAMETERS, BATCH):
            continue
        market, p = record["aggregate_id"], record["payload"]
        if topic == OPENED:
            names[market] = p["instrument"]
            out.replayed[p["instrument"]] = OrderBook(rules=_rules(p["params"]))
            out.orders[p["instrument"]] = Counter()
            out.cancels[p["instrument"]] = Counter()
            continue
        code = names[market]
        book = out.replayed[code]
        if topic == PARAMETERS:
            book.set_reference_price(p["params"]["reference_price"])
            continue
        for op in p["ops"]:
            if op[0] == "C":
                out.cancels[code][op[1]] += 1
                book.cancel(op[1])
            else:
                out.orders[code][op[1]] += 1
                book.submit(op[3], op[5], op[6], op[1], op[4], op[2])
    return out


def read_acks(files: Iterable[Path]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Acknowledged (instrument, order id) pairs of orders and of cancels, from the lines the
    Locust users wrote: ``order|cancel <instrument> <order id>``."""
    orders, cancels = [], []
    for path in files:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            what, instrument, order_id = line.split()
            (orders if what == "order" else cancels).append((instrument, order_id))
    return orders, cancels


def check_acknowledged(report: Report, stored: StoredRequests,
                       orders: list[tuple[str, str]], cancels: list[tuple[str, str]]) -> None:
    lost = [a for a in orders if stored.orders.get(a[0], Counter())[a[1]] == 0]
    twice = [a for a in orders if stored.orders.get(a[0], Counter())[a[1]] > 1]
    report.check(not lost and not twice,
                 f"{len(orders):,} acknowledged orders each stored exactly once"
                 + (f" (missing {lost[:3]}…, twice {twice[:3]}…)" if lost or twice else ""))
    lost_c = [a for a in cancels if stored.cancels.get(a[0], Counter())[a[1]] != 1]
    report.check(not lost_c, f"{len(cancels):,} acknowledged cancels each stored exactly once"
                 + (f" (not once: {lost_c[:3]}…)" if lost_c else ""))
    dup = {code: [i for i, n in c.items() if n > 1] for code, c in stored.orders.items()}
    dup = {k: v for k, v in dup.items() if v}
    total = sum(sum(c.values()) for c in stored.orders.values())
    report.check(not dup, f"{total:,} stored orders, no order id accepted twice"
                 + (f" (twice: {dup})" if dup else ""))


def check_conservation(report: Report, app: Registry, manifest: Manifest, *,
                       deposited: int | None = None) -> None:
    """Units held = units issued; cash over all accounts = ``deposited`` (default: what the
    seeded world deposited), none below zero."""
    for code in manifest.instruments:
        i = app.instrument(code)
        held = sum(i.totals().values())
        report.check(held == i.issued(),
                     f"{code}: {held:,} kg held in all states = {i.issued():,} kg issued")
    accounts = [app.exchange.cash_account(c) for c in manifest.traders]
    total = sum(int(a.balance) for a in accounts)
    if deposited is None:
        deposited = manifest.cash_each * len(manifest.traders)
    report.check(total == deposited, f"cash: {total:,} fen over all accounts = {deposited:,} "
                                     "fen deposited")
    negative = [a.owner for a in accounts if a.balance < 0 or a.available() < 0 or a.reserved < 0]
    report.check(not negative, "no cash account below zero" + (f": {negative}" if negative
                                                              else ""))


def check_books(report: Report, app: Registry, stored: StoredRequests) -> None:
    for code, replayed in sorted(stored.replayed.items()):
        book = app.exchange.market(code).book
        same = book == replayed
        report.check(same, f"{code}: the book rebuilt from the store ({len(book)} resting) "
                           + ("equals" if same else "DIFFERS from") + " its replay")


def check_store(env: Mapping[str, str], manifest: Manifest, ack_files: Iterable[Path]) -> Report:
    """Every check that reads the store (the service must be stopped)."""
    report = Report()
    app = build_registry(env)
    try:
        stored = scan_markets(app)
        orders, cancels = read_acks(ack_files)
        check_acknowledged(report, stored, orders, cancels)
        check_conservation(report, app, manifest)
        check_books(report, app, stored)
    finally:
        app.close()
    return report
