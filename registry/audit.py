"""The auditor's replay: rebuild every aggregate from a ledger export alone, then reconcile.

Leaves are decoded back into the very domain events they came from (``registry.events``) and
folded through the same domain code the registry runs, so balances, serial blocks and every
lifecycle state are rebuilt without touching the event store. The reconciliation then compares
each rebuilt aggregate with the live registry's copy *at the same version*, and the balances at
the export's last log position.
"""

from __future__ import annotations

import binascii
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.application import AggregateNotFoundError

from domain.instrument import Instrument
from registry.leaves import LeafOpeningError, open_record
from registry.queries import balance_rows
from registry.replay import Fold, comparable
from registry.speedups import ALL, EXPORT_END, EXPORT_PREFIX, EXPORT_SEPARATOR, Speedups


@dataclass
class Reconciliation:
    events: int = 0
    aggregates: int = 0
    instruments: int = 0
    balance_rows: int = 0
    last_position: int = 0
    mismatches: list[str] = field(default_factory=list)


#: RFC 8785 sorts keys, so every leaf starts with its aggregate id: 72 base64 characters hold
#: the 54 bytes ``{"aggregate_id":"<36-character uuid>"``.
_LEAF_HEAD = b'{"aggregate_id":"'
_HEAD_CHARS = 72
_SEALED = b'"$sealed"'
_DOLLAR = ord("$")
#: a format-2 leaf's typed subjects, between ``position`` and ``timestamp`` in its RFC 8785
#: bytes: the replay rebuilds from the payload alone, and a long leaf's subjects (a batch's:
#: one per trade) are cut out unparsed. A short leaf names a few: parsing them costs less
#: than finding and cutting them (1.9 against 2.4 µs a leaf, over `bench_replay`'s export)
_SUBJECTS, _SUBJECTS_END = b',"subjects":[', b'],"timestamp":'
_CUT_SUBJECTS_FROM = 4096  # bytes of leaf
#: from this size the replay is split across two processes. The split costs CPU (each process
#: reads the whole file and one sends its aggregates back): measured on 2 cores, a third more
#: CPU time than one process for 10-20 MB exports and 28-82% more at 42 MB, for a wall time
#: 13-30% shorter at 10-20 MB (0.1 s at 20 MB) and none at 42 MB (two processes 1.04 s, one 1.07 s;
#: 1.33 s against 1.31 s; BENCHMARKS.md, issue 14.2 again). Below 64 MiB one process replays in
#: about 1.5 s or less: the split is kept for exports where its wall time may count.
PARALLEL_FROM_BYTES = 64 << 20


def _lines(directory: str | Path, speedups: Speedups = ALL
           ) -> Iterator[tuple[int, bytes, Any]]:
    """(index, base64 leaf, openings) per line (`registry.speedups.export_line`)."""
    line_of = speedups.line_reader()
    with open(Path(directory) / "entries.jsonl", "rb", buffering=1 << 20) as f:
        for line in f:
            yield line_of(line)


def _event_record(record: dict[str, Any], openings: Any) -> dict[str, Any]:
    """The full event record of a leaf: a format-2 leaf's sealed parts opened from the
    export's ``openings``, each checked against its commitment (``registry.leaves``)."""
    if "leaf_format" not in record or "payload" not in record:
        return record
    return open_record(record, openings)


