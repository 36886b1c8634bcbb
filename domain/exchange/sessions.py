"""Trading sessions: when a market takes orders, what a trading day is, and the daily roll.

A market's ``sessions`` are ``[["HH:MM", "HH:MM"], …]`` in China Standard Time (UTC+8) on
working days (Monday to Friday, except the market's ``holidays``, ISO dates). The default is
the listed-trading hours of China's exchanges: 09:30–11:30 and 13:00–15:00. An empty list means
continuous trading (every day, every hour): for test and benchmark markets, stated explicitly.

Day orders (``DAY``, the default) expire at the close of the trading day they were entered on;
good-till-cancelled orders (``GTC``, limit orders only) rest at most ``gtc_days`` calendar days.
Both are expired by the close job (`registry.sessions`), never by a clock inside the domain:
time enters every command as an ISO 8601 argument.

The reference price rolls each trading day by the market's ``reference_rule``:

* ``close`` (default): the price of the last trade of the previous trading day that had trades;
* ``vwap``: that day's volume-weighted average price, ``Σ value / Σ quantity`` in fen per tonne,
  rounded half up to the tick.

A day without trades leaves the reference where it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from domain.errors import InvalidInput

CST = timezone(timedelta(hours=8))
DEFAULT_SESSIONS: tuple[tuple[str, str], ...] = (("09:30", "11:30"), ("13:00", "15:00"))
TIFS = ("DAY", "GTC")
REFERENCE_RULES = ("close", "vwap")


def local(at: str) -> datetime:
    """``at`` (ISO 8601 with an offset) in China Standard Time."""
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        raise InvalidInput(f"not an ISO 8601 time: {at!r}") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"a time needs its UTC offset: {at!r}")
    return moment.astimezone(CST)


def trading_date(at: str) -> str:
    """The calendar date of ``at`` in China (what a trading day is named by)."""
    return local(at).date().isoformat()


def _minutes(hhmm: Any) -> int:
    if type(hhmm) is not str or len(hhmm) != 5 or hhmm[2] != ":":
        raise InvalidInput(f"a session time reads HH:MM, got {hhmm!r}")
    try:
        h, m = int(hhmm[:2]), int(hhmm[3:])
    except ValueError:
        raise InvalidInput(f"a session time reads HH:MM, got {hhmm!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise InvalidInput(f"no such time of day: {hhmm!r}")
    return h * 60 + m


def check_sessions(sessions: Any, holidays: Any) -> None:
    """Sessions are ascending, non-overlapping HH:MM pairs; holidays ISO dates."""
    if not isinstance(sessions, (list, tuple)):
        raise InvalidInput("sessions are a list of [open, close] HH:MM pairs")
    end = -1
    for s in sessions:
        if not isinstance(s, (list, tuple)) or len(s) != 2:
            raise InvalidInput("each session is an [open, close] pair of HH:MM times")
        a, b = _minutes(s[0]), _minutes(s[1])
        if not end < a < b:
            raise InvalidInput("sessions run forwards and do not overlap")
        end = b
    if not isinstance(holidays, (list, tuple)):
        raise InvalidInput("holidays are a list of ISO dates")
    for d in holidays:
        try:
            datetime.strptime(d, "%Y-%m-%d")  # noqa: DTZ007 - a date, no time of day
        except (TypeError, ValueError):
            raise InvalidInput(f"a holiday is an ISO date, got {d!r}") from None


def is_trading_day(at: str, holidays: Any) -> bool:
    t = local(at)
    return t.weekday() < 5 and t.date().isoformat() not in holidays


def in_session(at: str, sessions: Any, holidays: Any) -> bool:
    """True when a market with these sessions takes orders at ``at``."""
    if not sessions:
        return True  # continuous
    if not is_trading_day(at, holidays):
        return False
    t = local(at)
    now = t.hour * 60 + t.minute
    return any(_minutes(a) <= now < _minutes(b) for a, b in sessions)


def after_close(at: str, sessions: Any) -> bool:
    """True once the day's last session has ended (what the close job checks)."""
    if not sessions:
        return True  # continuous markets close whenever the job runs
    t = local(at)
    return t.hour * 60 + t.minute >= _minutes(sessions[-1][1])


def gtc_expired(entered_on: str, on: str, gtc_days: int) -> bool:
    """A GTC order entered on ``entered_on`` has outlived its bound by ``on`` (ISO dates)."""
    start = datetime.strptime(entered_on, "%Y-%m-%d")  # noqa: DTZ007 - dates only
    end = datetime.strptime(on, "%Y-%m-%d")  # noqa: DTZ007
    return (end - start).days >= gtc_days


def rolled_reference(day: dict[str, int], rule: str, tick: int) -> int:
    """The new reference price from a day's trade statistics (module docstring)."""
    if rule == "close":
        return int(day["close"])
    price = (2 * day["value"] * 1000 + day["qty"]) // (2 * day["qty"])  # half up
    return max(tick, (2 * price + tick) // (2 * tick) * tick)
