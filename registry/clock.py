"""The one clock of the product: the time a command is recorded at.

The domain takes time as an argument; the outer layers (the HTTP API, the command line, the
order gateway) read it here: as ISO 8601 in China Standard Time for what is recorded, as a
UTC datetime for the expiry of tokens and console sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: China Standard Time has had no daylight saving since 1991: a fixed offset is exact.
CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> str:
    """Now, to the second, in China Standard Time (``2025-03-01T09:00:00+08:00``)."""
    return datetime.now(CHINA_TIME).isoformat(timespec="seconds")


def utc_now() -> datetime:
    """Now, as an aware UTC datetime: what token and session expiry are compared with."""
    return datetime.now(UTC)
