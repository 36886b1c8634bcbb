"""API tokens: random bearer secrets stored only as SHA-256 hashes, with expiry and revocation.

Tokens live in their own SQLite file in the data folder (``tokens.sqlite``): they are access
credentials, not registry history, so they stay out of the event log and the public ledger.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROLES = ("enterprise", "agency", "administrator", "auditor")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash BLOB UNIQUE NOT NULL, role TEXT NOT NULL, subject TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT
)
"""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for: a role and the enterprise, agency or person it is bound to."""

    token_id: str
    role: str
    subject: str


@dataclass(frozen=True)
class TokenRecord:
    """A token as an administrator sees it: who it is for and when it is valid; no secret."""

    token_id: str
    role: str
    subject: str
    created_at: str
    expires_at: str
    revoked_at: str | None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenStore:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def create(self, *, role: str, subject: str, expires_at: datetime,
               now: datetime) -> tuple[str, str]:
        """A new token; returns (token id, the secret — shown once, never stored)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not subject.strip():
            raise ValueError("a token is bound to an enterprise, agency or person")
        if expires_at.tzinfo is None or expires_at <= now:
            raise ValueError("a token needs a future, timezone-aware expiry")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (id, hash, role, subject, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, _digest(secret), role, subject, now.isoformat(),
                 expires_at.isoformat()))
        return token_id, secret

    def verify(self, secret: str, *, now: datetime) -> Principal | None:
        """The principal of a valid token; None if unknown, expired or revoked."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, role, subject, expires_at, revoked_at FROM tokens WHERE hash = ?",
                (_digest(secret),)).fetchone()
        if row is None or row[4] is not None or datetime.fromisoformat(row[3]) <= now:
            return None
        return Principal(token_id=row[0], role=row[1], subject=row[2])

    def record(self, token_id: str) -> TokenRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, role, subject, created_at, expires_at, revoked_at FROM tokens "
                "WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else TokenRecord(*row)

    def list(self) -> list[TokenRecord]:
        """Every token ever issued, newest first, without secrets (only hashes are stored)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, role, subject, created_at, expires_at, revoked_at FROM tokens "
                "ORDER BY created_at DESC, id").fetchall()
        return [TokenRecord(*row) for row in rows]

    def revoke(self, token_id: str, *, now: datetime) -> bool:
        with self._lock:
            done = self._db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now.isoformat(), token_id))
        return done.rowcount == 1

    def close(self) -> None:
        self._db.close()
