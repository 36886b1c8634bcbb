"""The public registry pages of the console: open to anyone, no login, read-only.

Each handler reads the registry's published view (``registry.public``), the market-data read
model or the ledger, and renders one template; nothing here changes state. The pages are not
operations of the API document (``include_in_schema=False``): they are HTML for people, open
to anyone, and the query parameters they take are validated like the API's (422 problem).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.render import page
from api.console.terms import N_
from api.deps import StateDep
from domain.errors import NotFound
from ledger.checkpoint import read_checkpoint_unverified
from registry.market_data import MarketData, MarketView

router = APIRouter(prefix="/console", include_in_schema=False)
root = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
KindFilter = Annotated[str | None, Query(pattern=r"^[A-Z0-9]{0,16}$")]


@dataclass(frozen=True)
class Paged:
    """One page of a list, and where the others are."""

    items: list[Any]
    number: int
    pages: int
    total: int

    @classmethod
    def of(cls, items: list[Any], number: int) -> Paged:
        pages = max(1, -(-len(items) // PAGE_SIZE))
        start = (number - 1) * PAGE_SIZE
        return cls(items=items[start:start + PAGE_SIZE], number=number, pages=pages,
                   total=len(items))


@dataclass(frozen=True)
class MarketSummary:
    instrument: str
    kind: str
    zone: str
    reference_price: int
    lower_price: int
    upper_price: int
    lot: int
    best_bid: int | None
    best_ask: int | None
    last_price: int | None
    opened_at: str
    days: list[dict[str, Any]]  # OHLC bars per day, newest first

    @classmethod
    def of(cls, data: MarketData, view: MarketView) -> MarketSummary:
        market = view.market
        params = market.market_params()
        lower, upper = params.book_rules().price_bounds()
        return cls(instrument=market.instrument, kind=market.kind, zone=market.zone,
                   reference_price=params.reference_price, lower_price=lower, upper_price=upper,
                   lot=params.lot, best_bid=market.book.best_bid(),
                   best_ask=market.book.best_ask(), last_price=view.last_price,
                   opened_at=view.opened_at,
                   days=list(reversed(data.history(market.instrument, "day"))))


@root.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def overview(request: Request, state: StateDep) -> HTMLResponse:
    view = state.public.view()
    data = state.market_view()
    with data.lock:
        markets = len(data.markets)
    # the latest signed checkpoint as it is: bringing the ledger up to date is the
    # checkpoint page's (and /ledger/checkpoint's) work, not every visitor's
    return page(request, "overview.html", title=N_("Public registry"), view=view,
                markets=markets, checkpoint=_checkpoint(state, catch_up=False))


@router.get("/lots", response_class=HTMLResponse)
def lots(request: Request, state: StateDep, page_number: PageNumber = 1,
         kind: KindFilter = None) -> HTMLResponse:
    view = state.public.view()
    kind = kind or None  # the form sends an empty value for "all"
    chosen = [lot for lot in view.lots if kind is None or lot.kind == kind]
    return page(request, "lots.html", title=N_("Issued lots"), kinds=sorted(view.totals),
                kind=kind, lots=Paged.of(chosen, page_number), position=view.position,
                inputs=view.position, cache=state.rendered)


@router.get("/retirements", response_class=HTMLResponse)
def retirements(request: Request, state: StateDep,
                page_number: PageNumber = 1) -> HTMLResponse:
    view = state.public.view()
    newest_first = list(reversed(view.retirements))
    return page(request, "retirements.html", title=N_("Retirements"),
                retirements=Paged.of(newest_first, page_number), position=view.position,
                inputs=view.position, cache=state.rendered)


@router.get("/markets", response_class=HTMLResponse)
def markets(request: Request, state: StateDep) -> HTMLResponse:
    data = state.market_view()
    with data.lock:
        summaries = [MarketSummary.of(data, data.markets[code]) for code in sorted(data.markets)]
    return page(request, "markets.html", title=N_("Markets: daily prices and volumes"),
                markets=summaries)


@router.get("/markets/{instrument}", response_class=HTMLResponse)
def market(request: Request, state: StateDep, instrument: str) -> HTMLResponse:
    data = state.market_view()
    with data.lock:
        view = data.markets.get(instrument)
        if view is None:
            raise NotFound(f"market {instrument} not found")
        summary = MarketSummary.of(data, view)
        trades = data.recent_trades(instrument, 20)
    return page(request, "market.html", title=instrument, market=summary, trades=trades,
                chart=price_chart(summary.days))


@dataclass(frozen=True)
class Chart:
    """A polyline of daily closing prices, oldest to newest, scaled into the view box."""

    width: int
    height: int
    points: str
    low: int
    high: int
    days: int


def price_chart(days_newest_first: list[dict[str, Any]], width: int = 600,
                height: int = 160) -> Chart | None:
    closes = [d["close"] for d in reversed(days_newest_first)]
    if len(closes) < 2:
        return None  # one day is a point, not a line: the table says it
    low, high = min(closes), max(closes)
    span, step = (high - low) or 1, (width - 20) / (len(closes) - 1)
    points = " ".join(f"{10 + n * step:.1f},{height - 10 - (c - low) * (height - 20) / span:.1f}"
                      for n, c in enumerate(closes))
    return Chart(width=width, height=height, points=points, low=low, high=high,
                 days=len(closes))


@router.get("/credit", response_class=HTMLResponse)
def credit(request: Request, state: StateDep) -> HTMLResponse:
    view = state.public.view()
    return page(request, "credit.html", title=N_("Credit records"), records=view.credit_records,
                position=view.position, inputs=view.position, cache=state.rendered)


@router.get("/checkpoint", response_class=HTMLResponse)
def checkpoint(request: Request, state: StateDep) -> HTMLResponse:
    return page(request, "checkpoint.html", title=N_("Ledger checkpoint"),
                checkpoint=_checkpoint(state), vkey=state.ledger.vkey)


@dataclass(frozen=True)
class CheckpointShown:
    note: str
    origin: str
    size: int
    root: str


def _checkpoint(state: Any, *, catch_up: bool = True) -> CheckpointShown | None:
    if catch_up:
        note: str | None = state.caught_up().latest_checkpoint()
    else:
        with state.lock:  # no catch-up appends while it is read
            note = state.ledger.latest_checkpoint()
    if not note:
        return None
    parsed = read_checkpoint_unverified(note)
    return CheckpointShown(note=note, origin=parsed.origin, size=parsed.size,
                           root=base64.b64encode(parsed.root).decode("ascii"))
