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
raises ``LeafMismatchError`` naming the index and nothing is signed. With the ``kept_leaves``
speed-up (`registry.speedups`) an event still exactly as it was when its leaf was appended is
not encoded a second time: the leaf read back is compared with the hash of the leaf encoded
from it then (`KeptLeaf`).

Where the encoding runs: here, or, once `LedgerFollower.encode_in` hands it a leaf process
(`registry.leaf_process`, which ``registry serve`` starts), in that child while it answers;
the leaves are the same and the check before signing is this module's either way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from ledger.errors import LeafMismatchError
from ledger.keys import load_or_create_key
from ledger.log import Ledger
from ledger.merkle import hash_leaf
from registry import canonical
from registry.config import Settings
from registry.events import to_record
from registry.leaves import (
    LEAF_FORMAT,
    SealKey,
    Subject,
    aggregate_subject,
    encode_v2,
    event_subjects,
    leaf_format,
)
from registry.log_reader import LogReader
from registry.speedups import ALL, Speedups, leaf_tail
from registry.witnesses import WitnessClient

if TYPE_CHECKING:
    from registry.leaf_process import LeafProcess

log = logging.getLogger(__name__)

DEFAULT_ORIGIN = "surplus-registry.local/ledger"
SEAL_KEY_FILE = "ledger-seal.key"
#: appended leaves whose encoding the follower keeps for their check (`KeptLeaf`) at most: a
#: ledger that keeps refusing to sign stops keeping them (the check then encodes again)
KEEP_AT_MOST = 65_536


@dataclass(frozen=True)
class LedgerSettings:
    directory: str
    origin: str
    key_name: str
    key_file: str
    checkpoint_every: int
    seal_key_file: str = ""

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
            seal_key_file=env.get("REGISTRY_LEDGER_SEAL_KEY_FILE",
                                  os.path.join(data_dir, SEAL_KEY_FILE)),
        )

    def seal_key(self) -> SealKey:
        """The secret the salts of sealed parts derive from (created, mode 0600, if missing)."""
        return SealKey.load_or_create(self.seal_key_file or
                                      os.path.join(os.path.dirname(self.directory),
                                                   SEAL_KEY_FILE))


def open_ledger(settings: LedgerSettings) -> Ledger:
    """Open the ledger, creating its signing key (mode 0600) on first start."""
    signer = load_or_create_key(settings.key_file, key_name=settings.key_name)
    return Ledger(settings.directory, origin=settings.origin, signer=signer)


def _undecodable(notification: Notification) -> dict[str, Any]:
    return {
        "position": notification.id, "aggregate_id": str(notification.originator_id),
        "version": notification.originator_version, "topic": notification.topic,
        "undecodable": base64.b64encode(notification.state).decode("ascii"),
    }


def encode_leaf(app: Application, notification: Notification) -> bytes:
    """The format-1 leaf of one stored event (what every leaf was before format 2, and what
    older ledgers' leaves are re-derived as). A stored event that no longer decodes (damaged
    in the store) still yields a leaf, holding its raw bytes, so verification can name it."""
    try:
        record = to_record(notification.id, app.mapper.to_domain_event(notification))
    except Exception:  # any damage must surface as a mismatching leaf, never a crash
        record = _undecodable(notification)
    return canonical.dumps(record)  # RFC 8785 (registry.canonical)


def decode_leaf(leaf: bytes) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(leaf)
    return record


Entry = tuple[bytes, dict[str, Any] | None]  # leaf bytes, openings of its sealed parts


