"""The annual report (§19) per enterprise and compliance year, and the province-wide report
per trading zone — both folded from the event log, every figure with the log positions of the
events it sums (each position has a ledger leaf and a receipt).

**Compliance year.** Year Y is the *period* of an obligation and of the retrofits whose
reductions meet it; the surplus those retrofits earn is issued as units of vintage Y (the
instruments ``KIND-Y-ZONE``), and every later movement of vintage-Y units — sold, bought, used
for an expansion, expired, revoked — counts in year Y's report, whatever the calendar date of
the event. (The older ``annual_report`` counts events by their calendar year.)

The province-wide report sums, per kind and zone (a river basin for water, a prefecture for
air, the province for energy), the vintage-Y units issued and where they went, and proves from
the events alone that trading raised no zone's total: units never leave their instrument (one
zone), every transfer's buyer belongs to the zone under the rule version the transfer recorded
(``cross_zone_transfers`` lists any that did not), and the units in every state add up to
those issued (``conserved``). ``province_report_from`` takes any stream of (position, event),
so an auditor runs it over an export just as the registry runs it over its store.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from html import escape
from typing import Any

from domain.confirmed_right import ConfirmedRight
from domain.enterprise import Enterprise
from domain.instrument import Instrument, Term
from domain.records import TransferStep, step_of
from domain.reference import kind_info
from domain.retrofit import Retrofit
from registry.app import RegistryBase
from registry.events import stored_events
from registry.replay import Fold
from registry.rulebook import rules

FIGURES = ("confirmed_right", "post_retrofit_level", "obligation_target", "achieved",
           "remaining", "surplus_issued", "sold", "bought", "used", "expired", "revoked")
ZONE_FIGURES = ("issued", "traded", "available", "reserved", "consumed", "retired", "expired",
                "revoked")


class _Figures:
    """kind -> figure -> {"amount", "positions"}: every amount with the events it sums."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self.count = 0  # amounts added so far

    def row(self, key: str) -> dict[str, dict[str, Any]]:
        return self.rows.setdefault(key, {n: {"amount": 0, "positions": []} for n in self.names})

    def add(self, key: str, figure: str, amount: int, position: int) -> None:
        cell = self.row(key)[figure]
        cell["amount"] += amount
        self.count += 1
        if position not in cell["positions"]:
            cell["positions"].append(position)

    def set(self, key: str, figure: str, amount: int, position: int) -> None:
        cell = self.row(key)[figure]
        cell["amount"] = amount
        cell["positions"].append(position)


def _moved_units(before: Instrument, moves: list[list[int]], owner: str) -> int:
    return sum(last - first + 1 for block_first, first, last in moves
               if before.block_record(block_first).owner == owner)


def enterprise_report_from(events: Iterable[tuple[int, Any]], enterprise: str,
                           year: int) -> dict[str, Any]:
    """Fold ``events`` into enterprise ``enterprise``'s report for compliance year ``year``."""
    figures = _Figures(FIGURES)
    terms: dict[str, Term] = {}  # kind -> the term of the year's units the enterprise moved
    fold = Fold()

    def hook(position: int, event: Any, before: Any) -> None:
        name = type(event).__name__
        if isinstance(before, Enterprise) and before.credit_code == enterprise:
            if getattr(event, "period", None) == year:
                _obligation_event(figures, position, name, event)
        elif isinstance(before, Retrofit) and before.enterprise == enterprise and \
                before.period == year and name == "Verified":
            for kind, reduction in event.reductions.items():
                figures.set(kind, "post_retrofit_level",
                            before.baseline_amounts()[kind] - reduction, position)
        elif isinstance(before, Instrument) and before.vintage == year and \
                _unit_event(figures, position, name, event, before, enterprise):
            terms.setdefault(before.kind, before.term)

    for position, event in events:
        fold.apply(position, event, hook)
        after = fold.aggregates[event.originator_id]
        if isinstance(after, ConfirmedRight) and after.enterprise == enterprise:
            # the right as it stands after each of its changes: the last one is current
            figures.set(after.kind, "confirmed_right", after.quantity, position)
    rows = []
    for kind, row in sorted(figures.rows.items()):
        target, achieved = row["obligation_target"], row["achieved"]
        row["remaining"] = {"amount": max(0, target["amount"] - achieved["amount"]),
                            "positions": sorted({*target["positions"], *achieved["positions"]})}
        term = terms.get(kind)
        rows.append({"kind": kind, "unit": f"{kind_info(kind).unit}/yr",
                     "term": term.view() if term else None, **row})
    return {"enterprise": enterprise, "compliance_year": year, "rows": rows,
            "last_position": fold.position}


