"""Console sessions and CSRF tokens: the generic machinery a login plugs into.

A session is a server-side record keyed by a random 256-bit id. The browser holds only the id,
signed (HMAC-SHA256 under a key of the data folder), in a cookie that is ``HttpOnly`` and
``SameSite=Strict``; the store keeps only the id's SHA-256, so a copy of the store opens no
session. Each session carries its own CSRF token, which every form of a signed-in page posts
back; the login form, before any session exists, uses a double-submit token (a cookie and a
hidden field that must agree). A session ends at logout, after ``idle`` seconds without a
request (idle expiry, sliding), or at ``lifetime`` seconds in any case.

Who a login is, is not decided here: `SessionStore` is given the `Principal` an
``authenticate(login, password, totp)`` callable returned: `user_login`, the registry's users
(argon2id passwords, TOTP for administrators).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request

from api.tokens import Principal
from registry.clock import utc_now
from registry.datadir import shared_sqlite

COOKIE = "registry_session"
LOGIN_CSRF_COOKIE = "registry_login_csrf"
IDLE_SECONDS = 15 * 60
LIFETIME_SECONDS = 12 * 3600

#: (login, password, totp code) -> the principal, or None when the credentials do not hold
Authenticate = Callable[[str, str, str], Principal | None]


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    created: datetime
    expires: datetime  # the earlier of the idle and the absolute deadline, as of the last use


def settings(env: Mapping[str, str]) -> tuple[int, int]:
    """Idle and absolute session lifetimes in seconds (``REGISTRY_SESSION_IDLE_SECONDS``,
    ``REGISTRY_SESSION_LIFETIME_SECONDS``)."""
    idle = int(env.get("REGISTRY_SESSION_IDLE_SECONDS", IDLE_SECONDS))
    lifetime = int(env.get("REGISTRY_SESSION_LIFETIME_SECONDS", LIFETIME_SECONDS))
    if idle <= 0 or lifetime <= 0:
        raise ValueError("session lifetimes are positive numbers of seconds")
    return idle, lifetime


def signing_key(folder: Path) -> bytes:
    """The data folder's session signing key, made on first use (mode 0600)."""
    path = folder / "console-session.key"
    if not path.exists():
        key = secrets.token_bytes(32)
        tmp = folder / f".console-session.key.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
            f.flush()
            os.fsync(f.fileno())
        try:  # the first of several worker processes to get here wins; the others read it
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


class SessionStore:
    """Sessions in one SQLite file of the data folder, so every worker process shares them."""

    def __init__(self, path: Path, *, key: bytes, idle: int = IDLE_SECONDS,
                 lifetime: int = LIFETIME_SECONDS) -> None:
        self.key = key
        self.idle = timedelta(seconds=idle)
        self.lifetime = timedelta(seconds=lifetime)
        self._lock = threading.Lock()
        self._db = shared_sqlite(path, lambda db: db.execute(
            "CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, principal TEXT, "
            "csrf TEXT, created TEXT, last_seen TEXT, deadline TEXT)"))

    # -- the cookie ----------------------------------------------------------------------------

    def _sign(self, session_id: str) -> str:
        mac = hmac.new(self.key, session_id.encode(), hashlib.sha256).hexdigest()
        return f"{session_id}.{mac}"

    def _unsign(self, cookie: str | None) -> str | None:
        session_id, _, mac = (cookie or "").rpartition(".")
        if not session_id:
            return None
        expected = hmac.new(self.key, session_id.encode(), hashlib.sha256).hexdigest()
        return session_id if hmac.compare_digest(mac, expected) else None

    @staticmethod
    def _hash(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    # -- sessions ------------------------------------------------------------------------------

    def open(self, principal: Principal, *, now: datetime) -> tuple[str, Session]:
        """A new session for ``principal``: the cookie value and the session."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        deadline = now + self.lifetime
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", (
                self._hash(session_id), json.dumps(_principal_record(principal)), csrf,
                now.isoformat(), now.isoformat(), deadline.isoformat()))
        return self._sign(session_id), Session(principal, csrf, now,
                                               min(now + self.idle, deadline))

    def current(self, cookie: str | None, *, now: datetime) -> Session | None:
        """The session the cookie names, if it is signed by us and neither idle past its limit
        nor past its lifetime; using it restarts the idle clock. An expired one is deleted."""
        session_id = self._unsign(cookie)
        if session_id is None:
            return None
        key = self._hash(session_id)
        with self._lock:
            row = self._db.execute("SELECT principal, csrf, created, last_seen, deadline "
                                   "FROM sessions WHERE id_hash = ?", (key,)).fetchone()
            if row is None:
                return None
            principal, csrf, created, last_seen, deadline = row
            idle_end = datetime.fromisoformat(last_seen) + self.idle
            end = datetime.fromisoformat(deadline)
            who = _principal(principal)
            if now >= idle_end or now >= end or who is None:
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))
                return None
            self._db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?",
                             (now.isoformat(), key))
        return Session(who, csrf,
                       datetime.fromisoformat(created), min(now + self.idle, end))

    def close_session(self, cookie: str | None) -> None:
        """Logout: the session is gone for good."""
        session_id = self._unsign(cookie)
        if session_id is not None:
            with self._lock:
                self._db.execute("DELETE FROM sessions WHERE id_hash = ?",
                                 (self._hash(session_id),))

    def close(self) -> None:
        self._db.close()


def _principal_record(p: Principal) -> dict[str, object]:
    record = {name: getattr(p, name) for name in p.__dataclass_fields__}
    record["roles"] = sorted(p.roles)  # JSON has no sets
    return record


def _principal(record: str) -> Principal | None:
    """The stored principal; None for one of another shape (a session opened by an older
    version, before sessions were of users), which then opens nothing."""
    fields = json.loads(record)
    fields["roles"] = frozenset(fields.get("roles", ()))
    try:
        return Principal(**fields)
    except TypeError:
        return None


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def user_login(registry: Any) -> Authenticate:
    """``authenticate`` of the console: a user's login, password and (for administrators, or
    whoever enrolled one) one-time code, checked by the registry (argon2id, TOTP). The session
    acts as that user: its principal carries the user id, roles and organisation."""
    from api.tokens import coarse_role
    from domain.errors import AuthenticationFailed

    def authenticate(login: str, password: str, totp: str) -> Principal | None:
        try:
            user = registry.users.authenticate(login.strip(), password, totp.strip() or None,
                                               utc_now())
        except AuthenticationFailed:
            return None
        role = coarse_role(user)
        subject = (user.organisation_code if role in ("enterprise", "agency")
                   and user.organisation_code else user.user_id)
        return Principal(token_id="", user_id=user.user_id, login=user.login, role=role,
                         subject=subject, roles=frozenset(user.roles),
                         organisation=user.organisation, issued_by=user.user_id)

    return authenticate


def current_session(request: Request) -> Session | None:
    """The request's console session, if its cookie names a live one of a user who is still
    active (cached per request)."""
    if "console_session" not in request.scope.setdefault("state", {}):
        state = request.app.state.registry_state
        cookie = request.cookies.get(COOKIE)
        found = None if cookie is None else state.sessions.current(cookie, now=utc_now())
        if found is not None and not state.registry.users.user_active(found.principal.user_id):
            state.sessions.close_session(cookie)  # suspended since signing in: it ends here
            found = None
        request.scope["state"]["console_session"] = found
    session: Session | None = request.scope["state"]["console_session"]
    return session
