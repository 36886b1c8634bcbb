"""The administrator's pages of the console: one queue of everything awaiting them, parties
(enterprises, agencies, cash, credit records), freezes and revocations, markets, users and
roles.

Every read and every act goes through the API's own route functions (`api.routes`), called
with the session's `Principal` after the API's own role check (``admit(user, "administrator")``),
with bodies built by the API's own pydantic models and path values checked against the API's
own patterns: the console is a second door to the same services, never a second code path
with weaker checks. What the API makes a four-eyes proposal (deposits, freezes, revocations,
credit records, markets, privileged roles …) the console proposes too, and another
administrator approves it in the queue; the queue offers no approval of one's own proposal,
and the registry refuses it anyway (``four-eyes-violation``).

Every form posts the session's CSRF token to ``POST /console/admin/act/{name}``; a success
leads back to the form's page (303) saying what was done, a refusal shows the page again with
the registry's reason and the refusal's status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import admit
from api.console.login import current_session, form
from api.console.render import page
from api.console.roles import Caller, call
from api.console.sessions import Session, csrf_matches
from api.console.terms import N_
from api.deps import PageParams, now
from api.errors import ApiError, status_of
from api.routes import (
    agencies,
    agreements,
    auctions,
    cash,
    credit,
    enterprises,
    expansions,
    holdings,
    markets,
    proposals,
    retrofits,
    trades,
    users,
)
from api.routes.proposals import ProposalPublic
from api.schemas import holdings as holding_schemas
from api.schemas import markets as market_schemas
from api.schemas import parties
from api.schemas import retrofits as retrofit_schemas
from api.schemas import trades as trade_schemas
from api.state import AppState
from api.tokens import Principal, coarse_role
from domain.errors import RegistryError
from domain.expansion import SUBMITTED
from domain.reference import BASINS, PREFECTURES, SECTORS
from domain.retrofit import CONFIRMED, VERIFIED
from registry import directory
from registry.acting import Acting, bind

router = APIRouter(prefix="/console/admin", include_in_schema=False)
ALL = PageParams(offset=0, limit=10_000)
LISTED = 50  # rows of a register shown per page
Done = Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")]
ProposalShown = Annotated[str | None, Query(pattern=r"^P-[0-9a-f]{16}$")]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
T = TypeVar("T")


#: the four-eyes acts (`registry.proposals.ACTIONS`) as the queue names them
PROPOSAL_ACTIONS = {
    "confirm_retrofit": N_("Confirmation (确权) of a retrofit's surplus"),
    "issue_surplus": N_("Issuance of surplus indicators"),
    "deposit": N_("Cash deposit"),
    "withdraw": N_("Cash withdrawal"),
    "freeze": N_("Freeze of units"),
    "unfreeze": N_("Lifting a freeze"),
    "revoke_retrofit": N_("Revocation after a spot check"),
    "set_obligation": N_("Reduction or energy-saving task"),
    "restrict_enterprise": N_("Credit restriction of an enterprise"),
    "restore_enterprise": N_("Credit restoration of an enterprise"),
    "restrict_agency": N_("Credit restriction of an agency"),
    "restore_agency": N_("Credit restoration of an agency"),
    "open_market": N_("Opening a market"),
    "set_market_parameters": N_("Market parameters"),
    "adopt_rules": N_("Adoption of a rule version"),
    "grant_role": N_("Grant of a privileged role"),
}
USER_ROLES = {
    "trader": N_("trader"), "representative": N_("representative"),
    "agency_staff": N_("agency staff"), "administrator": N_("administrator"),
    "auditor": N_("auditor"),
}
USER_STATUSES = {"active": N_("active"), "suspended": N_("suspended")}
ORGANISATIONS = {
    "enterprise": N_("enterprise"), "agency": N_("agency"), "regulator": N_("regulator"),
    "audit_body": N_("audit body"),
}


@dataclass(frozen=True)
class AdminPage:
    path: str
    template: str
    title: str  # English msgid


PAGES = {
    "queue": AdminPage("/console/admin/", "admin/queue.html", N_("Awaiting you")),
    "parties": AdminPage("/console/admin/parties", "admin/parties.html",
                         N_("Enterprises, agencies, cash and credit records")),
    "controls": AdminPage("/console/admin/controls", "admin/controls.html",
                          N_("Freezes and revocations")),
    "markets": AdminPage("/console/admin/markets", "admin/markets.html", N_("Market control")),
    "users": AdminPage("/console/admin/users", "admin/users.html", N_("Users and roles")),
}


@dataclass(frozen=True)
class Desk:
    """Who is asking and the services they act through."""

    request: Request
    session: Session
    state: AppState

    @property
    def who(self) -> Principal:
        return self.session.principal

    @property
    def registry(self) -> Any:
        return self.state.registry

    def call(self, route: Callable[..., T], *values: Any, **named: Any) -> T:
        """``route`` as this administrator (`api.console.roles.call`)."""
        return call(Caller(self.who, self.state, self.request), route, *values, **named)


def administrator(request: Request, fields: dict[str, str] | None = None) -> Desk:
    """The signed-in administrator (the API's own role check: 403 for any other role); with
    ``fields`` (a posted form) its CSRF token must match the session's."""
    session = current_session(request)
    if session is None:
        raise ApiError(401, "unauthenticated", "sign in to the console first")
    admit(session.principal, "administrator")
    state = request.app.state.registry_state
    if coarse_role(state.registry.users.user(session.principal.user_id)) != "administrator":
        # withdrawn since signing in: a bearer token's principal is read from the user on
        # every request, and so is the session's role here
        raise ApiError(403, "forbidden", "this needs the role administrator")
    if fields is not None and not csrf_matches(session.csrf, fields.get("csrf_token")):
        raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong; reload "
                       "the page")
    return Desk(request, session, state)


