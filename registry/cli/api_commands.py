"""``registry serve``: the HTTP API on uvicorn (plain ``def`` handlers run in its thread pool)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from api.tokens import ROLES
from registry.cli.base import (
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    credit_code,
    whole_number,
)

if TYPE_CHECKING:
    from registry.bootstrap import Registry


def port(text: str) -> int:
    value = whole_number(text, "a port")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


SHUTDOWN_GRACE_SECONDS = 3


def add_serve_commands(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "serve", cmd_serve, "serve the HTTP API (docs at /docs)",
                    writes=False)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    p.add_argument("--port", type=port, default=8000)
    p.add_argument("--workers", type=whole_number, default=1,
                   help="worker processes (default 1; more need the PostgreSQL store); the "
                        "supervisor exits 1 if one fails to start")


def cmd_serve(ctx: Context) -> int | None:
    import uvicorn

    from api.app import create_app
    from registry.cli.serving import ServeClaim
    from registry.gc_pause import settle_heap

    a = ctx.args
    ctx.settings  # noqa: B018 - bad settings are bad input, reported before serving
    if not 1 <= a.workers <= 32:
        raise CliError("--workers is between 1 and 32")
    if a.workers > 1 and ctx.settings.store != "postgres":
        raise CliError(f"the {ctx.settings.store} store has one writer process: several "
                       "--workers need REGISTRY_STORE=postgres")
    url = f"http://{a.host}:{a.port}"
    # held until the process ends: CLI writes beside it are refused (registry.cli.serving)
    claim = ServeClaim(ctx.data_dir, url=url, workers=a.workers)
    try:
        workers = f", {a.workers} workers" if a.workers > 1 else ""
        print(f"Surplus Registry API on {url}/docs, console on {url}/console/ "
              f"(data: {ctx.data_dir}{workers})", flush=True)
        if a.workers > 1:
            from registry.cli.workers import WorkerApp, supervise

            return supervise(WorkerApp(dict(ctx.env)), host=a.host, port=a.port,
                             workers=a.workers, log_level="warning",
                             timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
        # Open live streams (server-sent events) would otherwise hold shutdown until they time
        # out: in-flight requests get a few seconds, then what is still running is cancelled.
        app = create_app(ctx.env)
        settle_heap()  # see registry.gc_pause: fewer, shorter full collections while serving
        uvicorn.run(app, host=a.host, port=a.port,
                    log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    finally:
        claim.release()
    return None


def add_token_commands(subparsers: Subparsers) -> None:
    token = add_group(subparsers, "token", "API tokens (stored only as hashes)")
    p = add_command(token, "create", cmd_token_create,
                    "issue a bearer token; it is printed once", writes=False)
    p.add_argument("--role", required=True, choices=ROLES)
    bound = p.add_mutually_exclusive_group()
    bound.add_argument("--enterprise", type=credit_code, metavar="CODE",
                       help="the enterprise an enterprise token acts for")
    bound.add_argument("--agency", type=credit_code, metavar="CODE",
                       help="the agency an agency token acts for")
    p.add_argument("--name", help="the administrator or auditor it is issued to")
    p.add_argument("--days", type=whole_number, default=30, help="validity (default 30)")
    p = add_command(token, "revoke", cmd_token_revoke, "revoke a token by its id",
                    writes=False)
    p.add_argument("token_id", metavar="ID")
    p = add_command(token, "demo", cmd_token_demo,
                    "issue one token per role, bound to entities of the demo world",
                    writes=False)
    p.add_argument("--days", type=whole_number, default=7, help="validity (default 7)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="where the API is served")


def cmd_token_create(ctx: Context) -> None:
    from api.state import open_tokens

    a = ctx.args
    subject = {"enterprise": a.enterprise, "agency": a.agency}.get(a.role) or a.name
    if a.role in ("enterprise", "agency") and not subject:
        raise CliError(f"an {a.role} token needs --{a.role} CODE")
    if a.role in ("administrator", "auditor") and (a.enterprise or a.agency or not a.name):
        raise CliError(f"an {a.role} token needs --name and no --enterprise/--agency")
    if not 0 < a.days <= 366:
        raise CliError("--days is between 1 and 366")
    now = datetime.now(UTC)
    store = open_tokens(ctx.env)
    try:
        token_id, secret = store.create(role=a.role, subject=subject, now=now,
                                        expires_at=now + timedelta(days=a.days))
    finally:
        store.close()
    print(f"id {token_id}  role {a.role}  for {subject}  expires in {a.days} days")
    print(secret)


def cmd_token_revoke(ctx: Context) -> None:
    from api.state import open_tokens

    store = open_tokens(ctx.env)
    try:
        if not store.revoke(ctx.args.token_id, now=datetime.now(UTC)):
            raise CliError(f"no active token with id {ctx.args.token_id!r}")
    finally:
        store.close()
    print(f"token {ctx.args.token_id} revoked")


#: who the demo tokens speak for: the demo's first firm and agency, its administrator, an auditor
DEMO_AUDITOR = "gd-audit-office-zhou"


def demo_subjects(registry: Registry) -> dict[str, tuple[str, str]]:
    """role -> (subject, description), picked from the demo world in the store."""
    from registry.demo import ADMIN, AGENCIES, FIRMS

    catalogue = registry.catalogue().entries
    firms = {registry.enterprise(c).name: c for c in catalogue["enterprises"]}
    agencies = {registry.agency(c).name: c for c in catalogue["agencies"]}
    firm, agency = FIRMS[0].name, AGENCIES[0][1]
    if firm not in firms or agency not in agencies:
        raise CliError("the store holds no demo world (run 'registry demo' first)")
    return {"enterprise": (firms[firm], firm), "agency": (agencies[agency], agency),
            "administrator": (ADMIN, "exchange administrator"),
            "auditor": (DEMO_AUDITOR, "auditor")}


def cmd_token_demo(ctx: Context) -> None:
    from api.state import open_tokens

    if not 0 < ctx.args.days <= 366:
        raise CliError("--days is between 1 and 366")
    subjects = demo_subjects(ctx.registry)
    now = datetime.now(UTC)
    store = open_tokens(ctx.env)
    try:
        issued = {role: store.create(role=role, subject=subject, now=now,
                                     expires_at=now + timedelta(days=ctx.args.days))[1]
                  for role, (subject, _) in subjects.items()}
    finally:
        store.close()
    print(f"Console (public registry, no login): {ctx.args.url}/console/")
    print(f"API docs: {ctx.args.url}/docs")
    print(f"Bearer tokens for the demo world (valid {ctx.args.days} days, shown only now):")
    for role, secret in issued.items():
        subject, description = subjects[role]
        print(f"  {role:<13} {subject}  ({description})")
        print(f"  {'':<13} {secret}")
    print(f"Sign in to the console at {ctx.args.url}/console/login with a subject above as the "
          "login and its token as the password (provisional, until personal logins exist).")
    code = subjects["enterprise"][0]
    print(f"Try: curl -H 'Authorization: Bearer {issued['enterprise']}' "
          f"{ctx.args.url}/holdings/{code}")
