"""Trades, the verification queue and trade receipts.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/trades", tags=["trades"])
