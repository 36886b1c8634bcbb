"""Every speed-up the registry takes over the plain `eventsourcing` path, behind one seam.

Each speed-up is named here, says why it exists in the module it lives in, and can be switched
off for the plain library path it replaces: ``Speedups`` lists them, an application reads its
switches from ``SPEEDUPS`` in its environment (``REGISTRY_SPEEDUPS`` for the registry: ``all``,
the default; ``none``; or the names of those to keep, comma-separated), and the export replay
takes them as an argument. `tests/integration/test_speedups.py` runs each one against its
plain path and requires exactly the same result (events, state, outputs).

The speed-ups:

``orjson_encoder``
    stored events written by orjson (`registry.transcoder`) instead of the library's
    ``JSONTranscoder``; the same bytes.
``projecting_repository``
    the library's repository, rebuilding aggregates without its per-event protocol assert
    (`registry.projection`).
``direct_collect``
    a save collects the pending events of the library's aggregates directly
    (`save_collected`), instead of ``ProcessingEvent.collect_events`` checking every saved
    object against two runtime ``Protocol`` classes (about 2.5% of an exchange batch, which
    saves 82 aggregates); other objects still go through it. Then the library's ``save``
    steps, in its order.
``saved_snapshots``
    due snapshots taken from the aggregates just saved, in one write (`registry.snapshots`),
    instead of ``Application._take_snapshots`` reloading each from the store.
``gc_pause``
    the cyclic collector paused while an exchange batch is matched and saved
    (`registry.gc_pause`; its count of batches in progress is process-wide because the
    collector is), and while an export is replayed.
``fast_replay``
    the export replay calls an ``@event`` method's body with the recorded payload and sets
    the aggregate's version, as the library's ``DecoratedFuncCaller.apply`` does, without first
    building the event object (`fast_applier`); over a whole export
    (`registry.replay.Fold.replayer`) in one call per record, each aggregate's modification
    time parsed once, from its last record, instead of once per event.
``export_lines``
    ``entries.jsonl`` lines of the exporter's exact shape split without a JSON parser
    (`export_line`).
``fast_base64``
    an export's leaves decoded from base64 by pybase64's SIMD decoder (`decode_leaf`)
    instead of the standard library's ``binascii.a2b_base64``, which decodes a byte at a time
    and was a fifth of a replay's instructions; a text the strict decoder does not take as it
    is goes to ``a2b_base64``, so every text decodes (or fails) as on the plain path.
``kept_leaves``
    the ledger follower's check before signing (`registry.ledger_follower`) re-reads every
    new leaf's stored event and, when that event is still exactly the one the leaf was
    encoded from at its append (its id, aggregate, version, topic and the SHA-256 of its
    stored bytes), compares the leaf read back from the file with the hash of the leaf
    encoded then instead of encoding the event a second time; any other event is encoded
    again, as on the plain path. Encoding is a function of the stored event alone, so the
    verdict is the same: half of the signer's work per leaf.

``leaf_tails``
    the ledger follower reads a leaf's position (checking new leaves before signing) and its
    timestamp (the signer's merge delay) from the leaf's last members (`leaf_tail`) instead of
    parsing the whole leaf, whose payload is hundreds of kilobytes for a bulk entry's batch:
    two parses of every new leaf were a tenth of the signer's time; and its last position from
    what it appended last instead of parsing that leaf again at every round. A check the tail
    positions fail is run again on the plain path, whose verdict and error stand.
``orjson_answers``
    the bulk entry's answer (`api.routes.markets.submit_bulk`: a thousand items, each with
    its fills) written by orjson (`answer_bytes`) instead of Starlette's ``JSONResponse``,
    whose ``json.dumps`` was a tenth of the CPU the request's thread spent on the entry: the
    same bytes for the values such an answer is built of (strings, integers, booleans, null,
    lists, objects with string keys; never a float, which the two write differently), and
    what orjson refuses (an integer beyond 64 bits, a lone surrogate) goes to ``json.dumps``,
    which answers or fails as before.
``order_route``
    the HTTP limit order (``POST /markets/{instrument}/orders``) answered, when the request is
    one FastAPI's path would take as it is, without FastAPI resolving the route's
    dependencies one by one (`api.order_route`); any other request, and every one when this
    is off, goes through FastAPI's handler. The same statuses, headers and bodies
    (`tests/api/test_order_route.py`).

``kept_draft``
    a market's batch decides on the draft the market's previous batch left (`Market.match`'s
    ``keep_draft``), which after that batch's event holds what the market does, instead of
    copying the whole book and its resting orders for every batch (a quarter of the order
    gateway's writer's time under HTTP load: the copy grows with the book, the batches there
    are small); taken only while no other event has changed the market since. A batch with
    at least one op per two resting orders (the durable path's large batches) instead hands
    its draft to its event, which takes it as the market's book rather than applying the ops
    a second time; the next batch copies the book, which then costs less.

Four of them reach into the library's private parts (the repository's class, the
application's ``_take_snapshots``, ``_record`` and ``_notify``, an aggregate's ``_version``
and ``_modified_on``, the ``decorated_funcs`` table); they were checked against
``CHECKED_EVENTSOURCING`` and a test fails on any other version of the library until they
are checked again.
"""

