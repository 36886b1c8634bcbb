"""Leaf format 2: each leaf names its subjects in a typed field and seals other parties' data.

Format 1 (every leaf before this module, still read and re-derived as it was written) is the
RFC 8785 JSON of ``{position, aggregate_id, version, topic, timestamp, payload}``. Format 2 adds
two keys and seals the per-party elements of multi-party events::

    {"leaf_format": 2, "position", "aggregate_id", "version", "topic", "timestamp",
     "subjects": [{"type": "trade", "id": "ENERGY-2025-GD:1", "parts": ["trades/0"]}, …,
                  {"type": "market", "id": "ENERGY-2025-GD"}],
     "payload": {…, "trades": {"$sealed": "list", "commitments": ["<hex>", …]}}}

* **Subjects** (typed, exact): what the event is about, most specific first, and last always
  the aggregate's own natural key (``agreement`` reference, ``auction`` id, ``market``
  instrument, ``cash_account`` owner…), derived from the aggregate's creation event, so an
  ``Agreement.Settled`` names its agreement and an auction's ``Cleared`` its auction although
  their payloads do not. A subject's ``parts`` are the sealed parts that concern it.
* **Sealing** (commitments, the ledger contract's choice): in events that gather several
  parties (``SEALED_FIELDS``: a market's batch of orders and trades, a batch settlement, an
  auction's allocations, a revocation's holders), each element of those fields is replaced by
  ``sha256(salt ‖ RFC 8785 value)`` with a 16-byte salt derived from the registry's secret seal
  key, the position and the part name (so the leaf re-derives exactly, and a guess of a value
  cannot be checked against it). Element ``i`` of a list field ``f`` is part ``f/i``; a dict
  field's items, in key order, are parts ``f/i`` holding ``[key, value]``. A receipt discloses
  the openings (salt and value) of its subject's parts only; an auditor's export carries every
  opening (entry key ``openings``) and the replay checks each against its commitment.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.records import Trade
from registry import canonical

LEAF_FORMAT = 2
SEALED = "$sealed"
SALT_BYTES = 16
_SHA256_BLOCK = 64  # bytes: the block HMAC pads its key to

Payload = Mapping[str, Any]
Opening = dict[str, Any]  # {"salt": hex, "value": JSON}


class LeafOpeningError(ValueError):
    """A disclosed or exported value does not open the commitment in its leaf."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A typed subject of a leaf: ``type`` (trade, agreement, lot…) and its exact ``id``."""

    type: str
    id: str
    parts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id}
        if self.parts:
            out["parts"] = list(self.parts)
        return out


def event_key(topic: str) -> str:
    """``surplus:Market.BatchMatched.v1`` → ``Market.BatchMatched`` (any version)."""
    name = topic.rpartition(":")[2]
    head, _, version = name.rpartition(".")
    return head if version.startswith("v") and version[1:].isdigit() else name


def aggregate_type(topic: str) -> str:
    return event_key(topic).partition(".")[0]


# -- subjects ---------------------------------------------------------------------------------

#: aggregate type → (subject type, natural key from its creation event's payload)
AGGREGATE_SUBJECTS: dict[str, tuple[str, Callable[[Payload], Any]]] = {
    "Enterprise": ("enterprise", lambda p: p["credit_code"]),
    "Agency": ("agency", lambda p: p["credit_code"]),
    "Retrofit": ("retrofit", lambda p: p["reference"]),
    "ExpansionApplication": ("expansion", lambda p: p["reference"]),
    "Agreement": ("agreement", lambda p: p["reference"]),
    "Auction": ("auction", lambda p: p["auction_id"]),
    "Market": ("market", lambda p: p["instrument"]),
    "CashAccount": ("cash_account", lambda p: p["owner"]),
    "Instrument": ("instrument", lambda p: f"{p['kind']}-{p['vintage']}-{p['zone']}"),
    "TransferReference": ("transfer_reference",
                          lambda p: f"{p['instrument']}/{p['seller']}/{p['ref']}"),
    "Catalogue": ("catalogue", lambda p: "catalogue"),
    # aggregates of the rights, sampling and four-eyes work, keyed as their ids are derived
    "ConfirmedRight": ("confirmed_right", lambda p: f"{p['enterprise']}/{p['kind']}"),
    "SamplingRound": ("sampling_round", lambda p: p["reference"]),
    "SamplingPeriod": ("sampling_period", lambda p: str(p["period"])),
    "Proposal": ("proposal", lambda p: p["proposal_id"]),
}
_FALLBACK_KEYS = ("reference", "credit_code", "code", "id", "name", "owner")


def aggregate_subject(topic: str, created: Payload | None, aggregate_id: str) -> Subject:
    """The aggregate's own subject from its creation event's payload (``None``: not found)."""
    kind = aggregate_type(topic)
    known = AGGREGATE_SUBJECTS.get(kind)
    if created is not None and known is not None:
        try:
            return Subject(known[0], str(known[1](created)))
        except (KeyError, TypeError):
            pass
    if created is not None:  # an aggregate this table does not know yet: its first key field
        for key in _FALLBACK_KEYS:
            if isinstance(created.get(key), str):
                return Subject(_snake(kind), created[key])
    return Subject(_snake(kind) if known is None else known[0], aggregate_id)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


