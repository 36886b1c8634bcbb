"""API tokens, issued and revoked by administrators.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/tokens", tags=["tokens"])