# -- what a form posts, read the way the API reads it -----------------------------------------

class Refused(Exception):
    """A form the console cannot pass on: shown on the page with ``status``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def field(fields: dict[str, str], name: str) -> str:
    return fields.get(name, "").strip()


def optional(fields: dict[str, str], name: str) -> str | None:
    return field(fields, name) or None


def flag(fields: dict[str, str], name: str) -> bool:
    return fields.get(name) == "on"


def exact(fields: dict[str, str], name: str, decimals: int) -> int | None:
    """A decimal the person typed (yuan, tonnes) as the integer of the smallest unit (fen,
    kg), exactly: more decimals than the unit has are refused, never rounded."""
    text = field(fields, name).replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Refused(422, f"{name}: {text!r} is not a number") from None
    scaled = value.scaleb(decimals)
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise Refused(422, f"{name}: at most {decimals} decimals")
    return int(scaled)


def fen(fields: dict[str, str], name: str) -> int | None:
    return exact(fields, name, 2)


def kg(fields: dict[str, str], name: str) -> int | None:
    return exact(fields, name, 3)


def number(fields: dict[str, str], name: str) -> int | None:
    return exact(fields, name, 0)


def body(model: type[BaseModel], **values: Any) -> Any:
    """The API's request model of the act, from the form's values (absent ones left out, so
    the model's defaults apply as over the API)."""
    return model.model_validate({k: v for k, v in values.items() if v is not None})


def path(annotation: Any, value: str) -> str:
    """A path value checked against the API's own pattern for it (404 as over the API)."""
    try:
        checked: str = TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        raise Refused(404, f"no {value!r}") from None
    return checked


# -- the acts ---------------------------------------------------------------------------------

Run = Callable[[Desk, dict[str, str]], Any]


@dataclass(frozen=True)
class Act:
    page: str  # the key of the page whose form posts it, and where the browser returns
    run: Run
    done: str  # English msgid of what the page says afterwards


def _approve(d: Desk, f: dict[str, str]) -> Any:
    pid = path(proposals.ProposalId, field(f, "proposal"))
    return d.call(proposals.approve, pid)


def _reject(d: Desk, f: dict[str, str]) -> Any:
    pid = path(proposals.ProposalId, field(f, "proposal"))
    return d.call(proposals.reject, pid, body(proposals.Decision, reason=field(f, "reason")))


def _withdraw(d: Desk, f: dict[str, str]) -> Any:
    pid = path(proposals.ProposalId, field(f, "proposal"))
    return d.call(proposals.withdraw, pid)


def _trade(f: dict[str, str]) -> str:
    return path(trade_schemas.TradeIdPath, field(f, "trade"))


def _agreement(f: dict[str, str]) -> str:
    return path(agreements.ReferencePath, field(f, "agreement"))


def _auction(f: dict[str, str]) -> str:
    return path(auctions.AuctionPath, field(f, "auction"))


def _instrument(f: dict[str, str]) -> str:
    return path(holdings.InstrumentPath, field(f, "instrument"))


def _user_id(f: dict[str, str]) -> str:
    return path(users.UserId, field(f, "user"))


def _credit(route: Callable[..., Any]) -> Run:
    def run(d: Desk, f: dict[str, str]) -> Any:
        change = body(parties.CreditChange, reason=field(f, "reason"),
                      reference=field(f, "reference"))
        return d.call(route, field(f, "code").upper(), change)

    return run


def _cash(route: Callable[..., Any]) -> Run:
    def run(d: Desk, f: dict[str, str]) -> Any:
        record = body(cash.Record, amount=fen(f, "amount"), reference=field(f, "reference"))
        return d.call(route, field(f, "enterprise").upper(), record)

    return run


def _open_market(d: Desk, f: dict[str, str]) -> Any:
    spec = body(market_schemas.MarketOpen, instrument=field(f, "instrument"),
                reference_price=fen(f, "reference_price"), band_pct=number(f, "band_pct"),
                lot=kg(f, "lot"), min_lot=kg(f, "lot"), verify_above=fen(f, "verify_above"),
                sessions=[] if flag(f, "continuous") else None)
    return d.call(markets.open_market, spec)


def _parameters(d: Desk, f: dict[str, str]) -> Any:
    changes: dict[str, Any] = {"reference_price": fen(f, "reference_price")}
    if flag(f, "verify_off"):
        changes["verify_above"] = None
    elif field(f, "verify_above"):
        changes["verify_above"] = fen(f, "verify_above")
    spec = market_schemas.MarketParameters.model_validate(
        {k: v for k, v in changes.items() if v is not None or k == "verify_above"})
    return d.call(markets.set_parameters, _instrument(f), spec)


def _halt(route: Callable[..., Any]) -> Run:
    def run(d: Desk, f: dict[str, str]) -> Any:
        why = body(market_schemas.MarketHalt, reason=field(f, "reason"))
        return d.call(route, _instrument(f), why)

    return run


def _create_user(d: Desk, f: dict[str, str]) -> Any:
    roles = [r for r in ("trader", "representative", "agency_staff") if flag(f, f"role_{r}")]
    spec = body(users.UserCreate, login=field(f, "login"), display_name=field(f, "display_name"),
                organisation=field(f, "organisation"),
                organisation_code=optional(f, "organisation_code"), roles=roles,
                password=optional(f, "password"))
    return d.call(users.create_user, spec)


ACTS: dict[str, Act] = {
    # the queue
    "approve": Act("queue", _approve, N_("Approved: it has taken effect.")),
    "reject": Act("queue", _reject, N_("Rejected.")),
    "withdraw": Act("queue", _withdraw, N_("Your proposal is withdrawn.")),
    "approve_trade": Act("queue", lambda d, f: d.call(
        trades.approve, _trade(f)), N_("The trade is approved and settled.")),
    "reject_trade": Act("queue", lambda d, f: d.call(
        trades.reject, _trade(f), body(trade_schemas.Rejection, reason=field(f, "reason"))),
        N_("The trade is rejected; units and cash are released.")),
    "verify_agreement": Act("queue", lambda d, f: d.call(
        agreements.verify, _agreement(f)), N_("The agreement is verified and settled.")),
    "reject_agreement": Act("queue", lambda d, f: d.call(
        agreements.reject, _agreement(f), body(agreements.Reason, reason=field(f, "reason"))),
        N_("The agreement is rejected; every reservation is released.")),
    "clear_auction": Act("queue", lambda d, f: d.call(
        auctions.clear, _auction(f)), N_("The auction is cleared and settled.")),
    "void_auction": Act("queue", lambda d, f: d.call(
        auctions.void, _auction(f), body(auctions.AuctionVoid, reason=field(f, "reason"))),
        N_("The auction is void; bids and units are released.")),
    "propose_confirmation": Act("queue", lambda d, f: d.call(
        retrofits.confirmation, field(f, "retrofit")),
        N_("Confirmation (确权) proposed: it takes effect when a second administrator approves.")),
    "propose_issuance": Act("queue", lambda d, f: d.call(
        retrofits.issuance, field(f, "retrofit")),
        N_("Issuance proposed: it takes effect when a second administrator approves.")),
    "approve_expansion": Act("queue", lambda d, f: d.call(
        expansions.approve, field(f, "expansion"),
        body(retrofit_schemas.ExpansionApproval, approval=field(f, "approval"))),
        N_("The expansion is approved: its units are consumed.")),
    "reject_expansion": Act("queue", lambda d, f: d.call(
        expansions.reject, field(f, "expansion"),
        body(retrofit_schemas.ExpansionRejection, reason=field(f, "reason"))),
        N_("The expansion is rejected: its units are available again.")),
    # parties
    "register_enterprise": Act("parties", lambda d, f: d.call(
        enterprises.register_enterprise, body(
            parties.EnterpriseCreate, credit_code=field(f, "credit_code").upper(),
            name=field(f, "name"), sector=field(f, "sector"), prefecture=field(f, "prefecture"),
            basin=field(f, "basin"), direct_discharger=flag(f, "direct_discharger"))),
        N_("The enterprise is registered.")),
    "register_agency": Act("parties", lambda d, f: d.call(
        agencies.register_agency, body(
            parties.AgencyCreate, credit_code=field(f, "credit_code").upper(),
            name=field(f, "name"), controlled_by=(optional(f, "controlled_by") or "").upper()
            or None)), N_("The agency is registered.")),
    "accredit_agency": Act("parties", lambda d, f: d.call(
        agencies.accredit_agency, field(f, "code").upper(),
        body(parties.Accreditation, accreditation=field(f, "accreditation"))),
        N_("The accreditation is recorded.")),
    "deposit": Act("parties", _cash(cash.deposit), N_(
        "Deposit proposed: it is recorded when a second administrator approves.")),
    "withdrawal": Act("parties", _cash(cash.withdraw), N_(
        "Withdrawal proposed: it is recorded when a second administrator approves.")),
    "restrict_enterprise": Act("parties", _credit(credit.restrict_enterprise), N_(
        "Credit restriction proposed: it takes effect when a second administrator approves.")),
    "restore_enterprise": Act("parties", _credit(credit.restore_enterprise), N_(
        "Restoration proposed: it takes effect when a second administrator approves.")),
    "restrict_agency": Act("parties", _credit(credit.restrict_agency), N_(
        "Credit restriction proposed: it takes effect when a second administrator approves.")),
    "restore_agency": Act("parties", _credit(credit.restore_agency), N_(
        "Restoration proposed: it takes effect when a second administrator approves.")),
    # freezes and revocations
    "freeze": Act("controls", lambda d, f: d.call(
        holdings.freeze, body(holding_schemas.FreezeCreate, instrument=field(f, "instrument"),
             owner=field(f, "owner").upper(), ref=field(f, "ref"), reason=field(f, "reason"),
             quantity=kg(f, "quantity"))),
        N_("Freeze proposed: it takes effect when a second administrator approves.")),
    "unfreeze": Act("controls", lambda d, f: d.call(
        holdings.unfreeze,
        body(holding_schemas.Unfreeze, instrument=field(f, "instrument"), ref=field(f, "ref"))),
        N_("Unfreezing proposed: it takes effect when a second administrator approves.")),
    "revoke_retrofit": Act("controls", lambda d, f: d.call(
        retrofits.revocation, field(f, "retrofit"), body(
            retrofit_schemas.Revocation, reason=field(f, "reason"),
            spot_check=field(f, "spot_check"), restrict_enterprise=flag(f, "restrict_enterprise"),
            restrict_agencies=[c.strip().upper() for c in field(f, "restrict_agencies").split(",")
                               if c.strip()])),
        N_("Revocation proposed: it takes effect when a second administrator approves.")),
    # markets
    "open_market": Act("markets", _open_market, N_(
        "Opening proposed: the market opens when a second administrator approves.")),
    "set_parameters": Act("markets", _parameters, N_(
        "New parameters proposed: they apply when a second administrator approves.")),
    "halt": Act("markets", _halt(markets.halt), N_("The market is halted.")),
    "resume": Act("markets", _halt(markets.resume), N_("The market takes orders again.")),
    # users and roles
    "create_user": Act("users", _create_user, N_("The user is created.")),
    "grant_role": Act("users", lambda d, f: d.call(
        users.grant_role, _user_id(f), body(users.RoleGrant, role=field(f, "role"))),
        N_("The role is granted.")),
    "withdraw_role": Act("users", lambda d, f: d.call(
        users.withdraw_role, _user_id(f), path(users.Role, field(f, "role"))),
        N_("The role is withdrawn.")),
}
#: what the page says when an act answered a proposal rather than taking effect
PROPOSED_ROLE = N_("A privileged role is proposed: it is granted when a second administrator "
                   "approves.")


def refusal(exc: Exception) -> tuple[int, str] | None:
    """The status and reason of a refused act, as the API would answer it; None for anything
    that is not a refusal (a failing store, a bug: the app's handlers answer those)."""
    if isinstance(exc, Refused):
        return exc.status, exc.detail
    if isinstance(exc, ApiError):
        return exc.status, exc.detail
    if isinstance(exc, RegistryError):
        return status_of(exc), str(exc)
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}"
                             for e in exc.errors(include_url=False))
        return 422, problems
    return None


