"""Receipts: the ledger leaf of one registry event, its inclusion proof and a checkpoint.

A receipt lets the owner of a trade, transfer, agreement… prove, with nothing but the log's
verifier key, that the event recording it is in the public ledger::

    {"subject": "ENERGY-2025-GD:1", "subject_type": "trade", "event": "BatchMatched",
     "position": 57, "index": 56, "leaf": "<base64>", "disclosed": {"trades/0": {…}},
     "checkpoint": "<signed note>", "proof": {"index": 56, "size": 60, "hashes": […]}}

:func:`verify_receipt` checks the checkpoint's signature, the inclusion proof of the leaf's
RFC 6962 hash against the signed root, and then every claim of the receipt against the leaf
itself: the subject is one of the leaf's typed ``subjects`` (exact type and id, never a
substring of the payload), the event is the leaf's event type, the position and index are the
leaf's, and each disclosed part opens its commitment in the leaf (``registry.leaves``). Only
the subject's own parts are disclosed: nothing of the other parties of a batch.

Leaves record the event-log position they came from and are in commit order, so the leaf of a
position is found by binary search over the ledger.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

from domain.errors import NotFound
from ledger.checkpoint import read_checkpoint_unverified
from ledger.log import Ledger
from registry.events import to_record
from registry.leaves import (
    LeafOpeningError,
    check_opening,
    disclose,
    event_key,
    leaf_format,
    sealed_parts,
    subjects_of,
)
from registry.ledger_follower import LedgerFollower, decode_leaf
from registry.log_reader import LogReader

log = logging.getLogger(__name__)

BATCH_TOPIC = "surplus:Market.BatchMatched.v1"


class ReceiptError(Exception):
    """The receipt does not prove what it claims."""


def ledger_index(ledger: Ledger, position: int) -> int:
    """The index of the leaf made from event-log ``position``."""
    low, high = 0, ledger.size - 1
    while low <= high:
        mid = (low + high) // 2
        found = int(decode_leaf(ledger.leaf(mid))["position"])
        if found == position:
            return mid
        if found < position:
            low = mid + 1
        else:
            high = mid - 1
    raise NotFound(f"no ledger leaf for event-log position {position} yet")


#: how far back from the follower's last leaf `leaf_index` counts stored events rather than
#: searching the ledger (which needs the ledger's lock)
COUNT_BACK = 100_000


def leaf_index(follower: LedgerFollower, position: int) -> int | None:
    """The index of the leaf of ``position``, also before the follower has appended it,
    without the ledger's lock: the follower appends every stored event in commit order, so
    it is the leaves up to the follower's last one (`LedgerFollower.tip`) plus the stored
    events after that up to ``position``, or minus those from ``position`` to it, counted in
    the store. None when ``position`` is further back than `COUNT_BACK` (`ledger_index`
    finds it in the ledger, under its lock)."""
    size, last = follower.tip()
    if position > last:
        count, _, highest = stored_between(follower.app, last + 1, position)
        if highest != position:
            raise NotFound(f"no stored event at position {position}")
        return size + count - 1
    if last - position > COUNT_BACK:
        return None
    count, lowest, _ = stored_between(follower.app, position, last)
    if lowest != position:
        raise NotFound(f"no stored event at position {position}")
    return size - count


class RecentLeafIndexes:
    """`leaf_index` of the positions asked for lately, each counted in the store once: every
    request of a batch answers with its batch's leaf, so one count serves the whole batch.
    The index of a stored position never changes (the follower appends in commit order), so a
    kept one is what counting again would give; an unknown position (`NotFound`) and one
    further back than `COUNT_BACK` (None) are not kept."""

    def __init__(self, follower: LedgerFollower, *, kept: int = 256) -> None:
        self.follower = follower
        self.kept = kept
        self._indexes: dict[int, int] = {}
        # the batch's requests wake together: the first counts, the others wait for it
        self._lock = threading.Lock()

    def known(self, position: int) -> int | None:
        """The index of ``position`` when it is kept; None when it would have to be counted
        (no store read: for an event loop)."""
        return self._indexes.get(position)

    def count(self, positions: Iterable[int | None]) -> None:
        """Count and keep the indexes of ``positions`` (None ones skipped), for the requests
        about to ask: the order gateway's writer counts each batch's before waking its
        callers. A failure to count (the store failing right after the save) is logged and
        left to the callers, whose own count answers it."""
        try:
            for position in dict.fromkeys(p for p in positions if p is not None):
                self(position)
        except Exception as exc:  # the write is done; the answer's index is counted later
            log.warning("ledger index not counted after the save: %s", exc)

    def __call__(self, position: int) -> int | None:
        index = self._indexes.get(position)
        if index is not None:
            return index
        with self._lock:
            index = self._indexes.get(position)
            if index is None:
                index = leaf_index(self.follower, position)
                if index is not None:
                    if len(self._indexes) >= self.kept:
                        del self._indexes[next(iter(self._indexes))]
                    self._indexes[position] = index
        return index


def stored_between(app: Any, low: int, high: int) -> tuple[int, int | None, int | None]:
    """(how many, lowest, highest) notification ids the store holds from ``low`` to
    ``high`` inclusive, counted by the store (no row is read out)."""
    recorder = app.recorder
    if isinstance(recorder, SQLiteAggregateRecorder):
        sql = (f"SELECT COUNT(*), MIN(rowid), MAX(rowid) FROM {recorder.events_table_name} "  # noqa: S608
               "WHERE rowid >= ? AND rowid <= ?")
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(sql, (low, high))
            row = tuple(curs.fetchone())
        return int(row[0]), row[1], row[2]
    if isinstance(recorder, PostgresAggregateRecorder):
        statement = SQL("SELECT COUNT(*) AS n, MIN(notification_id) AS low, "
                        "MAX(notification_id) AS high FROM {schema}.{table} "
                        "WHERE notification_id >= %s AND notification_id <= %s").format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (low, high))
            found = curs.fetchone()
        assert found is not None  # an aggregate always answers one row
        return int(found["n"]), found["low"], found["high"]
    ids = [n.id for n in LogReader(app).select(low, high - low + 1, stop=high)]
    return len(ids), min(ids, default=None), max(ids, default=None)


def find_recorded(follower: LedgerFollower, before: int, *, subject_type: str, subject: str,
                  event: str | None = None) -> tuple[int, str] | None:
    """(position, event name) of the first stored event after ``before`` whose leaf names
    ``subject_type`` ``subject`` (and is an ``event``, if given)."""
    return next(iter_recorded(follower, before, subject_type=subject_type, subject=subject,
                              event=event), None)


def iter_recorded(follower: LedgerFollower, before: int, *, subject_type: str, subject: str,
                  event: str | None = None) -> Iterator[tuple[int, str]]:
    """(position, event name) of each stored event after ``before`` whose leaf names
    ``subject_type`` ``subject`` (and is an ``event``, if given), in log order."""
    for n in LogReader(follower.app, position=before, page=200).notifications():
        name = event_name(n.topic)
        if event is not None and name != event:
            continue
        if any(s.type == subject_type and s.id == subject
               for s in follower.encoder.subjects(n)):
            yield int(n.id), name


def find_order_batch(follower: LedgerFollower, before: int, *, instrument: str,
                     order_id: str) -> tuple[int, str] | None:
    """(position, event name) of the first ``Market.BatchMatched`` after ``before`` on the
    market of ``instrument`` whose accepted requests (``ops``) hold ``order_id``: the leaf
    recording an order's acceptance, amendment or cancellation (its op is a sealed part), and
    every fill of that request (its trades). Each batch is decoded once for all the requests
    that look for it (`_batch_orders`)."""
    start = before + 1
    while True:
        batch = follower.app.recorder.select_notifications(start, 200, topics=(BATCH_TOPIC,))
        if not batch:
            return None
        for n in batch:
            market, orders = _batch_orders(follower, n)
            if market == instrument and order_id in orders:
                return int(n.id), event_name(n.topic)
        start = batch[-1].id + 1


#: (follower, position) → (market, order ids) of recent batches: the requests of one batch ask
#: for it together
_BATCHES: dict[tuple[int, int], tuple[str, frozenset[str]]] = {}
_BATCHES_KEPT = 64


def _batch_orders(follower: LedgerFollower, n: Any) -> tuple[str, frozenset[str]]:
    key = (id(follower), int(n.id))
    found = _BATCHES.get(key)
    if found is None:
        ops = to_record(n.id, follower.app.mapper.to_domain_event(n))["payload"].get("ops")
        market = next((s.id for s in follower.encoder.subjects(n) if s.type == "market"), "")
        found = (market, frozenset(str(op[1]) for op in ops or [] if len(op) > 1))
        if len(_BATCHES) >= _BATCHES_KEPT:
            _BATCHES.pop(next(iter(_BATCHES)))
        _BATCHES[key] = found
    return found


def find_approval(follower: LedgerFollower, before: int, *, proposal_id: str,
                  approved_by: str) -> list[tuple[int, str]]:
    """The events an approval stored after ``before``: (position, event name) of each act's
    event, in order, then the proposal's ``Approved`` last (the proposal is saved with the act,
    in one transaction, after it: `registry.acting.companions`). The act's events are the run of
    events just before it stamped ``approved_by`` the approver; empty when none is found."""
    found = find_recorded(follower, before, subject_type="proposal", subject=proposal_id,
                          event="Approved")
    if found is None:
        return []
    position = found[0]
    start = max(before + 1, 1)
    notes = follower.app.recorder.select_notifications(start, position - start + 1) \
        if position >= start else []
    effects: list[tuple[int, str]] = []
    for n in reversed([n for n in notes if n.id < position]):
        record = to_record(n.id, follower.app.mapper.to_domain_event(n))
        if record["payload"].get("approved_by") != approved_by or \
                event_key(n.topic) == "Proposal.Approved":
            break
        effects.append((int(n.id), event_name(n.topic)))
    return [*reversed(effects), found]


def event_name(topic: str) -> str:
    """``surplus:Agreement.Settled.v1`` → ``Settled``."""
    return event_key(topic).rpartition(".")[2]


def _pick_subject(record: Mapping[str, Any], kind: str | None,
                  subject: str | None) -> dict[str, Any] | None:
    subjects = subjects_of(record)
    for s in subjects:
        if (kind is None or s.get("type") == kind) and (subject is None or s.get("id") == subject):
            return s
    return None


def receipt(ledger: Ledger, position: int, *, follower: LedgerFollower | None = None,
            subject_type: str | None = None, subject: str | None = None) -> dict[str, Any]:
    """The receipt of the event at ``position`` (see the module docstring), for the leaf's
    subject of ``subject_type`` / ``subject`` (default: its first subject), disclosing that
    subject's sealed parts only. The proof is against the latest checkpoint; the ledger must
    be caught up and checkpointed past ``position`` (`AppState.caught_up`)."""
    index = ledger_index(ledger, position)
    note = ledger.latest_checkpoint()
    if note is None:
        raise NotFound("the ledger has no checkpoint yet")
    size = read_checkpoint_unverified(note).size
    if size <= index:
        raise NotFound(f"no checkpoint covers ledger index {index} yet")
    leaf = ledger.leaf(index)
    record = decode_leaf(leaf)
    chosen = _pick_subject(record, subject_type, subject)
    if chosen is None and leaf_format(record) != 1:
        raise NotFound(f"the event at position {position} does not name "
                       f"{subject_type or 'a subject'} {subject or ''}".rstrip())
    disclosed: dict[str, Any] = {}
    parts = list((chosen or {}).get("parts") or [])
    if parts and follower is not None:
        disclosed = disclose(_openings(follower, position, index, leaf), parts)
    hashes = ledger.inclusion_proof(index, size)
    return {
        "subject": (chosen or {}).get("id", subject or ""),
        "subject_type": (chosen or {}).get("type", subject_type or ""),
        "event": event_name(record["topic"]),
        "position": position, "index": index,
        "leaf": base64.b64encode(leaf).decode("ascii"),
        "disclosed": disclosed,
        "checkpoint": note,
        "proof": {"index": index, "size": size,
                  "hashes": [base64.b64encode(h).decode("ascii") for h in hashes]},
    }


def _openings(follower: LedgerFollower, position: int, index: int,
              leaf: bytes) -> dict[str, Any]:
    """The openings of the leaf's sealed parts, re-derived from the stored event."""
    found = LogReader(follower.app).at(position)
    if found is None:
        raise NotFound(f"no stored event at position {position}")
    derived, openings = follower.encoder.entry(found, index)
    if derived != leaf:  # the signed leaf is the truth: never disclose what does not open it
        raise NotFound(f"the stored event at position {position} no longer matches its leaf")
    return openings or {}


