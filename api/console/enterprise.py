"""The enterprise's pages: what a signed-in trader of one enterprise sees and does.

- ``/console/enterprise``: the dashboard (holdings per instrument with their serial blocks and
  states, cash, and what awaits the enterprise: open orders, pending trades, agreements
  offered to it, requests awaiting a second representative, applications under review);
- ``/console/enterprise/markets/{instrument}``: live depth and trades (server-sent events of
  the API's own feed, ``api.routes.market_stream``), a price chart, order entry showing the
  day's band and the lot, the enterprise's orders there with amend and cancel;
- ``/console/enterprise/orders``: its orders and trades across markets, with receipts;
- agreements (accept, decline), the requests awaiting a second representative of the
  enterprise (confirm, reject, withdraw) and the setting that requires one, auctions (sealed
  bids), expansion applications, retrofits and their stage, the annual report (a printable
  page and CSV), receipts with the command that verifies them offline.

Every read and every act goes through the API's own route functions (``api.routes.*``) with the
session's principal, so an enterprise sees and acts on its own account only, exactly as with a
token; every form carries the session's CSRF token (`api.console.roles.posted`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.concurrency import run_in_threadpool

from api.console.amounts import parse_exact
from api.console.pages import MarketSummary
from api.console.render import page
from api.console.roles import Caller, Memo, Refusal, attempt, call, posted, signed_in
from api.console.sessions import Session
from api.console.terms import N_
from api.deps import PageParams, StateDep
from api.routes import (
    agreements,
    auctions,
    cash,
    expansions,
    holdings,
    market_stream,
    markets,
    reports,
    representatives,
    retrofits,
    trades,
)
from api.schemas.markets import InstrumentPath, OrderAmend, OrderIdPath, OrderIn
from api.schemas.trades import TradeIdPath
from api.state import AppState
from domain.errors import NotFound
from registry.clock import CHINA_TIME
from registry.market_data import FEED_LEVELS

router = APIRouter(prefix="/console/enterprise", include_in_schema=False)
ROLE = "enterprise"
ALL = PageParams(offset=0, limit=200)
#: the points of the price chart: the market's latest trades
CHART_TRADES = 60
Reference = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]
#: dashboards and annual reports by enterprise and log position (`Memo`)
BUILT = Memo()


def _me(request: Request) -> Session:
    return signed_in(request, ROLE)


def _as(session: Session, state: AppState, request: Request | None = None) -> Caller:
    """The signed-in representative calling a route (`api.console.roles.call`)."""
    return Caller(session.principal, state, request)


# -- the dashboard -----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, state: StateDep) -> Response:
    session = _me(request)
    code = session.principal.subject
    facts = BUILT.get(("dashboard", code, state.registry.queries.position()),
                      lambda: _dashboard(state, session))
    return page(request, "enterprise/dashboard.html", title=N_("Your enterprise"), code=code,
                **facts)


def _dashboard(state: AppState, session: Session) -> dict[str, Any]:
    me, code, registry = _as(session, state), session.principal.subject, state.registry
    rows = call(me, holdings.holdings, code, ALL).items
    blocks = {row.instrument: call(me, holdings.holding, code, row.instrument).blocks
              for row in rows}
    data = state.market_view()
    with data.lock:
        open_markets = set(data.markets)
    open_orders = [o for o in data.orders_of_account(code) if o["status"] == "open"]
    pending = [t for t in data.trades_of(code) if t["state"] == "pending"]
    offered = [a for a in call(me, agreements.list_agreements, ALL, "offered").items
               if a.buyer == code]
    reviews = [x for x in call(me, expansions.list_expansions, ALL).items
               if x.state == "submitted"]
    requests = call(me, representatives.list_requests, code, ALL, "pending").items
    return {"enterprise": registry.enterprise(code), "rows": rows, "blocks": blocks,
            "requests": requests, "cash": call(me, cash.get_account, code),
            "open_orders": open_orders, "pending": pending, "offered": offered, "reviews": reviews,
            "open_markets": open_markets}


# -- markets and orders ------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeChart:
    """The latest trade prices as a polyline, oldest to newest, in a fixed view box; the
    page's script extends it as trades arrive."""

    width: int
    height: int
    points: str
    low: int
    high: int
    count: int
    prices: list[int]


