"""Markets, orders and market data (depth, recent trades, price history, a live stream).

Orders go through the app's `OrderGateway`: concurrent requests, of every market, are matched
and stored in one save, and each request is answered only after the save holding it returned.
An enterprise token acts for its own credit code only; ``entered_by`` is the token's subject, so
the four-eyes check of the verification queue knows who initiated a trade.

Market data is open to every authenticated caller and never names an account; reads come from
the `MarketData` read model, refreshed from the event log on every request.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import (
    Administrator,
    Page,
    PageDep,
    RegistryDep,
    StateDep,
    acting_for,
    authorize_enterprise,
    not_found,
    now,
    paginate,
)
from api.errors import TYPE_BASE, ApiError, status_of
from api.ledger_refs import order_batch_at, order_recorded, trade_at, with_ledger
from api.order_route import OrderRoute
from api.reruns import is_rerun, stored_cancel, stored_order
from api.routes import market_stream
from api.routes.proposals import proposed
from api.schemas.ledger import LedgerRef
from api.schemas.markets import (
    Bar,
    Book,
    BulkCancel,
    BulkIn,
    BulkOrder,
    BulkOut,
    CreditCode,
    Fill,
    InstrumentPath,
    Market,
    MarketHalt,
    MarketOpen,
    MarketParameters,
    MarketRecorded,
    Order,
    OrderAck,
    OrderAmend,
    OrderIdPath,
    OrderIn,
    PublicTrade,
)
from api.schemas.proposals import ProposalPublic
from api.state import AppState
from api.tokens import Principal
from domain.errors import AlreadyExists, NotFound, RegistryError
from domain.exchange.market import Market as MarketAggregate
from domain.exchange.orders import Amend, Cancel, Outcome, raise_refusal
from domain.exchange.orders import Order as OrderRequest
from registry.market_data import MarketData, MarketView

router = APIRouter(prefix="/markets", tags=["markets"])
Levels = Annotated[int, Query(ge=1, le=50, description="price levels per side")]
AccountQuery = Annotated[CreditCode | None, Query(description="administrators: the enterprise")]


def _view(data: MarketData, instrument: str) -> MarketView:
    view = data.markets.get(instrument)
    if view is None:
        raise NotFound(f"market {instrument} not found")
    return view


def _market(view: MarketView) -> Market:
    m = view.market
    params = m.market_params()
    lower, upper = params.book_rules().price_bounds()
    return Market(instrument=m.instrument, kind=m.kind, zone=m.zone, **params.to_dict(),
                  lower_price=lower, upper_price=upper, best_bid=m.book.best_bid(),
                  best_ask=m.book.best_ask(), last_price=view.last_price,
                  opened_at=view.opened_at)


# -- orders (first: the router tries its routes in order, and order entry is the busiest) ----------


def _ack(instrument: str, account: str, outcome: Outcome,
         batch: LedgerRef | None = None) -> OrderAck:
    """The answer to a request that went in; with ``batch``, the leaf that recorded it, and
    each fill's trade in it (as `_recorded` adds them)."""
    fills = [Fill(trade=f[0], price=f[1], quantity=f[2], state=f[3],
                  ledger=None if batch is None else trade_at(batch, f[0]))
             for f in outcome.fills]
    return OrderAck(order_id=outcome.order_id, instrument=instrument, account=account,
                    status=outcome.status,  # type: ignore[arg-type]  # refusals were raised
                    fills=fills, filled=outcome.filled if outcome.status == "cancelled"
                    else sum(f.quantity for f in fills),
                    resting=outcome.resting, ledger=batch)


def _answered(state: AppState, instrument: str, account: str, outcome: Outcome) -> OrderAck:
    """The answer to a request that went in, with where it sits in the ledger: the batch leaf
    that recorded it, and in it each fill's trade with the trade's receipt (`api.ledger_refs`).
    The leaf is the one at ``outcome.position``, where the save holding the request put its
    batch; when that is not known (a commit resolved after a failure) it is searched for."""
    if outcome.position is None:
        return _searched(state, _ack(instrument, account, outcome))
    return _ack(instrument, account, outcome,
                order_batch_at(state, outcome.position, instrument=instrument))