from __future__ import annotations

import binascii
import gc
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from inspect import signature
from typing import Any

import orjson
from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.domain import BaseAggregate, CanInitAggregate, decorated_funcs
from eventsourcing.persistence import JSONTranscoder, Transcoder
from eventsourcing.utils import resolve_topic
from pybase64 import b64decode as _b64decode

from registry.gc_pause import gc_paused
from registry.projection import ProjectingRepository
from registry.snapshots import take_due_snapshots
from registry.transcoder import OrjsonTranscoder

#: the eventsourcing release the private-part speed-ups were checked against
CHECKED_EVENTSOURCING = "9.5.6"
#: the application setting naming the speed-ups in use
SETTING = "SPEEDUPS"


@dataclass(frozen=True)
class Speedups:
    """Which speed-ups are on (module docstring); all of them unless switched off."""

    orjson_encoder: bool = True
    projecting_repository: bool = True
    direct_collect: bool = True
    saved_snapshots: bool = True
    gc_pause: bool = True
    fast_replay: bool = True
    export_lines: bool = True
    kept_leaves: bool = True
    leaf_tails: bool = True
    orjson_answers: bool = True
    order_route: bool = True
    kept_draft: bool = True
    fast_base64: bool = True

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def parse(cls, text: str | None) -> Speedups:
        """``all`` (or nothing), ``none``, or the comma-separated names of those kept on."""
        text = (text or "all").strip()
        if text == "all":
            return ALL
        if text == "none":
            return PLAIN
        wanted = {name.strip() for name in text.split(",") if name.strip()}
        unknown = wanted - set(cls.names())
        if unknown:
            raise ValueError(f"{SETTING}: unknown speed-ups {sorted(unknown)}; "
                             f"known: {', '.join(cls.names())}, or all / none")
        return replace(PLAIN, **dict.fromkeys(wanted, True))

    @classmethod
    def configured(cls, app: Application[Any], env: Mapping[str, str] | None) -> Speedups:
        """The speed-ups ``app``'s configuration asks for (constructor ``env`` before
        ``os.environ``, as the library reads every setting), before the application is built
        (its transcoder and repository depend on them)."""
        return cls.parse(app.construct_env(app.name, env).get(SETTING))

    # -- the event store ---------------------------------------------------------------------

    def transcoder(self) -> Transcoder:
        return OrjsonTranscoder() if self.orjson_encoder else JSONTranscoder()

    def repository(self, repository: Repository[Any]) -> Repository[Any]:
        """The library's repository, or the same one projecting with `registry.projection`:
        only the class changes (its methods), never the state the library set up."""
        if self.projecting_repository:
            repository.__class__ = ProjectingRepository
        return repository

    def save(self, app: Application[Any], objs: tuple[Any, ...], kwargs: dict[str, Any],
             plain: Callable[..., Any]) -> Any:
        """Save ``objs`` in one recording: `save_collected`, or ``plain`` (the library's
        ``Application.save``)."""
        if self.direct_collect:
            return save_collected(app, objs, kwargs)
        return plain(*objs, **kwargs)

    def take_snapshots(self, app: Application[Any], processing_event: ProcessingEvent[Any],
                       plain: Callable[[ProcessingEvent[Any]], None]) -> None:
        """The due snapshots of a save: from the saved aggregates, or ``plain`` (the library's
        ``Application._take_snapshots``)."""
        if self.saved_snapshots:
            take_due_snapshots(app, processing_event)
        else:
            plain(processing_event)

    # -- the collector -----------------------------------------------------------------------

    def batch_gc(self) -> AbstractContextManager[None]:
        """Around an exchange batch: the collector paused (`registry.gc_pause`), or nothing."""
        return gc_paused() if self.gc_pause else nullcontext()

    def replay_gc(self) -> AbstractContextManager[None]:
        """Around an export replay, which allocates millions of small objects and frees none:
        the cyclic collector would re-traverse the growing state for nothing (about a third of
        the time)."""
        return _collector_off() if self.gc_pause else nullcontext()

    # -- the HTTP answers --------------------------------------------------------------------

    def answer_bytes(self, content: Any) -> bytes | None:
        """``content`` (JSON values without floats) as Starlette's ``JSONResponse`` writes it
        (``json.dumps``: compact separators, UTF-8, keys in their order), by orjson; None when
        the speed-up is off or orjson refuses a value: the caller answers the plain way."""
        if not self.orjson_answers:
            return None
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:  # a larger integer, a lone surrogate, another type
            return None

    # -- the export replay -------------------------------------------------------------------

    def line_reader(self) -> Callable[[bytes], tuple[int, bytes, Any]]:
        """(index, base64 leaf, openings) of an ``entries.jsonl`` line."""
        return export_line if self.export_lines else plain_export_line

    def leaf_decoder(self) -> Callable[[bytes], bytes]:
        """The bytes of a leaf from its base64 text in an ``entries.jsonl`` line."""
        return decode_leaf if self.fast_base64 else binascii.a2b_base64


