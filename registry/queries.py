"""Read side: balances (now or as of any past position), serial provenance, annual reports."""

from __future__ import annotations

import csv
import io
from typing import Any

from domain.errors import InvalidInput
from domain.instrument import Instrument
from domain.records import TransferStep, step_of
from domain.retrofit import Retrofit
from registry.annual_reports import REPORT_COLUMNS, report_rows
from registry.app import RegistryBase
from registry.events import stored_events
from registry.replay import Fold

BALANCE_COLUMNS = ("available", "frozen", "reserved", "consumed", "retired", "expired", "revoked")


def balance_rows(instruments: list[Instrument], enterprise: str | None) -> list[dict[str, Any]]:
    rows = []
    for i in sorted(instruments, key=lambda x: x.code):
        for owner, per in sorted(i.balances().items()):
            if enterprise is not None and owner != enterprise:
                continue
            rows.append({"enterprise": owner, "instrument": i.code, "term": i.term.view(),
                         **{c: per.get(c, 0) for c in BALANCE_COLUMNS}})
    return rows


def parse_serial(serial: str) -> tuple[str, int]:
    code, _, number = serial.rpartition("-")
    if not code or not number.isdigit():
        raise InvalidInput(f"a serial number reads KIND-VINTAGE-ZONE-NNNNNNNNN, got {serial!r}")
    return code, int(number)


def covers(moves: list[list[int]], unit: int) -> bool:
    return any(m[1] <= unit <= m[2] for m in moves)


def batch_step(stored: list[Any]) -> dict[str, Any]:
    """An exchange batch step as provenance: who, how many, which trade."""
    step = step_of(stored)
    if type(step) is TransferStep:
        return {"step": "transfer", "seller": step.seller, "buyer": step.buyer,
                "quantity": step.quantity, "trade": step.trade}
    return {"step": step.step, "owner": step.owner, "quantity": step.quantity}