def _refs(kind: str, key: str) -> Callable[[Payload, int], list[Subject]]:
    def subjects(payload: Payload, position: int) -> list[Subject]:
        value = payload.get(key)
        return [Subject(kind, str(value))] if value is not None else []
    return subjects


def _batch_trades(payload: Payload, position: int) -> list[Subject]:
    return [Subject("trade", str(Trade.of(t).trade_id), (f"trades/{i}",))
            for i, t in enumerate(payload.get("trades") or [])]


def _cleared_bids(payload: Payload, position: int) -> list[Subject]:
    out = []
    for name in ("allocations", "excluded"):
        field = payload.get(name) or {}
        out += [Subject("bid", str(k), (f"{name}/{i}",)) for i, k in enumerate(sorted(field))]
    return out


def _issued_lots(payload: Payload, position: int) -> list[Subject]:
    lots = payload.get("lots") or {}
    return [Subject("lot", str(v["lot"])) for v in lots.values()
            if isinstance(v, dict) and "lot" in v]


#: event key → its specific subjects (before the aggregate's own). The parties an event names
#: (owner, seller, buyer, bidder) are in its payload already; subjects name what it is about.
EVENT_SUBJECTS: dict[str, Callable[[Payload, int], list[Subject]]] = {
    "Market.BatchMatched": _batch_trades,
    "Market.TradeApproved": _refs("trade", "trade_id"),
    "Market.TradeRejected": _refs("trade", "trade_id"),
    "Instrument.LotIssued": _refs("lot", "lot_id"),
    "Instrument.LotRevoked": _refs("lot", "lot_id"),
    "Instrument.Transferred": _refs("transfer", "ref"),
    "Instrument.Reserved": _refs("reservation", "ref"),
    "Instrument.Released": _refs("reservation", "ref"),
    "Instrument.Consumed": _refs("consumption", "approval"),
    "Instrument.Retired": lambda p, pos: [Subject("retirement", str(pos))],
    "Instrument.Frozen": _refs("freeze", "ref"),
    "Instrument.Unfrozen": _refs("freeze", "ref"),
    "Instrument.Expired": _refs("expiry", "as_of"),
    "Instrument.BatchSettled": _refs("batch", "ref"),
    "CashAccount.Deposited": _refs("deposit", "reference"),
    "CashAccount.Withdrawn": _refs("withdrawal", "reference"),
    "CashAccount.Posted": _refs("batch", "ref"),
    "Auction.BidPlaced": _refs("bid", "bid_id"),
    "Auction.Cleared": _cleared_bids,
    "Retrofit.Issued": _issued_lots,
    "ExpansionApplication.Approved": _refs("approval", "approval"),
}

#: event key → payload fields whose elements belong to different parties (sealed one by one)
SEALED_FIELDS: dict[str, tuple[str, ...]] = {
    "Market.BatchMatched": ("ops", "trades", "stp"),
    "Instrument.BatchSettled": ("steps",),
    "Auction.Cleared": ("allocations", "excluded"),
    "Instrument.LotRevoked": ("lost_by_holder", "reservations_hit"),
    "Instrument.Expired": ("reservations_hit",),
}


def event_subjects(topic: str, payload: Payload, position: int) -> list[Subject]:
    found = EVENT_SUBJECTS.get(event_key(topic))
    return [] if found is None else found(payload, position)


# -- sealing ----------------------------------------------------------------------------------