def _obligation_event(figures: _Figures, position: int, name: str, event: Any) -> None:
    # ObligationSet: a task stored before changes carried a reason; ObligationChanged: since
    if name in ("ObligationSet", "ObligationChanged"):
        figures.set(event.kind, "obligation_target", event.target, position)
    elif name == "ClawbackOwed":
        figures.add(event.kind, "obligation_target", event.amount, position)
    elif name == "ObligationMet":
        figures.add(event.kind, "achieved", event.amount, position)


def _unit_event(figures: _Figures, position: int, name: str, event: Any, before: Instrument,
                enterprise: str) -> bool:
    """Add what the event moved of the enterprise's units; True if it moved any."""
    kind = before.kind
    added = figures.count
    if name == "LotIssued" and event.owner == enterprise:
        figures.add(kind, "surplus_issued", event.last - event.first + 1, position)
    elif name == "Transferred":
        if event.seller == enterprise:
            figures.add(kind, "sold", event.quantity, position)
        if event.buyer == enterprise:
            figures.add(kind, "bought", event.quantity, position)
    elif name == "BatchSettled":
        for step in map(step_of, event.steps):
            if type(step) is TransferStep and step.seller == enterprise:
                figures.add(kind, "sold", step.quantity, position)
            if type(step) is TransferStep and step.buyer == enterprise:
                figures.add(kind, "bought", step.quantity, position)
    elif name == "Consumed" and event.owner == enterprise:
        figures.add(kind, "used", event.quantity, position)
    elif name == "Expired":
        n = _moved_units(before, event.moves, enterprise)
        if n:
            figures.add(kind, "expired", n, position)
    elif name == "LotRevoked" and event.lost_by_holder.get(enterprise):
        figures.add(kind, "revoked", event.lost_by_holder[enterprise], position)
    return figures.count > added


# -- the province-wide report ------------------------------------------------------------------


def province_report_from(events: Iterable[tuple[int, Any]], year: int) -> dict[str, Any]:
    """Per kind and zone, vintage-``year`` units issued, traded and in every state, with the
    checks that prove no zone's total rose through trading."""
    figures = _Figures(ZONE_FIGURES)
    cross_zone: list[dict[str, Any]] = []
    fold = Fold()

    def hook(position: int, event: Any, before: Any) -> None:
        if not isinstance(before, Instrument) or before.vintage != year:
            return
        key, name = f"{before.kind}/{before.zone}", type(event).__name__
        if name == "LotIssued":
            figures.add(key, "issued", event.last - event.first + 1, position)
            return
        trades = [(event.buyer, event.quantity, event.rule_version)] \
            if name == "Transferred" else \
            [(s.buyer, s.quantity, event.rule_version) for s in map(step_of, event.steps)
             if type(s) is TransferStep] \
            if name == "BatchSettled" else []
        for buyer, quantity, version in trades:
            figures.add(key, "traded", quantity, position)
            party = fold.aggregates.get(Enterprise.create_id(buyer))
            zone = rules(version).zone_of(before.kind, party.party()) if party else None
            if zone != before.zone:
                cross_zone.append({"position": position, "instrument": before.code,
                                   "buyer": buyer, "buyer_zone": zone})

    fold.run(events, hook)
    zones = []
    for instrument in sorted(fold.of_type(Instrument), key=lambda i: i.code):
        if instrument.vintage != year:
            continue
        row = figures.row(f"{instrument.kind}/{instrument.zone}")
        totals = instrument.totals()
        for state in ("available", "reserved", "consumed", "retired", "expired", "revoked"):
            row[state]["amount"] += totals.get(state, 0)
        row.setdefault("instruments", []).append(instrument.code)
        row.setdefault("terms", []).append(instrument.term.view())
    for key, row in sorted(figures.rows.items()):
        kind, zone = key.split("/", 1)
        in_states = sum(row[s]["amount"] for s in ZONE_FIGURES[2:])
        zones.append({"kind": kind, "zone": zone, "unit": f"{kind_info(kind).unit}/yr",
                      "terms": row.get("terms", []),
                      "conserved": in_states == row["issued"]["amount"],
                      **{f: row[f] for f in ZONE_FIGURES}})
    return {"compliance_year": year, "zones": zones, "cross_zone_transfers": cross_zone,
            "proved": not cross_zone and all(z["conserved"] for z in zones),
            "last_position": fold.position}


