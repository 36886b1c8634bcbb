"""Reads the HTTP API needs beyond ``registry.queries``: filtered listings of retrofits and
applications, one enterprise's holdings read from its own blocks, who may see a serial's
provenance, and where in the event log a command's event landed.

Filtered listings load every aggregate of a catalogue section, except those asked for by state:
those load only the aggregates in the states asked for, picked by the states kept from the log
(`registry.pending`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.agency import Agency
from domain.enterprise import Enterprise
from domain.errors import NotFound
from domain.expansion import ExpansionApplication
from domain.instrument import Instrument, serial_label
from domain.retrofit import BASELINE_AUDITED, POST_AUDITED, REGISTERED, Retrofit
from registry.app import RegistryBase
from registry.log_reader import LogReader
from registry.queries import BALANCE_COLUMNS

#: retrofit states in which an agency still has audit or verification work to submit
AWAITING_AGENCY = (REGISTERED, BASELINE_AUDITED, POST_AUDITED)


def retrofits(registry: RegistryBase, *, enterprise: str | None = None,
              agency: str | None = None, states: tuple[str, ...] | None = None,
              ) -> list[Retrofit]:
    """Retrofits in registration order, optionally of one enterprise or one agency's work,
    or only those in ``states`` (only those are loaded, picked by `registry.pending`)."""
    out = []
    for reference in _in_states(registry, registry.catalogue().entries["retrofits"],
                                Retrofit.create_id, states):
        r = registry.retrofit(reference)
        if states is not None and r.state not in states:
            continue
        if enterprise is not None and r.enterprise != enterprise:
            continue
        if agency is not None and agency not in r.agencies().values():
            continue
        out.append(r)
    return out


def expansions(registry: RegistryBase, *, enterprise: str | None = None,
               states: tuple[str, ...] | None = None) -> list[ExpansionApplication]:
    """Applications in submission order, optionally of one enterprise or only those in
    ``states`` (see `retrofits`)."""
    out = [registry.expansion(x) for x in _in_states(
        registry, registry.catalogue().entries["expansions"], ExpansionApplication.create_id,
        states)]
    return [x for x in out if (enterprise is None or x.enterprise == enterprise)
            and (states is None or x.state in states)]


def _in_states(registry: RegistryBase, references: list[str], create_id: Callable[[str], UUID],
               states: tuple[str, ...] | None) -> list[str]:
    """The references whose aggregate is now in ``states`` (all of them for None), by the
    states kept from the log (`registry.pending`), in their order."""
    if states is None:
        return list(references)
    found = registry.states.of(registry, [create_id(r) for r in references])
    return [r for r, s in zip(references, found, strict=True) if s in states]


def enterprises(registry: RegistryBase, codes: list[str]) -> list[Enterprise]:
    """These enterprises, each a private copy from the index kept from the log
    (`registry.pending`): equal to ``registry.enterprise(c)`` for each, without a reload."""
    found = registry.people.copies(registry, [Enterprise.create_id(c) for c in codes])
    return [e if isinstance(e, Enterprise) else registry.enterprise(c)
            for c, e in zip(codes, found, strict=True)]


def agencies(registry: RegistryBase, codes: list[str]) -> list[Agency]:
    """These agencies (see `enterprises`)."""
    found = registry.people.copies(registry, [Agency.create_id(c) for c in codes])
    return [a if isinstance(a, Agency) else registry.agency(c)
            for c, a in zip(codes, found, strict=True)]


def _balance(instrument: Instrument, owner: str) -> dict[str, Any]:
    per = dict.fromkeys(BALANCE_COLUMNS, 0)
    for b in instrument.blocks_of(owner):
        n = b.quantity
        per[b.state] += n
        if b.frozen:
            per["frozen"] += n
    return {"enterprise": owner, "instrument": instrument.code, "term": instrument.term.view(),
            **per}


def holdings(registry: RegistryBase, enterprise: str) -> list[dict[str, Any]]:
    """One balance row per instrument the enterprise holds units in, read from its own
    blocks only (``Instrument.owned``), not from every holder's, on the registry's current
    read copies (`registry.read_cache`)."""
    with registry.reading_catalogue() as catalogue:
        known = enterprise in catalogue.entries["enterprises"]
        codes = sorted(catalogue.entries["instruments"])
    if not known:
        raise NotFound(f"enterprise {enterprise} not found")
    rows = []
    for code in codes:
        with registry.reading_instrument(code) as i:
            if enterprise in i.owned:
                rows.append(_balance(i, enterprise))
    return rows


def holding(registry: RegistryBase, enterprise: str, instrument: str) -> dict[str, Any]:
    """The balance of one enterprise in one instrument with its serial blocks."""
    registry.enterprise(enterprise)
    with registry.reading_instrument(instrument) as i:
        row = _balance(i, enterprise)
        row["blocks"] = [
            {"first": b.first, "last": b.last,
             "serials": serial_label(i.code, b.first, b.last), "state": b.state,
             "lot": b.lot, "ref": b.ref, "frozen": b.frozen}
            for b in i.blocks_of(enterprise)
        ]
    return row


def provenance_parties(provenance: dict[str, Any]) -> set[str]:
    """Every enterprise and agency a unit's provenance names: the issuing enterprise, the
    agencies that audited and verified its retrofit, every owner, seller and buyer in its
    history and its final holder. They (and administrators and auditors) may read it."""
    retrofit = provenance["retrofit"]
    parties = {retrofit["enterprise"], provenance["final"]["owner"],
               *retrofit["agencies"].values()}
    for entry in provenance["history"]:
        parties.update(entry[k] for k in ("owner", "seller", "buyer") if entry.get(k))
    return parties


def agency_may_read(retrofit: Retrofit, agency: str) -> bool:
    """An agency reads a retrofit it took part in, or one still awaiting audit or verification
    work (it needs the state and kinds to prepare its report)."""
    return agency in retrofit.agencies().values() or retrofit.state in AWAITING_AGENCY


def position_of(registry: RegistryBase, *, aggregate_id: UUID, topic: str, after: int,
                match: dict[str, Any]) -> int | None:
    """The log position of the first event of ``aggregate_id`` after position ``after`` with
    this ``topic`` and whose attributes equal ``match``; None if none.

    The API reads the position before a command and looks for the command's event after it,
    so the scan covers only what was committed meanwhile."""
    log = LogReader(registry, position=after, page=500)
    for n in log.notifications():
        if n.originator_id != aggregate_id or n.topic != topic:
            continue
        event = log.decode(n)
        if all(getattr(event, k, None) == v for k, v in match.items()):
            return int(n.id)
    return None



def holding_event_at(registry: RegistryBase, position: int) -> tuple[str, Any, set[str]] | None:
    """The instrument event at log ``position`` as (event name, event, the enterprises it
    names as owner, seller or buyer); None when the position holds no instrument event."""
    log = LogReader(registry)
    found = log.at(position)
    if found is None:
        return None
    event = log.decode(found)
    if not isinstance(event, Instrument.Event):
        return None
    parties = {getattr(event, k) for k in ("owner", "seller", "buyer") if getattr(event, k, None)}
    return type(event).__name__, event, parties
