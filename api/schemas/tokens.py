"""The request and response bodies of ``api.routes.tokens``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.user import User


class TokenCreate(BaseModel):
    """A token for the user with this login, valid ``days`` days."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._@-]{1,63}$")
    days: int = Field(30, ge=1, le=366)


class TokenPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    user_id: str
    login: str
    role: str
    subject: str
    issued_by: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    revoked_by: str | None

    @classmethod
    def of(cls, user: User, token_id: str) -> TokenPublic:
        from api.tokens import principal_of

        t = user.tokens[token_id]
        p = principal_of(user, token_id)
        return cls(id=token_id, user_id=user.user_id, login=user.login, role=p.role,
                   subject=p.subject, issued_by=t["issued_by"], created_at=t["issued_at"],
                   expires_at=t["expires_at"], revoked_at=t["revoked_at"],
                   revoked_by=t["revoked_by"])


class TokenIssued(TokenPublic):
    secret: str = Field(description="the bearer secret; shown only in this response")
