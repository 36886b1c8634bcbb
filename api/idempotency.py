"""``Idempotency-Key`` for every state-changing request (POST, and DELETE such as an order's
cancel), as plain ASGI middleware.

The first request with a key claims it, runs, and its response (status, headers, body) is
stored; a repeat with the same key and the same body, by the same principal, gets that response
back (marked ``Idempotent-Replayed: true``) and the handler does not run again. The same key
with a different body (or on another route) is refused with 422. A repeat that arrives while
the first is still running is refused with 409 and ``Retry-After``: the claim is an
``INSERT`` on the primary key (principal, key) in SQLite, so two concurrent requests cannot
both win it, in one process or several.

**Durable before it leaves.** The response is held back until it is stored with a full sync:
after ``kill -9`` at any moment, a request whose response was sent has its outcome on disk, and
a retry with its key gets that response. If the outcome cannot be stored, the client gets 503
``outcome-unknown`` instead of an answer nobody could replay.

**Secrets are never kept.** A response marked ``Cache-Control: no-store``, or carrying a
top-level ``secret``, ``token`` or ``password`` field, is stored with those fields redacted: a
retry is told truthfully what was done (``Idempotent-Redacted: true``), without the secret.

**In doubt, asked again.** A claim whose request ended in 503 ``outcome-unknown``, or whose
server process died while running it (the claim names its process), is taken over by the next
retry with the same key, which runs the request again. The writes the exchange's clients retry
have natural keys (order id, deposit or withdrawal reference, transfer reference): run again,
they answer the outcome already stored instead of a refusal. A response of 500 or more
otherwise, or a handler that raised, releases the claim: a retry may run.

Claims live in ``idempotency.sqlite`` in the data folder, so they
survive a restart, and expire after 24 hours. Keys are scoped per principal (the user the bearer
token belongs to), so clients cannot see each other's responses; requests without a valid
token pass through untouched (they are refused by authentication anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
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
from api.documented import documented_methods
from api.errors import problem
from registry.config import Settings
from registry.datadir import private_dir, shared_sqlite
from registry.storage import RETRY_AFTER_SECONDS

HEADER = b"idempotency-key"
#: besides POST, the methods a key makes idempotent where the document lists them (a cancel is
#: a DELETE); elsewhere such a request is left to the router (405)
OTHER_WRITES = frozenset({"DELETE"})
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, no spaces
TTL_SECONDS = 24 * 3600
#: a pending claim of no known process older than this was left by a stopped server
LEASE_SECONDS = 300
#: the ``owner`` of a claim whose request ended with its outcome unknown
IN_DOUBT = "in-doubt"
#: top-level JSON fields whose values are never stored (a new token's secret, …)
SECRET_FIELDS = frozenset({"secret", "token", "password", "totp_secret", "recovery_codes"})
REDACTED = "[redacted: shown only in the first response]"
_KEY = re.compile(KEY_PATTERN)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL,
    claimed_at REAL NOT NULL, status INTEGER, headers TEXT, body BLOB, owner TEXT,
    PRIMARY KEY (principal, key)
)
"""


