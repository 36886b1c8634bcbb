"""Bearer tokens for API tests: a token of the user speaking as a role for a subject, in the
registry of a data folder (`registry.seed_users` creates the user on first use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from registry.bootstrap import build_registry
from registry.seed_users import issue_in, user_for

NOW = datetime.now(UTC)


def issue(folder: Path | dict[str, str], role: str, subject: str, *,
          days: float = 1) -> tuple[str, str]:
    """(token id, secret) of a new token in ``folder``'s registry (or that of an env)."""
    env = folder if isinstance(folder, dict) else {"REGISTRY_DATA_DIR": str(folder)}
    registry = build_registry(env)
    try:
        if days < 1:  # a token that expires soon: issued a day before its expiry
            user = user_for(registry, role, subject)
            start = NOW - timedelta(days=1) + timedelta(days=days)
            return registry.users.issue_token(user_id=user.user_id, by=user.user_id,
                                              at=start.isoformat(), days=1)
        return issue_in(registry, role, subject, days=int(days))
    finally:
        registry.close()


def bearer(folder: Path, role: str = "administrator", subject: str = "wang.fang") -> dict[str, str]:
    """The Authorization header of a new token (an administrator's unless told otherwise)."""
    return {"Authorization": f"Bearer {issue(folder, role, subject)[1]}"}


def header(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def approve(client: Any, response: Any, headers: dict[str, str]) -> Any:
    """Approve the proposal of a 202 ``response`` with ``headers`` (a second administrator);
    returns the approval's response."""
    assert response.status_code == 202, response.text
    proposal = response.json()["id"]
    return client.post(f"/proposals/{proposal}/approve", headers=headers)
