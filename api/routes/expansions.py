"""Applications of surplus to capacity expansion.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/expansions", tags=["expansions"])
