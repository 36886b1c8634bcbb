"""An instrument (kind × zone × term) and every serial-numbered unit issued in it.

**Units are annual rights with a term.** A unit is the right to 1 kg (1 kgce for ENERGY) a
year for the rest of the instrument's *term* (its first and last year, `Term`); quantities are
kg a year, prices are quoted per tonne a year; a unit expires at the end of the term's last
year. The instrument's id stays ``KIND-VINTAGE-ZONE``: the vintage is the compliance year
whose verified reductions the units come from, and the term is the years the rights run,
the ``term_years`` of the rules in force when the instrument opened (five: vintage + 1 …
vintage + 5), recorded in its ``Opened`` event.

Upcast: an ``Opened`` event stored before terms were recorded has no ``term``; it is read as
vintage + 1 … vintage + 5, the validity every unit of such an instrument was issued with (its
lots expire on 31 December of vintage + 5), so no unit's validity changes. The stored event is
not rewritten (`legacy_term`).

Units are numbered 1, 2, … within the instrument in order of issuance. The instrument keeps a
partition of ``[1, issued]`` into *blocks*: contiguous serial ranges that share one owner, state,
lot and reference; neighbours that come to agree are merged. Every command picks whole or partial
blocks (``Instrument._pick`` says which) and records the exact ranges it moved in its event,
so replay re-applies decisions instead of re-making them and an auditor can follow any single
unit from issuance to its final state.

States: available → reserved (listed / pending) → transferred (available to the buyer);
consumed (capacity expansion), retired, expired, revoked. Frozen is a flag on available units:
they stay counted as available but cannot be reserved, moved, consumed or retired.

Clawback policy on revocation (fraud found by a spot check): every unit of the lot that is still
available or reserved is revoked *wherever it is held*, including units a good-faith buyer
bought; the event records how many units each holder lost, so the exchange can settle the
seller's liability to them. Units already consumed or retired cannot be taken back: the event
records them as unrecoverable and the registry adds them to the originating enterprise's
obligation for the same kind and period (``Enterprise.owe_clawback``).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from heapq import merge
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.enterprise import Enterprise
from domain.errors import AlreadyExists, InsufficientHoldings, InvalidInput, NotFound
from domain.instrument_pool import PoolIndex, plan_batch
from domain.quantities import check_quantity
from domain.records import (
    FIRST,
    FROZEN,
    LAST,
    LOT,
    OWNER,
    REF,
    STATE,
    Block,
    TransferStep,
    step_of,
)
from domain.reference import kind_info
from domain.rules import DEFAULT_TERM_YEARS, TradingRules
from domain.topics import aggregate_topic, event_topic, natural_id

AVAILABLE = "available"
RESERVED = "reserved"
CONSUMED = "consumed"
RETIRED = "retired"
EXPIRED = "expired"
REVOKED = "revoked"
STATES = (AVAILABLE, RESERVED, CONSUMED, RETIRED, EXPIRED, REVOKED)

# Blocks are lists in the state (so snapshots transcode them), laid out as `Block`'s fields.

#: "leave this field as it is" for `Instrument._apply`
_KEEP: Any = object()

#: A move names the block it carves (by its first serial) and the carved range: [block, first, last]
Move = list[int]


class Term(NamedTuple):
    """The years an instrument's units are annual rights for (both inclusive)."""

    first_year: int
    last_year: int

    @classmethod
    def after(cls, vintage: int, years: int = DEFAULT_TERM_YEARS) -> Term:
        """The ``years`` years following the compliance year ``vintage``."""
        if not isinstance(years, int) or isinstance(years, bool) or years < 1:
            raise InvalidInput(f"a term is a positive whole number of years, got {years!r}")
        return cls(vintage + 1, vintage + years)

    @property
    def ends_on(self) -> str:
        """The last day the units are valid (they expire the day after)."""
        return f"{self.last_year}-12-31"

    @property
    def years(self) -> int:
        return self.last_year - self.first_year + 1

    def label(self) -> str:
        return f"{self.first_year}–{self.last_year}"

    def view(self) -> dict[str, Any]:
        return {"first_year": self.first_year, "last_year": self.last_year,
                "ends_on": self.ends_on}


