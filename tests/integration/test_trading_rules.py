"""The exchange's price rules beyond the book: agreements priced within their band around the
market's reference price."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput, PriceOutsideAgreementBand
from domain.exchange.params import MarketParams
from registry.bootstrap import Registry, build_registry
from tests.integration.test_exchange_journeys import COD, PRICE, exchange_world


@pytest.fixture
def app() -> Registry:
    return build_registry({"REGISTRY_STORE": "memory"})


AT = "2025-03-03T10:00:00+08:00"  # a Monday, in the morning session


def test_agreements_are_priced_within_thirty_percent_of_the_reference(app: Registry) -> None:
    w = exchange_world(app)
    for n, price in enumerate((PRICE * 13 // 10 + 1, PRICE * 7 // 10 - 1)):
        with pytest.raises(PriceOutsideAgreementBand):
            app.offer_agreement(reference=f"AG-{n}", instrument=COD, seller=w.dyeing,
                                buyer=w.paper, price=price, qty=1_000, offered_by="d", at=AT)
    assert app.instrument(COD).reservations() == {}  # refused: nothing reserved
    for n, price in enumerate((PRICE * 13 // 10, PRICE * 7 // 10)):
        app.offer_agreement(reference=f"AG-ok{n}", instrument=COD, seller=w.dyeing,
                            buyer=w.paper, price=price, qty=1_000, offered_by="d", at=AT)


def test_the_agreement_band_is_a_market_parameter(app: Registry) -> None:
    w = exchange_world(app, agreement_band_pct=5)
    with pytest.raises(PriceOutsideAgreementBand):
        app.offer_agreement(reference="AG-1", instrument=COD, seller=w.dyeing, buyer=w.paper,
                            price=PRICE * 106 // 100, qty=1_000, offered_by="d", at=AT)
    with pytest.raises(InvalidInput):
        MarketParams(reference_price=PRICE, agreement_band_pct=100)
