"""Bearer tokens for API tests, issued straight into a data folder's token store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.tokens import TokenStore

NOW = datetime.now(UTC)


def issue(folder: Path, role: str, subject: str, *, days: float = 1) -> tuple[str, str]:
    """(token id, secret) of a new token for ``subject`` in ``folder``'s token store."""
    store = TokenStore(folder / "tokens.sqlite")
    try:
        return store.create(role=role, subject=subject, now=NOW,
                            expires_at=NOW + timedelta(days=days))
    finally:
        store.close()


def bearer(folder: Path, role: str = "administrator", subject: str = "wang.fang") -> dict[str, str]:
    """The Authorization header of a new token (an administrator's unless told otherwise)."""
    return {"Authorization": f"Bearer {issue(folder, role, subject)[1]}"}
