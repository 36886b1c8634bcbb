"""``registry``: build the command tree and run one command.

Each area registers its commands with an ``add_*_commands(subparsers)`` function listed in
``COMMAND_GROUPS``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager

from cli.api_commands import add_serve_commands, add_token_commands
from cli.base import (
    EXIT_BUSY,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Context,
    Parser,
    Subparsers,
    compose_env,
    fail,
)
from cli.exchange_commands import add_exchange_commands
from cli.ledger_commands import add_audit_commands, add_ledger_commands
from cli.proposal_commands import add_proposal_commands
from cli.receipt_commands import add_receipt_commands
from cli.registry_commands import (
    add_agency_commands,
    add_demo_command,
    add_enterprise_commands,
    add_holding_commands,
    add_query_commands,
    add_retrofit_commands,
)
from cli.report_commands import add_report_commands
from cli.rights_commands import add_right_commands
from cli.sampling_commands import add_sampling_commands
from cli.serving import ServiceBusy
from cli.user_commands import add_user_commands
from cli.witness_commands import add_witness_commands
from domain.errors import RegistryError
from registry.acting import acting


def build_parser() -> Parser:
    parser = Parser(
        prog="registry",
        description="Surplus Registry: surplus emission rights and energy-use rights of "
                    "Guangdong's cleaner-production programme.",
        epilog="Quantities are integers of kg (kgce for ENERGY); 1 t = 1000 kg. "
               "Run 'registry COMMAND --help' for a command's options.",
    )
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="data folder of the event store (default: $REGISTRY_DATA_DIR, "
                             "else 'data')")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND",
                                       required=True)
    for add_commands in COMMAND_GROUPS:
        add_commands(subparsers)
    return parser


def command_paths(parser: argparse.ArgumentParser,
                  prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and action path of the tree (``("retrofit", "verify")``, …)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from command_paths(sub, (*prefix, name))


def main(argv: list[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Run one command; return its exit status (0 ok, 1 failure, 2 bad input)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        ctx = Context(args=args, env=compose_env(args, env))
        with claim_for(ctx):
            try:
                # a person's act runs as the authenticated user; a local maintenance
                # command (demo, bootstrap, repair, scheduled jobs) names itself
                job = getattr(args.handler, "__name__", "command").removeprefix("cmd_")
                actor = ctx.actor if getattr(args, "person", False) \
                    else f"system:cli-{job.replace('_', '-')}"
                with acting(actor):
                    result = args.handler(ctx)
                if args.beside_service == "refuse" and not getattr(args, "leave_ledger", False):
                    ctx.follow(only_if_open=True)  # a writer's events reach the ledger first
            finally:
                ctx.close()  # the ledger is released before a waiting service may take it
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    except ServiceBusy as e:
        return fail(str(e), EXIT_BUSY)
    except (CliError, RegistryError) as e:
        return fail(str(e), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:  # the reader went away (``registry balances | head``)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit-time flush stays quiet
        return EXIT_FAILURE
    except Exception as e:
        if (env if env is not None else os.environ).get("REGISTRY_DEBUG"):
            traceback.print_exc()
        return fail(f"{type(e).__name__}: {e} (set REGISTRY_DEBUG=1 for the traceback)",
                    EXIT_FAILURE)
    return EXIT_OK if result is None else result


def claim_for(ctx: Context) -> AbstractContextManager[None]:
    """A command that writes the store or the ledger holds the shared serve claim of its data
    folder while it runs, and is refused before it writes anything if ``registry serve`` holds
    it (`cli.serving`); other commands run beside the service."""
    from cli.serving import writing_beside_no_service

    if ctx.args.beside_service != "refuse" or ctx.settings.store == "memory":
        return contextlib.nullcontext()
    hint = getattr(ctx.args, "served_hint", None) or \
        "send the write through the service's HTTP API, or stop the service and run it again"
    return writing_beside_no_service(ctx.data_dir, hint)


#: The command tree, one function per area. Add yours here: ``add_x_commands(subparsers)``.
COMMAND_GROUPS: list[Callable[[Subparsers], None]] = [
    add_demo_command,
    add_enterprise_commands,
    add_agency_commands,
    add_retrofit_commands,
    add_holding_commands,
    add_query_commands,
    add_exchange_commands,
    add_ledger_commands,
    add_audit_commands,
    add_serve_commands,
    add_token_commands,
    add_user_commands,
    add_receipt_commands,
    add_sampling_commands,
    add_right_commands,
    add_report_commands,
    add_witness_commands,
    add_proposal_commands,
]
