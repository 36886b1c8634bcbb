"""The orjson transcoder writes the library's bytes and reads both its own and the library's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from registry.transcoder import OrjsonTranscoder


def _pair() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    out = JSONTranscoder(), OrjsonTranscoder()
    for t in out:
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            t.register(transcoding)
    return out


LIBRARY, FAST = _pair()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
stamps = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]))


@given(payload=st.dictionaries(st.text(max_size=8), json_values, max_size=6), stamp=stamps)
def test_event_state_encodes_to_the_library_bytes_and_back(payload, stamp):
    state = {**payload, "timestamp": stamp}
    data = FAST.encode(state)
    assert data == LIBRARY.encode(state)
    assert FAST.decode(data) == LIBRARY.decode(data) == state


@given(inner=st.dictionaries(st.text(max_size=8), json_values, max_size=4), stamp=stamps)
def test_nested_transcoded_values_decode_like_the_library(inner, stamp):
    state = {"timestamp": stamp, "topic": "t", "state": {**inner, "_created_on": stamp,
                                                         "deep": [{"at": stamp}]}}
    data = FAST.encode(state)
    assert data == LIBRARY.encode(state)
    assert FAST.decode(data) == state


def test_strings_that_look_like_type_marks_are_only_strings():
    state = {"note": '"_type_"', "_type_": "x", "timestamp": datetime(2025, 6, 2, tzinfo=UTC)}
    data = FAST.encode(state)
    assert FAST.decode(data) == LIBRARY.decode(data) == state


def test_registered_types_and_non_string_keys_follow_the_library():
    state = {"id": UUID(int=7), "amount": Decimal("1.50"), "by_int": {1: "a"}}
    data = FAST.encode(state)
    assert data == LIBRARY.encode(state)
    assert FAST.decode(data) == LIBRARY.decode(data)


def test_unregistered_types_are_refused_as_the_library_refuses_them():
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.encode({"x": object()})


def test_every_event_and_snapshot_of_the_demo_world_encodes_to_the_library_bytes(monkeypatch):
    """The demo year (retrofits, issuance, transfers, expansion, freezes, revocation) and an
    exchange session (batches, the verification queue, cash): orjson never sees a value the
    library would encode differently."""
    from domain.exchange.orders import Order
    from registry.bootstrap import build_registry
    from registry.demo import seed_demo
    from tests.integration.test_exchange_journeys import COD, PRICE, exchange_world

    seen: list[int] = []

    def checked(self, obj):
        data = OrjsonTranscoder.encode.__wrapped__(self, obj)
        assert data == JSONTranscoder.encode(self, obj)
        seen.append(len(data))
        return data

    checked.__wrapped__ = OrjsonTranscoder.encode
    monkeypatch.setattr(OrjsonTranscoder, "encode", checked)
    seed_demo(build_registry({"REGISTRY_STORE": "memory"}))
    app = build_registry({"REGISTRY_STORE": "memory"})
    w = exchange_world(app, verify_above=5_000_000)
    app.exchange.submit_orders(instrument=COD, at="2025-03-02T10:00:00+08:00", requests=[
        Order("s1", w.dyeing, "S", "L", PRICE, 20_000, "d"),
        Order("b1", w.paper, "B", "L", PRICE, 4_000, "p"),
        Order("b2", w.paper, "B", "M", 0, 10_000, "p"),
    ])
    [queued] = app.exchange.verification_queue()
    app.exchange.approve_trade(instrument=COD, trade_id=queued["trade"], administrator="admin-9",
                               at="2025-03-02T11:00:00+08:00")
    assert len(seen) > 250