@router.post("/act/{name}", response_class=HTMLResponse)
async def act(name: str, request: Request) -> Response:
    fields = await form(request)
    desk = await run_in_threadpool(administrator, request, fields)
    chosen = ACTS.get(name)
    if chosen is None:
        raise ApiError(404, "not-found", f"no console act {name}")

    def run() -> Response:
        try:
            with bind(Acting(actor=desk.who.actor)):  # every event names this administrator
                result = chosen.run(desk, fields)
        except Exception as exc:
            refused = refusal(exc)
            if refused is None:
                raise
            status, detail = refused
            return render(desk, chosen.page, status=status, error=detail, form=fields)
        query = f"?done={name}"
        if isinstance(result, ProposalPublic):
            query += f"&proposal={result.id}"
        return RedirectResponse(PAGES[chosen.page].path + query, status_code=303)

    return await run_in_threadpool(run)


# -- the pages --------------------------------------------------------------------------------

def _logins(d: Desk, user_ids: set[str]) -> dict[str, str]:
    """The logins of these user ids, to show who proposed what (``system:…`` actors and
    unknown ids are shown as they are)."""
    found = {}
    for user_id in user_ids:
        try:
            found[user_id] = d.registry.users.user(user_id).login
        except (RegistryError, ValueError):
            continue
    return found


