"""``registry serve``: the HTTP API on uvicorn (plain ``def`` handlers run in its thread pool)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cli.base import (
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
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
    from cli.serving import ServeClaim
    from registry.gc_pause import settle_heap

    a = ctx.args
    ctx.settings  # noqa: B018 - bad settings are bad input, reported before serving
    if not 1 <= a.workers <= 32:
        raise CliError("--workers is between 1 and 32")
    if a.workers > 1 and ctx.settings.store != "postgres":
        raise CliError(f"the {ctx.settings.store} store has one writer process: several "
                       "--workers need REGISTRY_STORE=postgres")
    url = f"http://{a.host}:{a.port}"
    # held until the process ends: CLI writes beside it are refused (cli.serving)
    claim = ServeClaim(ctx.data_dir, url=url, workers=a.workers)
    try:
        workers = f", {a.workers} workers" if a.workers > 1 else ""
        print(f"Surplus Registry API on {url}/docs, console on {url}/console/ "
              f"(data: {ctx.data_dir}{workers})", flush=True)
        if a.workers > 1:
            from cli.workers import WorkerApp, supervise

            return supervise(WorkerApp(dict(ctx.env)), host=a.host, port=a.port,
                             workers=a.workers, log_level="warning",
                             timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
        # Open live streams (server-sent events) would otherwise hold shutdown until they time
        # out: in-flight requests get a few seconds, then what is still running is cancelled.
        # the signer's leaves are encoded, and the order batches written, in processes of
        # their own unless told otherwise (`registry.leaf_process`, `registry.order_process`):
        # the serving process keeps its interpreter for requests
        app = create_app({"REGISTRY_LEAF_PROCESS": "1", "REGISTRY_ORDER_PROCESS": "1",
                          **ctx.env})
        settle_heap()  # see registry.gc_pause: fewer, shorter full collections while serving
        uvicorn.run(app, host=a.host, port=a.port,
                    log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    finally:
        claim.release()
    return None


def add_token_commands(subparsers: Subparsers) -> None:
    token = add_group(subparsers, "token", "API tokens of users (stored only as hashes)")
    p = add_command(token, "create", cmd_token_create,
                    "issue a bearer token of the authenticated user (or, by an administrator, "
                    "of a named user who is not an administrator or auditor); printed once",
                    writes=False, person=True)
    p.add_argument("--user", metavar="LOGIN", default=None,
                   help="the user it acts as (default: the authenticated user itself; "
                        "another user only by an administrator, recorded as its issuer)")
    p.add_argument("--days", type=whole_number, default=30, help="validity (default 30)")
    # issued while the service runs, whose follower owns the ledger and appends the event
    p.set_defaults(leave_ledger=True)
    p = add_command(token, "revoke", cmd_token_revoke,
                    "revoke a token by its id (one's own, or any by an administrator)",
                    writes=False, person=True)
    p.add_argument("token_id", metavar="ID")
    p.set_defaults(leave_ledger=True)
    p = add_command(token, "demo", cmd_token_demo,
                    "demo only: issue one token per role, of users of the demo world (refused "
                    "on a data folder not seeded by 'registry demo')", writes=False)
    p.add_argument("--days", type=whole_number, default=7, help="validity (default 7)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="where the API is served")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cmd_token_create(ctx: Context) -> None:
    a = ctx.args
    if not 0 < a.days <= 366:
        raise CliError("--days is between 1 and 366")
    # the registry's rules, as over HTTP: one's own token, or an administrator's for a named
    # user who holds no privileged role (recorded with the administrator as issuer)
    user = ctx.person if a.user is None else ctx.registry.users.user_by_login(a.user)
    token_id, secret = ctx.registry.users.issue_token(user_id=user.user_id, by=ctx.actor,
                                                      at=_now(), days=a.days)
    print(f"id {token_id}  user {user.login} ({', '.join(user.roles) or 'no roles'})  "
          f"expires in {a.days} days")
    print(secret)


def cmd_token_revoke(ctx: Context) -> None:
    for user in ctx.registry.users.users():
        token = user.tokens.get(ctx.args.token_id)
        if token is not None and token["revoked_at"] is None:
            ctx.registry.users.revoke_token(user_id=user.user_id, token_id=ctx.args.token_id,
                                            by=ctx.actor, at=_now())
            print(f"token {ctx.args.token_id} of {user.login} revoked")
            return
    raise CliError(f"no active token with id {ctx.args.token_id!r}")




def demo_subjects(registry: Registry) -> dict[str, tuple[str, str]]:
    """role -> (subject, description), picked from the demo world in the store."""
    from registry.demo import ADMIN, AGENCIES, DEMO_AUDITOR, FIRMS

    catalogue = registry.catalogue().entries
    firms = {registry.enterprise(c).name: c for c in catalogue["enterprises"]}
    agencies = {registry.agency(c).name: c for c in catalogue["agencies"]}
    firm, agency = FIRMS[0].name, AGENCIES[0][1]
    if firm not in firms or agency not in agencies:
        raise CliError("the store holds no demo world (run 'registry demo' first)")
    return {"enterprise": (firms[firm], firm),
            "representative": (firms[firm], f"{firm}: its second representative"),
            "agency": (agencies[agency], agency),
            "administrator": (ADMIN, "exchange administrator"),
            "auditor": (DEMO_AUDITOR, "auditor")}


def _demo_login(ctx: Context, user: Any) -> tuple[str, str, str | None]:
    """A new password for a demo user (and, for an administrator, a new one-time code
    secret): (login, password, TOTP secret or None)."""
    import secrets as random_secrets

    password = random_secrets.token_urlsafe(12)
    ctx.registry.users.set_password(user_id=user.user_id, password=password,
                                    by="system:cli-token-demo", at=_now())
    totp = None
    if "administrator" in user.roles:
        totp = ctx.registry.users.enroll_second_factor(user_id=user.user_id,
                                                       by="system:cli-token-demo", at=_now())
    return user.login, password, totp


def cmd_token_demo(ctx: Context) -> None:
    from cli.registry_commands import DEMO_MARKER, is_demo_folder
    from registry.seed_users import issue_in, user_for

    if not is_demo_folder(ctx):
        raise CliError(f"token demo is for the demo world only: data folder {ctx.data_dir!r} "
                       f"was not seeded by 'registry demo' (no {DEMO_MARKER} marker); use "
                       "'registry token create' as the user instead")
    if not 0 < ctx.args.days <= 366:
        raise CliError("--days is between 1 and 366")
    subjects = demo_subjects(ctx.registry)
    issued = {role: issue_in(ctx.registry, role, subject, days=ctx.args.days)[1]
              for role, (subject, _) in subjects.items()}
    print(f"API docs: {ctx.args.url}/docs")
    print(f"Bearer tokens for the demo world (valid {ctx.args.days} days, shown only now):")
    logins = []
    for role, secret in issued.items():
        subject, description = subjects[role]
        user = user_for(ctx.registry, role, subject)
        print(f"  {role:<13} {subject}  ({description}; user {user.login})")
        print(f"  {'':<13} {secret}")
        logins.append(_demo_login(ctx, user))
    print(f"Console: {ctx.args.url}/console/ (public registry; sign in at /console/login)")
    print("Log in (POST /login, or the console) with a fresh password set for each demo user:")
    for login, password, totp in logins:
        second = f"  one-time codes from secret {totp}" if totp else ""
        print(f"  {login:<34} password {password}{second}")
    code = subjects["enterprise"][0]
    print(f"Try: curl -H 'Authorization: Bearer {issued['enterprise']}' "
          f"{ctx.args.url}/holdings/{code}")