def legacy_term(vintage: int) -> Term:
    """The term of an instrument opened before terms were recorded: its lots were issued
    valid until 31 December of vintage + 5 (the upcast of its ``Opened`` event)."""
    return Term.after(vintage, DEFAULT_TERM_YEARS)


def instrument_code(kind: str, vintage: int, zone: str) -> str:
    return f"{kind}-{vintage}-{zone}"


def serial_label(code: str, first: int, last: int) -> str:
    return f"{code}-{first:09d}-{last:09d}"


class Instrument(Aggregate):
    TOPIC = aggregate_topic("Instrument")
    # Derived, not state: the exchange's index of the blocks (`PoolIndex`), built on first use.
    # A slot keeps it out of ``vars()``, hence out of snapshots and equality.
    __slots__ = ("_pool_index",)
    _pool_index: PoolIndex | None

    class Created(Aggregate.Created):
        TOPIC = event_topic("Instrument", "Created")

    @staticmethod
    def create_id(kind: str, vintage: int, zone: str, **_: Any) -> UUID:
        return natural_id(f"/instruments/{instrument_code(kind, vintage, zone)}")

    @classmethod
    def open(cls, *, kind: str, vintage: int, zone: str, at: str,
             term: Term | None = None) -> Instrument:
        kind_info(kind)
        term = term or Term.after(vintage)
        if not all(isinstance(y, int) and not isinstance(y, bool) for y in term) or \
                not vintage < term.first_year <= term.last_year:
            raise InvalidInput(f"a term runs from a year after the vintage {vintage} to a "
                               f"year not before it starts, got {term!r}")
        return cls(kind=kind, vintage=vintage, zone=zone, at=at,
                   term=[term.first_year, term.last_year])

    @event("Opened", topic=event_topic("Instrument", "Opened"))
    def __init__(self, kind: str, vintage: int, zone: str, at: str,
                 term: list[int] | None = None) -> None:
        self.kind = kind
        self.vintage = vintage
        # None: stored before terms were recorded (the upcast, `legacy_term`)
        self.term_years = list(term) if term else list(legacy_term(vintage))
        self.zone = zone
        self.code = instrument_code(kind, vintage, zone)
        self.next_serial = 1
        self.lots: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, list[Any]] = {}
        #: owner -> first serials of its blocks, ascending: commands pick from one owner's
        #: blocks without scanning (or sorting) everyone's
        self.owned: dict[str, list[int]] = {}
        self._pool_index = None

    @property
    def term(self) -> Term:
        """The years its units are annual rights for (a snapshot taken before terms were
        recorded has none: the upcast's term)."""
        years: list[int] | None = getattr(self, "term_years", None)
        return Term(*years) if years else legacy_term(self.vintage)

    # -- the rules it trades under -------------------------------------------------------------

    def rules_version(self, default: str) -> str:
        """The rule version this instrument trades under (``default`` for instruments opened
        before versions were assigned)."""
        assigned: str | None = getattr(self, "assigned_rules", None)
        return assigned or default

    def assign_rules(self, *, version: str, reason: str, by: str, at: str) -> None:
        """The rule version its transfers are checked against from now on: at opening, or an
        administrator moving the instrument to another version (a documented event)."""
        if not version.strip() or not reason.strip() or not by.strip():
            raise InvalidInput("assigning rules needs the version, a reason and who")
        self._rules_assigned(version=version, reason=reason, by=by, at=at)

    @event("RulesAssigned", topic=event_topic("Instrument", "RulesAssigned"))
    def _rules_assigned(self, version: str, reason: str, by: str, at: str) -> None:
        self.assigned_rules = version

    # -- reading -------------------------------------------------------------------------------

    def iter_blocks(self) -> Iterator[list[Any]]:
        """Blocks in serial order."""
        for key in sorted(self.blocks, key=int):
            yield self.blocks[key]

    def balances(self) -> dict[str, dict[str, int]]:
        """owner -> state -> units; frozen units are also counted under ``frozen``."""
        out: dict[str, dict[str, int]] = {}
        for b in self.blocks.values():
            n = b[LAST] - b[FIRST] + 1
            per = out.setdefault(b[OWNER], {})
            per[b[STATE]] = per.get(b[STATE], 0) + n
            if b[FROZEN]:
                per["frozen"] = per.get("frozen", 0) + n
        return out

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for b in self.blocks.values():
            out[b[STATE]] += b[LAST] - b[FIRST] + 1
        return out

    def issued(self) -> int:
        return self.next_serial - 1

    def block_of(self, serial: int) -> Block:
        """The block holding unit ``serial``."""
        for b in self.blocks.values():
            if b[FIRST] <= serial <= b[LAST]:
                return Block(*b)
        raise NotFound(f"serial {serial} has not been issued in {self.code}")

    def block_record(self, first: int) -> Block:
        """The block starting at serial ``first``."""
        return Block(*self.blocks[str(first)])

    def block_records(self) -> Iterator[Block]:
        """Every block, in no particular order."""
        for b in self.blocks.values():
            yield Block(*b)

    def blocks_of(self, owner: str) -> list[Block]:
        """``owner``'s blocks in serial order."""
        blocks = self.blocks
        return [Block(*blocks[str(first)]) for first in self.owned.get(owner, ())]

    def reserved_under(self, ref: str) -> int:
        return sum(b[LAST] - b[FIRST] + 1 for b in self.blocks.values()
                   if b[STATE] == RESERVED and b[REF] == ref)

    def reservations(self) -> dict[str, dict[str, int]]:
        """ref -> owner -> units reserved under it (frozen or not, valid or not): what every
        order, hold, agreement, auction and application of this instrument holds."""
        out: dict[str, dict[str, int]] = {}
        for b in self.blocks.values():
            if b[STATE] == RESERVED:
                per = out.setdefault(b[REF], {})
                per[b[OWNER]] = per.get(b[OWNER], 0) + b[LAST] - b[FIRST] + 1
        return out

    # -- picking ranges ------------------------------------------------------------------------

    def _candidates(self, owner: str | None, ref: str | None = None) -> Iterator[list[Any]]:
        """Blocks in serial order: one owner's, or (``owner`` None) those of every owner
        holding blocks under ``ref``, or all."""
        blocks = self.blocks
        if owner is not None:
            owners = [owner]
        elif ref is not None:
            owners = sorted({b[OWNER] for b in blocks.values() if b[REF] == ref})
        else:
            yield from self.iter_blocks()
            return
        for first in merge(*(self.owned.get(o, ()) for o in owners)):
            yield blocks[str(first)]

    def _pick(
        self, quantity: int, *, owner: str | None, state: str, ref: str | None = None,
        on: str | None = None, frozen: bool | None = False, lot: str | None = None,
    ) -> list[Move]:
        """Which units a command takes: the lowest-serial usable block that covers the whole
        quantity, from its lowest serial; if no single block does, lowest serials first across
        blocks. Taking from one block where possible keeps holdings in few, large blocks
        (each command splits at most one). ``on`` (an ISO date) skips lots no longer valid."""
        eligible: list[list[Any]] = []
        for b in self._candidates(owner, ref):
            if b[STATE] != state or (owner is not None and b[OWNER] != owner):
                continue
            if (ref is not None and b[REF] != ref) or (lot is not None and b[LOT] != lot):
                continue
            if frozen is not None and bool(b[FROZEN]) != frozen:
                continue
            if on is not None and self.lots[b[LOT]]["expires_on"] < on:
                continue
            if b[LAST] - b[FIRST] + 1 >= quantity:
                return [[b[FIRST], b[FIRST], b[FIRST] + quantity - 1]]
            eligible.append(b)
        moves: list[Move] = []
        need = quantity
        for b in eligible:
            if need == 0:
                break
            take = min(need, b[LAST] - b[FIRST] + 1)
            moves.append([b[FIRST], b[FIRST], b[FIRST] + take - 1])
            need -= take
        if need:
            raise InsufficientHoldings(
                f"{owner or 'holders'} {'have' if owner is None else 'has'} only "
                f"{quantity - need} {state} units of {self.code} usable, {quantity} needed"
            )
        return moves

    def _apply(
        self, moves: list[Move], *, owner: Any = _KEEP, state: Any = _KEEP, ref: Any = _KEEP,
        frozen: Any = _KEEP, coalesce: bool = True,
    ) -> None:
        """Carve each range out of its block and set the changed fields on the carved part;
        then (``coalesce``) merge each carved part with neighbours that now agree in
        everything but their range, so the number of blocks tracks ownership runs, not the
        number of commands that made them.

        Blocks are changed in place (a head that stays keeps its list): nothing outside the
        aggregate holds on to a block, and copying every piece was a third of a replay."""
        blocks, owned = self.blocks, self.owned
        index = getattr(self, "_pool_index", None)
        # Only an old boundary can join equal neighbours: a head or tail just carved off keeps
        # the attributes the carved part has just changed.
        seams: list[tuple[int, bool, bool]] = []
        for block_first, first, last in moves:
            b = blocks[str(block_first)]
            if index is not None:
                old = b.copy()
            end = b[LAST]
            old_owner = b[OWNER]
            new_owner = old_owner if owner is _KEEP else owner
            if first > block_first:
                carved = b.copy()  # the head keeps the block's list and key
                b[LAST] = first - 1
                carved[FIRST] = first
                blocks[str(first)] = carved
                insort(owned.setdefault(new_owner, []), first)
            else:
                carved = b
                if new_owner != old_owner:
                    self._disown(old_owner, first)
                    insort(owned.setdefault(new_owner, []), first)
            if last < end:
                tail = carved.copy()
                tail[FIRST] = last + 1
                blocks[str(last + 1)] = tail
                carved[LAST] = last
                insort(owned.setdefault(old_owner, []), last + 1)
            carved[OWNER] = new_owner
            if state is not _KEEP:
                carved[STATE] = state
            if ref is not _KEEP:
                carved[REF] = ref
            if frozen is not _KEEP:
                carved[FROZEN] = frozen
            if index is not None:
                index.carved(old, first, last, carved)
            if coalesce and (first == block_first or last == end):
                if len(moves) == 1:  # most events: no later move to keep a block for
                    self._coalesce(carved, first == block_first, last == end, index)
                else:
                    seams.append((first, first == block_first, last == end))
        for first, before, after in seams:
            seam = blocks.get(str(first))
            if seam is not None:  # else already absorbed by an earlier merge of the same event
                self._coalesce(seam, before, after, index)

    def _coalesce(self, b: list[Any], before: bool, after: bool,
                  index: PoolIndex | None) -> None:
        """Merge block ``b`` with equal neighbours on the sides named."""
        blocks = self.blocks
        if after:
            key = str(b[LAST] + 1)
            following = blocks.get(key)
            # owners differ most often: compare them before slicing the rest
            if (following is not None and following[OWNER] == b[OWNER]
                    and following[OWNER:] == b[OWNER:]):
                if index is not None:
                    index.absorbed(following)
                b[LAST] = following[LAST]
                del blocks[key]
                self._disown(following[OWNER], following[FIRST])
        if not before:
            return
        first = b[FIRST]
        firsts = self.owned[b[OWNER]]
        at = bisect_left(firsts, first)
        if at:
            previous = blocks[str(firsts[at - 1])]
            if previous[LAST] + 1 == first and previous[OWNER:] == b[OWNER:]:
                if index is not None:
                    index.absorbed(b)
                previous[LAST] = b[LAST]
                del blocks[str(first)]
                del firsts[at]
                if not firsts:
                    del self.owned[b[OWNER]]

    def _disown(self, owner: str, first: int) -> None:
        firsts = self.owned[owner]
        del firsts[bisect_left(firsts, first)]
        if not firsts:
            del self.owned[owner]

    # -- issuance ------------------------------------------------------------------------------

    def issue(
        self, *, lot_id: str, owner: str, retrofit: str, retrofit_reference: str, quantity: int,
        expires_on: str, evidence: list[str], agencies: dict[str, str], at: str,
    ) -> tuple[int, int]:
        check_quantity(quantity)
        if lot_id in self.lots:
            raise AlreadyExists(f"lot {lot_id} is already issued in {self.code}")
        first = self.next_serial
        self._lot_issued(
            lot_id=lot_id, owner=owner, retrofit=retrofit, retrofit_reference=retrofit_reference,
            first=first, last=first + quantity - 1, expires_on=expires_on, evidence=evidence,
            agencies=agencies, at=at,
        )
        return first, first + quantity - 1

    @event("LotIssued", topic=event_topic("Instrument", "LotIssued"))
    def _lot_issued(
        self, lot_id: str, owner: str, retrofit: str, retrofit_reference: str, first: int,
        last: int, expires_on: str, evidence: list[str], agencies: dict[str, str], at: str,
    ) -> None:
        self.lots[lot_id] = {
            "owner": owner, "retrofit": retrofit, "retrofit_reference": retrofit_reference,
            "first": first, "last": last, "expires_on": expires_on, "evidence": evidence,
            "agencies": agencies, "issued_at": at, "revoked": False,
        }
        block = [first, last, owner, AVAILABLE, lot_id, None, None]
        self.blocks[str(first)] = block
        insort(self.owned.setdefault(owner, []), first)
        index = getattr(self, "_pool_index", None)
        if index is not None:
            index.issued(block)
        self.next_serial = last + 1

    # -- reservation ---------------------------------------------------------------------------

    def reserve(self, *, owner: Enterprise, quantity: int, ref: str, at: str) -> None:
        """Set units aside for a listing, an order or an application (``ref`` names it)."""
        check_quantity(quantity)
        owner.check_may_trade()
        if not ref:
            raise InvalidInput("a reservation needs a reference")
        moves = self._pick(quantity, owner=owner.credit_code, state=AVAILABLE, on=at[:10])
        self._reserved(owner=owner.credit_code, quantity=quantity, ref=ref, moves=moves, at=at)

    @event("Reserved", topic=event_topic("Instrument", "Reserved"))
    def _reserved(self, owner: str, quantity: int, ref: str, moves: list[Move], at: str) -> None:
        self._apply(moves, state=RESERVED, ref=ref)

    def release(self, *, ref: str, at: str, quantity: int | None = None) -> int:
        """Return reserved units to available; all of them unless ``quantity`` is given."""
        held = self.reserved_under(ref)
        if quantity is None:
            quantity = held
        if quantity == 0:
            return 0
        check_quantity(quantity)
        moves = self._pick(quantity, owner=None, state=RESERVED, ref=ref, frozen=None)
        self._released(ref=ref, quantity=quantity, moves=moves, at=at)
        return quantity

    @event("Released", topic=event_topic("Instrument", "Released"))
    def _released(self, ref: str, quantity: int, moves: list[Move], at: str) -> None:
        self._apply(moves, state=AVAILABLE, ref=None)

    def cancel_reservation(self, *, ref: str, reason: str, by: str, at: str,
                           owner: str | None = None, quantity: int | None = None) -> int:
        """A lifecycle change ended what held units under ``ref`` (of ``owner`` only, if
        given): return them (all, or ``quantity``) to available, saying why. Frozen and
        no longer valid units are returned too: whatever is left goes back. Returns the
        units returned (0: nothing was held, nothing is written)."""
        if not reason.strip() or not by.strip():
            raise InvalidInput("cancelling a reservation needs who and why")
        held = sum(b[LAST] - b[FIRST] + 1 for b in self.blocks.values()
                   if b[STATE] == RESERVED and b[REF] == ref
                   and (owner is None or b[OWNER] == owner))
        quantity = held if quantity is None else min(quantity, held)
        if quantity <= 0:
            return 0
        moves = self._pick(quantity, owner=owner, state=RESERVED, ref=ref, frozen=None)
        self._reservation_cancelled(ref=ref, owner=owner, quantity=quantity, reason=reason,
                                    by=by, moves=moves, at=at)
        return quantity

    @event("ReservationCancelled", topic=event_topic("Instrument", "ReservationCancelled"))
    def _reservation_cancelled(self, ref: str, owner: str | None, quantity: int, reason: str,
                               by: str, moves: list[Move], at: str) -> None:
        self._apply(moves, state=AVAILABLE, ref=None)

    # -- transfer ------------------------------------------------------------------------------

    def transfer(
        self, *, seller: Enterprise, buyer: Enterprise, quantity: int, rules: TradingRules,
        ref: str, at: str, from_reservation: str | None = None,
    ) -> None:
        """Move units to ``buyer`` after the trading-scope, credit and validity checks; the
        rule version applied is recorded on the event."""
        check_quantity(quantity)
        if seller.credit_code == buyer.credit_code:
            raise InvalidInput("seller and buyer are the same enterprise")
        seller.check_may_trade()
        buyer.check_may_trade()
        rules.check_transfer(self.kind, self.zone, seller.party(), buyer.party())
        if from_reservation is None:
            moves = self._pick(quantity, owner=seller.credit_code, state=AVAILABLE, on=at[:10])
        else:
            moves = self._pick(quantity, owner=seller.credit_code, state=RESERVED,
                               ref=from_reservation, on=at[:10])
        self._transferred(
            seller=seller.credit_code, buyer=buyer.credit_code, quantity=quantity,
            rule_version=rules.version, ref=ref, moves=moves, at=at,
        )

    @event("Transferred", topic=event_topic("Instrument", "Transferred"))
    def _transferred(
        self, seller: str, buyer: str, quantity: int, rule_version: str, ref: str,
        moves: list[Move], at: str,
    ) -> None:
        self._apply(moves, owner=buyer, state=AVAILABLE, ref=None)

    # -- end states ----------------------------------------------------------------------------

    def consume(
        self, *, owner: Enterprise, quantity: int, approval: str, at: str,
        from_reservation: str | None = None,
    ) -> None:
        """Apply units to a capacity expansion or new product, linked to its approval."""
        check_quantity(quantity)
        if not approval.strip():
            raise InvalidInput("consumption needs the approval reference")
        state, ref = (AVAILABLE, None) if from_reservation is None else (RESERVED, from_reservation)
        moves = self._pick(quantity, owner=owner.credit_code, state=state, ref=ref, on=at[:10])
        self._consumed(owner=owner.credit_code, quantity=quantity, approval=approval,
                       moves=moves, at=at)

    @event("Consumed", topic=event_topic("Instrument", "Consumed"))
    def _consumed(
        self, owner: str, quantity: int, approval: str, moves: list[Move], at: str
    ) -> None:
        self._apply(moves, state=CONSUMED, ref=approval)

    def retire(self, *, owner: Enterprise, quantity: int, reason: str, at: str) -> None:
        """Give units up for good (voluntary cancellation): they can never trade again. A
        restricted enterprise may not: retiring is a disposal its credit record bars."""
        check_quantity(quantity)
        owner.check_may_trade()
        moves = self._pick(quantity, owner=owner.credit_code, state=AVAILABLE, on=at[:10])
        self._retired(owner=owner.credit_code, quantity=quantity, reason=reason, moves=moves,
                      at=at)

    @event("Retired", topic=event_topic("Instrument", "Retired"))
    def _retired(self, owner: str, quantity: int, reason: str, moves: list[Move], at: str) -> None:
        self._apply(moves, state=RETIRED, ref=None)

    def expiring_reservations(self, *, as_of: str) -> dict[str, int]:
        """ref -> reserved units that `expire` with ``as_of`` would take (what it hits)."""
        refs: dict[str, int] = {}
        for b in self.blocks.values():
            if b[STATE] == RESERVED and self.lots[b[LOT]]["expires_on"] < as_of:
                refs[b[REF]] = refs.get(b[REF], 0) + b[LAST] - b[FIRST] + 1
        return refs

    def freezable(self, owner: str) -> int:
        """The owner's available units not yet frozen (what a freeze takes first)."""
        return sum(b[LAST] - b[FIRST] + 1 for b in self.blocks.values()
                   if b[OWNER] == owner and b[STATE] == AVAILABLE and not b[FROZEN])

    def expire(self, *, as_of: str, at: str) -> int:
        """Expire every available or reserved unit of lots whose validity ended before
        ``as_of`` (an ISO date). Returns the number of units expired."""
        moves: list[Move] = []
        refs: dict[str, int] = {}
        for b in self.iter_blocks():
            if b[STATE] in (AVAILABLE, RESERVED) and self.lots[b[LOT]]["expires_on"] < as_of:
                moves.append([b[FIRST], b[FIRST], b[LAST]])
                if b[STATE] == RESERVED:
                    refs[b[REF]] = refs.get(b[REF], 0) + b[LAST] - b[FIRST] + 1
        if not moves:
            return 0
        quantity = sum(m[2] - m[1] + 1 for m in moves)
        self._expired(as_of=as_of, quantity=quantity, reservations_hit=refs, moves=moves, at=at)
        return quantity

    @event("Expired", topic=event_topic("Instrument", "Expired"))
    def _expired(
        self, as_of: str, quantity: int, reservations_hit: dict[str, int], moves: list[Move],
        at: str,
    ) -> None:
        self._apply(moves, state=EXPIRED, ref=None, frozen=None)

    # -- freeze --------------------------------------------------------------------------------

    def freeze(self, *, owner: str, quantity: int | None, ref: str, reason: str, at: str) -> int:
        """Freeze an owner's available units (all of them when ``quantity`` is None)."""
        if not ref or not reason.strip():
            raise InvalidInput("a freeze needs a reference and a reason")
        if quantity is None:
            quantity = sum(b[LAST] - b[FIRST] + 1 for b in self.blocks.values()
                           if b[OWNER] == owner and b[STATE] == AVAILABLE and not b[FROZEN])
            if quantity == 0:
                raise InsufficientHoldings(f"{owner} has no unfrozen units of {self.code}")
        check_quantity(quantity)
        moves = self._pick(quantity, owner=owner, state=AVAILABLE)
        self._frozen(owner=owner, quantity=quantity, ref=ref, reason=reason, moves=moves, at=at)
        return quantity

    @event("Frozen", topic=event_topic("Instrument", "Frozen"))
    def _frozen(
        self, owner: str, quantity: int, ref: str, reason: str, moves: list[Move], at: str
    ) -> None:
        self._apply(moves, frozen=ref)

    def unfreeze(self, *, ref: str, at: str) -> int:
        moves = [[b[FIRST], b[FIRST], b[LAST]] for b in self.iter_blocks()
                 if b[FROZEN] == ref and b[STATE] == AVAILABLE]
        if not moves:
            raise NotFound(f"no frozen units of {self.code} under {ref!r}")
        quantity: int = sum(m[2] - m[1] + 1 for m in moves)
        self._unfrozen(ref=ref, quantity=quantity, moves=moves, at=at)
        return quantity

    @event("Unfrozen", topic=event_topic("Instrument", "Unfrozen"))
    def _unfrozen(self, ref: str, quantity: int, moves: list[Move], at: str) -> None:
        self._apply(moves, frozen=None)

    # -- revocation ----------------------------------------------------------------------------

    def revoke_lot(self, *, lot_id: str, reason: str, ref: str, at: str) -> dict[str, Any]:
        """Revoke a lot under the clawback policy in the module docstring. Returns what the
        event recorded: units lost per holder and the unrecoverable (consumed, retired) count."""
        lot = self.lots.get(lot_id)
        if lot is None:
            raise NotFound(f"no lot {lot_id} in {self.code}")
        if lot["revoked"]:
            raise AlreadyExists(f"lot {lot_id} is already revoked")
        moves: list[Move] = []
        lost: dict[str, int] = {}
        reservations: dict[str, int] = {}
        unrecoverable = 0
        for b in self.iter_blocks():
            if b[LOT] != lot_id:
                continue
            n = b[LAST] - b[FIRST] + 1
            if b[STATE] in (AVAILABLE, RESERVED):
                moves.append([b[FIRST], b[FIRST], b[LAST]])
                lost[b[OWNER]] = lost.get(b[OWNER], 0) + n
                if b[STATE] == RESERVED:
                    reservations[b[REF]] = reservations.get(b[REF], 0) + n
            elif b[STATE] in (CONSUMED, RETIRED):
                unrecoverable += n
        self._lot_revoked(lot_id=lot_id, reason=reason, ref=ref, lost_by_holder=lost,
                          reservations_hit=reservations, unrecoverable=unrecoverable,
                          moves=moves, at=at)
        return {"lost_by_holder": lost, "unrecoverable": unrecoverable,
                "reservations_hit": reservations}

    @event("LotRevoked", topic=event_topic("Instrument", "LotRevoked"))
    def _lot_revoked(
        self, lot_id: str, reason: str, ref: str, lost_by_holder: dict[str, int],
        reservations_hit: dict[str, int], unrecoverable: int, moves: list[Move], at: str,
    ) -> None:
        self.lots[lot_id]["revoked"] = True
        self._apply(moves, state=REVOKED, ref=ref, frozen=None)

    # -- exchange batches (group commit) -------------------------------------------------------
    #
    # The exchange keeps every unit set aside for its orders and pending trades reserved under
    # one *pool* reference per market (owner-filtered), and settles a whole batch of orders in
    # ONE event: per-order block splitting would cost an event (and a full block scan) each.
    # Ranges are picked lowest serial first and recorded in the event. Unlike `_pick` there is
    # no single-block preference: a seller would then never sell the small blocks it bought,
    # and blocks would grow by about one per trade (5x as many after 138k trades, measured)
    # in exchange for fewer ranges carved per batch.

    def pool_index(self) -> PoolIndex | None:
        """The exchange's index of the blocks, if built (not after a replay or a snapshot
        until the exchange first asks)."""
        index: PoolIndex | None = getattr(self, "_pool_index", None)
        return index

    def _indexed(self, pool: str) -> PoolIndex:
        """The index for ``pool``, built now if missing or built for another pool."""
        index = getattr(self, "_pool_index", None)
        if index is None or index.pool != pool:
            index = self._pool_index = PoolIndex.of(pool, self.blocks)
        return index

    def exchange_position(self, owner: str, *, pool: str, on: str) -> list[int]:
        """[usable available units, valid units reserved under ``pool``] of one owner.
        Usable: not frozen and valid on ``on`` (an ISO date)."""
        return self._indexed(pool).position(owner, self.lots, on)

    def exchange_positions(self, *, pool: str, on: str) -> dict[str, list[int]]:
        """``exchange_position`` of every owner that has any."""
        index = self._indexed(pool)
        out = {o: index.position(o, self.lots, on) for o in index.units}
        return {o: p for o, p in out.items() if p != [0, 0]}

    def settle_batch(
        self, *, pool: str, reserve: dict[str, int], transfers: list[list[Any]],
        release: dict[str, int], rule_version: str, ref: str, at: str,
    ) -> None:
        """Apply an exchange batch in one ``BatchSettled`` event, in this order: ``reserve``
        (owner -> units: available → reserved under ``pool``), ``transfers`` (``[seller,
        buyer, qty, trade]``: the seller's pool → the buyer's available units) and ``release``
        (owner -> units: pool → available). Raises `InsufficientHoldings` (changing nothing)
        when a step finds too few units. The caller checked the trading rules and credit
        standing per trade and names the rule version it applied.

        The plan (`domain.instrument_pool.plan_batch`) reads only the blocks the batch
        touches, through the pool index."""
        index = self._indexed(pool)
        steps, merges, plan = plan_batch(
            blocks=self.blocks, owned=self.owned, index=index, lots=self.lots, pool=pool,
            on=at[:10], reserve=reserve, transfers=transfers, release=release,
        )
        if steps:
            # the plan updates the index in bulk; following each carved range costs more
            self._pool_index = None
            self._batch_settled(pool=pool, rule_version=rule_version, ref=ref, steps=steps,
                                merges=merges, at=at)
            index.settled(plan)
            self._pool_index = index

    @event("BatchSettled", topic=event_topic("Instrument", "BatchSettled"))
    def _batch_settled(
        self, pool: str, rule_version: str, ref: str, steps: list[list[Any]],
        merges: list[list[int]], at: str,
    ) -> None:
        for stored in steps:  # later steps' ranges were picked on un-merged blocks
            step = step_of(stored)
            if type(step) is TransferStep:
                self._apply(step.moves, owner=step.buyer, state=AVAILABLE, ref=None,
                            coalesce=False)
            elif step.step == "reserve":
                self._apply(step.moves, state=RESERVED, ref=pool, coalesce=False)
            else:
                self._apply(step.moves, state=AVAILABLE, ref=None, coalesce=False)
        # neighbouring blocks that now agree in everything but their range become one, so the
        # number of blocks tracks ownership, not the number of trades that made it
        blocks = self.blocks
        index = getattr(self, "_pool_index", None)
        for first, last in merges:
            head = blocks[str(first)]
            while head[LAST] < last:
                absorbed = blocks.pop(str(head[LAST] + 1))
                if index is not None:
                    index.absorbed(absorbed)
                self._disown(absorbed[OWNER], absorbed[FIRST])
                head[LAST] = absorbed[LAST]
