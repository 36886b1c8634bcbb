"""The composition root: one place builds every part, each on first use and once."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import NotFound
from domain.exchange.orders import Cancel
from registry.bootstrap import Services


def test_parts_are_built_on_first_use_and_once(tmp_path: Path) -> None:
    services = Services({"REGISTRY_DATA_DIR": str(tmp_path / "data")})
    try:
        assert not services.opened()
        assert not (tmp_path / "data").exists()  # nothing is opened before it is used
        registry = services.registry
        assert services.opened() and services.registry is registry
        follower = services.follower
        assert follower.ledger is services.ledger and services.follower is follower
        assert services.gateway is services.gateway
        assert services.market_data is services.market_data
        assert services.public.registry is registry
    finally:
        services.close()


def test_the_gateway_submits_to_the_registrys_exchange(tmp_path: Path) -> None:
    services = Services({"REGISTRY_DATA_DIR": str(tmp_path)})
    try:
        with pytest.raises(NotFound, match="market NO-SUCH-MARKET"):
            services.gateway.submit("NO-SUCH-MARKET", Cancel("o-1", "A" * 18, "u-1"))
        assert services.registry.queries.position() == 0  # a refusal writes nothing
    finally:
        services.close()


def test_close_closes_only_what_was_opened(tmp_path: Path) -> None:
    services = Services({"REGISTRY_DATA_DIR": str(tmp_path)})
    services.close()  # nothing opened: nothing to close, nothing created
    assert not any(tmp_path.iterdir())
