"""Storage faults over HTTP: 503 problem+json with Retry-After, never a generic 500; in-doubt
writes answered truthfully and replayable with their Idempotency-Key; a private data folder."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from tests.api.exchange_world import COD, PRICE, Exchange, open_exchange
from tests.integration.test_save_faults import FailingInserts, version_gaps


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def _admin(ex: Exchange) -> dict[str, str]:
    return ex.token("administrator", "admin-cash")


def _deposit(ex: Exchange, key: str, reference: str = "BANK-9", amount: int = 500) -> object:
    return ex.client.post(f"/cash/{ex.world.paper}/deposits",
                          json={"amount": amount, "reference": reference},
                          headers={**_admin(ex), "Idempotency-Key": key})


def _deposited(ex: Exchange) -> int:
    return int(ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex)).json()["deposited"])


def _is_problem(response: object, code: str) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.json()["type"].endswith("/" + code)  # type: ignore[attr-defined]
    assert int(response.headers["retry-after"]) > 0  # type: ignore[attr-defined]


def test_a_refused_write_is_503_storage_unavailable_and_the_retry_runs(ex: Exchange) -> None:
    before = _deposited(ex)
    fault = FailingInserts(ex.registry, when="before")
    _is_problem(_deposit(ex, "dep-1"), "storage-unavailable")
    fault.restore()
    assert _deposited(ex) == before  # nothing of it
    again = _deposit(ex, "dep-1")  # storage is back: the retry with the key runs
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert _deposited(ex) == before + 500


def test_an_in_doubt_deposit_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    before = _deposited(ex)
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    _is_problem(_deposit(ex, "dep-2"), "outcome-unknown")
    fault.restore()
    again = _deposit(ex, "dep-2")  # run again: the reference is this request's own deposit
    assert again.status_code == 201, again.text  # type: ignore[attr-defined]
    assert again.json()["deposited"] == before + 500  # type: ignore[attr-defined]
    assert _deposit(ex, "dep-2").headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
    assert _deposited(ex) == before + 500  # once
    other = _deposit(ex, "dep-3")  # the same reference under a new key is still refused
    assert other.status_code == 409  # type: ignore[attr-defined]


def test_an_in_doubt_order_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    w = ex.world
    seller, buyer = ex.enterprise(w.dyeing), ex.enterprise(w.paper)
    sell = {"order_id": "S-9", "side": "sell", "price": PRICE, "quantity": 2_000}
    assert ex.client.post(f"/markets/{COD}/orders", json=sell, headers=seller).status_code == 201
    buy = {"order_id": "B-9", "side": "buy", "price": PRICE, "quantity": 1_000}
    headers = {**buyer, "Idempotency-Key": "buy-B-9"}
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    _is_problem(ex.client.post(f"/markets/{COD}/orders", json=buy, headers=headers),
                "outcome-unknown")
    fault.restore()
    again = ex.client.post(f"/markets/{COD}/orders", json=buy, headers=headers)
    assert again.status_code == 201, again.text
    ack = again.json()
    assert (ack["order_id"], ack["filled"], ack["resting"]) == ("B-9", 1_000, 0)
    assert [f["quantity"] for f in ack["fills"]] == [1_000]
    assert ex.registry.market(COD).trade_count == 1  # traded once
    assert version_gaps(ex.registry) == {}


def test_a_read_while_the_store_is_down_is_503_not_500(ex: Exchange) -> None:
    recorder = ex.registry.recorder

    def down(*args: object, **kwargs: object) -> object:
        raise OperationalError("connection refused")

    select = recorder.select_events
    recorder.select_events = down  # type: ignore[method-assign]
    try:
        response = ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex))
    finally:
        recorder.select_events = select  # type: ignore[method-assign]
    # answered by the error table (the catch-all would have re-raised here, and dropped the
    # connection in a server)
    _is_problem(response, "storage-unavailable")
    assert ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex)).status_code == 200


def test_the_data_folder_is_private(ex: Exchange) -> None:
    assert _deposit(ex, "dep-modes").status_code == 201  # type: ignore[attr-defined]
    ex.client.get("/ledger/checkpoint")
    assert stat.S_IMODE(ex.folder.stat().st_mode) == 0o700
    files = [p for p in ex.folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"registry.sqlite", "registry.sqlite-wal", "tokens.sqlite",
            "idempotency.sqlite", "ledger-signing.key"} <= names
    loose = {str(p.relative_to(ex.folder)): oct(stat.S_IMODE(p.stat().st_mode))
             for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600}
    assert loose == {}
    for d in (p for p in ex.folder.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
