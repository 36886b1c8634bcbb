"""The request and response bodies of ``api.routes.users``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.ledger import LedgerRef
from api.schemas.tokens import TokenIssued
from domain.user import User

LoginText = Annotated[str, Field(min_length=2, max_length=64,
                                 pattern=r"^[a-z0-9][a-z0-9._@-]{1,63}$")]


Role = Literal["trader", "representative", "agency_staff", "administrator", "auditor"]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: LoginText
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(None, pattern=r"^[0-9]{6,8}$")
    days: int = Field(1, ge=1, le=30)


class UserPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    login: str
    display_name: str
    organisation: str
    organisation_code: str | None
    roles: list[str]
    status: str
    second_factor: bool
    created_by: str
    created_at: str

    @classmethod
    def of(cls, u: User) -> UserPublic:
        return cls(id=u.user_id, login=u.login, display_name=u.display_name,
                   organisation=u.organisation, organisation_code=u.organisation_code,
                   roles=list(u.roles), status=u.status, second_factor=u.second_factor,
                   created_by=u.created_by, created_at=u.created_at)


class UserRecorded(UserPublic):
    """A user as a write on it answers it: with where its event sits in the ledger."""

    ledger: LedgerRef | None = None  # its Registered/Suspended/RoleGranted/… leaf, its receipt


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: LoginText
    display_name: str = Field(min_length=1, max_length=200)
    organisation: Literal["enterprise", "agency", "regulator", "audit_body"]
    organisation_code: str | None = Field(None, min_length=18, max_length=18)
    roles: list[Literal["trader", "representative", "agency_staff"]] = Field(max_length=3)
    password: str | None = Field(None, min_length=12, max_length=1024)


class RoleGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=12, max_length=1024)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(30, ge=1, le=366)


class SecondFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(description="the base32 TOTP secret; shown only in this response")
    uri: str


class LoggedIn(TokenIssued):
    user: UserPublic
