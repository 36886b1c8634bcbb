"""Cash over HTTP: administrators record deposits and withdrawals; enterprises see their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exchange_world import Exchange, open_exchange
from tests.support.world import code

START = 100_000_000  # every trader's opening deposit, fen


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def test_deposit_then_withdraw_and_the_enterprise_sees_it(ex: Exchange) -> None:
    admin, paper = ex.token("administrator", "wang.fang"), ex.enterprise(ex.world.paper)
    r = ex.client.post(f"/cash/{ex.world.paper}/deposits", headers=admin,
                       json={"amount": 5_000_00, "reference": "ICBC-2025-0001"})
    assert r.status_code == 202, r.text  # proposed: nothing is credited yet
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == START
    r = ex.approve(r)
    assert r.status_code == 200, r.text
    assert r.json()["result"] == START + 5_000_00
    r = ex.act(f"/cash/{ex.world.paper}/withdrawals",
               {"amount": 1_000_00, "reference": "ICBC-2025-0002"})
    assert r.status_code == 200, r.text
    mine = ex.client.get(f"/cash/{ex.world.paper}", headers=paper).json()
    assert mine == {"enterprise": ex.world.paper, "balance": START + 4_000_00, "reserved": 0,
                    "available": START + 4_000_00, "deposited": START + 5_000_00,
                    "withdrawn": 1_000_00}
    moves = ex.client.get(f"/cash/{ex.world.paper}/movements", headers=paper).json()
    assert [(m["event"], m["reference"]) for m in moves["items"][:2]] == [
        ("Withdrawn", "ICBC-2025-0002"), ("Deposited", "ICBC-2025-0001")]


def test_a_reference_counts_once(ex: Exchange) -> None:
    body = {"amount": 100, "reference": "ICBC-9"}
    assert ex.act(f"/cash/{ex.world.paper}/deposits", body).status_code == 200
    again = ex.act(f"/cash/{ex.world.paper}/deposits", body)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already-exists")
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == START + 100


def test_withdrawing_more_than_available_is_409_and_changes_nothing(ex: Exchange) -> None:
    r = ex.act(f"/cash/{ex.world.paper}/withdrawals", {"amount": START + 1, "reference": "X-1"})
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == START


def test_another_enterprise_account_is_404_and_roles_are_checked(ex: Exchange) -> None:
    dyeing = ex.enterprise(ex.world.dyeing)
    assert ex.client.get(f"/cash/{ex.world.paper}", headers=dyeing).status_code == 404
    assert ex.client.get(f"/cash/{ex.world.paper}").status_code == 401
    r = ex.client.post(f"/cash/{ex.world.dyeing}/deposits", headers=dyeing,
                       json={"amount": 100, "reference": "SELF"})
    assert r.status_code == 403
    auditor = ex.token("auditor", "li.wei")
    assert ex.client.get(f"/cash/{ex.world.paper}", headers=auditor).json()["balance"] == START
    assert ex.client.get(f"/cash/{code(99)}", headers=auditor).status_code == 404
    assert ex.registry.exchange.cash_account(ex.world.dyeing).balance == START


@pytest.mark.parametrize("body", [{"amount": 1.5, "reference": "R"}, {"amount": 0,
                                  "reference": "R"}, {"amount": "100", "reference": "R"},
                                  {"amount": 100}, {"amount": 100, "reference": "R", "x": 1},
                                  {"amount": 100, "reference": " bad"}])
def test_bad_records_are_422_and_write_nothing(ex: Exchange, body: dict[str, object]) -> None:
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post(f"/cash/{ex.world.paper}/deposits", headers=admin, json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == START
