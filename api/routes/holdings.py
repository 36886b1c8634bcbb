"""Holdings, transfers, freezes and the provenance of serial numbers.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/holdings", tags=["holdings"])
