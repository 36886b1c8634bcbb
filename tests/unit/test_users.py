"""Users, credentials and four eyes at the registry level (memory store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from domain.errors import (
    AlreadyExists,
    AuthenticationFailed,
    FourEyesViolation,
    InvalidInput,
    PermissionDenied,
)
from registry.bootstrap import Registry, build_registry
from registry.events import stored_events

AT = "2025-03-01T10:00:00+08:00"
LATER = "2025-03-02T10:00:00+08:00"
NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
PASSWORD = "a long enough passphrase"


@pytest.fixture
def registry() -> Registry:
    r = build_registry({"REGISTRY_STORE": "memory"})
    yield r
    r.close()


def founders(registry: Registry) -> tuple[str, str, str, str]:
    """(first admin id, its TOTP secret, second admin id, its TOTP secret)."""
    a, sa = registry.users.bootstrap_administrator(login="li.admin", display_name="Li Ming",
                                                   password=PASSWORD, at=AT)
    b, sb = registry.users.bootstrap_administrator(login="wang.admin", display_name="Wang Fang",
                                                   password=PASSWORD, at=AT)
    return a.user_id, sa, b.user_id, sb


def test_bootstrap_makes_two_founding_administrators_then_refuses(registry: Registry) -> None:
    founders(registry)
    with pytest.raises(AlreadyExists):
        registry.users.bootstrap_administrator(login="zhao.admin", display_name="Zhao",
                                               password=PASSWORD, at=AT)


def test_a_login_is_unique(registry: Registry) -> None:
    admin, *_ = founders(registry)
    registry.users.create_user(login="chen.jie", display_name="Chen Jie", organisation="regulator",
                               roles=[], by=admin, at=AT)
    with pytest.raises(AlreadyExists):
        registry.users.create_user(login="chen.jie", display_name="Another Chen",
                                   organisation="regulator", roles=[], by=admin, at=AT)


def test_user_lifecycle_is_events_naming_who_did_it(registry: Registry) -> None:
    admin, _, other, _ = founders(registry)
    u = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                   organisation="regulator", roles=[], by=admin, at=AT)
    registry.users.suspend_user(user_id=u.user_id, reason="left the office", by=admin, at=AT)
    registry.users.reenable_user(user_id=u.user_id, by=other, at=AT)
    p = registry.proposals.propose(action="grant_role", params={"user_id": u.user_id,
                                                                "role": "auditor"},
                                   by=admin, at=AT)
    registry.proposals.approve_proposal(proposal_id=p.proposal_id, by=other, at=AT)
    registry.users.withdraw_role(user_id=u.user_id, role="auditor", by=other, at=AT)
    events = [(type(e).__qualname__, e.__dict__) for _, e in stored_events(registry)
              if getattr(e, "user_id", None) == u.user_id or
              e.originator_id == u.id]
    names = [n for n, _ in events]
    assert names[:1] == ["User.Registered"]
    assert {"User.Suspended", "User.Reenabled", "User.RoleGranted",
            "User.RoleWithdrawn"} <= set(names)
    granted = next(d for n, d in events if n == "User.RoleGranted")
    assert (granted["actor"], granted["approved_by"], granted["by"]) == (admin, other, admin)
    assert registry.users.user(u.user_id).roles == []


def test_privileged_roles_need_a_second_administrator(registry: Registry) -> None:
    admin, _, other, _ = founders(registry)
    u = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                   organisation="regulator", roles=[], by=admin, at=AT)
    with pytest.raises(PermissionDenied):
        registry.users.grant_role(user_id=u.user_id, role="administrator", by=admin, at=AT)
    with pytest.raises(PermissionDenied):
        registry.users.create_user(login="zhou.li", display_name="Zhou", organisation="regulator",
                                   roles=["administrator"], by=admin, at=AT)
    p = registry.proposals.propose(action="grant_role",
                                   params={"user_id": u.user_id, "role": "administrator"},
                                   by=admin, at=AT)
    with pytest.raises(FourEyesViolation):
        registry.proposals.approve_proposal(proposal_id=p.proposal_id, by=admin, at=AT)
    assert registry.users.user(u.user_id).roles == []
    registry.proposals.approve_proposal(proposal_id=p.proposal_id, by=other, at=AT)
    assert registry.users.user(u.user_id).roles == ["administrator"]
    assert registry.proposals.proposal(p.proposal_id).state == "approved"


def test_a_non_administrator_cannot_propose_or_approve(registry: Registry) -> None:
    admin, *_ = founders(registry)
    clerk = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                       organisation="regulator", roles=[], by=admin, at=AT)
    with pytest.raises(PermissionDenied):
        registry.proposals.propose(action="grant_role",
                                   params={"user_id": clerk.user_id, "role": "auditor"},
                                   by=clerk.user_id, at=AT)
    p = registry.proposals.propose(action="grant_role",
                                   params={"user_id": clerk.user_id, "role": "auditor"}, by=admin,
                                   at=AT)
    with pytest.raises(PermissionDenied):
        registry.proposals.approve_proposal(proposal_id=p.proposal_id, by=clerk.user_id, at=AT)


def test_a_proposal_expires(registry: Registry) -> None:
    admin, _, other, _ = founders(registry)
    u = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                   organisation="regulator", roles=[], by=admin, at=AT)
    p = registry.proposals.propose(action="grant_role",
                                   params={"user_id": u.user_id, "role": "auditor"}, by=admin,
                                   at=AT, ttl_hours=1)
    with pytest.raises(Exception, match="expired"):
        registry.proposals.approve_proposal(proposal_id=p.proposal_id, by=other, at=LATER)
    assert registry.proposals.expire_proposals(at=LATER) == 1
    assert registry.proposals.proposal(p.proposal_id).state == "expired"


def test_proposal_parameters_are_checked_when_proposed(registry: Registry) -> None:
    admin, *_ = founders(registry)
    with pytest.raises(InvalidInput):
        registry.proposals.propose(action="deposit", params={"enterprise": "x"}, by=admin, at=AT)
    with pytest.raises(InvalidInput):
        registry.proposals.propose(action="mint", params={}, by=admin, at=AT)
    with pytest.raises(InvalidInput):
        registry.proposals.propose(
            action="deposit",
            params={"enterprise": "x", "amount": 1, "reference": "r", "administrator": "me"},
            by=admin, at=AT)


def test_administrators_log_in_with_password_and_a_one_time_code(registry: Registry) -> None:
    admin, secret, *_ = founders(registry)
    with pytest.raises(AuthenticationFailed):
        registry.users.authenticate("li.admin", PASSWORD, None, NOW)
    with pytest.raises(AuthenticationFailed):
        registry.users.authenticate("li.admin", "wrong password!!", pyotp.TOTP(secret).at(NOW), NOW)
    with pytest.raises(AuthenticationFailed):
        registry.users.authenticate("nobody", PASSWORD, None, NOW)
    code = pyotp.TOTP(secret).at(NOW)
    assert registry.users.authenticate("li.admin", PASSWORD, code, NOW).user_id == admin
    with pytest.raises(AuthenticationFailed):  # a one-time code is good once
        registry.users.authenticate("li.admin", PASSWORD, code, NOW)


def test_a_token_carries_its_user_and_is_stored_as_a_hash(registry: Registry) -> None:
    admin, *_ = founders(registry)
    token_id, secret = registry.users.issue_token(user_id=admin, by=admin, at=AT)
    assert secret.startswith(admin + "." + token_id + ".")
    user, found = registry.users.verify_token(secret, NOW)  # type: ignore[misc]
    assert (user.user_id, found) == (admin, token_id)
    payloads = [str(e.__dict__) for _, e in stored_events(registry)]
    assert not any(secret in p for p in payloads)
    registry.users.revoke_token(user_id=admin, token_id=token_id, by=admin, at=AT)
    assert registry.users.verify_token(secret, NOW) is None
    assert registry.users.verify_token(secret[:-1] + "x", NOW) is None


def test_an_administrator_cannot_mint_a_second_privileged_identity(registry: Registry) -> None:
    admin, _, other, _ = founders(registry)
    with pytest.raises(PermissionDenied):
        registry.users.issue_token(user_id=other, by=admin, at=AT)


def test_an_administrator_issues_a_token_for_a_named_user_recorded_as_such(
        registry: Registry) -> None:
    admin, *_ = founders(registry)
    u = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                   organisation="regulator", roles=[], by=admin, at=AT)
    token_id, _ = registry.users.issue_token(user_id=u.user_id, by=admin, at=AT)
    assert registry.users.user(u.user_id).tokens[token_id]["issued_by"] == admin


def test_a_suspended_users_tokens_stop_working(registry: Registry) -> None:
    admin, *_ = founders(registry)
    u = registry.users.create_user(login="chen.jie", display_name="Chen Jie",
                                   organisation="regulator", roles=[], by=admin, at=AT)
    _, secret = registry.users.issue_token(user_id=u.user_id, by=admin, at=AT)
    assert registry.users.verify_token(secret, NOW) is not None
    registry.users.suspend_user(user_id=u.user_id, reason="left", by=admin, at=AT)
    assert registry.users.verify_token(secret, NOW) is None
    assert registry.users.verify_token(secret, NOW + timedelta(days=400)) is None


def test_every_new_event_names_its_actor(registry: Registry) -> None:
    founders(registry)
    assert all(isinstance(e.__dict__.get("actor"), str) for _, e in stored_events(registry))