def _searched(state: AppState, ack: OrderAck) -> OrderAck:
    """``ack`` (an answer whose save's position is not known: a retry answering what a first
    run stored, a commit resolved after a failure) with its batch leaf, searched for in the
    log, and each fill's trade in it."""
    batch = order_recorded(state, 0, instrument=ack.instrument, order_id=ack.order_id)
    fills = ack.fills if batch is None else [
        f.model_copy(update={"ledger": trade_at(batch, f.trade)}) for f in ack.fills]
    return ack.model_copy(update={"fills": fills, "ledger": batch})


async def submit_order(instrument: InstrumentPath, body: OrderIn, user: CurrentUser,
                       state: StateDep, request: Request) -> OrderAck:
    """A limit or market order (market orders are immediate-or-cancel). Answered once stored:
    the fills, each ``settled`` (delivery-versus-payment done) or ``pending`` (waiting in the
    verification queue), and the quantity left resting."""
    account = acting_for(user, body.account)
    order = OrderRequest(body.order_id or uuid.uuid4().hex, account,
                         "B" if body.side == "buy" else "S",
                         "L" if body.kind == "limit" else "M",
                         body.price if body.kind == "limit" and body.price else 0,
                         body.quantity, user.actor, body.time_in_force.upper())
    outcome = await state.gateway.submit_async(instrument, order)
    if outcome.exception is not None and is_rerun(request):
        stored = await run_in_threadpool(stored_order, state, instrument, order)
        if stored is not None:  # the first run's order went in
            return await run_in_threadpool(_searched, state, stored)
    return await _answer(state, instrument, account, raise_refusal(outcome))


async def _answer(state: AppState, instrument: str, account: str,
                  outcome: Outcome) -> OrderAck:
    """`_answered`, on the event loop when the batch's ledger index is kept (the gateway
    counts it before waking the batch's callers: no store read), else in the thread pool."""
    position = outcome.position
    if position is not None and state.leaf_indexes.known(position) is not None:
        return _answered(state, instrument, account, outcome)
    return await run_in_threadpool(_answered, state, instrument, account, outcome)


# its class answers well-formed requests without FastAPI's dependency solving (`api.order_route`)
router.add_api_route("/{instrument}/orders", submit_order, methods=["POST"],
                     status_code=status.HTTP_201_CREATED, name="submit_order",
                     route_class_override=OrderRoute)


# -- markets -----------------------------------------------------------------------------------


@router.get("")
def list_markets(state: StateDep, _: CurrentUser, page: PageDep) -> Page[Market]:
    """Every open market (instrument) with its parameters and best prices."""
    data = state.market_view()
    with data.lock:
        items = [_market(data.markets[code]) for code in sorted(data.markets)]
    return paginate(items, page)


@router.post("", status_code=202)
def open_market(body: MarketOpen, user: Administrator, registry: RegistryDep, state: StateDep,
                response: Response) -> ProposalPublic:
    """Propose opening the order book of an issued instrument (administrators; it opens when
    a second administrator approves)."""
    registry.instrument(body.instrument)
    if registry.exists(MarketAggregate.create_id(body.instrument)):
        raise AlreadyExists(f"market {body.instrument} is already open")
    params = body.model_dump()
    if params["sessions"] is None:  # absent: the market's default sessions
        del params["sessions"]
    return proposed(state, response, user.actor, "open_market", **params)


@router.get("/{instrument}")
def get_market(instrument: InstrumentPath, state: StateDep, _: CurrentUser) -> Market:
    data = state.market_view()
    with data.lock:
        return _market(_view(data, instrument))


