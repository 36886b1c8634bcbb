"""A service warms up before it answers: the ledger caught up, every market in the exchange
writer, the read copies made; and a warm-up step that fails never keeps it from starting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import AppState
from domain.exchange.market import Market
from registry.bootstrap import build_registry
from registry.exchange import ExchangeService
from tests.integration.test_exchange_journeys import COD, NOX, exchange_world


def test_the_first_request_finds_everything_loaded(tmp_path: Path) -> None:
    env = {"REGISTRY_DATA_DIR": str(tmp_path)}
    seeded = build_registry(env)
    exchange_world(seeded)
    events = seeded.queries.position()
    seeded.close()
    with TestClient(create_app(env)) as client:
        state: AppState = client.app.state.registry_state  # type: ignore[attr-defined]
        assert state.ledger.size == events  # caught up before any auditor asked
        assert state.market_data.position == events
        cached = state.registry.exchange_writes.writer().cache
        assert {Market.create_id(COD), Market.create_id(NOX)} <= set(cached)
        assert state.registry.reads.reloads >= 3  # the catalogue and both instruments
        assert client.get("/health").status_code == 200


def test_a_failing_warm_up_step_is_logged_and_the_service_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: object) -> int:
        raise OSError("store unreachable for a moment")

    monkeypatch.setattr(ExchangeService, "warm_exchange", broken)
    env = {"REGISTRY_DATA_DIR": str(tmp_path)}
    with caplog.at_level(logging.WARNING, logger="api.state"), \
            TestClient(create_app(env)) as client:
        assert client.get("/health").status_code == 200
    assert "warm-up of the exchange writer failed" in caplog.text
