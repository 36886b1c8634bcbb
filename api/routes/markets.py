"""Markets, orders and market data (depth, trades, price history, live stream).

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/markets", tags=["markets"])