def trade_chart(prices: list[int], width: int = 600, height: int = 160) -> TradeChart:
    low, high = (min(prices), max(prices)) if prices else (0, 0)
    span = (high - low) or 1
    shown = prices if len(prices) != 1 else prices * 2  # one trade: a level line
    step = (width - 20) / max(len(shown) - 1, 1)
    points = " ".join(f"{10 + n * step:.1f},{height - 10 - (p - low) * (height - 20) / span:.1f}"
                      for n, p in enumerate(shown))
    return TradeChart(width, height, points, low, high, len(prices), prices)


def _market_page(request: Request, state: AppState, session: Session, instrument: str, *,
                 refusal: Refusal | None = None, form: dict[str, str] | None = None) -> Response:
    code = session.principal.subject
    data = state.market_view()
    with data.lock:
        view = data.markets.get(instrument)
        if view is None:
            raise NotFound(f"market {instrument} not found")
        summary = MarketSummary.of(data, view)
        recent = data.recent_trades(instrument, CHART_TRADES)
        halted = view.market.halted is not None
    depth = data.depth(instrument, FEED_LEVELS)
    mine = list(reversed(data.orders_of_account(code, instrument)))
    return page(request, "enterprise/market.html", title=instrument,
                status=refusal.status if refusal else 200, market=summary, depth=depth,
                trades=recent[:20], chart=trade_chart([t["price"] for t in reversed(recent)]),
                orders=mine, refusal=refusal, form=form or {}, halted=halted,
                feed_after=data.seq)


@router.get("/markets", response_class=HTMLResponse)
def market_list(request: Request) -> Response:
    _me(request)
    return RedirectResponse("/console/enterprise/orders", status_code=303)


@router.get("/markets/{instrument}", response_class=HTMLResponse)
def market(request: Request, state: StateDep, instrument: InstrumentPath) -> Response:
    return _market_page(request, state, _me(request), instrument)


@router.get("/markets/{instrument}/stream", response_class=StreamingResponse)
def stream(request: Request, state: StateDep, instrument: InstrumentPath,
           after: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    """The API's live feed of this market (``GET /markets/{instrument}/stream``) for the
    signed-in page: the same events, its session instead of a bearer token."""
    session = _me(request)
    last_seen = request.headers.get("last-event-id")  # a reconnect goes on from there
    return call(_as(session, state), market_stream.stream, instrument, timeout=30, limit=1000,
                after=None if last_seen else after, last_event_id=last_seen)


def _quantity(fields: dict[str, str], name: str = "quantity") -> int:
    return parse_exact(fields.get(name, ""), 3)  # tonnes as typed -> kg


def _price(fields: dict[str, str], name: str = "price") -> int | None:
    text = fields.get(name, "").strip()
    return None if not text else parse_exact(text, 2)  # yuan per tonne as typed -> fen


@router.post("/markets/{instrument}/orders", response_class=HTMLResponse)
async def place_order(request: Request, state: StateDep, instrument: InstrumentPath) -> Response:
    session, fields = await posted(request, ROLE)

    def act() -> Any:
        kind = fields.get("kind", "limit")
        body = OrderIn.model_validate({
            "order_id": f"W-{uuid.uuid4().hex[:20]}", "side": fields.get("side"),
            "kind": kind, "price": _price(fields) if kind == "limit" else None,
            "quantity": _quantity(fields),
            "time_in_force": fields.get("time_in_force", "day")})
        return call(_as(session, state, request), markets.submit_order, instrument, body)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_market_page, request, state, session, instrument,
                                       refusal=done, form=fields)
    return RedirectResponse(f"/console/enterprise/orders?placed={done.order_id}",
                            status_code=303)


