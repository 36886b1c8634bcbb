"""Each speed-up of `registry.speedups` gives exactly what the plain library path gives.

The same trading is run by a registry with every speed-up and by one with none
(``REGISTRY_SPEEDUPS=none``): same events, same aggregates, same snapshots; the export replay
rebuilds the same aggregates either way, and the fast line split reads what the JSON parser
reads. The speed-ups that write the library's private parts are pinned to the release they
were checked against.
"""

from __future__ import annotations

import base64
import gc
import json
import sqlite3
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent, Repository
from eventsourcing.domain import OriginatorVersionError
from eventsourcing.persistence import JSONTranscoder

from domain.exchange.cash import CashAccount
from domain.exchange.market import Market
from domain.exchange.orders import Order
from domain.instrument import Instrument
from ledger.errors import LeafMismatchError
from ledger.keys import load_or_create_key
from ledger.log import Ledger
from registry.audit import replay_export
from registry.bootstrap import Registry, build_registry
from registry.events import to_record
from registry.leaves import SealKey
from registry.ledger_follower import LedgerFollower
from registry.log_reader import LogReader
from registry.projection import ProjectingRepository
from registry.replay import Fold, ReplayError, comparable
from registry.speedups import (
    ALL,
    CHECKED_EVENTSOURCING,
    PLAIN,
    Speedups,
    collect_saved,
    export_line,
    plain_export_line,
)
from registry.transcoder import OrjsonTranscoder
from tests.integration.test_exchange_journeys import (
    COD,
    PRICE,
    exchange_world,
    export,
    trading_day,
)
from tests.support.store_tampering import Tamper, delete_one, flip_one_byte, swap_two
from tests.support.world import AT, seed_data_folder

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "export-f98ad41" / "export"
#: when an event happened (the library's clock): the only thing two runs may differ in
TIMES = {"timestamp", "_created_on", "_modified_on"}


def test_the_private_part_speedups_were_checked_against_this_eventsourcing() -> None:
    # the repository's class, `Application._take_snapshots`, `_record` and `_notify` (and
    # `save`'s steps, `save_collected`), `_version` / `_modified_on` and `decorated_funcs`:
    # check them against a new release, then move the pin
    assert version("eventsourcing") == CHECKED_EVENTSOURCING


def test_the_setting_names_the_speedups_kept() -> None:
    assert Speedups.parse(None) == Speedups.parse("all") == ALL
    assert Speedups.parse("none") == PLAIN and not any(vars(PLAIN).values())
    kept = Speedups.parse("gc_pause, fast_replay")
    assert {k for k, on in vars(kept).items() if on} == {"gc_pause", "fast_replay"}
    with pytest.raises(ValueError, match="unknown speed-ups"):
        Speedups.parse("gc_pause,warp")


def test_the_direct_collect_gathers_what_the_librarys_collect_events_does() -> None:
    def objs() -> tuple[Any, ...]:
        """Two accounts with pending events, a bare event, nothing, and an account again."""
        a, b = CashAccount.open(owner="A", at=AT), CashAccount.open(owner="B", at=AT)
        a.deposit(amount=5, reference="D-1", administrator="adm-1", at=AT)
        lone = CashAccount.open(owner="C", at=AT).collect_events()[0]
        return a, None, lone, b, a

    def seen(p: ProcessingEvent[Any]) -> tuple[Any, ...]:
        return ([(type(e), e.originator_id, e.originator_version) for e in p.events],
                list(p.aggregates), p.saved_kwargs)

    direct, plain = ProcessingEvent[Any](), ProcessingEvent[Any]()
    collect_saved(direct, objs(), {"k": 1})
    plain.collect_events(*objs(), k=1)
    assert seen(direct) == seen(plain)
    assert len(direct.events) == 4 and len(direct.aggregates) == 2


def run(tmp_path: Path, speedups: str) -> Registry:
    """A registry whose two firms traded a day and then 120 batches of one trade each."""
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path / speedups),
                          "REGISTRY_SPEEDUPS": speedups})
    w = exchange_world(app)
    trading_day(app, w)
    for n in range(120):  # the accounts and the instrument pass their snapshot intervals
        seller, buyer = (w.dyeing, w.paper) if n % 2 == 0 else (w.paper, w.dyeing)
        app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order(f"s{n}", seller, "S", "L", PRICE, 1_000, "s"),
            Order(f"b{n}", buyer, "B", "L", PRICE, 1_000, "b")])
    app.traders = (w.dyeing, w.paper)  # type: ignore[attr-defined]
    return app


def timeless(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in TIMES}


def stored(app: Registry) -> list[dict[str, Any]]:
    return [timeless({**to_record(p, e), "payload": timeless(to_record(p, e)["payload"])})
            for p, e in LogReader(app).events()]


