"""Agreement (negotiated) transfers.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/agreements", tags=["agreements"])