class ComplianceService:
    """The §19 reports: an enterprise's and a province's, replayed from the log."""

    def __init__(self, core: RegistryBase) -> None:
        self.core = core

    def compliance_report(self, *, enterprise: str, year: int) -> dict[str, Any]:
        """The enterprise's §19 report for compliance year ``year``."""
        e = self.core.enterprise(enterprise)
        report = enterprise_report_from(stored_events(self.core), enterprise, year)
        report["name"] = e.name
        return report

    def province_report(self, *, year: int) -> dict[str, Any]:
        return province_report_from(stored_events(self.core), year)


# -- formats -----------------------------------------------------------------------------------


def _term(term: dict[str, Any] | None) -> str:
    """``2026-2030``: the years the row's units are annual rights for ('' when none moved)."""
    return f"{term['first_year']}-{term['last_year']}" if term else ""


def _positions(cell: dict[str, Any]) -> str:
    return " ".join(str(p) for p in cell["positions"])


def enterprise_csv(report: dict[str, Any]) -> str:
    """One line per kind and figure: amount and the log positions it sums."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["enterprise", "compliance_year", "kind", "unit", "term", "figure", "amount",
                "positions"])
    for row in report["rows"]:
        for figure in FIGURES:
            w.writerow([report["enterprise"], report["compliance_year"], row["kind"],
                        row["unit"], _term(row["term"]), figure, row[figure]["amount"],
                        _positions(row[figure])])
    return out.getvalue()


def province_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["compliance_year", "kind", "zone", "unit", "figure", "amount", "positions",
                "conserved"])
    for z in report["zones"]:
        for figure in ZONE_FIGURES:
            w.writerow([report["compliance_year"], z["kind"], z["zone"], z["unit"], figure,
                        z[figure]["amount"], _positions(z[figure]), z["conserved"]])
    return out.getvalue()


_STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #999;padding:.3em .6em;text-align:right}"
          "th:first-child,td:first-child{text-align:left}small{color:#555}"
          "@media print{body{margin:0}}")


def _page(title: str, intro: str, headers: list[str], rows: list[list[str]],
          notes: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    extra = "".join(f"<p>{escape(n)}</p>" for n in notes)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(intro)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{extra}"
            f"</body></html>\n")


def _cell(cell: dict[str, Any]) -> str:
    positions = ", ".join(str(p) for p in cell["positions"])
    small = f"<br><small>log {escape(positions)}</small>" if positions else ""
    return f"{cell['amount']:,}{small}"


def enterprise_html(report: dict[str, Any]) -> str:
    """A plain printable page, server-rendered, with no external assets."""
    rows = [[escape(r["kind"]), escape(r["unit"]), _term(r["term"]),
             *(_cell(r[f]) for f in FIGURES)] for r in report["rows"]]
    return _page(
        f"Cleaner-production annual report {report['compliance_year']}: "
        f"{report.get('name', '')} ({report['enterprise']})",
        "Figures per indicator kind for the compliance year (the period of the obligation and "
        "of the retrofits; units of that vintage wherever and whenever they moved). Under each "
        "figure: the event-log positions it sums, each with a ledger receipt. Units are annual "
        "rights: a unit is 1 kg (kgce) a year for the rest of its term.",
        ["kind", "unit", "term", *(f.replace("_", " ") for f in FIGURES)], rows,
        [f"Event log up to position {report['last_position']}."])


def province_html(report: dict[str, Any]) -> str:
    rows = [[escape(z["kind"]), escape(z["zone"]), *(_cell(z[f]) for f in ZONE_FIGURES),
             "yes" if z["conserved"] else "NO"] for z in report["zones"]]
    crossed = report["cross_zone_transfers"]
    return _page(
        f"Province-wide surplus report {report['compliance_year']} by trading zone",
        "Units of the compliance year's vintage per kind and zone: issued, traded inside the "
        "zone, and where they are now. Units never leave their zone's instrument, so a zone's "
        "total rises only by issuance.",
        ["kind", "zone", *ZONE_FIGURES, "conserved"], rows,
        [f"Transfers to a buyer outside the zone: {len(crossed)}.",
         f"Proved from the event log up to position {report['last_position']}: "
         f"{'yes' if report['proved'] else 'NO'}."])
