"""Storage faults over HTTP: 503 problem+json with Retry-After, never a generic 500; in-doubt
writes answered truthfully and replayable with their Idempotency-Key; a private data folder."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from tests.integration.test_save_faults import version_gaps
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange
from tests.support.store_faults import FailingInserts


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def _admin(ex: Exchange) -> dict[str, str]:
    return ex.token("administrator", "admin-cash")


def _approver(ex: Exchange) -> dict[str, str]:
    return ex.token("administrator", "approver.two")  # four eyes: not the proposer


def _propose(ex: Exchange, reference: str = "BANK-9", amount: int = 500) -> str:
    """A deposit proposal's id (deposits take effect when a second administrator approves)."""
    proposed = ex.client.post(f"/cash/{ex.world.paper}/deposits",
                              json={"amount": amount, "reference": reference},
                              headers=_admin(ex))
    assert proposed.status_code == 202, proposed.text
    return str(proposed.json()["id"])


def _approve(ex: Exchange, proposal: str, key: str) -> Any:
    return ex.client.post(f"/proposals/{proposal}/approve",
                          headers={**_approver(ex), "Idempotency-Key": key})


def _deposited(ex: Exchange) -> int:
    return int(ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex)).json()["deposited"])


def _balance(ex: Exchange) -> int:
    return int(ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex)).json()["balance"])


def _is_problem(response: object, code: str) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.json()["type"].endswith("/" + code)  # type: ignore[attr-defined]
    assert int(response.headers["retry-after"]) > 0  # type: ignore[attr-defined]


def test_a_refused_write_is_503_storage_unavailable_and_the_retry_runs(ex: Exchange) -> None:
    before = _deposited(ex)
    proposal = _propose(ex)
    _approver(ex)  # the approver's token exists before the store refuses
    fault = FailingInserts(ex.registry, when="before")
    _is_problem(_approve(ex, proposal, "dep-1"), "storage-unavailable")
    fault.restore()
    assert _deposited(ex) == before  # nothing of it
    again = _approve(ex, proposal, "dep-1")  # storage is back: the retry with the key runs
    assert again.status_code == 200, again.text
    assert _deposited(ex) == before + 500


def test_an_in_doubt_approval_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    """The deposit's approval ended with its outcome unknown: the retry with its key answers
    the stored approval and the balance it made, never "already approved"."""
    before, balance = _deposited(ex), _balance(ex)
    proposal = _propose(ex)
    _approver(ex)
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    _is_problem(_approve(ex, proposal, "dep-2"), "outcome-unknown")
    fault.restore()
    again = _approve(ex, proposal, "dep-2")  # run again: the approval is this request's own
    assert again.status_code == 200, again.text
    assert again.json()["proposal"]["state"] == "approved"
    assert again.json()["result"] == balance + 500
    replay = _approve(ex, proposal, "dep-2")
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == again.json()
    assert _deposited(ex) == before + 500  # once
    # without its key a repeat is told it is done; the same reference again is still refused
    assert _approve(ex, proposal, "dep-3").status_code == 409
    assert _approve(ex, _propose(ex), "dep-4").status_code == 409
    assert _deposited(ex) == before + 500


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
    assert ex.registry.exchange.market(COD).trade_count == 1  # traded once
    assert version_gaps(ex.registry) == {}


def test_a_read_while_the_store_is_down_is_503_not_500(ex: Exchange) -> None:
    recorder = ex.registry.recorder
    admin = _admin(ex)  # its token is minted while the store is up

    def down(*args: object, **kwargs: object) -> object:
        raise OperationalError("connection refused")

    select = recorder.select_events
    recorder.select_events = down  # type: ignore[method-assign]
    try:
        response = ex.client.get(f"/cash/{ex.world.paper}", headers=admin)
    finally:
        recorder.select_events = select  # type: ignore[method-assign]
    # answered by the error table (the catch-all would have re-raised here, and dropped the
    # connection in a server)
    _is_problem(response, "storage-unavailable")
    assert ex.client.get(f"/cash/{ex.world.paper}", headers=_admin(ex)).status_code == 200


