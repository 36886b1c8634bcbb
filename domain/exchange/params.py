"""A market's parameters as data: tick, price band, lots, order limits, verification threshold."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from domain.errors import InvalidInput, PriceOutsideAgreementBand
from domain.exchange.money import check_exact
from domain.exchange.sessions import DEFAULT_SESSIONS, REFERENCE_RULES, check_sessions
from domain.matching import BookRules, MatchingError


@dataclass(frozen=True)
class MarketParams:
    """``reference_price``, ``tick`` in fen per tonne; ``lot``, ``min_lot``, ``max_order`` in
    kg; ``verify_above`` in fen (a trade worth more waits for an administrator; None: never);
    ``agreement_band_pct``: an agreement (negotiated, block) transfer of the instrument is
    priced within this many percent of the reference price (±30% by default, as block trades
    are). Markets opened before it existed read the default.

    Sessions (`domain.exchange.sessions`): ``sessions`` (CST, working days; [] continuous),
    ``holidays`` (ISO dates), ``gtc_days`` (how long a good-till-cancelled order may rest) and
    ``reference_rule`` (``close`` or ``vwap``: how the daily roll sets the reference)."""

    reference_price: int
    tick: int = 1
    band_pct: int = 10
    lot: int = 1000
    min_lot: int = 1000
    max_order: int = 100_000_000
    verify_above: int | None = None
    agreement_band_pct: int = 30
    sessions: list[list[str]] = field(default_factory=lambda: [list(s) for s in
                                                               DEFAULT_SESSIONS])
    holidays: list[str] = field(default_factory=list)
    gtc_days: int = 30
    reference_rule: str = "close"

    def __post_init__(self) -> None:
        check_exact(self.tick, self.lot)
        check_sessions(self.sessions, self.holidays)
        if type(self.gtc_days) is not int or not 1 <= self.gtc_days <= 366:
            raise InvalidInput("gtc_days is a whole number of days in [1, 366]")
        if self.reference_rule not in REFERENCE_RULES:
            raise InvalidInput(f"reference_rule is one of {REFERENCE_RULES}")
        band = self.agreement_band_pct
        if type(band) is not int or not 0 <= band < 100:
            raise InvalidInput("agreement_band_pct is an integer percentage in [0, 100)")
        if self.min_lot % self.lot or self.max_order < self.min_lot:
            raise InvalidInput("min_lot must be whole lots and max_order at least min_lot")
        va = self.verify_above
        if va is not None and (type(va) is not int or va < 0):
            raise InvalidInput("verify_above is a non-negative integer of fen, or None")
        try:
            self.book_rules()
        except MatchingError as exc:
            raise InvalidInput(f"market parameters: {exc}") from None

    def book_rules(self) -> BookRules:
        return BookRules(tick=self.tick, reference_price=self.reference_price,
                         band_pct=self.band_pct, min_lot=self.min_lot, max_order=self.max_order)

    def upper_price(self) -> int:
        """The highest price a trade can have today: what a market buy order reserves."""
        return self.book_rules().price_bounds()[1]

    def check_agreement_price(self, price: int) -> None:
        """Refuse an agreement price outside ``agreement_band_pct`` of the reference."""
        ref, band = self.reference_price, self.agreement_band_pct
        lower = -(-ref * (100 - band) // 100)  # ceil: the band never widens by rounding
        upper = ref * (100 + band) // 100
        if not lower <= price <= upper:
            raise PriceOutsideAgreementBand(
                f"agreement price {price} fen/t is outside [{lower}, {upper}], "
                f"{band}% around the reference price {ref}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarketParams:
        return cls(**data)
