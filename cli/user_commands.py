"""``registry admin bootstrap`` and ``registry user …``: users, locally, from the data folder.

Whoever holds the data folder is the operator: these commands act as ``system:cli-…``. The
founding administrators (two: four eyes need two) come from ``admin bootstrap``; everything
else about users is also on the HTTP API, where it names the administrator who did it.
"""

from __future__ import annotations

import os
import secrets
import sys

from cli.base import (
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    credit_code,
)

ROLE_CHOICES = ("trader", "representative", "agency_staff")


def add_user_commands(subparsers: Subparsers) -> None:
    admin = add_group(subparsers, "admin", "the founding administrators")
    p = add_command(admin, "bootstrap", cmd_admin_bootstrap,
                    "create a founding administrator (two at most; prints its one-time "
                    "code secret)")
    p.add_argument("--login", required=True)
    p.add_argument("--name", required=True, help="display name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (default: generate and "
                        "print one)")
    # may run while the service serves: its follower owns the ledger and appends the events
    p.set_defaults(leave_ledger=True)

    user = add_group(subparsers, "user", "users of the registry")
    p = add_command(user, "create", cmd_user_create,
                    "create a user of an enterprise, an agency, the regulator or an audit "
                    "body, as the authenticated administrator (the administrator and auditor "
                    "roles: through a proposal)", person=True)
    p.add_argument("--login", required=True)
    p.add_argument("--name", required=True, help="display name")
    org = p.add_mutually_exclusive_group(required=True)
    org.add_argument("--enterprise", type=credit_code, metavar="CODE")
    org.add_argument("--agency", type=credit_code, metavar="CODE")
    org.add_argument("--regulator", action="store_true")
    org.add_argument("--audit-body", action="store_true")
    p.add_argument("--role", action="append", choices=ROLE_CHOICES, default=[],
                   help="repeat for several")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input")
    p.set_defaults(leave_ledger=True)
    p = add_command(user, "list", cmd_user_list, "every user, its organisation and roles",
                    writes=False)


def _password(ctx: Context, *, generate: bool) -> tuple[str | None, bool]:
    """(password, whether it was generated here)."""
    if ctx.args.password_stdin:
        text = sys.stdin.readline().rstrip("\n")
        if not text:
            raise CliError("no password on standard input")
        return text, False
    if os.environ.get("REGISTRY_BOOTSTRAP_PASSWORD") and generate:
        return os.environ["REGISTRY_BOOTSTRAP_PASSWORD"], False
    return (secrets.token_urlsafe(18), True) if generate else (None, False)


def cmd_admin_bootstrap(ctx: Context) -> None:
    import pyotp

    password, generated = _password(ctx, generate=True)
    user, totp = ctx.registry.users.bootstrap_administrator(
        login=ctx.args.login, display_name=ctx.args.name, password=password, at=ctx.at)
    uri = pyotp.TOTP(totp).provisioning_uri(name=user.login, issuer_name="Surplus Registry")
    print(f"administrator {user.login}  id {user.user_id}")
    if generated:
        print(f"password (shown once): {password}")
    print(f"one-time code secret (shown once; add it to an authenticator app): {totp}")
    print(f"  {uri}")


def cmd_user_create(ctx: Context) -> None:
    a = ctx.args
    organisation, code = (("enterprise", a.enterprise) if a.enterprise else
                          ("agency", a.agency) if a.agency else
                          ("regulator", None) if a.regulator else ("audit_body", None))
    password, _ = _password(ctx, generate=False)
    user = ctx.registry.users.create_user(login=a.login, display_name=a.name,
                                          organisation=organisation, organisation_code=code,
                                          roles=a.role, by=ctx.actor, at=ctx.at,
                                          password=password)
    print(f"user {user.login}  id {user.user_id}  {organisation} {code or ''}  "
          f"roles {', '.join(user.roles) or '-'}".rstrip())


def cmd_user_list(ctx: Context) -> None:
    for u in ctx.registry.users.users():
        org = u.organisation + (f" {u.organisation_code}" if u.organisation_code else "")
        print(f"{u.login:<28} {u.user_id}  {u.status:<9} {org:<30} {','.join(u.roles) or '-'}")
