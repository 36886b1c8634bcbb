"""Annual reports kept up to date from the event log, instead of replaying it for each report.

`QueryService.annual_report_replayed` is the plain reference: it folds the whole log once per
report and, for one enterprise and year, adds each event it sees to that report's columns. On the
demo world that replay is most of the time of the enterprise console's report page after a write.

`AnnualReports` follows the log the way `registry.market_data` does: ``refresh`` reads the
notifications committed since its position, applies them to its own `Fold` of every aggregate
(the hook needs the retrofit or instrument as it was before the event) and adds each event to
every (enterprise, year) report it concerns, in the same columns the reference uses. One event
can concern several reports (a transfer: the seller's and the buyer's; a revocation: every
enterprise, since the reference gives each of them a row, possibly of zeros, for the kind of a
lot revoked that year). A report is then read from the kept totals.

It is derived and in memory: a restart rebuilds it from the log on first use. If applying an
event fails, the state is dropped and rebuilt from the start on the next read. Years the
reference matches by text prefix other than a four-digit calendar year (``at`` starting with
``str(year)``) are answered by the reference itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from domain.instrument import OWNER, Instrument
from domain.retrofit import Retrofit
from registry.replay import Fold

REPORT_COLUMNS = ("verified_reduction", "issued", "sold", "bought", "consumed", "expired",
                  "revoked")

#: a report's totals: enterprise -> year text -> indicator kind -> column -> amount
Totals = dict[str, dict[str, dict[str, dict[str, int]]]]


def report_rows(per_kind: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    return [{"kind": k, **v} for k, v in sorted(per_kind.items())]


class AnnualReports:
    """Every enterprise's report for every year, folded from the log as it grows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        self.rebuilds = 0  # times the state was rebuilt from the start of the log

    def _reset(self) -> None:
        self._fold = Fold()
        self._totals: Totals = {}
        self._revoked_kinds: dict[str, set[str]] = {}  # year -> kinds with a revocation

    def rows(self, events_after: Callable[[int], Iterable[tuple[int, Any]]],
             enterprise: str, year: int) -> list[dict[str, Any]]:
        """The report's rows (as `report_rows` gives them) once every event that
        ``events_after(position)`` yields has been folded in."""
        key = str(year)
        with self._lock:
            self._refresh(events_after)
            per_kind = {k: dict(v) for k, v in
                        self._totals.get(enterprise, {}).get(key, {}).items()}
            for kind in self._revoked_kinds.get(key, ()):
                per_kind.setdefault(kind, dict.fromkeys(REPORT_COLUMNS, 0))
        return report_rows(per_kind)

    def _refresh(self, events_after: Callable[[int], Iterable[tuple[int, Any]]]) -> None:
        if self._fold.position == 0:
            self.rebuilds += 1
        try:
            self._fold.run(events_after(self._fold.position), self._add)
        except Exception:
            self._reset()  # a state that cannot follow is rebuilt on the next read
            raise

    def _put(self, enterprise: str, year: str, kind: str, column: str, amount: int) -> None:
        per_kind = self._totals.setdefault(enterprise, {}).setdefault(year, {})
        row = per_kind.setdefault(kind, dict.fromkeys(REPORT_COLUMNS, 0))
        row[column] += amount

    def _add(self, _: int, event: Any, before: Any) -> None:
        """The reference's hook, for every enterprise at once."""
        at = getattr(event, "at", "")
        if not isinstance(at, str) or len(at) < 4:
            return
        year = at[:4]
        name = type(event).__name__
        if isinstance(before, Retrofit) and name == "Verified":
            for kind, amount in event.reductions.items():
                self._put(before.enterprise, year, kind, "verified_reduction", amount)
        if not isinstance(before, Instrument):
            return
        kind = before.kind
        if name == "LotIssued":
            self._put(event.owner, year, kind, "issued", event.last - event.first + 1)
        elif name == "Transferred":
            self._put(event.seller, year, kind, "sold", event.quantity)
            self._put(event.buyer, year, kind, "bought", event.quantity)
        elif name == "BatchSettled":
            for step in event.steps:
                if step[0] == "transfer":
                    self._put(step[1], year, kind, "sold", step[3])
                    self._put(step[2], year, kind, "bought", step[3])
        elif name == "Consumed":
            self._put(event.owner, year, kind, "consumed", event.quantity)
        elif name == "Expired":
            for block_first, first, last in event.moves:
                owner = before.blocks[str(block_first)][OWNER]
                self._put(owner, year, kind, "expired", last - first + 1)
        elif name == "LotRevoked":
            self._revoked_kinds.setdefault(year, set()).add(kind)
            for holder, amount in event.lost_by_holder.items():
                self._put(holder, year, kind, "revoked", amount)