def queue(d: Desk, number: int) -> dict[str, Any]:
    """Everything awaiting an administrator, oldest first within each kind."""
    pending = d.call(proposals.list_proposals, ALL, state="pending").items
    waiting_trades = d.call(trades.queue, ALL).items
    accepted = d.call(agreements.list_agreements, ALL, state_="accepted").items
    open_auctions = [a for a in d.call(auctions.list_auctions, ALL).items
                     if a.state == "open"]
    works = d.call(retrofits.list_retrofits, ALL).items
    proposed_for = {p.subject for p in pending
                    if p.action in ("confirm_retrofit", "issue_surplus")}
    confirmations = [r for r in works if r.state in (VERIFIED, CONFIRMED)
                     and r.reference not in proposed_for]
    decisions = [x for x in d.call(expansions.list_expansions, ALL).items
                 if x.state == SUBMITTED]
    return {"proposals": sorted(pending, key=lambda p: (p.proposed_at, p.id)),
            "trades": waiting_trades, "agreements": list(reversed(accepted)),
            "auctions": list(reversed(open_auctions)), "confirmations": confirmations,
            "expansions": decisions,
            "logins": _logins(d, {p.proposed_by for p in pending}
                              | {a.offered_by for a in accepted}
                              | {x.opened_by for x in open_auctions}),
            "action_names": PROPOSAL_ACTIONS,
            "total": len(pending) + len(waiting_trades) + len(accepted) + len(open_auctions)
            + len(confirmations) + len(decisions)}