class LeafEncoder:
    """Leaves of stored events in the format the ledger uses at each index: format 1 below
    ``format_2_from`` (a ledger begun before format 2), format 2 from there on.

    Format 2 needs each event's aggregate subject, a natural key held by the aggregate's
    creation event: taken from that event when it passes, otherwise read from the store
    once per aggregate and kept."""

    def __init__(self, app: Application, seal: SealKey, *, format_2_from: int = 0) -> None:
        self.app, self.seal, self.format_2_from = app, seal, format_2_from
        self._owners: dict[str, Subject] = {}

    def entry(self, notification: Notification, index: int, *, openings: bool = True) -> Entry:
        """(leaf, openings of its sealed parts; None without ``openings``)."""
        if index < self.format_2_from:
            return encode_leaf(self.app, notification), None
        try:
            event = self.app.mapper.to_domain_event(notification)
            record = to_record(notification.id, event)
        except Exception:  # damage must surface as a mismatching leaf, never a crash
            broken = {**_undecodable(notification), "leaf_format": LEAF_FORMAT, "subjects": []}
            return canonical.dumps(broken), None
        owner = self._owner(record)
        return encode_v2(record, owner=owner, seal=self.seal, openings=openings)

    def subjects(self, notification: Notification) -> list[Subject]:
        """The typed subjects a format-2 leaf of this stored event names."""
        try:
            record = to_record(notification.id, self.app.mapper.to_domain_event(notification))
        except Exception:  # an undecodable event names nothing
            return []
        return [*event_subjects(record["topic"], record["payload"], record["position"]),
                self._owner(record)]

    def leaf(self, notification: Notification, index: int) -> bytes:
        return self.entry(notification, index, openings=False)[0]

    def _owner(self, record: dict[str, Any]) -> Subject:
        aggregate_id = record["aggregate_id"]
        if record["version"] == 1:
            found = aggregate_subject(record["topic"], record["payload"], aggregate_id)
            self._owners[aggregate_id] = found
            return found
        cached = self._owners.get(aggregate_id)
        if cached is None:
            cached = self._owners[aggregate_id] = self._load_owner(record)
        return cached

    def _load_owner(self, record: dict[str, Any]) -> Subject:
        aggregate_id = record["aggregate_id"]
        created = None
        try:
            stored = self.app.recorder.select_events(UUID(aggregate_id), lte=1)
            if stored:
                first = self.app.mapper.to_domain_event(stored[0])
                created = to_record(0, first)["payload"]
        except Exception:  # a damaged creation event: the subject falls back to the id
            created = None
        return aggregate_subject(record["topic"], created, aggregate_id)


def find_format_2_start(ledger: Ledger) -> int:
    """The first index of a format-2 leaf (the ledger's size if it holds none yet, since the
    next leaves will be): leaves switch format once, so a binary search finds it."""
    size = ledger.size
    if size == 0 or leaf_format(decode_leaf(ledger.leaf(size - 1))) == 1:
        return size
    low, high = 0, size - 1
    while low < high:
        mid = (low + high) // 2
        if leaf_format(decode_leaf(ledger.leaf(mid))) == 1:
            low = mid + 1
        else:
            high = mid
    return low


def store_entries(app: Application, encoder: LeafEncoder | None = None, *,
                  limit: int | None = None, page: int = 1000) -> Iterator[Entry]:
    """(leaf, openings) re-derived from the event store as it is now, in commit order;
    without an ``encoder``, format-1 leaves (as every leaf was before format 2)."""
    for done, n in enumerate(LogReader(app, page=page).notifications(limit=limit)):
        yield (encode_leaf(app, n), None) if encoder is None else encoder.entry(n, done)


def store_leaves(app: Application, encoder: LeafEncoder | None = None, *,
                 limit: int | None = None, page: int = 1000) -> Iterator[bytes]:
    """Leaves re-derived from the event store as it is now, in commit order."""
    for leaf, _ in store_entries(app, encoder, limit=limit, page=page):
        yield leaf


StoredKey = tuple[int, UUID | str, int, str, bytes]


def stored_key(notification: Notification) -> StoredKey:
    """Everything a leaf is encoded from: id (position), aggregate, version, topic and the
    SHA-256 of the stored bytes."""
    return (notification.id, notification.originator_id, notification.originator_version,
            notification.topic, hashlib.sha256(notification.state).digest())


