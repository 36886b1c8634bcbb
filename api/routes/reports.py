"""Annual reports per enterprise (JSON or CSV).

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/reports", tags=["reports"])