def leaf_tail(leaf: bytes, key: str) -> dict[str, Any] | None:
    """The members of a leaf record (an RFC 8785 object: its keys sorted) from its top-level
    ``key`` on, parsed from the leaf's end without reading what comes before; None when they
    cannot be read so (``key`` first or absent, or no top-level ``,"key":`` found last).

    Exact for a leaf that is JSON: with ``i`` the last ``,"key":`` of the leaf, ``{`` and what
    follows ``i`` parse as an object only if that comma separates members of the leaf's own
    object (from any comma deeper in, brackets would stay unclosed; a ``"`` never stands
    unescaped inside a string), and then they are the leaf's last members, ``key``'s value
    the one a parser of the whole leaf keeps (the last of duplicates). Whether the rest of the
    leaf is JSON is not looked at: a caller reads leaves already checked against their
    events, or checks them after."""
    i = leaf.rfind(b',"%s":' % key.encode())
    if i < 0:
        return None
    try:
        tail = json.loads(b"{" + leaf[i + 1:])
    except ValueError:
        return None
    return tail if isinstance(tail, dict) else None


def decode_leaf(text: bytes) -> bytes:
    """``binascii.a2b_base64(text)``: pybase64's strict decoder for a text it takes as it is
    (the exporter writes nothing else), the standard library's for any other, so a text
    with line breaks, stray characters or odd padding decodes, or fails, as it does there
    (`tests/property/test_fast_base64.py`)."""
    try:
        return _b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return binascii.a2b_base64(text)


ALL = Speedups()
PLAIN = Speedups(**dict.fromkeys(Speedups.names(), False))


@contextmanager
def _collector_off() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# -- saving -----------------------------------------------------------------------------------

