"""``Idempotency-Key`` for every state-changing POST, as plain ASGI middleware.

The first request with a key claims it, runs, and its response (status, headers, body) is
stored; a repeat with the same key and the same body, by the same principal, gets that response
back (marked ``Idempotent-Replayed: true``) and the handler does not run again. The same key
with a different body (or on another route) is refused with 422. A repeat that arrives while
the first is still running is refused with 409 and ``Retry-After``: the claim is an
``INSERT`` on the primary key (principal, key) in SQLite, so two concurrent requests cannot
both win it, in one process or several.

Claims live in ``idempotency.sqlite`` in the data folder, so they survive a restart. A response
of 500 or more, or a handler that raised, releases the claim: a retry may run. A claim left
pending by a crashed server is never re-run (its effect may or may not have been committed):
repeats get 409 ``idempotency-outcome-unknown`` until the key expires after 24 hours. Keys are
scoped per principal (the user the bearer token belongs to), so clients cannot see each other's
responses; requests without a valid token pass through untouched (they are refused by
authentication anyway).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import bearer_secret, verify
from api.errors import problem
from registry.config import Settings

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, no spaces
TTL_SECONDS = 24 * 3600
#: a pending claim older than this was left by a server that stopped while running it
LEASE_SECONDS = 300
_KEY = re.compile(KEY_PATTERN)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL,
    claimed_at REAL NOT NULL, status INTEGER, headers TEXT, body BLOB,
    PRIMARY KEY (principal, key)
)
"""


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What a claim attempt found: ``claimed`` (run it), a ``stored`` response to replay, or
    a refusal (``mismatch``, ``pending``, ``unknown``)."""

    kind: str
    stored: Stored | None = None


class IdempotencyStore:
    """Claims and stored responses, one row per (principal, key)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._claims = 0

    def claim(self, principal: str, key: str, fingerprint: bytes, *, now: float) -> Outcome:
        with self._lock:
            self._claims += 1
            if self._claims % 1000 == 1:
                self._db.execute("DELETE FROM idempotency WHERE claimed_at < ?",
                                 (now - TTL_SECONDS,))
            self._db.execute("DELETE FROM idempotency WHERE principal = ? AND key = ? "
                             "AND claimed_at < ?", (principal, key, now - TTL_SECONDS))
            inserted = self._db.execute(
                "INSERT INTO idempotency (principal, key, fingerprint, claimed_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (principal, key, fingerprint, now)).rowcount
            if inserted == 1:
                return Outcome("claimed")
            row = self._db.execute(
                "SELECT fingerprint, claimed_at, status, headers, body FROM idempotency "
                "WHERE principal = ? AND key = ?", (principal, key)).fetchone()
        if row is None:  # released between the insert and the read: let the caller retry
            return Outcome("pending")
        if bytes(row[0]) != fingerprint:
            return Outcome("mismatch")
        if row[2] is None:
            return Outcome("pending" if now - row[1] < LEASE_SECONDS else "unknown")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row[3])]
        return Outcome("stored", Stored(row[2], headers, bytes(row[4])))

    def finish(self, principal: str, key: str, response: Stored) -> None:
        headers = json.dumps([(k.decode("latin-1"), v.decode("latin-1"))
                              for k, v in response.headers])
        with self._lock:
            # The claim was committed with a full sync: after a power cut it is there, so the
            # request is never run twice. The stored response may skip the sync (it survives a
            # killed process, not a power cut): if lost, repeats are told the outcome is
            # unknown, which is safe, and every fresh key costs one sync instead of two.
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute(
                    "UPDATE idempotency SET status = ?, headers = ?, body = ? "
                    "WHERE principal = ? AND key = ?",
                    (response.status, headers, response.body, principal, key))
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def release(self, principal: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE principal = ? AND key = ? "
                             "AND status IS NULL", (principal, key))

    def close(self) -> None:
        self._db.close()


def open_store(env: Mapping[str, str]) -> IdempotencyStore:
    """The idempotency store of the data folder, readable by its owner only: stored
    responses are participants' data."""
    folder = Path(Settings.from_env(env).data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "idempotency.sqlite"
    path.touch(mode=0o600)
    path.chmod(0o600)
    return IdempotencyStore(path)


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> bytes:
    """What "the same request" means: method, path, query and the body, JSON bodies compared
    by value (key order and whitespace do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode("utf-8")
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8"), query, canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


class Idempotency:
    """The middleware. The store is ``app.state.idempotency``, looked up per request so that
    it follows the app's lifespan; the principal is the one ``Authentication`` verified."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
            await _refuse(400, "invalid-idempotency-key",
                          f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII "
                          "characters", scope, receive, send)
            return
        verified = scope.get("state", {}).get("principal")  # by Authentication, usually
        principal = (f"user:{verified.user_id}" if verified is not None
                     else await run_in_threadpool(_principal, scope))
        if principal is None:  # authentication will refuse it; nothing to remember
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        store: IdempotencyStore = scope["app"].state.idempotency
        mark = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        outcome = await run_in_threadpool(store.claim, principal, key, mark, now=time.time())
        if outcome.kind == "claimed":
            await self._run(store, principal, key, body, scope, receive, send)
        elif outcome.kind == "stored" and outcome.stored is not None:
            await _replay(outcome.stored, send)
        else:
            await _refuse(*_REFUSALS[outcome.kind], scope, receive, send)

    async def _run(self, store: IdempotencyStore, principal: str, key: str, body: bytes,
                   scope: Scope, receive: Receive, send: Send) -> None:
        sent_body = False
        start: Message = {}
        chunks: list[bytes] = []

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await run_in_threadpool(store.release, principal, key)
            raise
        status = int(start.get("status", 500))
        if status >= 500:
            await run_in_threadpool(store.release, principal, key)
            return
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        stored = Stored(status, headers, b"".join(chunks))
        if any(k.lower() == b"cache-control" and b"no-store" in v for k, v in headers):
            stored = _WITHHELD  # a response holding a secret (a new token) is never kept
        await run_in_threadpool(store.finish, principal, key, stored)


_WITHHELD_PROBLEM = problem(
    409, "idempotency-secret-withheld", "Idempotency secret withheld",
    "the first response to this key held a secret, which is not kept; list what it created "
    "instead of repeating it")
_WITHHELD = Stored(409, [(bytes(k), bytes(v)) for k, v in _WITHHELD_PROBLEM.raw_headers],
                   bytes(_WITHHELD_PROBLEM.body))

_REFUSALS = {
    "mismatch": (422, "idempotency-key-reused",
                 "this Idempotency-Key was used with a different request; use a new key"),
    "pending": (409, "idempotency-key-in-progress",
                "a request with this Idempotency-Key is still running; retry shortly"),
    "unknown": (409, "idempotency-outcome-unknown",
                "a request with this Idempotency-Key was interrupted and its outcome is "
                "unknown; check the resource, then use a new key"),
}


def _principal(scope: Scope) -> str | None:
    """Whom the key belongs to: the principal ``Authentication`` verified (else verified
    here), as role and subject."""
    principal = scope.get("state", {}).get("principal")
    if principal is None:
        secret = bearer_secret(scope)
        principal = None if secret is None else verify(scope["app"], secret)
    return None if principal is None else f"user:{principal.user_id}"


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _replay(stored: Stored, send: Send) -> None:
    headers = [*stored.headers, (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})


async def _refuse(status: int, code: str, detail: str,
                  scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(status, code, code.replace("-", " ").capitalize(), detail)
    if code == "idempotency-key-in-progress":
        response.headers["Retry-After"] = "1"
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