@router.post("/markets/{instrument}/orders/{order_id}/amend", response_class=HTMLResponse)
async def amend_order(request: Request, state: StateDep, instrument: InstrumentPath,
                      order_id: OrderIdPath) -> Response:
    session, fields = await posted(request, ROLE)

    def act() -> Any:
        body = OrderAmend(quantity=_quantity(fields), price=_price(fields))
        return call(_as(session, state), markets.amend_order, instrument, order_id, body)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_market_page, request, state, session, instrument,
                                       refusal=done)
    return RedirectResponse(f"/console/enterprise/orders?amended={order_id}", status_code=303)


@router.post("/markets/{instrument}/orders/{order_id}/cancel", response_class=HTMLResponse)
async def cancel_order(request: Request, state: StateDep, instrument: InstrumentPath,
                       order_id: OrderIdPath) -> Response:
    session, _ = await posted(request, ROLE)
    done = await run_in_threadpool(attempt, session, lambda: call(
        _as(session, state, request), markets.cancel_order, instrument, order_id))
    if isinstance(done, Refusal):
        return await run_in_threadpool(_market_page, request, state, session, instrument,
                                       refusal=done)
    return RedirectResponse(f"/console/enterprise/orders?cancelled={order_id}",
                            status_code=303)


@router.get("/orders", response_class=HTMLResponse)
def orders(request: Request, state: StateDep,
           placed: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The enterprise's orders on every market, newest first, and its trades."""
    session = _me(request)
    code = session.principal.subject
    data = state.market_view()
    mine = list(reversed(data.orders_of_account(code)))
    with data.lock:
        instruments = sorted(data.markets)
    just = next((o for o in mine if o["order_id"] == placed), None)  # only its own
    return page(request, "enterprise/orders.html", title=N_("Your orders and trades"),
                orders=mine, trades=call(_as(session, state), trades.list_trades, ALL).items,
                instruments=instruments, placed=just)


# -- receipts ----------------------------------------------------------------------------------


def _json_download(body: Any, name: str) -> Response:
    return JSONResponse(body.model_dump(mode="json"), headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/trades/{trade_id}/receipt.json")
def trade_receipt(request: Request, state: StateDep, trade_id: TradeIdPath) -> Response:
    """The trade's ledger receipt (as ``GET /trades/{id}/receipt``), to download."""
    session = _me(request)
    found = call(_as(session, state), trades.trade_receipt, trade_id)
    return _json_download(found, f"receipt-{trade_id.replace(':', '-')}.json")


@router.get("/agreements/{reference}/receipt.json")
def agreement_receipt(request: Request, state: StateDep, reference: Reference) -> Response:
    session = _me(request)
    found = call(_as(session, state), agreements.receipt, reference)
    return _json_download(found, f"receipt-{reference}.json")


@router.get("/receipts", response_class=HTMLResponse)
def receipts(request: Request, state: StateDep,
             trade: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    """Every receipt the enterprise can take away, and how to verify one offline."""
    session = _me(request)
    me = _as(session, state)
    own_trades = call(me, trades.list_trades, ALL).items
    settled = [a for a in call(me, agreements.list_agreements, ALL).items
               if a.state == "settled"]
    chosen = next((t for t in own_trades if t.trade == trade), None)
    return page(request, "enterprise/receipts.html", title=N_("Receipts"), trades=own_trades,
                agreements=settled, chosen=chosen)


# -- agreements and auctions -------------------------------------------------------------------


def _agreements_page(request: Request, state: AppState, session: Session,
                     refusal: Refusal | None = None,
                     requested: representatives.RequestPublic | None = None) -> Response:
    found = call(_as(session, state), agreements.list_agreements, ALL).items
    return page(request, "enterprise/agreements.html", title=N_("Negotiated agreements"),
                status=refusal.status if refusal else 200, agreements=found,
                code=session.principal.subject, refusal=refusal, requested=requested)


@router.get("/agreements", response_class=HTMLResponse)
def agreement_list(request: Request, state: StateDep,
                   requested: Annotated[str | None, Query(pattern=r"^R-[0-9a-f]{16}$")] = None
                   ) -> Response:
    """The enterprise's agreements; ``requested``: the request an offer just made (one of
    the enterprise's own: another's is not shown)."""
    session = _me(request)
    just = None
    if requested is not None:
        done = attempt(session, lambda: call(
            _as(session, state), representatives.show_request, session.principal.subject,
            requested))
        just = None if isinstance(done, Refusal) else done
    return _agreements_page(request, state, session, requested=just)


@router.post("/agreements", response_class=HTMLResponse)
async def offer_agreement(request: Request, state: StateDep) -> Response:
    session, fields = await posted(request, ROLE)

    def act() -> Any:
        body = agreements.Offer.model_validate({
            "instrument": fields.get("instrument", "").strip(),
            "buyer": fields.get("buyer", "").strip(), "price": _price(fields),
            "quantity": _quantity(fields)})
        return call(_as(session, state), agreements.offer, body)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_agreements_page, request, state, session, done)
    if isinstance(done, representatives.RequestPublic):  # awaits a second representative
        return RedirectResponse(f"/console/enterprise/agreements?requested={done.id}",
                                status_code=303)
    return RedirectResponse("/console/enterprise/agreements", status_code=303)


@router.post("/agreements/{reference}/{how}", response_class=HTMLResponse)
async def answer_agreement(request: Request, state: StateDep, reference: Reference,
                           how: Annotated[str, Path(pattern="^(accept|decline|withdraw)$")]
                           ) -> Response:
    session, fields = await posted(request, ROLE)
    me = _as(session, state)

    def act() -> Any:
        if how == "accept":
            return call(me, agreements.accept, reference)
        reason = agreements.Reason(reason=fields.get("reason", ""))
        if how == "decline":
            return call(me, agreements.decline, reference, reason)
        return call(me, agreements.withdraw, reference, reason)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_agreements_page, request, state, session, done)
    return RedirectResponse("/console/enterprise/agreements", status_code=303)


# -- requests awaiting a second representative ------------------------------------------------


def _requests_page(request: Request, state: AppState, session: Session,
                   refusal: Refusal | None = None) -> Response:
    user, registry, me = session.principal, state.registry, _as(session, state)
    code = user.subject
    found = call(me, representatives.list_requests, code, ALL).items
    people = {r.proposed_by for r in found} | {r.decided_by for r in found if r.decided_by}
    return page(request, "enterprise/requests.html", title=N_("Awaiting a second representative"),
                status=refusal.status if refusal else 200, refusal=refusal,
                requests=[r for r in found if r.state == "pending"],
                decided=[r for r in found if r.state != "pending"][:20],
                setting=call(me, representatives.setting, code), me=user.actor,
                logins={who: _login(registry, who) for who in people})


def _login(registry: Any, actor: str) -> str:
    """The login of the user ``actor`` names, or the actor itself (a ``system:`` job)."""
    try:
        return str(registry.users.user(actor).login)
    except NotFound:
        return actor


@router.get("/requests", response_class=HTMLResponse)
def request_list(request: Request, state: StateDep) -> Response:
    """What waits for a second representative of the enterprise, and whether it needs one
    (``GET /enterprises/{code}/requests?state=pending``, ``…/second-representative``)."""
    return _requests_page(request, state, _me(request))


@router.post("/requests/{request_id}/{how}", response_class=HTMLResponse)
async def answer_request(request: Request, state: StateDep,
                         request_id: representatives.RequestId,
                         how: Annotated[str, Path(pattern="^(confirm|reject|withdraw)$")]
                         ) -> Response:
    """Confirm or reject (another representative) or withdraw (the requester) a request,
    through ``POST /enterprises/{code}/requests/{id}/{how}``: its refusals are the API's."""
    session, fields = await posted(request, ROLE)
    me, code = _as(session, state, request), session.principal.subject

    def act() -> Any:
        if how == "confirm":
            return call(me, representatives.confirm, code, request_id)
        if how == "reject":
            decision = representatives.Decision(reason=fields.get("reason", ""))
            return call(me, representatives.reject, code, request_id, decision)
        return call(me, representatives.withdraw, code, request_id)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_requests_page, request, state, session, done)
    return RedirectResponse("/console/enterprise/requests", status_code=303)


