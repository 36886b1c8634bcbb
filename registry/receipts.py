"""Receipts: the ledger leaf of one registry event, its inclusion proof and a checkpoint.

A receipt lets the owner of a trade or transfer prove, with nothing but the log's verifier key,
that the event recording it is in the public ledger: check the checkpoint's signature, hash the
leaf (RFC 6962 ``hash_leaf``) and check the inclusion proof against the checkpoint's root; the
leaf itself is the event's canonical JSON (``registry.events``), so it names the trade.

Leaves record the event-log position they came from and are in commit order, so the leaf of a
position is found by binary search over the ledger.
"""

from __future__ import annotations

import base64
from typing import Any

from domain.errors import NotFound
from ledger.checkpoint import read_checkpoint_unverified
from ledger.log import Ledger
from registry.ledger_follower import decode_leaf


def ledger_index(ledger: Ledger, position: int) -> int:
    """The index of the leaf made from event-log ``position``."""
    low, high = 0, ledger.size - 1
    while low <= high:
        mid = (low + high) // 2
        found = int(decode_leaf(ledger.leaf(mid))["position"])
        if found == position:
            return mid
        if found < position:
            low = mid + 1
        else:
            high = mid - 1
    raise NotFound(f"no ledger leaf for event-log position {position} yet")


def receipt(ledger: Ledger, position: int) -> dict[str, Any]:
    """``{"position", "index", "leaf", "checkpoint", "proof": {"index", "size", "hashes"}}``,
    leaf and hashes in base64; the proof is against the size of the latest checkpoint. The
    ledger must be caught up and checkpointed past ``position`` (`AppState.caught_up`)."""
    index = ledger_index(ledger, position)
    note = ledger.latest_checkpoint()
    if note is None:
        raise NotFound("the ledger has no checkpoint yet")
    size = read_checkpoint_unverified(note).size
    if size <= index:
        raise NotFound(f"no checkpoint covers ledger index {index} yet")
    hashes = ledger.inclusion_proof(index, size)
    return {
        "position": position, "index": index,
        "leaf": base64.b64encode(ledger.leaf(index)).decode("ascii"),
        "checkpoint": note,
        "proof": {"index": index, "size": size,
                  "hashes": [base64.b64encode(h).decode("ascii") for h in hashes]},
    }