def _register(codes: list[str], number: int) -> tuple[list[str], int]:
    """The page ``number`` of a register, newest first, and the number of pages."""
    newest = list(reversed(codes))
    pages = max(1, -(-len(newest) // LISTED))
    start = (min(number, pages) - 1) * LISTED
    return newest[start:start + LISTED], pages


def party_registers(d: Desk, number: int) -> dict[str, Any]:
    with d.registry.reading_catalogue() as catalogue:
        entries = {k: list(catalogue.entries[k]) for k in ("enterprises", "agencies")}
    firms, firm_pages = _register(entries["enterprises"], number)
    bodies, body_pages = _register(entries["agencies"], number)
    return {"enterprises": [parties.EnterprisePublic.of(e)
                            for e in directory.enterprises(d.registry, firms)],
            "agencies": [parties.AgencyPublic.of(a)
                         for a in directory.agencies(d.registry, bodies)],
            "enterprise_total": len(entries["enterprises"]),
            "agency_total": len(entries["agencies"]),
            "number": number, "pages": max(firm_pages, body_pages),
            "sectors": SECTORS, "prefectures": PREFECTURES, "basins": BASINS}


def controls(d: Desk, number: int) -> dict[str, Any]:
    """The forms, and the freezes and revocations still waiting for a second approver."""
    mine = ("freeze", "unfreeze", "revoke_retrofit")
    pending = [p for p in d.call(proposals.list_proposals, ALL, state="pending").items
               if p.action in mine]
    return {"pending": pending, "logins": _logins(d, {p.proposed_by for p in pending}),
            "action_names": PROPOSAL_ACTIONS}


def market_control(d: Desk, number: int) -> dict[str, Any]:
    shown = d.call(markets.list_markets, ALL).items
    data = d.state.market_view()
    with data.lock:
        halted = {code: dict(view.market.halted) for code, view in data.markets.items()
                  if view.market.halted is not None}
    return {"markets": shown, "halted": halted}


def user_register(d: Desk, number: int) -> dict[str, Any]:
    every = d.call(users.list_users, ALL).items
    shown, pages = _register([u.id for u in every], number)
    by_id = {u.id: u for u in every}
    return {"users": [by_id[i] for i in shown], "user_total": len(every), "number": number,
            "pages": pages, "grantable": ("trader", "representative", "agency_staff",
                                          "administrator", "auditor")}


CONTEXTS: dict[str, Callable[[Desk, int], dict[str, Any]]] = {
    "queue": queue, "parties": party_registers, "controls": controls,
    "markets": market_control, "users": user_register}


def render(d: Desk, key: str, *, status: int = 200, number: int = 1, done: str | None = None,
           proposal: str | None = None, error: str | None = None,
           form: dict[str, str] | None = None) -> Response:
    shown = PAGES[key]
    done_text = None
    if done in ACTS:
        done_text = ACTS[done].done
        if done == "grant_role" and proposal:
            done_text = PROPOSED_ROLE
    # a page shown after a GET is all the log's up to its position (and the minute: a
    # proposal expires with time), so it is rendered once until either moves on
    inputs = None if error is not None else (number, d.registry.queries.position(), now()[:16])
    return page(d.request, shown.template, title=shown.title, status=status, error=error,
                done=done_text, proposal=proposal, form=form or {}, me=d.who.user_id,
                role_names=USER_ROLES, organisations=ORGANISATIONS, user_statuses=USER_STATUSES,
                inputs=inputs, cache=d.state.rendered, lazy=lambda: CONTEXTS[key](d, number))


def _page(key: str) -> Callable[..., Any]:
    def show(request: Request, done: Done = None, proposal: ProposalShown = None,
             number: PageNumber = 1) -> Response:
        if current_session(request) is None:
            return RedirectResponse("/console/login", status_code=303)
        return render(administrator(request), key, number=number, done=done,
                      proposal=proposal)

    show.__name__ = f"admin_{key}"
    return show


for _key, _shown in PAGES.items():
    router.add_api_route(_shown.path.removeprefix("/console/admin") or "/", _page(_key),
                         methods=["GET"], response_class=HTMLResponse)