def _set_up(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA synchronous=FULL")
    db.execute(_SCHEMA)
    columns = {r[1] for r in db.execute("PRAGMA table_info(idempotency)")}
    if "owner" not in columns:  # a store of an earlier release
        db.execute("ALTER TABLE idempotency ADD COLUMN owner TEXT")


def _start_ticks(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None if it is gone or
    dead: a zombie (killed, not yet reaped by its parent, e.g. a supervisor replacing a worker
    killed with -9) runs nothing, so its claims are in doubt like those of a gone process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def this_process() -> str:
    """The owner name of claims made here: pid and start time (a reused pid differs)."""
    return f"{os.getpid()}:{_start_ticks(os.getpid()) or ''}"


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process that made a claim still runs; None when the claim names none."""
    if not owner or owner == IN_DOUBT:
        return None if not owner else False
    pid_text, _, ticks = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    return _start_ticks(pid) == ticks


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """What a claim attempt found: ``claimed`` (run it), ``rerun`` (run it again: its first
    run's outcome is in doubt), a ``stored`` response to replay, or a refusal (``mismatch``,
    ``pending``, ``unavailable``)."""

    kind: str
    stored: Stored | None = None


class IdempotencyStore:
    """Claims and stored responses, one row per (principal, key)."""

    def __init__(self, path: str | Path) -> None:
        self._db = shared_sqlite(path, _set_up)
        self._lock = threading.Lock()
        self._claims = 0
        self.owner = this_process()
        #: claims of this process whose outcome is unknown but could not be marked so
        self._doubtful: set[tuple[str, str]] = set()

    def claim(self, principal: str, key: str, fingerprint: bytes, *, now: float) -> Claim:
        with self._lock:
            self._claims += 1
            if self._claims % 1000 == 1:
                self._db.execute("DELETE FROM idempotency WHERE claimed_at < ?",
                                 (now - TTL_SECONDS,))
            self._db.execute("DELETE FROM idempotency WHERE principal = ? AND key = ? "
                             "AND claimed_at < ?", (principal, key, now - TTL_SECONDS))
            inserted = self._db.execute(
                "INSERT INTO idempotency (principal, key, fingerprint, claimed_at, owner) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (principal, key, fingerprint, now, self.owner)).rowcount
            if inserted == 1:
                return Claim("claimed")
            row = self._db.execute(
                "SELECT fingerprint, claimed_at, status, headers, body, owner FROM idempotency "
                "WHERE principal = ? AND key = ?", (principal, key)).fetchone()
        if row is None:  # released between the insert and the read: let the caller retry
            return Claim("pending")
        if bytes(row[0]) != fingerprint:
            return Claim("mismatch")
        if row[2] is None:
            return self._pending(principal, key, row[5], claimed_at=row[1], now=now)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row[3])]
        return Claim("stored", Stored(row[2], headers, bytes(row[4])))

    def _pending(self, principal: str, key: str, owner: str | None, *, claimed_at: float,
                 now: float) -> Claim:
        """A claim without a response: still running, or in doubt (its request ended with the
        outcome unknown, or its process died): then this retry takes it over and runs."""
        alive = owner_alive(owner) and (principal, key) not in self._doubtful
        if alive is None and owner != IN_DOUBT:  # a claim naming no process (older release)
            alive = now - claimed_at < LEASE_SECONDS
        if alive:
            return Claim("pending")
        with self._lock:
            taken = self._db.execute(
                "UPDATE idempotency SET owner = ?, claimed_at = ? WHERE principal = ? "
                "AND key = ? AND status IS NULL AND owner IS ?",
                (self.owner, now, principal, key, owner)).rowcount
            if taken == 1:  # running again, under this retry: no longer a claim to take over
                self._doubtful.discard((principal, key))
        return Claim("rerun" if taken == 1 else "pending")

    def finish(self, principal: str, key: str, response: Stored) -> None:
        """Store the response, synced to disk before it returns (the caller sends it only
        then)."""
        headers = json.dumps([(k.decode("latin-1"), v.decode("latin-1"))
                              for k, v in response.headers])
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET status = ?, headers = ?, body = ? "
                "WHERE principal = ? AND key = ?",
                (response.status, headers, response.body, principal, key))

    def in_doubt(self, principal: str, key: str) -> None:
        """The request's outcome is unknown: the next retry with the key runs it again."""
        with self._lock:
            self._doubtful.add((principal, key))
            self._db.execute("UPDATE idempotency SET owner = ? WHERE principal = ? AND key = ? "
                             "AND status IS NULL", (IN_DOUBT, principal, key))
            self._doubtful.discard((principal, key))

    def release(self, principal: str, key: str) -> None:
        """Nothing of the request is stored: a retry with the key runs it afresh. If the claim
        cannot be deleted (a full disk: the very fault that failed the request), it is
        released in memory instead, so a retry takes it over rather than being told for the
        lease's length that a request nobody runs is still running."""
        with self._lock:
            try:
                self._db.execute("DELETE FROM idempotency WHERE principal = ? AND key = ? "
                                 "AND status IS NULL", (principal, key))
            except sqlite3.Error:
                self._doubtful.add((principal, key))

    def close(self) -> None:
        self._db.close()


def open_store(env: Mapping[str, str]) -> IdempotencyStore:
    """The idempotency store of the data folder (beside ``tokens.sqlite``)."""
    folder = private_dir(Settings.from_env(env).data_dir)
    return IdempotencyStore(folder / "idempotency.sqlite")


def redacted(response: Stored) -> Stored:
    """``response`` as it may be kept: without the values of secret fields (see the module
    docstring), marked ``Idempotent-Redacted``."""
    no_store = any(k.lower() == b"cache-control" and b"no-store" in v.lower()
                   for k, v in response.headers)
    try:
        document = json.loads(response.body)
    except ValueError:
        document = None
    secret = isinstance(document, dict) and bool(SECRET_FIELDS & set(document))
    if not (no_store or secret):
        return response
    if isinstance(document, dict):
        body = json.dumps({k: REDACTED if k in SECRET_FIELDS else v
                           for k, v in document.items()}).encode()
    else:
        body = json.dumps({"detail": REDACTED}).encode()
    headers = [(k, v) for k, v in response.headers if k.lower() != b"content-length"]
    headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-redacted", b"true")]
    return Stored(response.status, headers, body)


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
    it follows the app's lifespan; the principal is the one `api.auth.authenticate` verified."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, HEADER) if scope["type"] == "http" else None
        if key is None or not _is_write(scope):
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
            await _refuse(400, "invalid-idempotency-key",
                          f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII "
                          "characters", scope, receive, send)
            return
        verified = scope.get("state", {}).get("principal")  # by authenticate, usually
        principal = (f"user:{verified.user_id}" if verified is not None
                     else await run_in_threadpool(_principal, scope))
        if principal is None:  # authentication will refuse it; nothing to remember
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        store: IdempotencyStore = scope["app"].state.idempotency
        mark = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        try:
            outcome = await run_in_threadpool(store.claim, principal, key, mark,
                                              now=time.time())
        except sqlite3.Error:  # its disk is full, or its file locked past the timeout
            outcome = Claim("unavailable")
        if outcome.kind in ("claimed", "rerun"):
            if outcome.kind == "rerun":  # see api.reruns
                scope.setdefault("state", {})["idempotent_rerun"] = True
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

        async def hold(message: Message) -> None:
            # held back: the response leaves only once it is stored (or known unstorable)
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, replay_receive, hold)
        except BaseException:
            await run_in_threadpool(store.release, principal, key)
            raise
        status = int(start.get("status", 500))
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        response = Stored(status, headers, b"".join(chunks))
        if status >= 500:
            unknown = _problem_type(response) == "outcome-unknown"
            await run_in_threadpool(store.in_doubt if unknown else store.release,
                                    principal, key)
            await _send(response, send)
            return
        try:
            await run_in_threadpool(store.finish, principal, key, redacted(response))
        except sqlite3.Error:
            # done, but no retry could be told so: say that rather than answer once
            with contextlib.suppress(sqlite3.Error):
                await run_in_threadpool(store.in_doubt, principal, key)
            await _refuse(503, "outcome-unknown",
                          "the request was processed but its outcome could not be recorded; "
                          "retry with the same Idempotency-Key", scope, receive, send)
            return
        await _send(response, send)


def _problem_type(response: Stored) -> str | None:
    try:
        document = json.loads(response.body)
    except ValueError:
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else None


async def _send(response: Stored, send: Send) -> None:
    await send({"type": "http.response.start", "status": response.status,
                "headers": response.headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


_REFUSALS = {
    "mismatch": (422, "idempotency-key-reused",
                 "this Idempotency-Key was used with a different request; use a new key"),
    "pending": (409, "idempotency-key-in-progress",
                "a request with this Idempotency-Key is still running; retry shortly"),
    "unavailable": (503, "storage-unavailable",
                    "the idempotency store cannot take the request now; retry shortly"),
}


def _is_write(scope: Scope) -> bool:
    method = scope["method"]
    if method == "POST":
        return True
    if method not in OTHER_WRITES:
        return False
    return method in documented_methods(scope["app"], scope["path"])


def _principal(scope: Scope) -> str | None:
    """Whom the key belongs to: the principal `api.auth.authenticate` verified (else verified
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
    elif status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
