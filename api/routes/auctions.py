"""Auctions of reserve indicators.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/auctions", tags=["auctions"])
