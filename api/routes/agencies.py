"""Third-party agencies: registration, accreditation.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/agencies", tags=["agencies"])
