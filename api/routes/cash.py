"""Cash accounts in fen: deposits, withdrawals, balances.

Unfinished: routes are being added.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/cash", tags=["cash"])