class SealKey:
    """The registry's secret for deriving salts: without it nobody can test a guessed value
    against a commitment; with it the registry re-derives every leaf byte for byte."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("a seal key needs at least 32 bytes")
        self._secret = secret
        # HMAC-SHA256 (RFC 2104) with its two keyed states computed once: a salt then costs
        # two hash copies instead of setting the key up again for each of a batch's parts
        key = secret if len(secret) <= _SHA256_BLOCK else hashlib.sha256(secret).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    @property
    def secret(self) -> bytes:
        """The key itself (handed to the leaf process over its pipe; never logged)."""
        return self._secret

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> SealKey:
        """Read the hex key at ``path``, creating it (mode 0600) on first start."""
        file = Path(path)
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:  # complete or absent, and two processes starting at once agree on one key
                os.link(tmp, file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return cls(bytes.fromhex(file.read_text(encoding="ascii").strip()))

    def salts(self, position: int, field: str, count: int) -> list[bytes]:
        """``[salt(position, f"{field}/{i}") for i in range(count)]``: the parts of one field."""
        head = self._inner.copy()
        head.update(b"%d/%s/" % (position, field.encode("utf-8")))
        outer = self._outer
        out = []
        for i in range(count):
            inner = head.copy()
            inner.update(b"%d" % i)
            keyed = outer.copy()
            keyed.update(inner.digest())
            out.append(keyed.digest()[:SALT_BYTES])
        return out

    def salt(self, position: int, part: str) -> bytes:
        """The first 16 bytes of HMAC-SHA256(key, ``"{position}/{part}"``)."""
        inner = self._inner.copy()
        inner.update(b"%d/%s" % (position, part.encode("utf-8")))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:SALT_BYTES]


def commitment(salt: bytes, value: Any) -> str:
    """``hex(sha256(salt ‖ RFC 8785 value))``."""
    return hashlib.sha256(salt + canonical.dumps(value)).hexdigest()


def _elements(value: Any) -> tuple[str, list[Any]]:
    if isinstance(value, dict):
        return "dict", [[k, value[k]] for k in sorted(value)]
    if isinstance(value, list):
        return "list", list(value)
    raise TypeError(f"a sealed field holds a list or a dict, not {type(value).__name__}")


def encode_v2(record: Mapping[str, Any], *, owner: Subject, seal: SealKey,
              openings: bool = True) -> tuple[bytes, dict[str, Opening] | None]:
    """Leaf bytes (format 2) of an event record, and the openings of its sealed parts (None
    without ``openings``: the signer needs the leaf only)."""
    topic, payload, position = record["topic"], record["payload"], record["position"]
    public = dict(payload)
    opened: dict[str, Opening] = {}
    for name in SEALED_FIELDS.get(event_key(topic), ()):
        if name not in payload:
            continue
        shape, elements = _elements(payload[name])
        salts = seal.salts(position, name, len(elements))
        encoded = canonical.dumps_each(elements)
        sha256 = hashlib.sha256
        public[name] = {SEALED: shape, "commitments": [
            sha256(salt + value).hexdigest() for salt, value in zip(salts, encoded, strict=True)]}
        if openings:
            for i, (salt, element) in enumerate(zip(salts, elements, strict=True)):
                opened[f"{name}/{i}"] = {"salt": salt.hex(), "value": element}
    subjects = [*event_subjects(topic, payload, position), owner]
    leaf = {**record, "leaf_format": LEAF_FORMAT, "payload": public,
            "subjects": [s.to_json() for s in subjects]}
    return canonical.dumps(leaf), opened or None


# -- reading ----------------------------------------------------------------------------------

def leaf_format(record: Mapping[str, Any]) -> int:
    value = record.get("leaf_format", 1)
    return value if type(value) is int else 0


def sealed_parts(record: Mapping[str, Any]) -> dict[str, str]:
    """Every sealed part of a format-2 leaf record: name → commitment."""
    out: dict[str, str] = {}
    for name, value in (record.get("payload") or {}).items():
        if isinstance(value, dict) and SEALED in value:
            for i, c in enumerate(value.get("commitments") or []):
                out[f"{name}/{i}"] = c
    return out


def check_opening(commitments: Mapping[str, str], part: str, opening: Any) -> Any:
    """The value of ``opening`` if it opens the commitment of ``part``; else raise."""
    if part not in commitments:
        raise LeafOpeningError(f"the leaf seals no part {part!r}")
    try:
        salt = bytes.fromhex(opening["salt"])
        value = opening["value"]
    except (TypeError, KeyError, ValueError):
        raise LeafOpeningError(f"part {part!r}: not an opening (salt, value)") from None
    if len(salt) != SALT_BYTES or not hmac.compare_digest(commitment(salt, value),
                                                          commitments[part]):
        raise LeafOpeningError(f"part {part!r} does not open its commitment")
    return value


def open_record(record: Mapping[str, Any],
                openings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The format-1 record (full payload) of a leaf record, every sealed part checked."""
    if leaf_format(record) == 1:
        return dict(record)
    commitments = sealed_parts(record)
    given = openings or {}
    extra = set(given) - set(commitments)
    if extra:
        raise LeafOpeningError(f"openings of parts the leaf does not seal: {sorted(extra)}")
    payload: dict[str, Any] = {}
    for name, value in record["payload"].items():
        if not (isinstance(value, dict) and SEALED in value):
            payload[name] = value
            continue
        count = len(value.get("commitments") or [])
        missing = [f"{name}/{i}" for i in range(count) if f"{name}/{i}" not in given]
        if missing:
            raise LeafOpeningError(f"no opening for sealed part {missing[0]!r}")
        elements = [check_opening(commitments, f"{name}/{i}", given[f"{name}/{i}"])
                    for i in range(count)]
        payload[name] = dict(map(tuple, elements)) if value[SEALED] == "dict" else elements
    out = {k: v for k, v in record.items() if k not in ("leaf_format", "subjects")}
    out["payload"] = payload
    return out


def subjects_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    subjects = record.get("subjects")
    return [s for s in subjects if isinstance(s, dict)] if isinstance(subjects, list) else []


def disclose(openings: Mapping[str, Opening] | None, parts: Sequence[str]) -> dict[str, Opening]:
    """The openings of ``parts`` only (what a receipt for one subject may show)."""
    given = openings or {}
    return {p: given[p] for p in parts if p in given}