class EncodedLeaf(NamedTuple):
    """A new event's leaf and what it was encoded from (`stored_key`), as the follower or
    the leaf process (`registry.leaf_process`) encodes it."""

    stored: StoredKey
    leaf: bytes


def encoded_leaves(app: Application, encoder: LeafEncoder, position: int, first: int,
                   page: int) -> list[EncodedLeaf]:
    """The next at most ``page`` events after log ``position``, encoded, the first as leaf
    ``first``."""
    return [EncodedLeaf(stored_key(n), encoder.leaf(n, first + i)) for i, n in
            enumerate(LogReader(app, position=position, page=page).next_page())]


@dataclass(frozen=True, slots=True)
class KeptLeaf:
    """An appended leaf not yet checked (``kept_leaves``, `registry.speedups`): the stored
    event it was encoded from and the leaf's RFC 9162 hash. Encoding is a function of the
    stored event, so while the store holds that very event, encoding it again gives the leaf
    whose hash this is."""

    stored: StoredKey
    leaf_hash: bytes


class LedgerFollower:
    def __init__(self, app: Application, ledger: Ledger, *, checkpoint_every: int = 1000,
                 seal: SealKey | None = None, speedups: Speedups = ALL) -> None:
        self.app = app
        self.ledger = ledger
        self.checkpoint_every = checkpoint_every
        self.speedups = speedups
        self._kept: dict[int, KeptLeaf] = {}  # ledger index -> what its leaf was encoded from
        self._process: LeafProcess | None = None  # new leaves encoded there (`encode_in`)
        if seal is None:  # the default place: beside the ledger folder, in the data folder
            seal = SealKey.load_or_create(ledger.directory.parent / SEAL_KEY_FILE)
        self.encoder = LeafEncoder(app, seal, format_2_from=find_format_2_start(ledger))
        ledger.set_leaf_check(self.check_leaves)
        self._tip = (-1, 0)  # none yet: `last_position` reads the last leaf
        self._tip = (ledger.size, self.last_position())

    def entries(self, *, limit: int | None = None) -> Iterator[Entry]:
        """(leaf, openings) of every stored event, re-derived in this ledger's formats."""
        return store_entries(self.app, self.encoder, limit=limit)

    def export_entries(self, *, limit: int | None = None
                       ) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
        """(leaf, extra keys of its ``entries.jsonl`` line): the auditor's export carries
        every opening of a leaf's sealed parts under ``openings``."""
        for leaf, openings in self.entries(limit=limit):
            yield leaf, ({"openings": openings} if openings else None)

    def check_leaves(self, first: int, leaves: Sequence[bytes]) -> None:
        """Raise :class:`LeafMismatchError` unless ``leaves`` (indexes ``first``…) are exactly
        the leaves of the store's events, in commit order, at the positions they name."""
        if not leaves:
            return
        if self.speedups.leaf_tails and self._tail_check(first, leaves):
            return
        self._check(first, leaves, _positions(first, leaves))

    def _tail_check(self, first: int, leaves: Sequence[bytes]) -> bool:
        """The check on positions read from the leaves' tails (``leaf_tails``): True if it
        passed, and then they were the positions `_leaf_position` reads (each leaf is the
        encoding of the event at its position, JSON, so its tail is read exactly). A refusal
        on the positions the plain path reads is the plain path's own and stands; otherwise
        False, and the plain check is run."""
        tails: list[int] | None = None
        try:
            tails = [_tail_position(first + i, leaf) for i, leaf in enumerate(leaves)]
            self._check(first, leaves, tails)
            return True
        except LeafMismatchError:
            if tails is not None and _positions(first, leaves) == tails:
                raise
            return False

    def _check(self, first: int, leaves: Sequence[bytes], positions: list[int]) -> None:
        low, high = positions[0], positions[-1]
        stored = {} if high < low else {
            n.id: n for n in LogReader(self.app).select(low, high - low + 1, stop=high)}
        previous = None
        for offset, (leaf, pos) in enumerate(zip(leaves, positions, strict=True)):
            index = first + offset
            if previous is not None and pos <= previous:
                raise LeafMismatchError(index, f"position {pos} does not follow {previous}")
            notification = stored.get(pos)
            if notification is None:
                raise LeafMismatchError(index, f"the store holds no event at position {pos}")
            kept = self._kept.pop(index, None)
            if kept is not None and kept.stored == stored_key(notification) and \
                    kept.leaf_hash == hash_leaf(leaf):
                pass  # encoding this very event again gives the leaf of that hash (KeptLeaf)
            elif self.encoder.leaf(notification, index) != leaf:
                raise LeafMismatchError(index, f"differs from the stored event at position {pos}")
            previous = pos
        skipped = sorted(set(stored) - set(positions))
        if skipped:
            raise LeafMismatchError(first + positions.index(min(p for p in positions
                                                                if p > skipped[0])),
                                    f"the stored event at position {skipped[0]} has no leaf")

    def tip(self) -> tuple[int, int]:
        """(leaves, log position of the last leaf) as of the last append: one consistent
        pair, readable without the lock a catch-up holds (`registry.receipts.leaf_index`).
        Only this follower appends to its ledger."""
        return self._tip

    def last_position(self) -> int:
        if self.ledger.size == 0:
            return 0
        size, position = self._tip
        if self.speedups.leaf_tails and size == self.ledger.size:
            return position  # the last leaf is the one this follower appended last
        return int(decode_leaf(self.ledger.leaf(self.ledger.size - 1))["position"])

    def catch_up(self, *, page: int = 1000,
                 progress: Callable[[int], object] | None = None) -> int:
        """Append a leaf for every event committed since the last one; sign checkpoints every
        ``checkpoint_every`` leaves and at the end. Returns the number of leaves appended."""
        appended = 0
        signed_at = self.ledger.size
        while True:
            first = self.ledger.size
            batch = self._encoded(self.last_position(), first, page)
            if not batch:
                break
            try:
                self.ledger.append_many([e.leaf for e in batch])
            except BaseException:
                self._tip = (self.ledger.size, self.last_position())  # whatever was appended
                raise
            if self.speedups.kept_leaves:
                self._keep(first, [e.stored for e in batch])
            self._tip = (self.ledger.size, batch[-1].stored[0])  # its log position
            appended += len(batch)
            if self.ledger.size - signed_at >= self.checkpoint_every:
                self.ledger.checkpoint()
                signed_at = self.ledger.size
            if progress is not None:
                progress(appended)
        if self.ledger.signed_size != self.ledger.size:  # incl. an unsigned tail of a past run
            self.ledger.checkpoint()
        return appended


    def encode_in(self, process: LeafProcess | None) -> None:
        """Have new leaves encoded by ``process`` while it answers (`registry.leaf_process`);
        None: by this follower alone."""
        self._process = process

    def _encoded(self, position: int, first: int, page: int) -> list[EncodedLeaf]:
        """`encoded_leaves`: by the leaf process when it answers, otherwise here."""
        if self._process is not None:
            encoded = self._process.page(position, first, self.encoder.format_2_from, page)
            if encoded is not None:
                return encoded
        return encoded_leaves(self.app, self.encoder, position, first, page)

    def _keep(self, first: int, keys: Sequence[StoredKey]) -> None:
        """Keep what the leaves ``first``… were just encoded from, for their check."""
        if len(self._kept) > KEEP_AT_MOST:  # not signing for a long while: stop keeping
            self._kept.clear()
        leaf_hash = self.ledger.leaf_hash
        for i, key in enumerate(keys):
            self._kept[first + i] = KeptLeaf(key, leaf_hash(first + i))


