"""Confirmed-right commands: ``right confirm`` (administrators) and ``right show``."""

from __future__ import annotations

from cli.base import (
    Context,
    Subparsers,
    add_command,
    add_group,
    credit_code,
    emit_json,
    iso_date,
    quantity,
    upper,
)


def add_right_commands(subparsers: Subparsers) -> None:
    actions = add_group(subparsers, "right", "confirmed rights: an enterprise's annual right "
                                             "per kind from its permit or quota")
    p = add_command(actions, "confirm", cmd_confirm,
                    "confirm (or re-confirm with a new permit) an enterprise's annual right",
                    person=True)
    p.add_argument("enterprise", type=credit_code, metavar="CREDIT_CODE")
    p.add_argument("--kind", type=upper, required=True)
    p.add_argument("--quantity", type=quantity, required=True,
                   help="kg a year (kgce a year for ENERGY)")
    p.add_argument("--permit", required=True, help="the discharge permit's or quota's number")
    p.add_argument("--valid-from", type=iso_date, required=True)
    p.add_argument("--valid-until", type=iso_date, required=True)
    p = add_command(actions, "show", cmd_show, "an enterprise's confirmed rights as JSON",
                    writes=False)
    p.add_argument("enterprise", type=credit_code, metavar="CREDIT_CODE")


def cmd_confirm(ctx: Context) -> None:
    a = ctx.args
    right = ctx.registry.rights.confirm_right(enterprise=a.enterprise, kind=a.kind,
                                              quantity=a.quantity, permit=a.permit,
                                              valid_from=a.valid_from, valid_until=a.valid_until,
                                              actor=ctx.actor, at=ctx.at)
    print(f"confirmed {right.kind} right of {right.enterprise}: {right.quantity} a year under "
          f"permit {a.permit} ({a.valid_from} – {a.valid_until})")


def cmd_show(ctx: Context) -> None:
    from registry.rights import right_view

    emit_json([right_view(r) for r in ctx.registry.rights.rights_of(ctx.args.enterprise)])
