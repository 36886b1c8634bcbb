"""``registry receipt verify``: check a receipt from the HTTP API offline, trusting only the
ledger's verifier key.

A receipt (``GET /trades/{id}/receipt``, ``GET /holdings/{code}/receipts/{position}``…) holds
the ledger leaf of one event, an inclusion proof and the signed checkpoint the proof is against.
Verifying it (``registry.receipts.verify_receipt``): the checkpoint's signature against the
verifier key, the proof from the leaf's RFC 6962 hash to the checkpoint's root, the proof's tree
size equal to the checkpoint's, and the receipt's own claims against the leaf — its subject one
of the leaf's typed subjects (exact), its event the leaf's event type, its position and index
the leaf's, its disclosed parts opening their commitments. ``--subject``, ``--subject-type``
and ``--event`` add what the caller expects the leaf to name.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.base import (
    EXIT_FAILURE,
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    fail,
    read_text,
)


def add_receipt_commands(subparsers: Subparsers) -> None:
    receipt = add_group(subparsers, "receipt", "ledger receipts of trades and transfers")
    p = add_command(receipt, "verify", cmd_receipt_verify,
                    "verify a receipt offline against the ledger's verifier key", writes=False)
    p.add_argument("file", type=Path, metavar="RECEIPT", help="the receipt JSON ('-' not read)")
    p.add_argument("--vkey", type=Path, required=True, metavar="FILE",
                   help="the verifier key, obtained out of band (GET /ledger/vkey)")
    p.add_argument("--subject", metavar="ID",
                   help="the exact id the leaf must name (trade id, agreement reference…)")
    p.add_argument("--subject-type", metavar="TYPE",
                   help="the type of that subject (trade, agreement, auction, lot, transfer, "
                        "deposit…)")
    p.add_argument("--event", metavar="NAME",
                   help="the event type the leaf must record (e.g. Settled, TradeApproved)")
    add_witness_arguments(p)


def add_witness_arguments(p: argparse.ArgumentParser) -> None:
    """``--witness FILE`` (repeatable) and ``--quorum K``: k of n named witnesses."""
    p.add_argument("--witness", action="append", type=Path, default=[], metavar="VKEY-FILE",
                   help="a witness's cosignature/v1 verifier key (repeatable)")
    p.add_argument("--quorum", type=int, default=None, metavar="K",
                   help="how many of the named witnesses must have cosigned the checkpoint "
                        "(default: all of them)")


def check_witnesses(ctx: Context, note: str) -> str | None:
    """A line naming the witnesses that cosigned ``note``, or None when none were named;
    CliError for a bad quorum, QuorumError when too few cosigned."""
    from ledger.witness import verify_quorum

    keys = [read_text(f, "witness key").strip() for f in ctx.args.witness]
    if not keys:
        if ctx.args.quorum:
            raise CliError("--quorum needs --witness")
        return None
    quorum = len(keys) if ctx.args.quorum is None else ctx.args.quorum
    if not 1 <= quorum <= len(keys):
        raise CliError(f"--quorum must be between 1 and {len(keys)}")
    names = verify_quorum(note, keys, quorum)
    return f"OK: cosigned by {len(names)} of {len(keys)} named witnesses ({', '.join(names)})"


def cmd_receipt_verify(ctx: Context) -> int | None:
    from registry.receipts import ReceiptError, verify_receipt

    args = ctx.args
    try:
        receipt = json.loads(read_text(args.file, "receipt"))
    except json.JSONDecodeError as e:
        raise CliError(f"the receipt is not JSON: {e}") from None
    if not isinstance(receipt, dict):
        raise CliError("the receipt is not a JSON object")
    vkey = read_text(args.vkey, "verifier key").strip()
    from ledger.merkle import VerificationError

    try:
        verified = verify_receipt(receipt, vkey=vkey, subject=args.subject,
                                  subject_type=args.subject_type, event=args.event)
        witnessed = check_witnesses(ctx, str(receipt.get("checkpoint", "")))
    except (ReceiptError, VerificationError) as e:
        return fail(f"receipt verification failed: {e}", EXIT_FAILURE)
    except ValueError as e:  # a malformed verifier key
        raise CliError(str(e)) from None
    print(verified.summary())
    if witnessed:
        print(witnessed)
    for part, value in verified.disclosed.items():
        print(f"disclosed {part}: {json.dumps(value, ensure_ascii=False)}")
    return None
