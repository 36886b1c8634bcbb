"""Annual reports kept from the log (`registry.annual_reports`) equal the plain full replay
(`annual_report_replayed`) after any interleaving of writes and reads, including writes made by
another instance, for every enterprise and year; they are brought up to date, not rebuilt."""

from __future__ import annotations

import random
from typing import Any

import pytest

from registry.bootstrap import Registry
from tests.conftest import Factory
from tests.support.world import World, build_world, issue

YEARS = (2024, 2025, 2026, 2031)
KINDS = ("COD", "NH3N")


def _check_all(reader: Registry, w: World) -> None:
    for enterprise in (w.dyeing, w.paper, w.electronics, w.chemicals):
        for year in YEARS:
            assert reader.queries.annual_report(enterprise=enterprise, year=year) == \
                reader.queries.annual_report_replayed(enterprise=enterprise, year=year)


def _writes(writer: Registry, w: World, rnd: random.Random) -> list[Any]:
    """A random history: issues in two years and kinds, transfers both ways, a revocation,
    an expiry."""
    steps: list[Any] = []
    for n in range(4):  # one retrofit per enterprise and kind: no overlapping claims
        kind = KINDS[n % 2]
        year = rnd.choice((2025, 2026))
        owner = (w.dyeing, w.paper)[n // 2]
        steps.append(lambda n=n, kind=kind, year=year, owner=owner: issue(
            writer, w, reference=f"RF-{n}", enterprise=owner, kind=kind, baseline=900,
            post=100 + n, at=f"{year}-04-0{n + 1}T10:00:00+08:00"))
    for n in range(8):
        def transfer(n: int = n) -> None:
            kind = rnd.choice(KINDS)
            code = f"{kind}-2025-MAOZHOU"
            if code not in writer.catalogue().entries["instruments"]:
                return
            rows = {r["enterprise"]: r["available"] for r in writer.queries.balances()
                    if r["instrument"] == code and r["available"] > 0}
            if not rows:
                return
            seller = rnd.choice(sorted(rows))
            buyer = rnd.choice([e for e in (w.dyeing, w.paper) if e != seller])
            writer.holdings.transfer(instrument=code, seller=seller, buyer=buyer,
                                     quantity=rnd.randint(1, min(rows[seller], 50)), ref=f"T-{n}",
                                     at=f"{rnd.choice((2025, 2026))}-06-01T10:00:00+08:00",
                                     reason="correction", administrator="admin-t")
        steps.append(transfer)
    rnd.shuffle(steps)
    steps.append(lambda: writer.retrofits.revoke_retrofit(
        reference="RF-0", reason="fabricated baseline", spot_check="SC-1",
        at="2026-09-01T10:00:00+08:00"))
    steps.append(lambda: writer.holdings.expire(as_of="2031-01-01", at="2031-01-01T00:00:00+08:00"))
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_reports_equal_the_full_replay_after_random_interleavings(
        factory: Factory, seed: int) -> None:
    rnd = random.Random(seed)
    writer = factory()
    w = build_world(writer)
    reader = factory()  # another instance stands for another process
    _check_all(reader, w)
    for step in _writes(writer, w, rnd):
        step()
        if rnd.random() < 0.5:
            _check_all(reader, w)
            _check_all(writer, w)
    _check_all(reader, w)
    assert reader.annual_reports.rebuilds == 1  # brought up to date, never rebuilt


def test_the_report_has_what_the_writes_put_in_it(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    assert app.queries.annual_report(enterprise=w.dyeing, year=2025)["rows"] == []
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=w.dyeing, buyer=w.paper,
                          quantity=30, ref="T-1", at="2025-05-01T10:00:00+08:00",
                          reason="correction", administrator="admin-t")
    dyeing = app.queries.annual_report(enterprise=w.dyeing, year=2025)["rows"]
    paper = app.queries.annual_report(enterprise=w.paper, year=2025)["rows"]
    assert [(r["kind"], r["issued"], r["sold"]) for r in dyeing] == [("COD", 800, 30)]
    assert [(r["kind"], r["bought"]) for r in paper] == [("COD", 30)]
    assert app.queries.annual_report(enterprise=w.dyeing, year=2026)["rows"] == []
