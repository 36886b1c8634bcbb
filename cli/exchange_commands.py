"""Exchange commands for operators: cash, markets, orders and the verification queue.

Prices are integers of fen per tonne and quantities integers of kg, like everywhere else.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.base import (
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    credit_code,
    emit_json,
    quantity,
    upper,
    whole_number,
)
from cli.proposal_commands import add_proposing_arguments, propose


def fen(text: str) -> int:
    return whole_number(text, "an amount of fen")


def sessions_arg(text: str) -> list[list[str]]:
    """``continuous`` (no session bounds) or ``HH:MM-HH:MM,HH:MM-HH:MM`` (China time)."""
    if text.strip().lower() == "continuous":
        return []
    out = []
    for part in text.split(","):
        a, sep, b = part.strip().partition("-")
        if not sep:
            raise argparse.ArgumentTypeError(f"a session reads HH:MM-HH:MM, got {part!r}")
        out.append([a.strip(), b.strip()])
    return out


def add_exchange_commands(subparsers: Subparsers) -> None:
    cash = add_group(subparsers, "cash", "enterprises' CNY accounts (integer fen)")
    for name, handler, summary in (("deposit", cmd_deposit, "record a deposit"),
                                   ("withdraw", cmd_withdraw, "record a withdrawal")):
        p = add_command(cash, name, handler,
                        f"{summary} (proposed; a second administrator approves it)",
                        person=True)
        p.add_argument("enterprise", type=credit_code, metavar="CODE")
        p.add_argument("--amount", type=fen, required=True, help="fen")
        p.add_argument("--reference", required=True, help="bank or payment reference")
        add_proposing_arguments(p)
    p = add_command(cash, "show", cmd_cash_show, "balance, reserved and available", writes=False)
    p.add_argument("enterprise", type=credit_code, metavar="CODE")

    market = add_group(subparsers, "market", "one order book per instrument")
    p = add_command(market, "open", cmd_market_open,
                    "open the market of an instrument (proposed; a second administrator "
                    "approves it)", person=True)
    p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
    p.add_argument("--reference-price", type=fen, required=True, help="fen per tonne")
    p.add_argument("--verify-above", type=fen, default=None,
                   help="trades worth more (fen) wait for an administrator")
    add_proposing_arguments(p)
    p.add_argument("--sessions", type=sessions_arg, default=None,
                   help="trading sessions in China time on working days, e.g. "
                        "09:30-11:30,13:00-15:00 (the default), or 'continuous'")
    for name, handler, summary in (("halt", cmd_market_halt, "stop taking orders (held)"),
                                   ("resume", cmd_market_resume, "take orders again")):
        p = add_command(market, name, handler, summary, person=True)
        p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
        p.add_argument("--reason", required=True)
    add_command(market, "close-day", cmd_market_close,
                "the close job: expire day orders (and GTC orders past their bound)")
    add_command(market, "roll", cmd_market_roll,
                "the roll job: today's reference prices; orders outside the band cancelled")
    p = add_command(market, "book", cmd_market_book, "order-book depth", writes=False)
    p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
    p.add_argument("--levels", type=quantity, default=10)

    order = add_group(subparsers, "order", "orders on a market (acknowledged once stored)")
    p = add_command(order, "submit", cmd_order_submit,
                    "submit a limit or market order, entered by the authenticated user (a "
                    "trader of the account's enterprise, or an administrator)", person=True)
    p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
    p.add_argument("--id", required=True, dest="order_id")
    p.add_argument("--account", type=credit_code, required=True, help="the enterprise")
    p.add_argument("--side", choices=("buy", "sell"), required=True)
    p.add_argument("--type", choices=("limit", "market"), default="limit", dest="kind")
    p.add_argument("--price", type=fen, default=0, help="fen per tonne (limit orders)")
    p.add_argument("--quantity", type=quantity, required=True, help="kg")
    p = add_command(order, "cancel", cmd_order_cancel,
                    "cancel a resting order, as the authenticated user", person=True)
    p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
    p.add_argument("--id", required=True, dest="order_id")
    p.add_argument("--account", type=credit_code, required=True)

    queue = add_group(subparsers, "queue", "trades waiting for an administrator")
    add_command(queue, "list", cmd_queue_list, "every trade waiting", writes=False)
    for name, handler in (("approve", cmd_queue_approve), ("reject", cmd_queue_reject)):
        p = add_command(queue, name, handler, f"{name} a waiting trade (four eyes)",
                        person=True)
        p.add_argument("instrument", type=upper, metavar="INSTRUMENT")
        p.add_argument("--trade", required=True)
        if name == "reject":
            p.add_argument("--reason", required=True)


def cmd_deposit(ctx: Context) -> None:
    a = ctx.args
    propose(ctx, "deposit", enterprise=a.enterprise, amount=a.amount, reference=a.reference)


def cmd_withdraw(ctx: Context) -> None:
    a = ctx.args
    propose(ctx, "withdraw", enterprise=a.enterprise, amount=a.amount, reference=a.reference)


def cmd_cash_show(ctx: Context) -> None:
    account = ctx.registry.exchange.cash_account(ctx.args.enterprise)
    emit_json({"enterprise": ctx.args.enterprise, "balance": account.balance,
               "reserved": account.reserved, "available": account.available(),
               "unit": "fen"})


def cmd_market_open(ctx: Context) -> None:
    a = ctx.args
    extra = {name: value for name, value in (("sessions", a.sessions),
                                             ("verify_above", a.verify_above))
             if value is not None}
    propose(ctx, "open_market", instrument=a.instrument, reference_price=a.reference_price,
            **extra)


def cmd_market_halt(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.lifecycle.halt_market(instrument=a.instrument, reason=a.reason,
                                       administrator=ctx.actor, at=ctx.at)
    emit_json({"market": a.instrument, "halted": True})


def cmd_market_resume(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.lifecycle.resume_market(instrument=a.instrument, reason=a.reason,
                                         administrator=ctx.actor, at=ctx.at)
    emit_json({"market": a.instrument, "halted": False})


def cmd_market_close(ctx: Context) -> None:
    emit_json({"job": "system:close", "expired": ctx.registry.sessions.close_markets(at=ctx.at)})


def cmd_market_roll(ctx: Context) -> None:
    emit_json({"job": "system:roll", "markets": ctx.registry.sessions.roll_markets(at=ctx.at)})


def cmd_market_book(ctx: Context) -> None:
    depth = ctx.registry.exchange.book(ctx.args.instrument).depth(ctx.args.levels)
    emit_json({"instrument": ctx.args.instrument,
               "bids": [list(level) for level in depth.bids],
               "asks": [list(level) for level in depth.asks]})


def outcome_record(outcome: Any) -> dict[str, Any]:
    return {"order": outcome.order_id, "status": outcome.status, "resting": outcome.resting,
            "fills": [{"trade": f[0], "price": f[1], "quantity": f[2], "state": f[3]}
                      for f in outcome.fills]}


def entering(ctx: Context, account: str) -> str:
    """Who enters an order for ``account``: the authenticated user, if it may act for that
    enterprise as over HTTP (`api.deps.acting_for`): its own trader or representative, or
    an administrator."""
    from api.tokens import coarse_role

    person = ctx.person
    role = coarse_role(person)
    if role == "administrator" or (role == "enterprise"
                                   and person.organisation_code == account):
        return person.user_id
    raise CliError(f"user {person.login} may not enter orders for enterprise {account} (its "
                   "own traders and administrators may)")


def cmd_order_submit(ctx: Context) -> None:
    a = ctx.args
    entered_by = entering(ctx, a.account)
    out = ctx.registry.exchange.submit_order(instrument=a.instrument, order_id=a.order_id,
                                             account=a.account,
                                             side="B" if a.side == "buy" else "S",
                                             kind="L" if a.kind == "limit" else "M", price=a.price,
                                             qty=a.quantity, entered_by=entered_by, at=ctx.at)
    emit_json(outcome_record(out))


def cmd_order_cancel(ctx: Context) -> None:
    a = ctx.args
    out = ctx.registry.exchange.cancel_order(instrument=a.instrument, order_id=a.order_id,
                                             account=a.account, entered_by=entering(ctx, a.account),
                                             at=ctx.at)
    emit_json(outcome_record(out))


def cmd_queue_list(ctx: Context) -> None:
    emit_json(ctx.registry.exchange.verification_queue())


def cmd_queue_approve(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.exchange.approve_trade(instrument=a.instrument, trade_id=a.trade,
                                        administrator=ctx.actor, at=ctx.at)
    print(f"{a.trade}: approved and settled")


def cmd_queue_reject(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.exchange.reject_trade(instrument=a.instrument, trade_id=a.trade,
                                       administrator=ctx.actor, reason=a.reason, at=ctx.at)
    print(f"{a.trade}: rejected; reservations released")
