"""Confirmed rights (核定排污权 / 用能权): an enterprise's annual right per indicator kind.

The right is the annual quantity (kg a year; kgce a year for ENERGY) its discharge permit or
energy-use quota allows, with the permit's number and term. It changes only by events:

- ``Confirmed`` — the administrator's initial confirmation (or a re-confirmation, e.g. a new
  permit), the quantity, permit number and term;
- ``RetrofitLevelRecorded`` — a retrofit's verified post-retrofit level (baseline − verified
  reduction), recorded when its surplus is issued;
- ``Sold`` / ``Bought`` — a transfer moves q kg a year of right from seller to buyer (the
  permits are amended: the seller's right falls by q, the buyer's rises by q);
- ``SettledOnExchange`` — exchange settlement (a batch of order-book trades, an approved
  trade, an agreement, an auction) amends the right once per settlement: the right falls by
  what the enterprise sold and rises by what it bought, and the event names every trade;
- ``UsedForExpansion`` — surplus applied to the enterprise's own new project (its permit
  reference): the right stays, the part of it in use rises by q;
- ``Revoked`` — a retrofit revoked after a failed spot check: its level is withdrawn (the level
  before it applies again) and a holder's right falls by the units it lost.

The cap (point 2): surplus units held plus new surplus never exceed the right less the level in
use (verified post-retrofit level plus what expansions use) less the remaining obligation —
``SurplusExceedsRight`` otherwise. Surplus is what the permit allows and the plant no longer
emits; units already held have claimed part of it, so a second retrofit cannot claim it again.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, InvalidState, SurplusExceedsRight
from domain.quantities import check_quantity
from domain.reference import kind_info
from domain.topics import aggregate_topic, event_topic, natural_id


def _iso_date(text: str, what: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} is an ISO date such as 2025-01-01, got {text!r}") from None


class ConfirmedRight(Aggregate):
    TOPIC = aggregate_topic("ConfirmedRight")

    class Created(Aggregate.Created):
        TOPIC = event_topic("ConfirmedRight", "Created")

    @staticmethod
    def create_id(enterprise: str, kind: str, **_: Any) -> UUID:
        return natural_id(f"/confirmed-rights/{enterprise}/{kind}")

    @staticmethod
    def check_terms(*, quantity: int, permit: str, valid_from: str,
                    valid_until: str) -> tuple[str, str]:
        check_quantity(quantity, "a confirmed right", allow_zero=True)
        if not isinstance(permit, str) or not permit.strip():
            raise InvalidInput("a confirmed right names its discharge permit or quota number")
        start = _iso_date(valid_from, "the permit's start")
        end = _iso_date(valid_until, "the permit's end")
        if end <= start:
            raise InvalidInput(f"the permit's term ends ({end}) before it starts ({start})")
        return start, end

    @classmethod
    def confirm_new(cls, *, enterprise: str, kind: str, quantity: int, permit: str,
                    valid_from: str, valid_until: str, actor: str, at: str) -> ConfirmedRight:
        kind_info(kind)
        start, end = cls.check_terms(quantity=quantity, permit=permit, valid_from=valid_from,
                                     valid_until=valid_until)
        if not actor.strip():
            raise InvalidInput("a confirmation needs the administrator's id")
        return cls(enterprise=enterprise, kind=kind, quantity=quantity, permit=permit,
                   valid_from=start, valid_until=end, actor=actor, at=at)

    @event("Confirmed", topic=event_topic("ConfirmedRight", "Confirmed"))
    def __init__(self, enterprise: str, kind: str, quantity: int, permit: str, valid_from: str,
                 valid_until: str, actor: str, at: str) -> None:
        self.enterprise = enterprise
        self.kind = kind
        self.quantity = quantity
        self.permit = {"number": permit, "valid_from": valid_from, "valid_until": valid_until}
        #: retrofit reference -> its verified post-retrofit level, in the order recorded
        self.levels: dict[str, int] = {}
        self.expansion_use = 0
        self.changes: list[dict[str, Any]] = [
            {"change": "confirmed", "amount": quantity, "ref": permit, "at": at,
             "quantity": quantity}]

    def _log(self, change: str, amount: int, ref: str, at: str, **extra: Any) -> None:
        self.changes.append({"change": change, "amount": amount, "ref": ref, "at": at,
                             "quantity": self.quantity, **extra})

    # -- reading -------------------------------------------------------------------------------

    @property
    def post_retrofit_level(self) -> int | None:
        """The latest verified post-retrofit level still standing (None before any)."""
        return list(self.levels.values())[-1] if self.levels else None

    def level_in_use(self) -> int:
        """What the plant emits (or uses) of its right: the post-retrofit level, or the whole
        right before any retrofit, plus what expansions took."""
        level = self.post_retrofit_level
        return (self.quantity if level is None else level) + self.expansion_use

    def headroom(self, *, remaining_obligation: int) -> int:
        """The most surplus this right can back: right − level in use − remaining obligation."""
        return self.quantity - self.level_in_use() - max(0, remaining_obligation)

    def check_issuable(self, *, amount: int, post_level: int, remaining_obligation: int,
                       held: int) -> None:
        """Refuse surplus beyond the right less the new post-retrofit level less the remaining
        obligation less the surplus units already held."""
        cap = (self.quantity - post_level - self.expansion_use - max(0, remaining_obligation)
               - held)
        if amount > cap:
            raise SurplusExceedsRight(
                f"{self.enterprise} {self.kind}: surplus {amount} exceeds its confirmed right "
                f"{self.quantity} less the post-retrofit level {post_level}, less expansions "
                f"{self.expansion_use}, less the remaining obligation {remaining_obligation}, "
                f"less the {held} surplus units it holds (at most {max(0, cap)})")

    # -- changes -------------------------------------------------------------------------------

    def reconfirm(self, *, quantity: int, permit: str, valid_from: str, valid_until: str,
                  actor: str, at: str) -> None:
        start, end = self.check_terms(quantity=quantity, permit=permit, valid_from=valid_from,
                                      valid_until=valid_until)
        if not actor.strip():
            raise InvalidInput("a confirmation needs the administrator's id")
        self._reconfirmed(quantity=quantity, permit=permit, valid_from=start, valid_until=end,
                          actor=actor, at=at)

    @event("Reconfirmed", topic=event_topic("ConfirmedRight", "Reconfirmed"))
    def _reconfirmed(self, quantity: int, permit: str, valid_from: str, valid_until: str,
                     actor: str, at: str) -> None:
        self.quantity = quantity
        self.permit = {"number": permit, "valid_from": valid_from, "valid_until": valid_until}
        self._log("reconfirmed", quantity, permit, at)

    @event("RetrofitLevelRecorded", topic=event_topic("ConfirmedRight", "RetrofitLevelRecorded"))
    def record_retrofit(self, retrofit: str, post_level: int, at: str) -> None:
        """A retrofit's verified post-retrofit level (guarded by ``check_issuable`` first)."""
        self.levels.pop(retrofit, None)
        self.levels[retrofit] = post_level
        self._log("retrofit", post_level, retrofit, at)

    def sell(self, *, quantity: int, ref: str, counterparty: str, at: str) -> None:
        check_quantity(quantity)
        if quantity > self.quantity:
            raise InvalidState(f"{self.enterprise} {self.kind}: cannot sell {quantity} of a "
                               f"confirmed right of {self.quantity}")
        self._sold(quantity=quantity, ref=ref, counterparty=counterparty, at=at)

    @event("Sold", topic=event_topic("ConfirmedRight", "Sold"))
    def _sold(self, quantity: int, ref: str, counterparty: str, at: str) -> None:
        self.quantity -= quantity
        self._log("sold", quantity, ref, at, counterparty=counterparty)

    def buy(self, *, quantity: int, ref: str, counterparty: str, at: str) -> None:
        check_quantity(quantity)
        self._bought(quantity=quantity, ref=ref, counterparty=counterparty, at=at)

    @event("Bought", topic=event_topic("ConfirmedRight", "Bought"))
    def _bought(self, quantity: int, ref: str, counterparty: str, at: str) -> None:
        self.quantity += quantity
        self._log("bought", quantity, ref, at, counterparty=counterparty)

    def settle(self, *, sold: int, bought: int, sales: list[str], purchases: list[str],
               ref: str, at: str) -> None:
        """One exchange settlement's amendment: ``sold`` and ``bought`` (kg a year) are the
        enterprise's totals over the trades it sold in (``sales``) and bought in
        (``purchases``), settled under ``ref`` (a batch, a trade, an agreement or an
        auction), whose own settlement event in the same save gives each trade's parties
        and quantity."""
        check_quantity(sold, "units sold", allow_zero=True)
        check_quantity(bought, "units bought", allow_zero=True)
        if sold + bought == 0 or not (sales or purchases) or bool(sales) != (sold > 0) or \
                bool(purchases) != (bought > 0):
            raise InvalidInput("a settlement amends a right by the trades it sold or bought in")
        if sold > self.quantity + bought:
            raise InvalidState(f"{self.enterprise} {self.kind}: cannot sell {sold} of a "
                               f"confirmed right of {self.quantity} (+{bought} bought)")
        self._settled(sold=sold, bought=bought, sales=sales, purchases=purchases, ref=ref,
                      at=at)

    @event("SettledOnExchange", topic=event_topic("ConfirmedRight", "SettledOnExchange"))
    def _settled(self, sold: int, bought: int, sales: list[str], purchases: list[str],
                 ref: str, at: str) -> None:
        self.quantity += bought - sold
        # the change log keeps the totals; the event itself names every trade
        self._log("settled", bought - sold, ref, at, sold=sold, bought=bought,
                  trades=len(sales) + len(purchases))

    def use_for_expansion(self, *, quantity: int, expansion: str, project_permit: str,
                          at: str) -> None:
        check_quantity(quantity)
        if not isinstance(project_permit, str) or not project_permit.strip():
            raise InvalidInput("an expansion's use names the new project's permit reference")
        self._used_for_expansion(quantity=quantity, expansion=expansion,
                                 project_permit=project_permit, at=at)

    @event("UsedForExpansion", topic=event_topic("ConfirmedRight", "UsedForExpansion"))
    def _used_for_expansion(self, quantity: int, expansion: str, project_permit: str,
                            at: str) -> None:
        self.expansion_use += quantity
        self._log("expansion", quantity, expansion, at, project_permit=project_permit)

    @event("Revoked", topic=event_topic("ConfirmedRight", "Revoked"))
    def revoke(self, retrofit: str, lost: int, spot_check: str, at: str) -> None:
        """A revoked retrofit's level goes (if it was this enterprise's) and the right falls by
        the units this holder lost to the clawback (if it bought them)."""
        self.levels.pop(retrofit, None)
        self.quantity = max(0, self.quantity - lost)
        self._log("revoked", lost, spot_check, at, retrofit=retrofit)