def test_a_registry_with_every_speedup_stores_and_rebuilds_what_the_plain_one_does(
        tmp_path: Path) -> None:
    fast, plain = run(tmp_path, "all"), run(tmp_path, "none")
    try:
        assert isinstance(fast.repository, ProjectingRepository)
        assert type(plain.repository) is Repository
        assert type(fast.mapper.transcoder) is OrjsonTranscoder
        assert type(plain.mapper.transcoder) is JSONTranscoder
        assert stored(fast) == stored(plain)  # same events
        ids = [Market.create_id(COD), Instrument.create_id("COD", 2025, "MAOZHOU"),
               *(CashAccount.create_id(t) for t in fast.traders)]
        for app in (fast, plain):  # snapshots were taken (saved_snapshots has work to do)
            assert any(app.snapshots.get(i) for i in ids[1:])
        for aggregate_id in ids:  # same state, rebuilt from the same snapshots and events
            assert timeless(comparable(fast.repository.get(aggregate_id))) == timeless(
                comparable(plain.repository.get(aggregate_id)))
            fast_snaps = [timeless(s.state) for s in fast.snapshots.get(aggregate_id)]
            plain_snaps = [timeless(s.state) for s in plain.snapshots.get(aggregate_id)]
            assert [s.get("_version") for s in fast_snaps] == [
                s.get("_version") for s in plain_snaps]
        assert fast.queries.balances() == plain.queries.balances()
    finally:
        fast.close()
        plain.close()


def test_the_orjson_encoder_writes_the_librarys_bytes(tmp_path: Path) -> None:
    app = run(tmp_path, "all")
    try:
        library = JSONTranscoder()
        app.register_transcodings(library)
        for n in LogReader(app).notifications():
            state = app.mapper.transcoder.decode(n.state)
            assert app.mapper.transcoder.encode(state) == library.encode(state) == n.state
    finally:
        app.close()


def test_the_batch_gc_pause_restores_the_collector() -> None:
    assert gc.isenabled()
    with ALL.batch_gc():
        assert not gc.isenabled()
    with PLAIN.batch_gc():
        assert gc.isenabled()
    with ALL.replay_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.parametrize("folder", ["fixture", "fresh"])
def test_the_fast_replay_rebuilds_what_the_plain_replay_does(tmp_path: Path,
                                                            folder: str) -> None:
    if folder == "fixture":
        directory = FIXTURE
    else:
        app = run(tmp_path, "all")
        directory = export(app, tmp_path / "export")
        app.close()
    fast_problems: list[str] = []
    plain_problems: list[str] = []
    fast = replay_export(directory, workers=1, problems=fast_problems)
    plain = replay_export(directory, workers=1, problems=plain_problems, speedups=PLAIN)
    assert fast_problems == plain_problems
    assert fast.position == plain.position > 0
    assert fast.aggregates.keys() == plain.aggregates.keys()
    for key, aggregate in fast.aggregates.items():
        assert comparable(aggregate) == comparable(plain.aggregates[key])
        assert aggregate.version == plain.aggregates[key].version


def test_a_fast_fold_refuses_a_version_out_of_sequence(tmp_path: Path) -> None:
    app = run(tmp_path, "all")
    try:
        records = [to_record(p, e) for p, e in LogReader(app).events()]
    finally:
        app.close()
    market = str(Market.create_id(COD))
    late = next(i for i, r in enumerate(records)
                if r["aggregate_id"] == market and r["version"] > 2)
    for speedups in (ALL, PLAIN):
        fold = Fold(speedups)
        with pytest.raises((ReplayError, OriginatorVersionError)):  # fast, plain
            for r in records[:late] + records[late + 1:]:
                fold.apply_record(json.loads(json.dumps(r)))


def test_the_replayer_rebuilds_what_one_record_at_a_time_does_times_included(
        tmp_path: Path) -> None:
    """`Fold.replayer` (the export replay's loop: one call a record, each aggregate's
    modification time parsed once, at `Fold.finish`) against `Fold.apply_record` with and
    without the fast path: the same aggregates, versions and modification times."""
    app = run(tmp_path, "all")
    try:
        records = [json.loads(json.dumps(to_record(p, e))) for p, e in LogReader(app).events()]
    finally:
        app.close()
    folds = {}
    for name, speedups in (("fast", ALL), ("plain", PLAIN)):
        fold = Fold(speedups)
        for r in records:
            fold.apply_record(r)
        folds[name] = fold
    replayed = Fold(ALL)
    replay = replayed.replayer()
    assert replay != replayed.apply_record  # the one-call loop, not the fallback
    for r in records:
        replay(r)
    assert replayed.finish() is replayed and not replayed._stamps
    assert Market.create_id(COD) in replayed.aggregates
    for fold in folds.values():
        assert replayed.position == fold.position
        assert replayed.aggregates.keys() == fold.aggregates.keys()
        for key, aggregate in replayed.aggregates.items():
            other = fold.aggregates[key]
            assert comparable(aggregate) == comparable(other)  # _modified_on included
            assert aggregate.version == other.version
            assert aggregate.modified_on == other.modified_on


def test_the_fast_line_split_reads_what_the_json_parser_reads() -> None:
    lines = (FIXTURE / "entries.jsonl").read_bytes().splitlines(keepends=True)
    odd = [b'{"leaf": "AAAA", "index": 3}\n',  # another key order
           b'{"index": 4, "leaf": "AAAA", "openings": {"a": "b"}}\n',
           b'{"index":5,"leaf":"AAAA"}\n',  # compact
           b'{"index": 6, "leaf": "AAAA"}',  # no final newline
           b'{"index": 7, "leaf": "AAAA"}   \n']
    for line in lines + odd:
        assert export_line(line) == plain_export_line(line), line
    assert [export_line(x)[0] for x in odd] == [3, 4, 5, 6, 7]