# -- verification -----------------------------------------------------------------------------

@dataclass(frozen=True)
class VerifiedReceipt:
    """What a receipt proved: its leaf is at ``index`` of the signed tree of ``size``."""

    index: int
    size: int
    origin: str
    position: int
    event: str
    subject_type: str
    subject: str
    disclosed: dict[str, Any]

    def summary(self) -> str:
        named = f"{self.subject_type} {self.subject}" if self.subject else "no typed subject"
        return (f"OK: leaf {self.index} ({self.event} at event-log position {self.position}, "
                f"naming {named}) is in the {self.size}-leaf tree of {self.origin}, whose "
                "checkpoint is signed by the given key")


def _decode(receipt: Mapping[str, Any]) -> tuple[bytes, list[bytes], int, int, str]:
    try:
        proof = receipt["proof"]
        leaf = base64.b64decode(receipt["leaf"], validate=True)
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
        index, size = int(proof["index"]), int(proof["size"])
        note = str(receipt["checkpoint"])
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise ReceiptError(f"not a receipt: {e}") from None
    return leaf, hashes, index, size, note


def verify_receipt(receipt: Mapping[str, Any], *, vkey: str, subject: str | None = None,
                   subject_type: str | None = None,
                   event: str | None = None) -> VerifiedReceipt:
    """Check ``receipt`` against ``vkey`` and its own claims; raise :class:`ReceiptError`.

    ``subject`` / ``subject_type`` / ``event``, when given, must also be what the leaf names:
    the subject an exact id among the leaf's typed subjects, the event its event type."""
    from ledger.checkpoint import verify_checkpoint
    from ledger.merkle import VerificationError, hash_leaf, verify_inclusion

    leaf, hashes, index, size, note = _decode(receipt)
    try:
        checkpoint = verify_checkpoint(note=note, vkey=vkey)
        if checkpoint.size != size:
            raise ReceiptError(f"the proof is for a tree of {size} leaves, the checkpoint "
                               f"signs {checkpoint.size}")
        verify_inclusion(index=index, size=size, leaf_hash=hash_leaf(leaf), proof=hashes,
                         root=checkpoint.root)
    except VerificationError as e:
        raise ReceiptError(str(e)) from None
    try:
        record = json.loads(leaf)
        topic = str(record["topic"])
    except (ValueError, KeyError, TypeError):
        raise ReceiptError("the leaf is not an event record") from None
    found_event = event_name(topic)
    _check_claims(receipt, record, index=index, event=found_event)
    chosen = _check_subject(record, receipt, subject=subject, subject_type=subject_type)
    if event is not None and event != found_event:
        raise ReceiptError(f"the leaf records {found_event}, not {event}")
    disclosed = _check_disclosed(record, receipt.get("disclosed"), chosen)
    return VerifiedReceipt(
        index=index, size=size, origin=checkpoint.origin, position=int(record["position"]),
        event=found_event, subject_type=str((chosen or {}).get("type", "")),
        subject=str((chosen or {}).get("id", "")), disclosed=disclosed)