@router.post("/{instrument}/parameters", status_code=202)
def set_parameters(instrument: InstrumentPath, body: MarketParameters, user: Administrator,
                   registry: RegistryDep, state: StateDep, response: Response) -> ProposalPublic:
    """Propose a new reference price (the day's band) and/or verification threshold
    (administrators; four eyes). The proposer becomes an initiator of the trades made under
    them."""
    changes = body.model_dump(exclude_unset=True)
    if not registry.exists(MarketAggregate.create_id(instrument)):
        raise not_found(f"market {instrument}")
    return proposed(state, response, user.actor, "set_market_parameters",
                    instrument=instrument, reference_price=changes.get("reference_price"),
                    verify_above=changes.get("verify_above", "keep"))


@router.post("/{instrument}/halt")
def halt(instrument: InstrumentPath, body: MarketHalt, user: Administrator,
         registry: RegistryDep, state: StateDep) -> MarketRecorded:
    """Stop the market taking orders (administrators): resting orders are held, cancels still
    release what they hold; 409 when already halted."""
    before = registry.queries.position()
    registry.lifecycle.halt_market(instrument=instrument, reason=body.reason,
                                   administrator=user.actor, at=now())
    return _market_recorded(state, instrument, before, "Halted")


@router.post("/{instrument}/resume")
def resume(instrument: InstrumentPath, body: MarketHalt, user: Administrator,
           registry: RegistryDep, state: StateDep) -> MarketRecorded:
    """Take orders again after a halt (administrators); 409 when not halted."""
    before = registry.queries.position()
    registry.lifecycle.resume_market(instrument=instrument, reason=body.reason,
                                     administrator=user.actor, at=now())
    return _market_recorded(state, instrument, before, "Resumed")


def _market_recorded(state: AppState, instrument: str, before: int,
                     event: str) -> MarketRecorded:
    data = state.market_view()
    with data.lock:
        shown = _market(_view(data, instrument))
    return with_ledger(shown, state, before, subject_type="market", subject=instrument,
                       event=event, as_=MarketRecorded)


@router.get("/{instrument}/book")
def book(instrument: InstrumentPath, state: StateDep, _: CurrentUser,
         levels: Levels = 10) -> Book:
    """Order-book depth: the best ``levels`` price levels per side, aggregated."""
    data = state.market_view()
    _view(data, instrument)
    return Book.model_validate(data.depth(instrument, levels))


def submit_bulk(instrument: InstrumentPath, body: BulkIn, user: CurrentUser,
                state: StateDep, request: Request) -> Response:
    """Up to 1,000 orders and cancels of ONE account (authorised as a single order: an
    enterprise for itself, an administrator naming the account), matched in their order and
    stored in one save of the exchange's group commit. Each item is answered at its place:
    what it did, or ``refused`` with the problem its single request would have answered (the
    others proceed). A malformed entry is refused whole (422) and stores nothing. With an
    ``Idempotency-Key`` a retry answers the stored response."""
    account, actor = acting_for(user, body.account), user.actor
    requests = [_bulk_request(item, account, actor) for item in body.items]
    outcomes = state.gateway.submit_many(instrument, requests)
    rerun = is_rerun(request)
    items = [_bulk_item(state, instrument, account, i, r, o, rerun=rerun)
             for i, (r, o) in enumerate(zip(requests, outcomes, strict=True))]
    refused = sum(item["status"] == "refused" for item in items)
    # where the save put the batch of the first item that went in (a retry's items may be
    # what a first run stored: searched for)
    position = None if rerun else next(
        (o.position for o in outcomes if o.exception is None), None)
    batch = _bulk_recorded(state, position, instrument, items)
    # built as plain values in the shape of BulkOut (a thousand items validated again as
    # models would cost more than the matching); tests/api/test_bulk_orders.py checks the
    # answer against the model
    answer = {"instrument": instrument, "account": account, "accepted": len(items) - refused,
              "refused": refused, "items": items, "ledger": batch}
    raw = state.registry.speedups.answer_bytes(answer)  # `registry.speedups`: orjson_answers
    if raw is None:
        return JSONResponse(answer, status_code=status.HTTP_201_CREATED)
    return Response(raw, status_code=status.HTTP_201_CREATED, media_type="application/json")