def export_records(directory: str | Path, speedups: Speedups = ALL
                   ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, decoded event record) for every line of ``entries.jsonl``, in file order."""
    a2b, loads = speedups.leaf_decoder(), orjson.loads
    for index, text, openings in _lines(directory, speedups):
        yield index, _event_record(loads(a2b(text)), openings)


def _partition(text: bytes, record: dict[str, Any] | None, parts: int) -> int:
    """Which worker replays this leaf: all events of one aggregate go to the same one."""
    if record is None:
        head = binascii.a2b_base64(text[:_HEAD_CHARS])
        if head.startswith(_LEAF_HEAD):
            return int(head[len(_LEAF_HEAD):len(_LEAF_HEAD) + 8], 16) % parts
        record = orjson.loads(binascii.a2b_base64(text))
    return int(str(record.get("aggregate_id", "0"))[:8] or "0", 16) % parts


def _replay_part(directory: str | Path, part: int, parts: int,
                 progress: Callable[[int], object] | None,
                 speedups: Speedups = ALL) -> tuple[Fold, list[str]]:
    fold, problems = Fold(speedups), []
    apply, a2b, loads = fold.replayer(), speedups.leaf_decoder(), orjson.loads
    cut_from, dollar = _CUT_SUBJECTS_FROM, _DOLLAR
    line_of = speedups.line_reader()
    inline = speedups.export_lines
    digits_at = len(EXPORT_PREFIX)
    with speedups.replay_gc(), open(Path(directory) / "entries.jsonl", "rb",
                                    buffering=1 << 20) as f:
        for n, line in enumerate(f, start=1):
            # lines read here, not through `_lines`: a generator per line costs as much
            # as applying a small event; the exporter's exact shape is split inline as
            # `registry.speedups.export_line` splits it (a call and an int() per line were
            # ~5% of a replay), its index read again only for a problem's message
            head, _, text = line.partition(EXPORT_SEPARATOR)
            if inline and head.startswith(EXPORT_PREFIX) and text.endswith(EXPORT_END) \
                    and head[digits_at:].isdigit():
                text, openings = text[:-3], None
            else:
                _, text, openings = line_of(line)
            if parts > 1 and _partition(text, None, parts) != part:
                continue
            leaf = a2b(text)
            if len(leaf) < cut_from:
                record = loads(leaf)
            elif (cut := leaf.rfind(_SUBJECTS)) > 0 and \
                    (end := leaf.find(_SUBJECTS_END, cut)) > 0:  # the last: a payload's come first
                record = loads(leaf[:cut] + leaf[end + 1:])
            else:
                record = loads(leaf)
            # only multi-party events; "$" first, as a byte's value: memchr finds it (or not)
            # at a fraction of the cost of the quoted word's search, and `b"$" in leaf` would
            # first try the needle as an integer and raise and clear a TypeError (~0.2 µs)
            if openings is not None or (dollar in leaf and _SEALED in leaf):
                try:
                    record = open_record(record, openings)
                except LeafOpeningError as e:
                    problems.append(f"leaf {line_of(line)[0]}: {e}")
                    continue
            if "payload" in record:
                apply(record)
            else:
                problems.append(f"leaf {line_of(line)[0]}: event at position "
                                f"{record.get('position')} did not decode in the store")
            if progress is not None and n % 8192 == 0:
                progress(n)
    fold.finish()
    return fold, problems


def _replay_part_remote(directory: str, part: int, parts: int,
                        speedups: Speedups) -> tuple[Any, int, list[str]]:
    fold, problems = _replay_part(directory, part, parts, None, speedups)
    return fold.aggregates, fold.position, problems


def replay_export(directory: str | Path, *, progress: Callable[[int], object] | None = None,
                  problems: list[str] | None = None, workers: int | None = None,
                  speedups: Speedups = ALL) -> Fold:
    """Rebuild every aggregate from the export's leaves alone.

    Aggregates are independent, so a large export is split by aggregate id across ``workers``
    processes (default: one per core, at most 2), each reading the file and replaying its own
    aggregates' events in file order."""
    size = (Path(directory) / "entries.jsonl").stat().st_size
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if size >= PARALLEL_FROM_BYTES else 1
    if workers <= 1:
        fold, found = _replay_part(directory, 0, 1, progress, speedups)
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
            others = [pool.submit(_replay_part_remote, str(directory), part, workers, speedups)
                      for part in range(1, workers)]
            fold, found = _replay_part(directory, 0, workers, progress, speedups)
            for future in others:
                aggregates, position, more = future.result()
                fold.aggregates.update(aggregates)
                fold.position = max(fold.position, position)
                found += more
    if problems is not None:
        problems += sorted(found, key=lambda p: int(p.split()[1].rstrip(":")))
    return fold


def reconcile(app: Any, directory: str | Path, *,
              progress: Callable[[int], object] | None = None) -> Reconciliation:
    result = Reconciliation()
    fold = replay_export(directory, progress=progress, problems=result.mismatches)
    with open(Path(directory) / "entries.jsonl", "rb") as f:
        result.events = sum(1 for _ in f)
    result.aggregates = len(fold.aggregates)
    result.last_position = fold.position
    for aggregate_id, rebuilt in fold.aggregates.items():
        try:
            live = app.repository.get(aggregate_id, version=rebuilt.version)
        except AggregateNotFoundError:
            result.mismatches.append(f"{type(rebuilt).__name__} {aggregate_id}: not in the "
                                     "live registry")
            continue
        if comparable(live) != comparable(rebuilt):
            diff = sorted(k for k in set(vars(live)) | set(vars(rebuilt))
                          if k != "_pending_events" and
                          getattr(live, k, None) != getattr(rebuilt, k, None))
            result.mismatches.append(f"{type(rebuilt).__name__} {aggregate_id} v{rebuilt.version}:"
                                     f" differs in {', '.join(diff)}")
    instruments = fold.of_type(Instrument)
    result.instruments = len(instruments)
    replayed = balance_rows(instruments, None)
    live_rows = app.queries.balances(as_of=fold.position)
    result.balance_rows = len(replayed)
    key = lambda r: (r["instrument"], r["enterprise"])  # noqa: E731
    live_by = {key(r): r for r in live_rows}
    for row in replayed:
        other = live_by.pop(key(row), None)
        if other != row:
            result.mismatches.append(f"balance {key(row)}: export {row} != live {other}")
    for k, row in live_by.items():
        result.mismatches.append(f"balance {k}: live {row} missing from export")
    return result