def _check_claims(receipt: Mapping[str, Any], record: Mapping[str, Any], *, index: int,
                  event: str) -> None:
    """The receipt's own fields must say what the leaf says."""
    if "position" in receipt and receipt["position"] != record.get("position"):
        raise ReceiptError(f"the receipt claims position {receipt['position']}, the leaf is "
                           f"at position {record.get('position')}")
    if "index" in receipt and receipt["index"] != index:
        raise ReceiptError(f"the receipt claims index {receipt['index']}, its proof is for "
                           f"leaf {index}")
    if "event" in receipt and receipt["event"] != event:
        raise ReceiptError(f"the receipt claims event {receipt['event']}, the leaf records "
                           f"{event}")


def _check_subject(record: Mapping[str, Any], receipt: Mapping[str, Any], *,
                   subject: str | None, subject_type: str | None) -> dict[str, Any] | None:
    claimed_id = receipt.get("subject") or None
    claimed_type = receipt.get("subject_type") or None
    if leaf_format(record) == 1:  # a leaf written before subjects were typed
        if subject is not None or claimed_id is not None:
            raise ReceiptError("the leaf (format 1, written before typed subjects) names no "
                               "subject it can be checked against")
        return None
    want_id = subject if subject is not None else claimed_id
    want_type = subject_type if subject_type is not None else claimed_type
    for wanted, claimed, what in ((subject, claimed_id, "subject"),
                                  (subject_type, claimed_type, "subject type")):
        if wanted is not None and claimed is not None and wanted != claimed:
            raise ReceiptError(f"the receipt is for {what} {claimed!r}, not {wanted!r}")
    if want_id is None and want_type is None:
        return None
    chosen = _pick_subject(record, want_type, want_id)
    if chosen is None:
        named = ", ".join(f"{s.get('type')} {s.get('id')}" for s in subjects_of(record))
        raise ReceiptError(f"the leaf does not name {want_type or 'a subject'} "
                           f"{want_id or ''!s}".rstrip() + f" (it names: {named or 'nothing'})")
    return chosen


def _check_disclosed(record: Mapping[str, Any], disclosed: Any,
                     chosen: Mapping[str, Any] | None) -> dict[str, Any]:
    if not disclosed:
        return {}
    if not isinstance(disclosed, dict):
        raise ReceiptError("'disclosed' is not an object")
    commitments = sealed_parts(record)
    allowed = set((chosen or {}).get("parts") or [])
    out = {}
    for part, opening in disclosed.items():
        if part not in allowed:
            raise ReceiptError(f"part {part!r} is not one of the subject's parts")
        try:
            out[part] = check_opening(commitments, part, opening)
        except LeafOpeningError as e:
            raise ReceiptError(str(e)) from None
    return out