def collect_saved(processing_event: ProcessingEvent[Any], objs: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> None:
    """``processing_event.collect_events(*objs, **kwargs)``, an aggregate of the library's
    classes (which collects its events and is no event itself) taken without the runtime
    ``Protocol`` checks; anything else (an event, another kind of aggregate) through the
    library's method, in the same order."""
    events, aggregates = processing_event.events, processing_event.aggregates
    for obj in objs:
        if isinstance(obj, BaseAggregate):
            events += obj.collect_events()
            aggregates[obj.id] = obj
        elif obj is not None:
            processing_event.collect_events(obj)
    processing_event.saved_kwargs.update(kwargs)


def save_collected(app: Application[Any], objs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The library's ``Application.save`` (9.5.6), its objects collected by `collect_saved`:
    record, take due snapshots, notify, in its order."""
    processing_event: ProcessingEvent[Any] = ProcessingEvent()
    collect_saved(processing_event, objs, kwargs)
    recordings = app._record(processing_event)
    app._take_snapshots(processing_event)
    app._notify(recordings)
    app.notify(processing_event.events)  # deprecated in the library, and still called there
    return recordings


# -- export lines -----------------------------------------------------------------------------

#: the exporter's exact line shape, ``{"index": i, "leaf": "…"}`` (`export_line`; the replay
#: loop splits lines the same way inline, `registry.audit._replay_part`)
EXPORT_PREFIX = b'{"index": '
EXPORT_SEPARATOR = b', "leaf": "'
EXPORT_END = b'"}\n'


def plain_export_line(line: bytes) -> tuple[int, bytes, Any]:
    """(index, base64 leaf, openings of sealed parts) of a line in any JSON shape."""
    entry = orjson.loads(line)
    return entry["index"], entry["leaf"].encode("ascii"), entry.get("openings")


def export_line(line: bytes) -> tuple[int, bytes, Any]:
    """`plain_export_line`, with the exporter's exact shape (``{"index": i, "leaf": "…"}``,
    nothing else) split at its fixed separators instead of parsed."""
    head, _, text = line.partition(EXPORT_SEPARATOR)
    if head.startswith(EXPORT_PREFIX) and text.endswith(EXPORT_END):
        digits = head[len(EXPORT_PREFIX):]
        if digits.isdigit():
            return int(digits), text[:-3], None
    return plain_export_line(line)


# -- replaying @event methods -----------------------------------------------------------------

_timestamp = datetime.fromisoformat


@cache
def fast_method(topic: str) -> tuple[Callable[..., Any], frozenset[str]] | None:
    """The ``@event`` method whose body applies a record of ``topic``, and its parameters; None
    when ``topic`` is not of an ``@event`` method's event (creation events, explicit event
    classes): the plain path."""
    cls = resolve_topic(topic)
    func = decorated_funcs.get(cls)
    if func is None or issubclass(cls, CanInitAggregate):
        return None
    return func, frozenset(signature(func).parameters) - {"self"}


@cache
def fast_applier(topic: str) -> Callable[[Any, dict[str, Any]], bool] | None:
    """How to apply a record of ``topic`` to its aggregate without building the event, as
    the library's ``DecoratedFuncCaller.apply`` does (the ``@event`` method's body called with
    the payload, then the version and modification time set); None when ``topic`` is not of
    an ``@event`` method's event (creation events, explicit event classes): the plain path.
    The applier returns False, and applies nothing, when the record's version does not
    follow the aggregate's (the caller refuses the history). `registry.replay.Fold.replayer`
    takes the same steps (`apply_method`), for a whole export."""
    method = fast_method(topic)
    if method is None:
        return None

    def apply(aggregate: Any, record: dict[str, Any]) -> bool:
        version = record["version"]
        if version != aggregate._version + 1:
            return False
        apply_method(method, aggregate, record["payload"], version)
        aggregate._modified_on = _timestamp(record["timestamp"])
        return True

    return apply


def apply_method(method: tuple[Callable[..., Any], frozenset[str]], aggregate: Any,
                 payload: dict[str, Any], version: int) -> None:
    """The library's ``DecoratedFuncCaller.apply`` for a stored payload: the ``@event``
    method's body (`fast_method`) called with the payload's attributes that are its
    parameters, then the aggregate's version set (its modification time is the caller's)."""
    func, params = method
    if payload.keys() <= params:  # an event's attributes are its method's parameters
        func(aggregate, **payload)
    else:
        func(aggregate, **{k: v for k, v in payload.items() if k in params})
    aggregate._version = version


def stamp(aggregate: Any, timestamp: str) -> None:
    """Set ``aggregate``'s modification time from a record's ``timestamp``, as `fast_applier`
    does (`registry.replay.Fold.replayer` sets it once per aggregate, from its last record)."""
    aggregate._modified_on = _timestamp(timestamp)
