"""Enterprises: registration, profile, obligations.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/enterprises", tags=["enterprises"])
