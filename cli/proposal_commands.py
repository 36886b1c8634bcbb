"""``registry proposal …``: four eyes from the command line, through the same proposal service
as ``/proposals`` (`registry.proposals`).

A sensitive command (a cash deposit or withdrawal, opening a market, …) run by an
authenticated administrator only *proposes* its act (`propose`); it takes effect when a
different administrator, authenticated in turn, runs ``registry proposal approve ID``.
Approving one's own proposal is refused (exit 2).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from cli.base import Context, Parser, Subparsers, add_command, add_group, emit_json

STATES = ("pending", "approved", "rejected", "withdrawn", "expired")
PROPOSAL_ID = re.compile(r"^P-[0-9a-f]{16}$")  # as ``/proposals/{id}`` takes it


def proposal_id(text: str) -> str:
    if not PROPOSAL_ID.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a proposal id such as "
                                         "P-0123456789abcdef")
    return text


def add_proposing_arguments(p: Parser) -> None:
    """What a sensitive command takes beside its own arguments."""
    p.add_argument("--proposal-id", type=proposal_id, metavar="ID", default=None,
                   help="the proposal's id (default: a new random one)")


def propose(ctx: Context, action: str, **params: Any) -> None:
    """Propose ``action`` as the authenticated user and say what it waits for."""
    p = ctx.registry.proposals.propose(action=action, params=params, by=ctx.actor, at=ctx.at,
                                       proposal_id=ctx.args.proposal_id)
    print(f"proposal {p.proposal_id}: {action} of {p.subject}, awaiting a second administrator "
          f"(registry proposal approve {p.proposal_id}); expires {p.expires_at}")


def add_proposal_commands(subparsers: Subparsers) -> None:
    group = add_group(subparsers, "proposal",
                      "sensitive acts waiting for a second administrator (four eyes)")
    p = add_command(group, "list", cmd_proposal_list, "proposals, newest first", writes=False)
    p.add_argument("--state", choices=STATES, default=None)
    p = add_command(group, "show", cmd_proposal_show, "one proposal as JSON", writes=False)
    p.add_argument("proposal_id", metavar="ID")
    p = add_command(group, "approve", cmd_proposal_approve,
                    "approve another administrator's proposal: its act takes effect now",
                    person=True)
    p.add_argument("proposal_id", type=proposal_id, metavar="ID")
    p = add_command(group, "reject", cmd_proposal_reject, "reject a proposal", person=True)
    p.add_argument("proposal_id", type=proposal_id, metavar="ID")
    p.add_argument("--reason", required=True)
    p = add_command(group, "withdraw", cmd_proposal_withdraw,
                    "take one's own proposal back", person=True)
    p.add_argument("proposal_id", type=proposal_id, metavar="ID")


def _public(ctx: Context, proposal_id: str) -> dict[str, Any]:
    from api.schemas.proposals import ProposalPublic

    return ProposalPublic.of(ctx.registry.proposals.proposal(proposal_id), ctx.at).model_dump()


def cmd_proposal_list(ctx: Context) -> None:
    from api.schemas.proposals import ProposalPublic

    emit_json([ProposalPublic.of(p, ctx.at).model_dump()
               for p in ctx.registry.proposals.proposals(state=ctx.args.state, at=ctx.at)])


def cmd_proposal_show(ctx: Context) -> None:
    emit_json(_public(ctx, ctx.args.proposal_id))


def cmd_proposal_approve(ctx: Context) -> None:
    from api.schemas.proposals import plain_result

    result = ctx.registry.proposals.approve_proposal(proposal_id=ctx.args.proposal_id, by=ctx.actor,
                                                     at=ctx.at)
    emit_json({"proposal": _public(ctx, ctx.args.proposal_id), "result": plain_result(result)})


def cmd_proposal_reject(ctx: Context) -> None:
    ctx.registry.proposals.reject_proposal(proposal_id=ctx.args.proposal_id, by=ctx.actor,
                                           reason=ctx.args.reason, at=ctx.at)
    emit_json(_public(ctx, ctx.args.proposal_id))


def cmd_proposal_withdraw(ctx: Context) -> None:
    ctx.registry.proposals.withdraw_proposal(proposal_id=ctx.args.proposal_id, by=ctx.actor,
                                             at=ctx.at)
    emit_json(_public(ctx, ctx.args.proposal_id))
