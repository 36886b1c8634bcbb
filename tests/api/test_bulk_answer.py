"""The speed-up ``orjson_answers`` (`registry.speedups.Speedups.answer_bytes`): the bulk entry's
answer written by orjson is byte for byte what Starlette's ``JSONResponse`` writes, and the
same entries sent to two identical exchanges, one with the speed-up and one without, get the
same statuses, headers and bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from registry.speedups import ALL, PLAIN
from tests.support.exchange_world import COD, PRICE, Exchange, open_pair

BULK = f"/markets/{COD}/bulk-orders"

#: the values an answer is built of: no floats (`Speedups.answer_bytes`)
_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
            | st.text())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(st.text(), inner, max_size=5), max_leaves=30)


@given(_VALUES)
def test_answer_bytes_are_the_bytes_jsonresponse_writes(value: Any) -> None:
    try:
        expected = JSONResponse(value).body
    except UnicodeEncodeError:  # a lone surrogate: both ways refuse it
        assert ALL.answer_bytes(value) is None
        return
    raw = ALL.answer_bytes(value)
    assert raw is None or raw == expected  # None: the caller writes it the plain way


def test_what_orjson_refuses_and_the_plain_setting_go_the_plain_way() -> None:
    assert ALL.answer_bytes({"n": 2**64}) is None  # beyond 64 bits: json.dumps writes it
    assert ALL.answer_bytes(["\ud800"]) is None  # a lone surrogate
    assert ALL.answer_bytes({1: "a"}) is None  # a key that is not a string
    assert PLAIN.answer_bytes({"a": 1}) is None
    assert ALL.answer_bytes({"a": [1, "é\n\u2028", None, True]}) == \
        JSONResponse({"a": [1, "é\n\u2028", None, True]}).body


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Exchange, Exchange]]:
    yield from open_pair(tmp_path, "orjson_answers")


def _entries(ex: Exchange) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(headers, body) in order, with ``ex``'s own tokens: resting orders, refusals of each
    kind, cancels, and a crossing entry whose items carry fills and their receipts."""
    w = ex.world
    seller, buyer = ex.enterprise(w.dyeing), ex.enterprise(w.paper)
    admin = ex.token("administrator", "gdee-admin-li")

    def order(order_id: str, side: str, quantity: int, price: int = PRICE,
              **more: Any) -> dict[str, Any]:
        return {"action": "order", "order_id": order_id, "side": side, "price": price,
                "quantity": quantity, **more}

    return [
        (seller, {"items": [order("s1", "sell", 3000), order("s2", "sell", 1000, PRICE * 9),
                            {"action": "cancel", "order_id": "nope"},
                            order("s3", "sell", 2000, time_in_force="gtc"),
                            {"action": "cancel", "order_id": "s3"}]}),
        (buyer, {"items": [order("b1", "buy", 1000),
                           {"action": "order", "order_id": "b2", "side": "buy",
                            "kind": "market", "quantity": 2000},
                           order("b3", "buy", 10**9),  # more than its cash: refused
                           order("b4", "buy", 1500)]}),  # not whole lots: refused
        (admin, {"account": w.dyeing, "items": [order("a1", "sell", 1000)]}),
        (seller, {"items": [order("s1", "sell", 1000)]}),  # a duplicate id: refused
    ]


def test_the_bulk_answer_is_the_same_both_ways(pair: tuple[Exchange, Exchange]) -> None:
    fast, plain = pair
    answers = []
    for (headers, body), (plain_headers, plain_body) in zip(
            _entries(fast), _entries(plain), strict=True):
        a = fast.client.post(BULK, json=body, headers=headers)
        b = plain.client.post(BULK, json=plain_body, headers=plain_headers)
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        assert dict(a.headers) == dict(b.headers)
        assert a.content == b.content, (a.text, b.text)
        answers.append(json.loads(a.content))
    # the entries did what they say: the comparison covers fills and every kind of refusal
    assert [[item["status"] for item in answer["items"]] for answer in answers] == [
        ["accepted", "refused", "refused", "accepted", "cancelled"],
        ["accepted", "accepted", "refused", "refused"], ["accepted"], ["refused"]]
    assert [len(item["fills"]) for item in answers[1]["items"]] == [1, 1, 0, 0]
    assert answers[1]["items"][0]["fills"][0]["ledger"]["receipt"].startswith("/trades/")
