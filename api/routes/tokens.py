"""API tokens, issued, listed and revoked by administrators.

The secret of a new token is in the response to ``POST /tokens`` and nowhere else: the store
keeps only its hash, and the list shows who each token is for and when it is valid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Administrator, Page, PageDep, RegistryDep, StateDep, not_found, now, paginate
from api.tokens import TokenRecord
from domain.credit_code import validate_credit_code
from domain.errors import InvalidInput, NotFound

router = APIRouter(prefix="/tokens", tags=["tokens"])
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


class TokenCreate(BaseModel):
    """An enterprise or agency token names its credit code; an administrator or auditor token
    names the person it is issued to."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["enterprise", "agency", "administrator", "auditor"]
    enterprise: str | None = Field(None, min_length=18, max_length=18)
    agency: str | None = Field(None, min_length=18, max_length=18)
    name: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[\w.@-]+$")
    days: int = Field(30, ge=1, le=366)


class TokenPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    role: str
    subject: str
    created_at: str
    expires_at: str
    revoked_at: str | None

    @classmethod
    def of(cls, record: TokenRecord) -> TokenPublic:
        return cls(id=record.token_id, role=record.role, subject=record.subject,
                   created_at=record.created_at, expires_at=record.expires_at,
                   revoked_at=record.revoked_at)


class TokenIssued(TokenPublic):
    secret: str = Field(description="the bearer secret; shown only in this response")


def _subject(body: TokenCreate, registry: RegistryDep) -> str:
    """The enterprise, agency or person the token is bound to (the entity must exist)."""
    if body.role in ("enterprise", "agency"):
        other = "agency" if body.role == "enterprise" else "enterprise"
        code = getattr(body, body.role)
        if code is None or getattr(body, other) is not None or body.name is not None:
            raise InvalidInput(f"an {body.role} token names only its {body.role}'s credit code")
        code = validate_credit_code(code.upper())
        try:
            (registry.enterprise if body.role == "enterprise" else registry.agency)(code)
        except NotFound:
            raise InvalidInput(f"no {body.role} {code} is registered") from None
        return code
    if body.name is None or body.enterprise is not None or body.agency is not None:
        raise InvalidInput(f"an {body.role} token names the person it is issued to, and no "
                           "enterprise or agency")
    return body.name


@router.post("", status_code=201)
def issue(body: TokenCreate, _: Administrator, state: StateDep,
          registry: RegistryDep) -> TokenIssued:
    """Issue a token bound to a role and an enterprise, agency or person."""
    subject = _subject(body, registry)
    at = datetime.fromisoformat(now())
    token_id, secret = state.tokens.create(role=body.role, subject=subject, now=at,
                                           expires_at=at + timedelta(days=body.days))
    record = state.tokens.record(token_id)
    assert record is not None
    return TokenIssued(**TokenPublic.of(record).model_dump(), secret=secret)


@router.get("")
def list_tokens(_: Administrator, state: StateDep, page: PageDep) -> Page[TokenPublic]:
    """Every token issued, newest first; secrets are never shown again."""
    return paginate([TokenPublic.of(r) for r in state.tokens.list()], page)


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: TokenId, _: Administrator, state: StateDep) -> Response:
    """Revoke a token: it answers 401 from now on."""
    if not state.tokens.revoke(token_id, now=datetime.fromisoformat(now())):
        raise not_found(f"active token {token_id}")
    return Response(status_code=204)
