"""A trivial validated POST endpoint, the baseline the load test compares order submission with.

``POST /bench/echo`` goes through everything an order submission goes through before the
registry — the bearer-token check, the role check, a pydantic body with the order's fields and
bounds, JSON in and out, an ``async`` handler on the event loop as the order routes are —
and then answers without touching the registry. Measured in the same Locust run with the same
settings, the difference between the two is the cost of the exchange itself (matching, the
group-committed save, settlement).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import require
from api.deps import acting_for
from api.schemas.bench import EchoCreate, EchoPublic
from api.tokens import Principal

router = APIRouter(prefix="/bench", tags=["bench"])

Trader = Annotated[Principal, Depends(require("enterprise", "administrator"))]


@router.post("/echo", status_code=201)
async def echo(body: EchoCreate, user: Trader) -> EchoPublic:
    """Validate an order-shaped body and echo it back: no registry call, no write."""
    account = acting_for(user, body.account)
    return EchoPublic(account=account, side=body.side, kind=body.kind, price=body.price,
                      quantity=body.quantity)
