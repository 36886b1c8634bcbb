"""API tokens of users: issued by a user for itself (``/users/me/tokens``), or by an
administrator for a named existing user (here), listed and revoked.

A token acts as its user and no one else. An administrator issues none for another
administrator or an auditor (they issue their own), so nobody obtains a credential that would
count as a second privileged person. The secret is in the response and nowhere else (the
response is marked ``no-store`` and never kept for Idempotency-Key replays); the registry
records the token's id and hash with who issued it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import Administrator, Page, PageDep, RegistryDep, not_found, now, paginate
from api.schemas.tokens import TokenCreate, TokenIssued, TokenPublic
from domain.errors import NotFound
from domain.user import User

router = APIRouter(prefix="/tokens", tags=["tokens"])
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
NO_STORE = {"Cache-Control": "no-store"}


def issued(registry: RegistryDep, user: User, by: str, days: int,
           response: Response) -> TokenIssued:
    """Issue a token for ``user`` as ``by``; the response is never cached or kept."""
    token_id, secret = registry.users.issue_token(user_id=user.user_id, by=by, at=now(), days=days)
    response.headers.update(NO_STORE)
    fresh = registry.users.user(user.user_id)
    return TokenIssued(**TokenPublic.of(fresh, token_id).model_dump(), secret=secret)


@router.post("", status_code=201)
def issue(body: TokenCreate, admin: Administrator, registry: RegistryDep,
          response: Response) -> TokenIssued:
    """Issue a token for a named existing user (administrators; recorded as issued by
    them). Administrators and auditors issue their own tokens: 403 for them."""
    try:
        user = registry.users.user_by_login(body.user)
    except NotFound:
        raise not_found(f"user {body.user}") from None
    return issued(registry, user, admin.actor, body.days, response)


def _tokens(users: list[User]) -> list[TokenPublic]:
    out = [TokenPublic.of(u, t) for u in users for t in u.tokens]
    return sorted(out, key=lambda t: (t.created_at, t.id), reverse=True)


@router.get("")
def list_tokens(_: Administrator, registry: RegistryDep, page: PageDep) -> Page[TokenPublic]:
    """Every token issued, newest first; secrets are never shown again."""
    return paginate(_tokens(registry.users.users()), page)


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: TokenId, admin: Administrator, registry: RegistryDep) -> Response:
    """Revoke a token (administrators): it answers 401 from now on."""
    for user in registry.users.users():
        token = user.tokens.get(token_id)
        if token is not None and token["revoked_at"] is None:
            registry.users.revoke_token(user_id=user.user_id, token_id=token_id, by=admin.actor,
                                        at=now())
            return Response(status_code=204)
    raise not_found(f"active token {token_id}")
