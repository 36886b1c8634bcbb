"""Ledger and audit commands: export, offline verification, proofs, the auditor's replay.

``ledger verify`` and ``audit replay`` work from an export folder; ``verify`` needs nothing but
the folder and (ideally) a verifier key obtained out of band.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from cli.base import (
    EXIT_FAILURE,
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    emit_json,
    fail,
    position,
    progress_bar,
    read_text,
)
from cli.receipt_commands import add_witness_arguments, check_witnesses
from cli.report_commands import add_audit_zones_command
from cli.sampling_commands import add_audit_sample_command


def add_ledger_commands(subparsers: Subparsers) -> None:
    ledger = add_group(subparsers, "ledger", "the signed append-only ledger of every event")
    p = add_command(ledger, "export", cmd_export,
                    "sign a checkpoint and export checkpoint, vkey and entries.jsonl to DIR",
                    writes=False, beside_service="refuse")
    p.set_defaults(served_hint="the service holds the ledger; read it over HTTP "
                               "(/ledger/checkpoint, /ledger/entries, /ledger/proof/...) or "
                               "stop the service and export again")
    p.add_argument("directory", metavar="DIR", help="folder to write (created if missing)")
    p = add_command(ledger, "verify", cmd_verify,
                    "verify an export offline: signature, every leaf against the root, "
                    "consistency with an earlier checkpoint", writes=False)
    p.add_argument("directory", metavar="DIR", help="an export folder")
    p.add_argument("--vkey", metavar="FILE", type=Path,
                   help="verifier key obtained out of band; without it only the export's "
                        "self-consistency is checked and the command exits 1")
    p.add_argument("--previous-checkpoint", metavar="FILE", type=Path,
                   help="an earlier signed checkpoint the export must extend")
    p.add_argument("--previous-vkey", metavar="FILE", type=Path,
                   help="verifier key of the earlier checkpoint, if the key was rotated since")
    add_witness_arguments(p)
    p = add_command(ledger, "checkpoint", cmd_checkpoint,
                    "bring the ledger up to date and print its latest signed checkpoint",
                    writes=False, beside_service="refuse")
    p.set_defaults(served_hint="the service holds the ledger; GET /ledger/checkpoint from it")
    add_command(ledger, "vkey", cmd_vkey, "print the verifier key (signed-note form)",
                writes=False)
    proof = add_group(ledger, "proof", "RFC 9162 proofs as JSON, hashes in base64")
    proof_hint = "the service holds the ledger; GET /ledger/proof/... from it"
    p = add_command(proof, "inclusion", cmd_inclusion, "inclusion proof of leaf INDEX in a "
                    "tree of SIZE leaves", writes=False, beside_service="refuse")
    p.set_defaults(served_hint=proof_hint)
    p.add_argument("--index", type=position, required=True)
    p.add_argument("--size", type=position, required=True)
    p = add_command(proof, "consistency", cmd_consistency, "consistency proof between tree "
                    "sizes OLD and NEW", writes=False, beside_service="refuse")
    p.set_defaults(served_hint=proof_hint)
    p.add_argument("--old", type=position, required=True)
    p.add_argument("--new", type=position, required=True)


def add_audit_commands(subparsers: Subparsers) -> None:
    audit = add_group(subparsers, "audit", "an auditor's checks from a ledger export")
    p = add_command(audit, "replay", cmd_replay,
                    "rebuild every balance, serial block and state from an export alone and "
                    "reconcile it with the live registry", writes=False)
    p.add_argument("directory", metavar="DIR", help="an export folder")
    p.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
    p = add_command(audit, "matching", cmd_matching,
                    "re-run the matching core over the order stream recorded in an export and "
                    "compare every trade", writes=False)
    p.add_argument("directory", metavar="DIR", help="an export folder")
    add_audit_sample_command(audit)
    add_audit_zones_command(audit)


def cmd_export(ctx: Context) -> None:
    from ledger.export import export_ledger
    from ledger.log import Ledger

    if ctx.settings.store == "memory":
        raise CliError("the in-memory store keeps no ledger; export from a persistent store")
    ctx.follow()
    ledger: Ledger = ctx.ledger
    follower = ctx.follower()
    with progress_bar("ledger: exporting", unit="entries", total=ledger.size) as tick:
        # entries re-derived from the store, each with the openings of its sealed parts
        note = export_ledger(ledger, ctx.args.directory,
                             leaves=lambda size: follower.export_entries(limit=size),
                             progress=tick)
    origin, size, root = note.split("\n")[:3]
    print(f"exported {size} entries of {origin} to {ctx.args.directory} (root {root})")


def cmd_verify(ctx: Context) -> int | None:
    """Without ``--vkey`` the export's own vkey is all there is to check against: that proves
    the files agree with each other, not who signed them, so the command says so loudly and
    exits 1 after the checks (an auditor's script cannot mistake it for a verification)."""
    from ledger.verify import ExportVerificationError, verify_export

    args = ctx.args
    vkey = read_text(args.vkey, "verifier key").strip() if args.vkey else None
    previous = (read_text(args.previous_checkpoint, "checkpoint")
                if args.previous_checkpoint else None)
    previous_vkey = read_text(args.previous_vkey, "verifier key").strip() \
        if args.previous_vkey else None
    if not Path(args.directory).is_dir():
        raise CliError(f"{args.directory!r} is not an export folder")
    try:
        with progress_bar("ledger: verifying", unit="entries") as tick:
            report = verify_export(args.directory, vkey=vkey, previous_checkpoint=previous,
                                   previous_vkey=previous_vkey, progress=tick)
    except ExportVerificationError as e:
        return fail(f"verification failed: {e}", EXIT_FAILURE)
    except ValueError as e:  # a malformed key or checkpoint given on the command line
        raise CliError(str(e)) from None
    if report.vkey_from_export:
        print(f"SELF-CONSISTENCY ONLY: {report.size} entries of {report.origin} agree with a "
              f"checkpoint signed by the export's own key {report.key_id}; that proves nothing "
              "about who signed. Pass --vkey with the registry's verifier key obtained out of "
              "band.")
        return fail("not verified: no verifier key given (--vkey)", EXIT_FAILURE)
    from ledger.merkle import VerificationError

    try:
        witnessed = check_witnesses(ctx, (Path(args.directory) / "checkpoint").read_text())
    except VerificationError as e:
        return fail(f"verification failed: witnesses: {e}", EXIT_FAILURE)
    print(f"OK: {report.size} entries of {report.origin} verified against the checkpoint "
          f"signed by {report.key_name}")
    print(f"trusted key: {report.key_id} (from {args.vkey})")
    if witnessed:
        print(witnessed)
    if report.previous_size is not None:
        print(f"OK: consistent with the earlier checkpoint of size {report.previous_size}")
    return None


def cmd_checkpoint(ctx: Context) -> None:
    ctx.follow()
    note = ctx.ledger.latest_checkpoint() or ctx.ledger.checkpoint()
    sys.stdout.write(note)


def cmd_vkey(ctx: Context) -> None:
    """From the key file alone, so that it also works beside a running service (which holds
    the ledger folder)."""
    from ledger.keys import KeyFileError, load_or_create_key
    from registry.ledger_follower import LedgerSettings

    settings = LedgerSettings.from_env(ctx.env)
    try:
        print(load_or_create_key(settings.key_file, key_name=settings.key_name).vkey)
    except (KeyFileError, ValueError) as e:
        raise CliError(f"ledger: {e}") from None
    except OSError as e:
        raise CliError(f"ledger key: {e.strerror or e}") from None


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def _checked(ctx: Context, size: int) -> None:
    ctx.follow()
    if size > ctx.ledger.size:
        raise CliError(f"the ledger has {ctx.ledger.size} leaves, not {size}")


def cmd_inclusion(ctx: Context) -> None:
    index, size = ctx.args.index, ctx.args.size
    _checked(ctx, size)
    if index >= size:
        raise CliError(f"index {index} is not below size {size}")
    emit_json({"index": index, "size": size,
               "hashes": _b64(ctx.ledger.inclusion_proof(index, size))})


def cmd_consistency(ctx: Context) -> None:
    old, new = ctx.args.old, ctx.args.new
    _checked(ctx, new)
    if not 0 < old <= new:
        raise CliError(f"need 0 < old <= new, got old={old} new={new}")
    emit_json({"old": old, "new": new, "hashes": _b64(ctx.ledger.consistency_proof(old, new))})


def cmd_replay(ctx: Context) -> int | None:
    from registry.audit import reconcile

    directory = Path(ctx.args.directory)
    if not (directory / "entries.jsonl").is_file():
        raise CliError(f"{str(directory)!r} holds no entries.jsonl")
    try:
        with progress_bar("audit: replaying", unit="events") as tick:
            result = reconcile(ctx.registry, directory, progress=tick)
    except (ValueError, KeyError) as e:
        raise CliError(f"the export does not decode: {e}") from None
    if ctx.args.json:
        emit_json(vars(result))
    else:
        print(f"replayed {result.events} events (log positions up to {result.last_position}): "
              f"{result.aggregates} aggregates, {result.instruments} instruments, "
              f"{result.balance_rows} balance rows")
        for line in result.mismatches:
            print(f"MISMATCH {line}")
        print(f"{len(result.mismatches)} mismatches")
    return EXIT_FAILURE if result.mismatches else None




def cmd_matching(ctx: Context) -> int | None:
    from registry.audit_matching import audit_matching

    directory = Path(ctx.args.directory)
    if not (directory / "entries.jsonl").is_file():
        raise CliError(f"{str(directory)!r} holds no entries.jsonl")
    try:
        reproduced, differ, details = audit_matching(directory)
    except (ValueError, KeyError) as e:
        raise CliError(f"the export does not decode: {e}") from None
    for line in details:
        print(f"DIFFER {line}")
    print(f"{reproduced} trades reproduced, {differ} differ")
    return EXIT_FAILURE if differ else None
