"""The ledger follower: every committed registry event becomes exactly one leaf, in commit order.

Leaf bytes are the RFC 8785 canonical JSON of the event record (``registry.events``): position in
the event log, aggregate id, version, topic, timestamp and payload. The ledger numbers its own
leaves 0, 1, 2, … and each leaf records the log position it came from, so gaps in the store's
notification ids never become gaps in the ledger.

Resuming: the position in the last stored leaf says where to continue. A crash mid-batch leaves
either the whole batch (one write) or a torn tail that the ledger truncates on reopen (and logs,
keeping the dropped bytes); either way the next catch-up continues after the last complete leaf:
no gap, no duplicate.

Never signing what was not re-derived: the follower installs :meth:`LedgerFollower.check_leaves`
as the ledger's leaf check, so before any checkpoint covers new leaves each one, read back from
the leaf file, is compared byte for byte with the leaf re-encoded from the stored event at the
position it names, and the positions must be exactly the store's events in order. A mismatch
raises ``LeafMismatchError`` naming the index and nothing is signed.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from ledger.errors import LeafMismatchError
from ledger.keys import load_or_create_key
from ledger.log import Ledger
from registry import canonical
from registry.config import Settings
from registry.events import to_record

DEFAULT_ORIGIN = "surplus-registry.local/ledger"


@dataclass(frozen=True)
class LedgerSettings:
    directory: str
    origin: str
    key_name: str
    key_file: str
    checkpoint_every: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LedgerSettings:
        data_dir = Settings.from_env(env).data_dir
        origin = env.get("REGISTRY_LEDGER_ORIGIN", DEFAULT_ORIGIN)
        every = env.get("REGISTRY_CHECKPOINT_EVERY", "1000")
        if not every.isdigit() or int(every) < 1:
            raise ValueError(f"REGISTRY_CHECKPOINT_EVERY must be a positive integer, not {every!r}")
        return cls(
            directory=env.get("REGISTRY_LEDGER_DIR", os.path.join(data_dir, "ledger")),
            origin=origin,
            key_name=env.get("REGISTRY_LEDGER_KEY_NAME", origin),
            key_file=env.get("REGISTRY_LEDGER_KEY_FILE",
                             os.path.join(data_dir, "ledger-signing.key")),
            checkpoint_every=int(every),
        )


def open_ledger(settings: LedgerSettings) -> Ledger:
    """Open the ledger, creating its signing key (mode 0600) on first start."""
    signer = load_or_create_key(settings.key_file, key_name=settings.key_name)
    return Ledger(settings.directory, origin=settings.origin, signer=signer)


def encode_leaf(app: Application, notification: Notification) -> bytes:
    """The canonical leaf of one stored event. A stored event that no longer decodes (damaged
    in the store) still yields a leaf, holding its raw bytes, so verification can name it."""
    try:
        record = to_record(notification.id, app.mapper.to_domain_event(notification))
    except Exception:  # any damage must surface as a mismatching leaf, never a crash
        record = {
            "position": notification.id, "aggregate_id": str(notification.originator_id),
            "version": notification.originator_version, "topic": notification.topic,
            "undecodable": base64.b64encode(notification.state).decode("ascii"),
        }
    return canonical.dumps(record)  # RFC 8785 (registry.canonical)


def decode_leaf(leaf: bytes) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(leaf)
    return record


def store_leaves(app: Application, *, limit: int | None = None,
                 page: int = 1000) -> Iterator[bytes]:
    """Leaves re-derived from the event store as it is now, in commit order."""
    done, start = 0, 1
    while limit is None or done < limit:
        size = page if limit is None else min(page, limit - done)
        batch = app.recorder.select_notifications(start, size)
        if not batch:
            return
        for n in batch:
            yield encode_leaf(app, n)
        done += len(batch)
        start = batch[-1].id + 1


class LedgerFollower:
    def __init__(self, app: Application, ledger: Ledger, *, checkpoint_every: int = 1000) -> None:
        self.app = app
        self.ledger = ledger
        self.checkpoint_every = checkpoint_every
        ledger.set_leaf_check(self.check_leaves)

    def check_leaves(self, first: int, leaves: Sequence[bytes]) -> None:
        """Raise :class:`LeafMismatchError` unless ``leaves`` (indexes ``first``…) are exactly
        the leaves of the store's events, in commit order, at the positions they name."""
        if not leaves:
            return
        positions = [_leaf_position(first + i, leaf) for i, leaf in enumerate(leaves)]
        low, high = positions[0], positions[-1]
        stored = {} if high < low else {
            n.id: n for n in self.app.recorder.select_notifications(
                low, high - low + 1, stop=high)}
        previous = None
        for offset, (leaf, pos) in enumerate(zip(leaves, positions, strict=True)):
            index = first + offset
            if previous is not None and pos <= previous:
                raise LeafMismatchError(index, f"position {pos} does not follow {previous}")
            notification = stored.get(pos)
            if notification is None:
                raise LeafMismatchError(index, f"the store holds no event at position {pos}")
            if encode_leaf(self.app, notification) != leaf:
                raise LeafMismatchError(index, f"differs from the stored event at position {pos}")
            previous = pos
        skipped = sorted(set(stored) - set(positions))
        if skipped:
            raise LeafMismatchError(first + positions.index(min(p for p in positions
                                                                if p > skipped[0])),
                                    f"the stored event at position {skipped[0]} has no leaf")

    def last_position(self) -> int:
        if self.ledger.size == 0:
            return 0
        return int(decode_leaf(self.ledger.leaf(self.ledger.size - 1))["position"])

    def catch_up(self, *, page: int = 1000,
                 progress: Callable[[int], object] | None = None) -> int:
        """Append a leaf for every event committed since the last one; sign checkpoints every
        ``checkpoint_every`` leaves and at the end. Returns the number of leaves appended."""
        start = self.last_position() + 1
        appended = 0
        signed_at = self.ledger.size
        while True:
            batch = self.app.recorder.select_notifications(start, page)
            if not batch:
                break
            self.ledger.append_many([encode_leaf(self.app, n) for n in batch])
            appended += len(batch)
            start = batch[-1].id + 1
            if self.ledger.size - signed_at >= self.checkpoint_every:
                self.ledger.checkpoint()
                signed_at = self.ledger.size
            if progress is not None:
                progress(appended)
        if self.ledger.signed_size != self.ledger.size:  # incl. an unsigned tail of a past run
            self.ledger.checkpoint()
        return appended


def _leaf_position(index: int, leaf: bytes) -> int:
    try:
        position = json.loads(leaf)["position"]
    except (ValueError, KeyError, TypeError):
        raise LeafMismatchError(index, "is not a leaf record") from None
    if type(position) is not int:
        raise LeafMismatchError(index, "names no integer position")
    return position