# answered as the single order is, without FastAPI's dependency solving (`api.order_route`)
router.add_api_route("/{instrument}/bulk-orders", submit_bulk, methods=["POST"],
                     status_code=status.HTTP_201_CREATED, response_model=BulkOut,
                     name="submit_bulk", route_class_override=OrderRoute)


def _bulk_recorded(state: AppState, position: int | None, instrument: str,
                   items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The batch leaf that recorded the entry (one save: one leaf), that of its first item
    that went in (at ``position``, or searched for by that item when it is not known), and in
    it each fill's trade with the trade's own receipt (set on the items, as a single order's
    fills carry theirs)."""
    first = next((item for item in items if item["status"] != "refused"), None)
    if first is None:
        return None
    batch = (order_recorded(state, 0, instrument=instrument, order_id=first["order_id"])
             if position is None else order_batch_at(state, position, instrument=instrument))
    if batch is None:
        return None
    recorded = batch.model_dump()
    for item in items:
        for fill in item["fills"]:
            trade = fill["trade"]  # as `trade_at` says, built as plain values
            fill["ledger"] = {**recorded, "subject_type": "trade", "subject": trade,
                              "receipt": f"/trades/{quote(trade, safe=':')}/receipt"}
    return recorded


_SIDES = {"buy": "B", "sell": "S"}
_TIMES_IN_FORCE = {"day": "DAY", "gtc": "GTC"}


def _bulk_request(item: BulkOrder | BulkCancel, account: str,
                  actor: str) -> OrderRequest | Cancel:
    """The exchange's request of one item, as the single order or cancel route makes it."""
    if item.action == "cancel":
        return Cancel(item.order_id, account, actor)
    limit = item.kind == "limit"
    return OrderRequest(item.order_id or uuid.uuid4().hex, account, _SIDES[item.side],
                        "L" if limit else "M", item.price if limit and item.price else 0,
                        item.quantity, actor, _TIMES_IN_FORCE[item.time_in_force])


def _bulk_item(state: AppState, instrument: str, account: str, index: int,
               request: OrderRequest | Cancel, outcome: Outcome, *,
               rerun: bool) -> dict[str, Any]:
    """One item of `BulkOut`: what it did, or ``refused`` with its problem."""
    exc = outcome.exception
    if exc is None and not outcome.fills:  # most items of an entry: nothing traded
        return {"index": index, "action": "cancel" if isinstance(request, Cancel) else "order",
                "order_id": outcome.order_id, "status": outcome.status, "fills": [],
                "filled": outcome.filled if outcome.status == "cancelled" else 0,
                "resting": outcome.resting, "problem": None}
    action = "cancel" if isinstance(request, Cancel) else "order"
    if exc is not None and rerun:  # a retry of an entry in doubt: what the first run stored
        stored = (stored_cancel(state, instrument, request.order_id, account)
                  if isinstance(request, Cancel) else stored_order(state, instrument, request))
        if stored is not None:
            return {"index": index, "action": action, **stored.model_dump(
                include={"order_id", "status", "fills", "filled", "resting"}),
                "problem": None}
    if exc is not None:
        if not isinstance(exc, RegistryError):
            raise exc  # not a refusal: the entry fails as a single request would
        return {"index": index, "action": action, "order_id": request.order_id,
                "status": "refused", "fills": [], "filled": 0, "resting": 0,
                "problem": {"type": TYPE_BASE + exc.code, "title": type(exc).__name__,
                            "status": status_of(exc), "detail": str(exc)}}
    fills = [{"trade": f[0], "price": f[1], "quantity": f[2], "state": f[3]}
             for f in outcome.fills]
    return {"index": index, "action": action, "order_id": outcome.order_id,
            "status": outcome.status, "fills": fills,
            "filled": outcome.filled if outcome.status == "cancelled"
            else sum(f[2] for f in outcome.fills), "resting": outcome.resting,
            "problem": None}


@router.delete("/{instrument}/orders/{order_id}")
async def cancel_order(instrument: InstrumentPath, order_id: OrderIdPath, user: CurrentUser,
                       state: StateDep, request: Request,
                       account: AccountQuery = None) -> OrderAck:
    """Cancel a resting order of the caller's enterprise (another's answers 404)."""
    who = acting_for(user, account)
    cancel = Cancel(order_id, who, user.actor)
    outcome = await state.gateway.submit_async(instrument, cancel)
    if outcome.exception is not None and is_rerun(request):
        stored = await run_in_threadpool(stored_cancel, state, instrument, order_id, who)
        if stored is not None:  # the first run's cancel
            return stored
    return await _answer(state, instrument, who, raise_refusal(outcome))


@router.patch("/{instrument}/orders/{order_id}")
async def amend_order(instrument: InstrumentPath, order_id: OrderIdPath, body: OrderAmend,
                      user: CurrentUser, state: StateDep,
                      account: AccountQuery = None) -> OrderAck:
    """Amend a resting order of the caller's enterprise (another's answers 404)."""
    who = acting_for(user, account)
    amend = Amend(order_id, who, body.quantity, body.price, user.actor)
    outcome = raise_refusal(await state.gateway.submit_async(instrument, amend))
    return await _answer(state, instrument, who, outcome)


def _own_orders(user: Principal, account: str | None) -> str | None:
    """Whose orders a caller lists: an enterprise its own; administrators and auditors
    everyone's or one ``account``'s."""
    if user.role == "enterprise":
        return authorize_enterprise(user, account or user.subject, "orders of")
    if user.role in ("administrator", "auditor"):
        return account
    raise ApiError(403, "forbidden", "this needs the role enterprise, administrator or auditor")


@router.get("/{instrument}/orders")
def list_orders(instrument: InstrumentPath, user: CurrentUser, state: StateDep, page: PageDep,
                account: AccountQuery = None,
                status_: Annotated[Literal["open", "filled", "cancelled", "expired"] | None,
                                   Query(alias="status")] = None) -> Page[Order]:
    """The caller's orders on this market, newest first."""
    who = _own_orders(user, account)
    data = state.market_view()
    _view(data, instrument)
    rows = [o for o in reversed(data.orders_of_account(who, instrument))
            if status_ is None or o["status"] == status_]
    return paginate([_order(o) for o in rows], page)


@router.get("/{instrument}/orders/{order_id}")
def get_order(instrument: InstrumentPath, order_id: OrderIdPath, user: CurrentUser,
              state: StateDep) -> Order:
    data = state.market_view()
    with data.lock:
        record = data.orders.get((instrument, order_id))
        mine = record is not None and (user.role in ("administrator", "auditor") or (
            user.role == "enterprise" and user.subject == record["account"]))
        if record is None or not mine:  # the same answer: nobody learns whose it is
            raise not_found(f"order {order_id}")
        return _order(dict(record))


def _order(o: dict[str, object]) -> Order:
    return Order.model_validate({k: v for k, v in o.items() if k in Order.model_fields})


# -- market data -------------------------------------------------------------------------------


@router.get("/{instrument}/trades")
def recent_trades(instrument: InstrumentPath, state: StateDep, _: CurrentUser,
                  page: PageDep) -> Page[PublicTrade]:
    """The market's trades, newest first (rejected ones left out); no account is named."""
    data = state.market_view()
    with data.lock:
        trades = _view(data, instrument).trades
        shown = [t for t in reversed(trades) if t["state"] != "rejected"]
        return paginate([PublicTrade.model_validate(
            {k: t[k] for k in PublicTrade.model_fields}) for t in shown], page)


@router.get("/{instrument}/history")
def price_history(instrument: InstrumentPath, state: StateDep, _: CurrentUser, page: PageDep,
                  interval: Literal["day", "hour"] = "day") -> Page[Bar]:
    """OHLC bars of executed trades per day or hour (China Standard Time), oldest first."""
    data = state.market_view()
    _view(data, instrument)
    return paginate([Bar.model_validate(b) for b in data.history(instrument, interval)], page)


router.include_router(market_stream.router)  # after the order routes (see "orders")
