"""Retrofits: registration, audits, verification, confirmation, issuance, revocation.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/retrofits", tags=["retrofits"])