def test_the_data_folder_is_private(ex: Exchange) -> None:
    assert _approve(ex, _propose(ex), "dep-modes").status_code == 200
    ex.client.get("/ledger/checkpoint")
    assert stat.S_IMODE(ex.folder.stat().st_mode) == 0o700
    files = [p for p in ex.folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"registry.sqlite", "registry.sqlite-wal", "credentials.sqlite", "sessions.sqlite",
            "idempotency.sqlite", "ledger-signing.key"} <= names  # tokens are events now
    loose = {str(p.relative_to(ex.folder)): oct(stat.S_IMODE(p.stat().st_mode))
             for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600}
    assert loose == {}
    for d in (p for p in ex.folder.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_reads_that_need_no_store_are_served_while_it_is_down(ex: Exchange) -> None:
    w = ex.world
    seller = ex.enterprise(w.dyeing)
    sell = {"order_id": "S-1", "side": "sell", "price": PRICE, "quantity": 1_000}
    assert ex.client.post(f"/markets/{COD}/orders", json=sell, headers=seller).status_code == 201
    assert ex.client.get("/ledger/checkpoint").status_code == 200
    assert ex.client.get(f"/markets/{COD}/book", headers=seller).json()["asks"]  # caught up
    recorder = ex.registry.recorder

    def down(*args: object, **kwargs: object) -> object:
        raise OperationalError("connection refused")

    saved = recorder.select_notifications, recorder.insert_events
    recorder.select_notifications = down  # type: ignore[method-assign]
    recorder.insert_events = down  # type: ignore[method-assign]
    try:
        book = ex.client.get(f"/markets/{COD}/book", headers=seller)
        assert book.status_code == 200 and book.json()["asks"], book.text
        assert ex.client.get("/ledger/checkpoint").status_code == 200
        assert ex.client.get("/health").status_code == 200
        order = ex.client.post(f"/markets/{COD}/orders", headers=seller, json={
            "order_id": "S-2", "side": "sell", "price": PRICE, "quantity": 1_000})
        _is_problem(order, "storage-unavailable")
    finally:
        recorder.select_notifications, recorder.insert_events = saved  # type: ignore[method-assign]
    # storage is back: writes resume by themselves
    order = ex.client.post(f"/markets/{COD}/orders", headers=seller, json={
        "order_id": "S-2", "side": "sell", "price": PRICE, "quantity": 1_000})
    assert order.status_code == 201


def test_a_storage_failure_keeps_the_connection_alive(tmp_path: Path) -> None:
    """Over a real server: after a 503 the same keep-alive connection answers the next
    request (the catch-all 500 closes it)."""
    import http.client
    import json
    import socket
    import threading

    import uvicorn

    for ex in open_exchange(tmp_path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(ex.client.app, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            for _ in range(500):
                if server.started:
                    break
                threading.Event().wait(0.01)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {**_admin(ex), "Content-Type": "application/json"}
            fault = FailingInserts(ex.registry, when="before")
            conn.request("POST", f"/cash/{ex.world.paper}/deposits", headers=headers,
                         body=json.dumps({"amount": 1, "reference": "KA-1"}))
            first = conn.getresponse()
            first.read()
            fault.restore()
            assert first.status == 503
            assert first.getheader("connection") != "close"
            conn.request("GET", "/health")  # the same connection
            again = conn.getresponse()
            assert again.status == 200 and json.loads(again.read()) == {"status": "ok"}
            conn.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def test_an_in_doubt_transfer_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    w = ex.world
    # off-exchange transfers are recorded by administrators, for a non-trade reason
    headers = {**_admin(ex), "Idempotency-Key": "T-77"}
    body = {"instrument": COD, "buyer": w.paper, "quantity": 1_000, "ref": "T-77",
            "reason": "correction"}
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    first = ex.client.post(f"/holdings/{w.dyeing}/transfers", json=body, headers=headers)
    _is_problem(first, "outcome-unknown")
    fault.restore()
    again = ex.client.post(f"/holdings/{w.dyeing}/transfers", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["ref"] == "T-77" and again.json()["position"] is not None
    moved = [e for e in ex.registry.events.get(ex.registry.instrument(COD).id)
             if type(e).__name__ == "Transferred" and e.ref == "T-77"]
    assert len(moved) == 1


def test_an_in_doubt_cancel_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    seller = ex.enterprise(ex.world.dyeing)
    sell = {"order_id": "S-5", "side": "sell", "price": PRICE, "quantity": 1_000}
    assert ex.client.post(f"/markets/{COD}/orders", json=sell, headers=seller).status_code == 201
    headers = {**seller, "Idempotency-Key": "cancel-S-5"}
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    _is_problem(ex.client.delete(f"/markets/{COD}/orders/S-5", headers=headers),
                "outcome-unknown")
    fault.restore()
    again = ex.client.delete(f"/markets/{COD}/orders/S-5", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "cancelled"
    replay = ex.client.delete(f"/markets/{COD}/orders/S-5", headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    unkeyed = ex.client.delete(f"/markets/{COD}/orders/S-5", headers=seller)
    assert unkeyed.status_code == 404  # without its key a repeat is told it is gone


def test_an_in_doubt_confirmation_is_answered_by_the_retry_with_its_key(ex: Exchange) -> None:
    """A second representative's confirmation ended with its outcome unknown: the retry with
    its key answers the stored confirmation; the offer is made once."""
    dyeing = ex.world.dyeing
    requested = ex.client.post("/agreements", headers=ex.enterprise(dyeing),
                               json={"reference": "AG-DOUBT", "instrument": COD,
                                     "buyer": ex.world.paper, "price": PRICE,
                                     "quantity": 1000})
    assert requested.status_code == 202, requested.text
    path = f"/enterprises/{dyeing}/requests/{requested.json()['id']}/confirm"
    second = ex.representative(dyeing)  # its token exists before the store fails
    fault = FailingInserts(ex.registry, when="after", lookups_fail=True)
    _is_problem(ex.client.post(path, headers={**second, "Idempotency-Key": "conf-1"}),
                "outcome-unknown")
    fault.restore()
    again = ex.client.post(path, headers={**second, "Idempotency-Key": "conf-1"})
    assert again.status_code == 200, again.text
    assert again.json()["request"]["state"] == "approved"
    assert ex.client.post(path, headers={**second, "Idempotency-Key": "conf-2"}
                          ).status_code == 409  # without its key: told it is done
    assert ex.registry.instrument(COD).reserved_under("agreement:AG-DOUBT") == 1000  # once