class QueryService:
    """The read side: balances, provenance, replays and annual reports."""

    def __init__(self, core: RegistryBase) -> None:
        self.core = core

    def instruments(self) -> list[Instrument]:
        return [self.core.instrument(c) for c in self.core.catalogue().entries["instruments"]]

    def position(self) -> int:
        """The current position (notification id) of the event log."""
        return int(self.core.recorder.max_notification_id() or 0)

    def replay(self, *, stop: int | None = None) -> Fold:
        return Fold().run(stored_events(self.core, stop=stop))

    def balances(self, *, enterprise: str | None = None,
                 as_of: int | None = None) -> list[dict[str, Any]]:
        """Units per enterprise and instrument by state, now or as of log position ``as_of``."""
        if as_of is None:
            return balance_rows(self.instruments(), enterprise)
        if as_of < 0:
            raise InvalidInput("a log position is a non-negative integer")
        return balance_rows(self.replay(stop=as_of).of_type(Instrument), enterprise)

    def provenance(self, serial: str) -> dict[str, Any]:
        """Everything about one unit: its retrofit, evidence, agencies, every movement and its
        final state."""
        code, unit = parse_serial(serial)
        i = self.core.instrument(code)
        block = i.block_of(unit)
        lot = i.lots[block.lot]
        r = self.core.retrofit(lot["retrofit_reference"])
        history = []
        for event in self.core.events.get(i.id):
            name = type(event).__name__
            if name == "BatchSettled":  # an exchange batch: one entry per step that moved it
                history += [
                    {"event": name, "version": event.originator_version, "at": event.at,
                     "ref": event.ref, "rule_version": event.rule_version,
                     **batch_step(step)}
                    for step in event.steps if covers(step_of(step).moves, unit)
                ]
                continue
            moves = getattr(event, "moves", None)
            if name == "LotIssued":
                hit = event.first <= unit <= event.last
            else:
                hit = moves is not None and covers(moves, unit)
            if hit:
                entry = {k: v for k, v in vars(event).items()
                         if k not in ("moves", "originator_id", "timestamp")}
                entry["event"] = name
                entry["version"] = event.originator_version
                history.append(entry)
        return {
            "serial": serial, "instrument": i.code, "kind": i.kind, "vintage": i.vintage,
            "zone": i.zone, "term": i.term.view(), "lot": block.lot,
            "block": {"first": block.first, "last": block.last},
            "retrofit": {
                "reference": r.reference, "enterprise": r.enterprise, "period": r.period,
                "state": r.state, "agencies": r.agencies(),
                "evidence": {stage: doc["report_sha256"] for stage, doc in
                             (("baseline_audit", r.baseline), ("post_audit", r.post),
                              ("verification", r.verification)) if doc},
                "confirmation": r.confirmation, "revocation": r.revocation,
            },
            "history": history,
            "final": {"owner": block.owner, "state": block.state, "ref": block.ref,
                      "frozen": block.frozen},
        }

    def annual_report(self, *, enterprise: str, year: int) -> dict[str, Any]:
        """The enterprise's cleaner-production performance in ``year``, per indicator kind:
        what `annual_report_replayed` gives, from totals kept as the log grows
        (`registry.annual_reports`)."""
        if not 1000 <= year <= 9999:
            return self.annual_report_replayed(enterprise=enterprise, year=year)
        self.core.enterprise(enterprise)
        rows = self.core.annual_reports.rows(
            lambda position: stored_events(self.core, start=position + 1), enterprise, year)
        return self._report(enterprise, year, rows)

    @staticmethod
    def _report(enterprise: str, year: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"enterprise": enterprise, "year": year, "unit": "kg (kgce for ENERGY)",
                "rows": rows}

    def annual_report_replayed(self, *, enterprise: str, year: int) -> dict[str, Any]:
        """The plain reference for `annual_report`: one fold of the whole log for this
        report, adding each event of ``year`` that concerns ``enterprise``."""
        self.core.enterprise(enterprise)
        per_kind: dict[str, dict[str, int]] = {}
        prefix = str(year)

        def add(kind: str, column: str, amount: int) -> None:
            row = per_kind.setdefault(kind, dict.fromkeys(REPORT_COLUMNS, 0))
            row[column] += amount

        def hook(_: int, event: Any, before: Any) -> None:
            name = type(event).__name__
            at = getattr(event, "at", "")
            if not at.startswith(prefix):
                return
            if isinstance(before, Retrofit) and name == "Verified" and \
                    before.enterprise == enterprise:
                for kind, amount in event.reductions.items():
                    add(kind, "verified_reduction", amount)
            if not isinstance(before, Instrument):
                return
            kind = before.kind
            if name == "LotIssued" and event.owner == enterprise:
                add(kind, "issued", event.last - event.first + 1)
            elif name == "Transferred":
                if event.seller == enterprise:
                    add(kind, "sold", event.quantity)
                if event.buyer == enterprise:
                    add(kind, "bought", event.quantity)
            elif name == "BatchSettled":
                for step in map(step_of, event.steps):
                    if type(step) is TransferStep and step.seller == enterprise:
                        add(kind, "sold", step.quantity)
                    if type(step) is TransferStep and step.buyer == enterprise:
                        add(kind, "bought", step.quantity)
            elif name == "Consumed" and event.owner == enterprise:
                add(kind, "consumed", event.quantity)
            elif name == "Expired":
                add_owned(kind, "expired", before, event.moves)
            elif name == "LotRevoked":
                add(kind, "revoked", event.lost_by_holder.get(enterprise, 0))

        def add_owned(kind: str, column: str, before: Instrument, moves: list[list[int]]) -> None:
            for block_first, first, last in moves:
                if before.block_record(block_first).owner == enterprise:
                    add(kind, column, last - first + 1)

        Fold().run(stored_events(self.core), hook)
        return self._report(enterprise, year, report_rows(per_kind))

    @staticmethod
    def report_csv(report: dict[str, Any]) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["enterprise", "year", "kind", *REPORT_COLUMNS],
                                lineterminator="\n")
        writer.writeheader()
        for row in report["rows"]:
            writer.writerow({"enterprise": report["enterprise"], "year": report["year"], **row})
        return out.getvalue()
