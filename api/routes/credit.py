"""Credit records of enterprises and agencies.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/credit", tags=["credit records"])
