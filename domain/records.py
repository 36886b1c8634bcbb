"""The records stored events carry as JSON lists, named once, with their encoding.

A stored event is a contract (its bytes are ledger leaves): an exchange batch records its
trades, requests and self-trade cancels, and a settlement its steps, as positional lists, and
replays, exports and read models read them back. Each record has ONE named shape here, a
`NamedTuple` (a tuple: as fast to build and read as the list, and it encodes to the same JSON
list), and every reader turns the stored list into it with ``of`` (or `op_of`) instead of
indexing by position; the domain builds a record by name and stores ``list(record)``. The
positions live only in the field order below.

`Block` is the named view of one serial block of an instrument (`domain.instrument`), whose
state keeps blocks as lists, which its snapshots store.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, NamedTuple


class Trade(NamedTuple):
    """One trade of a ``Market.BatchMatched`` event (``trades``)."""

    trade_id: str
    op_index: int  #: the index, in the batch's ``ops``, of the request that took liquidity
    taker: str  #: the taking order's id
    maker: str  #: the resting order's id
    price: int  #: fen per tonne
    qty: int  #: kg
    buyer: str
    seller: str
    value: int  #: fen
    reasons: list[str]  #: why it waits for an administrator (none: it settled)
    initiators: list[str]  #: who may not approve it (four eyes)

    @classmethod
    def of(cls, stored: list[Any]) -> Trade:
        return cls(*stored)

    def fill(self) -> list[Any]:
        """What the matching core produced: ``[op index, taker, maker, price, qty]``."""
        return [self.op_index, self.taker, self.maker, self.price, self.qty]


def stored_trade(trade_id: str, op_index: int, taker: str, maker: str, price: int, qty: int,
                 buyer: str, seller: str, value: int, reasons: list[str],
                 initiators: list[str]) -> list[Any]:
    """``list(Trade(...))`` of these fields, without building the record on the way (a batch
    stores thousands): `Trade`'s fields in its order (a test holds the two equal)."""
    return [trade_id, op_index, taker, maker, price, qty, buyer, seller, value, reasons,
            initiators]


# Every batch's event reads all its trades when it is applied (at command time and on
# replay), so these three read the stored lists by position, here, once.
_OP_INDEX, _PRICE, _QTY, _VALUE, _REASONS = (Trade._fields.index(name) for name in (
    "op_index", "price", "qty", "value", "reasons"))


_value_of, _qty_of = itemgetter(_VALUE), itemgetter(_QTY)


def recorded_fills(trades: list[list[Any]]) -> list[list[Any]]:
    """`Trade.fill` of every stored trade (the fields from ``op_index`` to ``qty`` are
    consecutive)."""
    return [t[_OP_INDEX:_QTY + 1] for t in trades]


def trade_totals(trades: list[list[Any]]) -> tuple[int, int, int]:
    """(the last trade's price, total value, total quantity) of stored trades (not empty)."""
    return (trades[-1][_PRICE], sum(map(_value_of, trades)), sum(map(_qty_of, trades)))


def pending_trades(trades: list[list[Any]]) -> list[Trade]:
    """The stored trades that wait for an administrator (they name reasons)."""
    return [Trade._make(t) for t in trades if t[_REASONS]]


class Submit(NamedTuple):
    """An order entered in a batch (``["S", …]`` in ``ops``). Orders recorded before time in
    force existed have no ``tif`` and rest as day orders."""

    op: str
    order_id: str
    account: str
    side: str
    kind: str
    price: int
    qty: int
    entered_by: str
    tif: str = "DAY"


class CancelOp(NamedTuple):
    """A resting order taken off the book (``["C", order id, by]``)."""

    op: str
    order_id: str
    by: str


class AmendOp(NamedTuple):
    """Less quantity at the same price, keeping the order's place (``["A", id, qty, by]``)."""

    op: str
    order_id: str
    qty: int
    by: str


Op = Submit | CancelOp | AmendOp
_OPS: dict[str, Any] = {"S": Submit, "C": CancelOp, "A": AmendOp}


def op_of(stored: list[Any]) -> Op:
    """The named request of one stored ``ops`` entry."""
    op: Op = _OPS[stored[0]](*stored)
    return op


class StpCancel(NamedTuple):
    """A resting order self-trade prevention cancelled (``stp``): the op that met it."""

    op_index: int
    order_id: str

    @classmethod
    def of(cls, stored: list[Any]) -> StpCancel:
        return cls(*stored)


class TransferStep(NamedTuple):
    """A ``BatchSettled`` step moving units from the seller's pool to the buyer."""

    step: str  #: "transfer"
    seller: str
    buyer: str
    quantity: int
    trade: str
    moves: list[list[int]]


class PoolStep(NamedTuple):
    """A ``BatchSettled`` step reserving units into the pool or releasing them."""

    step: str  #: "reserve" or "release"
    owner: str
    quantity: int
    moves: list[list[int]]


Step = TransferStep | PoolStep


def stored_transfer(seller: str, buyer: str, quantity: int, trade: str,
                    moves: list[list[int]]) -> list[Any]:
    """``list(TransferStep("transfer", ...))``, without building the record on the way (one
    per trade of a batch; a test holds the two equal)."""
    return ["transfer", seller, buyer, quantity, trade, moves]


def stored_pool_step(step: str, owner: str, quantity: int, moves: list[list[int]]) -> list[Any]:
    """``list(PoolStep(...))``, the same way."""
    return [step, owner, quantity, moves]


_TRANSFER, _POOL = len(TransferStep._fields), len(PoolStep._fields)
_new = tuple.__new__  # a record from a stored list of its length: nothing to check again


def step_of(stored: list[Any]) -> Step:
    """The named step of one stored ``steps`` entry (a list of another length is refused as
    the records' constructors refuse it)."""
    if stored[0] == "transfer":
        return _new(TransferStep, stored) if len(stored) == _TRANSFER else TransferStep(*stored)
    return _new(PoolStep, stored) if len(stored) == _POOL else PoolStep(*stored)


class Block(NamedTuple):
    """One serial block of an instrument: ``[first, last]`` share owner, state, lot, the
    reservation reference and the freeze reference."""

    first: int
    last: int
    owner: str
    state: str
    lot: str
    ref: str | None
    frozen: str | None

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1


#: positions of `Block`'s fields in an instrument's block lists, for `domain.instrument` and
#: `domain.instrument_pool` only, which keep and update blocks as lists (their snapshots'
#: shape); everyone else reads `Block` records (`Instrument.block_record` and friends)
FIRST, LAST, OWNER, STATE, LOT, REF, FROZEN = range(len(Block._fields))