def _leaf_position(index: int, leaf: bytes) -> int:
    try:
        position = json.loads(leaf)["position"]
    except (ValueError, KeyError, TypeError):
        raise LeafMismatchError(index, "is not a leaf record") from None
    if type(position) is not int:
        raise LeafMismatchError(index, "names no integer position")
    return position


def _positions(first: int, leaves: Sequence[bytes]) -> list[int]:
    return [_leaf_position(first + i, leaf) for i, leaf in enumerate(leaves)]


def _tail_position(index: int, leaf: bytes) -> int:
    """`_leaf_position` read from the leaf's tail (`leaf_tail`), or as `_leaf_position` does it
    when the tail does not name an integer position."""
    tail = leaf_tail(leaf, "position")
    position = None if tail is None else tail.get("position")
    return position if type(position) is int else _leaf_position(index, leaf)


@dataclass(frozen=True)
class MergeDelay:
    """How long committed events waited for a signed checkpoint (seconds)."""

    count: int
    p50: float
    p99: float
    max: float


class ContinuousSigner:
    """Follows the store in its own thread: every ``interval`` seconds (or at once when woken)
    it appends a leaf per newly committed event, re-derives them and signs a checkpoint, so
    every committed event is under a signed checkpoint within the maximum merge delay.

    The merge delay of each event is measured when its checkpoint is signed: the signing time
    minus the event's own timestamp (taken when the command created it, before its commit, so
    the figure errs long). A failure (a leaf that does not re-derive, a full disk) is logged as
    an error and retried every ``retry`` seconds; nothing is signed meanwhile."""

    def __init__(self, follower: LedgerFollower, lock: threading.Lock, *,
                 interval: float = 0.1, retry: float = 5.0,
                 clock: Callable[[], float] = time.time, keep: int = 100_000,
                 witnesses: WitnessClient | None = None) -> None:
        self.follower, self.lock = follower, lock
        self.witnesses = witnesses
        self.interval, self.retry, self.clock = interval, retry, clock
        self._delays: deque[float] = deque(maxlen=keep)
        self._count = 0
        self._max = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ledger-signer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Sign now rather than at the next tick (a write just committed)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.last_error = None
                pause = self.interval
            except Exception as e:  # logged loudly, retried; the service keeps serving
                if type(e) is not type(self.last_error) or str(e) != str(self.last_error):
                    log.error("ledger signer: not signing: %s", e, exc_info=True)
                self.last_error, pause = e, self.retry
            self._wake.wait(pause)
            self._wake.clear()

    def step(self) -> int:
        """One round: catch up and sign; returns the leaves newly signed."""
        with self.lock:
            ledger = self.follower.ledger
            before = ledger.signed_size
            self.follower.catch_up()
            after = ledger.signed_size
            signed_at = self.clock()
            tails = self.follower.speedups.leaf_tails
            stamps = [_leaf_time(leaf, tails=tails) for leaf in ledger.leaves(before, after)]
        if self.witnesses is not None and self.witnesses.behind(after):
            self.witnesses.cosign(ledger, self.lock)  # outside the lock: witnesses are remote
        for stamp in stamps:
            if stamp is not None:
                delay = max(0.0, signed_at - stamp)
                self._delays.append(delay)
                self._count += 1
                self._max = max(self._max, delay)
        return after - before

    def merge_delay(self) -> MergeDelay:
        """Percentiles over the last ``keep`` events signed, the maximum over all of them."""
        ordered = sorted(self._delays)
        if not ordered:
            return MergeDelay(0, 0.0, 0.0, 0.0)

        def pick(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
        return MergeDelay(self._count, pick(0.50), pick(0.99), self._max)


def _leaf_time(leaf: bytes, *, tails: bool = False) -> float | None:
    """The event time a signed leaf records, read from its tail (`leaf_tail`: the leaf was
    checked before it was signed) with ``tails``, otherwise from the whole leaf."""
    try:
        stamp = ((tails and leaf_tail(leaf, "timestamp")) or json.loads(leaf)).get("timestamp")
        return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None
    except (ValueError, AttributeError):
        return None