@router.post("/second-representative", response_class=HTMLResponse)
async def change_setting(request: Request, state: StateDep) -> Response:
    """Require a second representative (at once) or no longer (itself a request), through
    ``PUT /enterprises/{code}/second-representative``."""
    session, fields = await posted(request, ROLE)

    def act() -> Any:
        body = representatives.SettingChange(required=fields.get("required") == "on")
        return call(_as(session, state), representatives.change_setting,
                    session.principal.subject, body)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_requests_page, request, state, session, done)
    return RedirectResponse("/console/enterprise/requests", status_code=303)


def _auctions_page(request: Request, state: AppState, session: Session,
                   refusal: Refusal | None = None) -> Response:
    me = _as(session, state)
    found = call(me, auctions.list_auctions, ALL).items
    bids = {a.auction_id: call(me, auctions.list_bids, a.auction_id, ALL).items
            for a in found}
    return page(request, "enterprise/auctions.html", title=N_("Auctions"),
                status=refusal.status if refusal else 200, auctions=found, bids=bids,
                refusal=refusal)


@router.get("/auctions", response_class=HTMLResponse)
def auction_list(request: Request, state: StateDep) -> Response:
    return _auctions_page(request, state, _me(request))


@router.post("/auctions/{auction_id}/bids", response_class=HTMLResponse)
async def bid(request: Request, state: StateDep, auction_id: Reference) -> Response:
    session, fields = await posted(request, ROLE)

    def act() -> Any:
        body = auctions.BidIn.model_validate({"price": _price(fields),
                                               "quantity": _quantity(fields)})
        return call(_as(session, state), auctions.place_bid, auction_id, body)

    done = await run_in_threadpool(attempt, session, act)
    if isinstance(done, Refusal):
        return await run_in_threadpool(_auctions_page, request, state, session, done)
    return RedirectResponse("/console/enterprise/auctions", status_code=303)


