"""The registry's typed refusals. Every guard raises one of these before anything mutates."""

from __future__ import annotations


class RegistryError(Exception):
    """A command was refused; nothing changed. ``code`` is a stable, machine-readable name."""

    code = "registry-error"


class InvalidInput(RegistryError):
    code = "invalid-input"


class InvalidCreditCode(InvalidInput):
    code = "invalid-credit-code"


class UnknownReference(InvalidInput):
    """A city, basin, sector, kind or rule version the reference data does not know."""

    code = "unknown-reference"


class InconsistentReference(InvalidInput):
    """Reference data that do not fit together: a basin that does not run through the
    enterprise's prefecture."""

    code = "inconsistent-reference"


class NotFound(RegistryError):
    code = "not-found"


class AlreadyExists(RegistryError):
    code = "already-exists"


class InvalidState(RegistryError):
    """The command does not fit the aggregate's lifecycle state."""

    code = "invalid-state"


class AgencyNotEligible(RegistryError):
    """The agency is not accredited, is barred, or audited the retrofit it would verify."""

    code = "agency-not-eligible"


class CreditRestricted(RegistryError):
    """The enterprise's credit record bars it from trading."""

    code = "credit-restricted"


class InsufficientHoldings(RegistryError):
    code = "insufficient-holdings"


class OutsideTradingZone(RegistryError):
    """The trading-scope rules forbid this transfer (basin, prefecture, sector, discharger)."""

    code = "outside-trading-zone"


class NoSurplus(RegistryError):
    """The verified reduction does not exceed the enterprise's remaining obligation."""

    code = "no-surplus"


class ConcurrencyConflict(RegistryError):
    """The command kept meeting concurrent writes and gave up after its bounded retries."""

    code = "concurrency-conflict"


class InsufficientFunds(RegistryError):
    """The cash account's available balance (balance − reserved) does not cover the amount."""

    code = "insufficient-funds"


class FourEyesViolation(RegistryError):
    """An administrator tried to approve something they initiated (four-eyes principle)."""

    code = "four-eyes-violation"


class SurplusExceedsRight(RegistryError):
    """Issued surplus would exceed the confirmed right less the post-retrofit level less the
    remaining obligation (less the surplus units already held)."""

    code = "surplus-exceeds-right"


class NoConfirmedRight(InvalidState):
    """The enterprise holds no confirmed right (permit or quota) for the kind."""

    code = "no-confirmed-right"


class PermissionDenied(RegistryError):
    """The acting user lacks the role, the organisation or the engagement this needs."""

    code = "forbidden"


class AuthenticationFailed(RegistryError):
    """Login, password, second factor or token did not check out (never says which)."""

    code = "unauthenticated"


class MarketHalted(InvalidState):
    """An administrator halted the market: it takes no new orders until resumed."""

    code = "market-halted"


class BidAboveCap(InvalidInput):
    """An auction bid that would take the bidder's bids past the per-bidder cap."""

    code = "bid-above-cap"


class PriceOutsideAgreementBand(InvalidInput):
    """An agreement's price lies outside the band around the market's reference price."""

    code = "price-outside-agreement-band"


class MarketClosed(InvalidState):
    """The market is outside its trading sessions (hours, working days, holidays)."""

    code = "market-closed"


class ObligationRefused(InvalidState):
    """An obligation change that would un-meet a met task or clear a clawback debt."""

    code = "obligation-refused"


class OverlappingClaim(InvalidState):
    """A retrofit's baseline lies above the enterprise's latest verified post-retrofit level:
    it claims a reduction another retrofit was already credited with (double counting)."""

    code = "overlapping-claim"
