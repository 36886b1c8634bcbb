"""Credential material kept out of the public event log: argon2id password hashes and TOTP
secrets, in ``credentials.sqlite`` in the data folder (mode 0600).

The event log says *that* a password was set or a second factor enrolled, and by whom
(`domain.user`); the ledger is public, so the material itself is not there. TOTP secrets are
sealed with AES-GCM under ``credentials.key`` (0600, created on first use) so the database
file alone does not reveal them; password hashes are argon2id (argon2-cffi's defaults, RFC
9106's second recommendation). The last accepted TOTP time step is kept so a code is accepted
once only.
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.datadir import shared_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    user_id TEXT PRIMARY KEY, password_hash TEXT, totp_sealed BLOB, totp_last_step INTEGER
)
"""
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
#: a hash to verify against when the user is unknown, so an unknown login costs as much time
_DUMMY_PASSWORD = "not-a-password-of-anyone"  # noqa: S105 - hashed, never a login


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


class CredentialStore:
    def __init__(self, folder: str | Path | None) -> None:
        """The store in ``folder``, or in memory (with a throw-away sealing key) for None."""
        if folder is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False,
                                       isolation_level=None)
            self._db.execute(_SCHEMA)
            self._key = AESGCM.generate_key(bit_length=256)
        else:
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            keys: list[bytes] = []  # the sealing key, made or read under the opening's lock

            def set_up(db: sqlite3.Connection) -> None:
                db.execute(_SCHEMA)
                keys.append(_sealing_key(folder / "credentials.key"))

            self._db = shared_sqlite(folder / "credentials.sqlite", set_up)
            self._key = keys[0]
        self._lock = threading.Lock()
        self._hasher = PasswordHasher()
        self._dummy: str | None = None  # hashed on first need (one hash costs ~0.1 s)

    # -- passwords -----------------------------------------------------------------------------

    def set_password(self, user_id: str, password: str) -> None:
        check_password_strength(password)
        digest = self._hasher.hash(password)
        with self._lock:
            self._db.execute(
                "INSERT INTO credentials (user_id, password_hash) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash",
                (user_id, digest))

    def check_password(self, user_id: str | None, password: str) -> bool:
        """Whether ``password`` is the user's; an unknown user costs one hash all the same."""
        stored = self._row(user_id)[0] if user_id is not None else None
        if stored is None and self._dummy is None:
            self._dummy = self._hasher.hash(_DUMMY_PASSWORD)
        try:
            return bool(self._hasher.verify(stored or self._dummy or "", password)) \
                and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    # -- second factor -------------------------------------------------------------------------

    def enroll_totp(self, user_id: str) -> str:
        """A new TOTP secret for the user (base32, to show once to its owner)."""
        secret = pyotp.random_base32()
        nonce = secrets.token_bytes(12)
        sealed = nonce + AESGCM(self._key).encrypt(nonce, secret.encode(), user_id.encode())
        with self._lock:
            self._db.execute(
                "INSERT INTO credentials (user_id, totp_sealed) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET totp_sealed = excluded.totp_sealed, "
                "totp_last_step = NULL", (user_id, sealed))
        return secret

    def has_totp(self, user_id: str) -> bool:
        return self._row(user_id)[1] is not None

    def check_totp(self, user_id: str, code: str | None, now: datetime) -> bool:
        """Whether ``code`` is the user's current one-time code (±1 step), not used before."""
        _, sealed, last = self._row(user_id)
        if sealed is None or not code or not code.isdigit():
            return False
        secret = AESGCM(self._key).decrypt(sealed[:12], sealed[12:], user_id.encode()).decode()
        totp = pyotp.TOTP(secret)
        step = int(now.timestamp()) // totp.interval
        for candidate in (step - 1, step, step + 1):
            if secrets.compare_digest(totp.generate_otp(candidate), code):
                if last is not None and candidate <= last:
                    return False  # a code is good once
                with self._lock:
                    self._db.execute("UPDATE credentials SET totp_last_step = ? "
                                     "WHERE user_id = ?", (candidate, user_id))
                return True
        return False

    def _row(self, user_id: str) -> tuple[str | None, bytes | None, int | None]:
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash, totp_sealed, totp_last_step FROM credentials "
                "WHERE user_id = ?", (user_id,)).fetchone()
        return (None, None, None) if row is None else (row[0], row[1], row[2])

    def close(self) -> None:
        self._db.close()


def _sealing_key(path: Path) -> bytes:
    if path.exists():
        return base64.b64decode(path.read_bytes())
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(key))
    return key


def totp_now(secret: str, now: datetime) -> str:
    """The one-time code of ``secret`` at ``now`` (for the demo world and tests)."""
    return pyotp.TOTP(secret).at(now)
