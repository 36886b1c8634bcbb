"""``registry receipt verify``: check a receipt from the HTTP API offline, trusting only the
ledger's verifier key.

A receipt (``GET /trades/{id}/receipt``, ``GET /holdings/{code}/receipts/{position}``…) holds
the ledger leaf of one event, an inclusion proof and the signed checkpoint the proof is against.
Verifying it: the checkpoint's signature against the verifier key, the proof from the leaf's
RFC 6962 hash to the checkpoint's root, the proof's tree size equal to the checkpoint's, and —
given ``--subject`` — the leaf naming that trade, transfer or agreement.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from registry.cli.base import (
    EXIT_FAILURE,
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    fail,
)


class ReceiptError(Exception):
    """The receipt does not prove what it claims."""


def verify_receipt(receipt: dict[str, Any], *, vkey: str, subject: str | None = None) -> str:
    """Check ``receipt`` against ``vkey``; a one-line summary, or :class:`ReceiptError`."""
    from ledger.checkpoint import verify_checkpoint
    from ledger.merkle import VerificationError, hash_leaf, verify_inclusion

    try:
        proof = receipt["proof"]
        leaf = base64.b64decode(receipt["leaf"], validate=True)
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
        index, size = int(proof["index"]), int(proof["size"])
        note = str(receipt["checkpoint"])
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        raise ReceiptError(f"not a receipt: {e}") from None
    try:
        checkpoint = verify_checkpoint(note=note, vkey=vkey)
        if checkpoint.size != size:
            raise ReceiptError(f"the proof is for a tree of {size} leaves, the checkpoint "
                               f"signs {checkpoint.size}")
        verify_inclusion(index=index, size=size, leaf_hash=hash_leaf(leaf), proof=hashes,
                         root=checkpoint.root)
    except VerificationError as e:
        raise ReceiptError(str(e)) from None
    record = json.loads(leaf)
    if subject is not None and subject not in _names(record.get("payload")):
        raise ReceiptError(f"the leaf's event does not name {subject!r}")
    return (f"OK: leaf {index} ({record.get('topic', '?').rsplit(':', 1)[-1]} at event-log "
            f"position {record.get('position')}) is in the {size}-leaf tree of "
            f"{checkpoint.origin}, whose checkpoint is signed by the given key")


def _names(value: Any) -> set[str]:
    """Every string anywhere in the event payload (trade ids sit in lists, references in
    fields)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_names(v) for v in value)) if value else set()
    return set()


def add_receipt_commands(subparsers: Subparsers) -> None:
    receipt = add_group(subparsers, "receipt", "ledger receipts of trades and transfers")
    p = add_command(receipt, "verify", cmd_receipt_verify,
                    "verify a receipt offline against the ledger's verifier key", writes=False)
    p.add_argument("file", type=Path, metavar="RECEIPT", help="the receipt JSON ('-' not read)")
    p.add_argument("--vkey", type=Path, required=True, metavar="FILE",
                   help="the verifier key, obtained out of band (GET /ledger/vkey)")
    p.add_argument("--subject", metavar="ID", help="the trade id or reference it must name")


def cmd_receipt_verify(ctx: Context) -> int | None:
    from registry.cli.ledger_commands import read_text

    args = ctx.args
    try:
        receipt = json.loads(read_text(args.file, "receipt"))
    except json.JSONDecodeError as e:
        raise CliError(f"the receipt is not JSON: {e}") from None
    if not isinstance(receipt, dict):
        raise CliError("the receipt is not a JSON object")
    vkey = read_text(args.vkey, "verifier key").strip()
    try:
        print(verify_receipt(receipt, vkey=vkey, subject=args.subject))
    except ReceiptError as e:
        return fail(f"receipt verification failed: {e}", EXIT_FAILURE)
    except ValueError as e:  # a malformed verifier key
        raise CliError(str(e)) from None
    return None