# -- expansions, retrofits, the annual report --------------------------------------------------


@router.get("/expansions", response_class=HTMLResponse)
def expansion_list(request: Request, state: StateDep) -> Response:
    session = _me(request)
    found = call(_as(session, state), expansions.list_expansions, ALL).items
    return page(request, "enterprise/expansions.html", title=N_("Capacity expansion applications"),
                expansions=found)


@router.get("/retrofits", response_class=HTMLResponse)
def retrofit_list(request: Request, state: StateDep) -> Response:
    session = _me(request)
    found = call(_as(session, state), retrofits.list_retrofits, ALL).items
    return page(request, "enterprise/retrofits.html", title=N_("Your retrofits"),
                retrofits=found)


@router.get("/report", response_class=HTMLResponse)
def report_year(request: Request,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> Response:
    """The report of ``year`` (the year form's answer), this year's by default."""
    _me(request)
    return RedirectResponse(f"/console/enterprise/report/{year or datetime.now(CHINA_TIME).year}",
                            status_code=303)


@router.get("/report/{year}", response_class=HTMLResponse)
def report(request: Request, state: StateDep, year: Year) -> Response:
    """The annual report of ``GET /reports/{code}/{year}`` as a printable page."""
    session = _me(request)
    code = session.principal.subject
    found = BUILT.get(("report", code, year, state.registry.queries.position()),
                      lambda: call(_as(session, state), reports.annual_report, code, year,
                                   "json"))
    return page(request, "enterprise/report.html", title=N_("Annual report"), report=found,
                enterprise=state.registry.enterprise(code), year=year)


@router.get("/report/{year}/report.csv")
def report_csv(request: Request, state: StateDep, year: Year) -> Response:
    """The same report as CSV (``GET /reports/{code}/{year}?format=csv``)."""
    session = _me(request)
    code = session.principal.subject
    found = BUILT.get(("report.csv", code, year, state.registry.queries.position()),
                      lambda: call(_as(session, state), reports.annual_report, code, year,
                                   "csv"))
    assert isinstance(found, Response)
    return Response(found.body, media_type=found.media_type, headers={
        "Content-Disposition": f'attachment; filename="report-{code}-{year}.csv"'})