def test_the_replay_names_the_same_leaves_in_its_problems_on_both_line_paths(
        tmp_path: Path) -> None:
    """The replay loop splits the exporter's line shape inline and reads an index only for a
    problem: a leaf without a payload, in the exporter's shape and in another, is named by
    its index exactly as the plain path names it."""
    lines = (FIXTURE / "entries.jsonl").read_bytes().splitlines(keepends=True)
    undecoded = base64.b64encode(b'{"aggregate_id":"00000000-0000-0000-0000-000000000000",'
                                 b'"position":7}').decode()
    n = len(lines)
    lines += [f'{{"index": {n}, "leaf": "{undecoded}"}}\n'.encode(),
              f'{{"leaf": "{undecoded}", "index": {n + 1}}}\n'.encode()]
    (tmp_path / "entries.jsonl").write_bytes(b"".join(lines))
    found: dict[str, list[str]] = {}
    for name, speedups in (("fast", ALL), ("plain", PLAIN)):
        found[name] = []
        replay_export(tmp_path, workers=1, problems=found[name], speedups=speedups)
    assert found["fast"] == found["plain"]
    assert [p.split(":")[0] for p in found["fast"]] == [f"leaf {n}", f"leaf {n + 1}"]


# -- the ledger follower's check before signing (kept_leaves) ---------------------------------

TARGET = 12  # log position (SQLite rowid) of the event changed after its leaf was appended


def fresh_follower(app: Registry, folder: Path, speedups: Speedups) -> LedgerFollower:
    ledger = Ledger(folder, origin="test.example/log",
                    signer=load_or_create_key(folder.parent / f"{folder.name}.key",
                                              key_name="test.example/log"))
    return LedgerFollower(app, ledger, seal=SealKey(bytes(range(32))), speedups=speedups)


def counting_encodes(follower: LedgerFollower, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    encoded: list[int] = []
    leaf = follower.encoder.leaf

    def counted(notification: Any, index: int) -> bytes:
        encoded.append(index)
        return leaf(notification, index)
    monkeypatch.setattr(follower.encoder, "leaf", counted)
    return encoded


def test_kept_leaves_sign_what_the_plain_check_signs_encoding_each_event_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = run(tmp_path, "all")  # batches of sealed orders and trades among the events
    try:
        signed = {}
        for speedups in (ALL, PLAIN):
            follower = fresh_follower(app, tmp_path / f"ledger-{speedups.kept_leaves}", speedups)
            encoded = counting_encodes(follower, monkeypatch)
            with follower.ledger as ledger:
                size = follower.catch_up(page=100)  # several pages, several checks
                signed[speedups] = (list(ledger.leaves()), ledger.root(), ledger.signed_size)
                assert ledger.signed_size == size > 100
            # appended and checked: each event encoded once with its kept leaf, twice without
            assert len(encoded) == size * (1 if speedups.kept_leaves else 2)
        assert signed[ALL] == signed[PLAIN]
    finally:
        app.close()


@pytest.mark.parametrize("speedups", [ALL, PLAIN], ids=["kept", "plain"])
@pytest.mark.parametrize("tamper", [flip_one_byte, delete_one, swap_two])
def test_an_event_changed_after_its_leaf_was_appended_is_never_signed(
        tamper: Tamper, speedups: Speedups, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = seed_data_folder(tmp_path / "data")
    app = build_registry(env)
    follower = fresh_follower(app, tmp_path / "ledger", speedups)
    with follower.ledger as ledger:
        sign = ledger.checkpoint

        def changed_then_signed() -> str:  # between the append and the check before signing
            with sqlite3.connect(tmp_path / "data" / "registry.sqlite") as db:
                tamper(db, TARGET)
            return sign()
        monkeypatch.setattr(ledger, "checkpoint", changed_then_signed)
        with pytest.raises(LeafMismatchError) as refused:
            follower.catch_up()
        assert refused.value.index == TARGET - 1
        assert ledger.latest_checkpoint() is None
    app.close()


def test_a_kept_leaf_differing_from_the_one_read_back_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_registry(seed_data_folder(tmp_path / "data"))
    follower = fresh_follower(app, tmp_path / "ledger", ALL)
    with follower.ledger as ledger:
        monkeypatch.setattr(ledger, "checkpoint", lambda: "")  # appended, left unchecked
        follower.catch_up()
        leaves = list(ledger.leaves())
        edited = [*leaves]
        edited[5] = edited[5].replace(b'"version":', b'"versioN":', 1)
        encoded = counting_encodes(follower, monkeypatch)
        with pytest.raises(LeafMismatchError) as refused:  # the check itself, not the file's
            follower.check_leaves(0, edited)
        assert refused.value.index == 5 and encoded == [5]  # the kept ones passed unencoded
    app.close()
