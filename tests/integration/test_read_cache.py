"""The registry's read copies (`registry.read_cache`), once per backend: a copy read after any
write, including another instance's, equals a reload; it is brought up to date, not rebuilt;
a copy that cannot follow is rebuilt; concurrent readers never see a copy half updated."""

from __future__ import annotations

import threading

import pytest

import registry.read_cache
from domain.errors import NotFound
from domain.instrument import FIRST, LAST
from registry import directory
from tests.conftest import Factory
from tests.support.world import build_world, issue

COD = "COD-2025-MAOZHOU"
AT = "2025-04-01T10:00:00+08:00"


def _world(factory: Factory):  # type: ignore[no-untyped-def]
    writer = factory()
    w = build_world(writer)
    issue(writer, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    return writer, factory(), w  # a second instance stands for another process


def test_a_read_copy_follows_every_write_without_reloading(factory: Factory) -> None:
    writer, reader, w = _world(factory)
    assert directory.holdings(reader, w.paper) == []  # the copies are made here
    reloads = reader.reads.reloads
    for n in range(1, 61):  # past an instrument snapshot (every 50 events)
        writer.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=5,
                                 ref=f"T-{n}", at=AT,
                                 reason="correction", administrator="admin-t")
        rows = {r["enterprise"]: r["available"]
                for r in (*directory.holdings(reader, w.dyeing),
                          *directory.holdings(reader, w.paper))}
        assert rows == {w.dyeing: 800 - 5 * n, w.paper: 5 * n}
    with reader.reading_instrument(COD) as copy:
        assert copy == reader.instrument(COD)  # the same state as a reload, aggregate-wide
        assert copy.version == writer.instrument(COD).version
    assert directory.holding(reader, w.paper, COD)["available"] == 300
    assert reader.reads.reloads == reloads  # brought up to date, never rebuilt


def test_a_copy_that_cannot_follow_is_rebuilt(factory: Factory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    writer, reader, w = _world(factory)
    directory.holdings(reader, w.dyeing)
    writer.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=300,
                             ref="T-1", at=AT, reason="correction", administrator="admin-t")

    def broken(aggregate: object, events: object) -> object:
        raise ValueError("an event this copy cannot apply")

    monkeypatch.setattr(registry.read_cache, "project", broken)
    reloads = reader.reads.reloads
    assert directory.holding(reader, w.paper, COD)["available"] == 300
    assert reader.reads.reloads == reloads + 1


def test_unknown_names_are_not_found(factory: Factory) -> None:
    _, reader, w = _world(factory)
    with pytest.raises(NotFound, match="instrument NOX-2025-MAOZHOU not found"):
        directory.holding(reader, w.dyeing, "NOX-2025-MAOZHOU")
    with pytest.raises(NotFound, match="enterprise"):
        directory.holdings(reader, w.auditor)  # an agency's code names no enterprise


def test_an_empty_store_reads_an_empty_catalogue_until_one_is_stored(factory: Factory) -> None:
    reader = factory()
    with reader.reading_catalogue() as c:
        assert c.entries["enterprises"] == []
    with pytest.raises(NotFound):
        directory.holdings(reader, "91440300MA5F00001A")
    w = build_world(factory())
    with reader.reading_catalogue() as c:
        assert w.dyeing in c.entries["enterprises"]
    assert directory.holdings(reader, w.dyeing) == []


def test_concurrent_readers_never_see_a_copy_half_updated(factory: Factory) -> None:
    writer, reader, w = _world(factory)
    total = 800
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                with reader.reading_instrument(COD) as i:
                    units = sum(b[LAST] - b[FIRST] + 1 for b in i.blocks.values())
                    seen.append(units)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(40):
            seller, buyer = (w.dyeing, w.paper) if n % 2 == 0 else (w.paper, w.dyeing)
            writer.holdings.transfer(instrument=COD, seller=seller, buyer=buyer, quantity=7,
                                     ref=f"T-{n}", at=AT,
                                     reason="correction", administrator="admin-t")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert seen and set(seen) == {total}
