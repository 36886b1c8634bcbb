"""Idempotency-Key: a repeated POST returns the first response and has no second effect."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.idempotency import (
    IN_DOUBT,
    REDACTED,
    IdempotencyStore,
    fingerprint,
    owner_alive,
    this_process,
)
from registry.bootstrap import build_registry
from tests.support.tokens import bearer
from tests.support.world import code

#: the effect a repeated POST must not have twice: a new user (token issuance is not kept for
#: replay at all, since its response holds a secret)
AUDITOR = {"login": "zhao.min", "display_name": "Zhao Min", "organisation": "audit_body",
           "roles": []}


pytest_plugins = ["tests.support.seeded_folder"]  # folder, client


def env(folder: Path) -> dict[str, str]:
    return {"REGISTRY_DATA_DIR": str(folder)}



def issued(folder: Path) -> int:
    """Users created through POST /users so far."""
    registry = build_registry(env(folder))
    try:
        return sum(u.login.startswith("zhao.min") for u in registry.users.users())
    finally:
        registry.close()


def post(client: TestClient, headers: dict[str, str], key: str, body: object,
         path: str = "/users") -> object:
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": key})


def test_a_repeat_returns_the_first_response_without_a_second_effect(
        client: TestClient, folder: Path) -> None:
    admin = bearer(folder)
    first = post(client, admin, "issue-zhao-1", AUDITOR)
    again = post(client, admin, "issue-zhao-1", dict(reversed(AUDITOR.items())))
    assert first.status_code == again.status_code == 201  # type: ignore[attr-defined]
    assert again.json() == first.json()  # type: ignore[attr-defined]
    assert again.headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
    # a new user's answer holds no secret (tokens are issued apart): nothing is redacted
    assert "idempotent-redacted" not in again.headers  # type: ignore[attr-defined]
    assert "idempotent-replayed" not in first.headers  # type: ignore[attr-defined]
    assert issued(folder) == 1


def test_the_same_key_with_another_body_is_422(client: TestClient, folder: Path) -> None:
    admin = bearer(folder)
    assert post(client, admin, "k-1", AUDITOR).status_code == 201  # type: ignore[attr-defined]
    other = post(client, admin, "k-1", {**AUDITOR, "display_name": "Zhao M."})
    assert other.status_code == 422  # type: ignore[attr-defined]
    assert other.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert other.json()["type"].endswith("/idempotency-key-reused")  # type: ignore[attr-defined]
    assert post(client, admin, "k-1", AUDITOR, path="/users?x=1").status_code == 422  # type: ignore[attr-defined]
    assert issued(folder) == 1


def test_keys_are_scoped_per_principal(client: TestClient, folder: Path) -> None:
    wang, chen = bearer(folder, subject="wang.fang"), bearer(folder, subject="chen.jie")
    a = post(client, wang, "same-key", AUDITOR)
    b = post(client, chen, "same-key", {**AUDITOR, "login": "zhao.min.2"})
    assert a.status_code == b.status_code == 201  # type: ignore[attr-defined]
    assert a.json()["id"] != b.json()["id"]  # type: ignore[attr-defined]
    # Another token of the same user sees the user's response.
    wang_again = bearer(folder, subject="wang.fang")
    assert post(client, wang_again, "same-key", AUDITOR).json()["id"] == a.json()["id"]  # type: ignore[attr-defined]
    assert issued(folder) == 2


def test_keys_survive_a_restart(folder: Path) -> None:
    admin = bearer(folder)
    with TestClient(create_app(env(folder))) as c:
        first = post(c, admin, "before-restart", AUDITOR).json()  # type: ignore[attr-defined]
    with TestClient(create_app(env(folder))) as c:
        assert post(c, admin, "before-restart", AUDITOR).json()["id"] == first["id"]  # type: ignore[attr-defined]
    assert issued(folder) == 1


def test_concurrent_duplicates_run_once(client: TestClient, folder: Path) -> None:
    admin = bearer(folder)
    barrier = threading.Barrier(8)

    def send(_: int) -> tuple[int, str]:
        barrier.wait()
        r = post(client, admin, "burst", AUDITOR)
        return r.status_code, r.text  # type: ignore[attr-defined]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    assert issued(folder) == 1
    created = {text for status, text in results if status == 201}
    assert len(created) == 1  # every 201 is the one first response
    assert {status for status, _ in results} <= {201, 409}


def test_the_claim_is_atomic_across_connections(tmp_path: Path) -> None:
    stores = [IdempotencyStore(tmp_path / "idempotency.sqlite") for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    mark = fingerprint("POST", "/x", b"", b"{}")

    def claim(store: IdempotencyStore) -> str:
        barrier.wait()
        return store.claim("administrator:a", "k", mark, now=time.time()).kind

    with ThreadPoolExecutor(len(stores)) as pool:
        kinds = sorted(pool.map(claim, stores))
    assert kinds == ["claimed"] + ["pending"] * (len(stores) - 1)
    for s in stores:
        s.close()


def test_a_server_error_releases_the_key_for_a_retry(folder: Path) -> None:
    app = create_app(env(folder))
    calls: list[int] = []

    @app.post("/flaky")
    def flaky() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database password is hunter2")
        return {"calls": len(calls)}

    admin = bearer(folder)
    with TestClient(app, raise_server_exceptions=False) as c:
        failed = post(c, admin, "retry-me", {}, path="/flaky")
        assert failed.status_code == 500  # type: ignore[attr-defined]
        assert "hunter2" not in failed.text  # type: ignore[attr-defined]
        assert post(c, admin, "retry-me", {}, path="/flaky").json() == {"calls": 2}  # type: ignore[attr-defined]
        assert post(c, admin, "retry-me", {}, path="/flaky").json() == {"calls": 2}  # type: ignore[attr-defined]
    assert len(calls) == 2


class _FullDisk:
    """A connection whose deletes fail as on a full disk (its other statements pass)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        if sql.startswith("DELETE"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, params)


def test_a_claim_that_cannot_be_released_on_disk_is_taken_over_by_the_retry(
        tmp_path: Path) -> None:
    """A request failed by a full disk (503) cannot delete its claim either: the retry with
    its key runs it then, instead of answering 409 in-progress for the lease's length; and
    only one retry takes it over."""
    store = IdempotencyStore(tmp_path / "idempotency.sqlite")
    mark = fingerprint("POST", "/x", b"", b"{}")
    assert store.claim("administrator:a", "k", mark, now=time.time()).kind == "claimed"
    real, store._db = store._db, _FullDisk(store._db)  # type: ignore[assignment]
    store.release("administrator:a", "k")  # no exception: the failed request still answers
    store._db = real
    assert store.claim("administrator:a", "k", mark, now=time.time()).kind == "rerun"
    assert store.claim("administrator:a", "k", mark, now=time.time()).kind == "pending"
    store.close()


def _claim_as(folder: Path, owner: str, key: str) -> None:
    """A pending claim of ``key`` by the process named ``owner``."""
    store = IdempotencyStore(folder / "idempotency.sqlite")
    mark = fingerprint("POST", "/users", b"", json.dumps(AUDITOR, separators=(",", ":")).encode())
    store.owner = owner
    user = bearer(folder)["Authorization"].split()[1].split(".")[0]  # <user id>.<token>.<secret>
    assert store.claim(f"user:{user}", key, mark, now=time.time()).kind == "claimed"
    store.close()


def test_a_claim_of_a_running_request_is_409_in_progress(client: TestClient,
                                                        folder: Path) -> None:
    _claim_as(folder, this_process(), "running")  # a live process is still at it
    response = post(client, bearer(folder), "running", AUDITOR)
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert response.json()["type"].endswith("/idempotency-key-in-progress")  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "1"  # type: ignore[attr-defined]
    assert issued(folder) == 0


@pytest.mark.parametrize("owner", ["2147483646:1", IN_DOUBT])
def test_a_claim_in_doubt_is_taken_over_by_the_retry(client: TestClient, folder: Path,
                                                     owner: str) -> None:
    """Its server was killed while running it (no such process any more), or it ended with
    its outcome unknown: the retry with the key runs it, once."""
    _claim_as(folder, owner, "crashed")
    admin = bearer(folder)
    response = post(client, admin, "crashed", AUDITOR)
    assert response.status_code == 201  # type: ignore[attr-defined]
    assert post(client, admin, "crashed", AUDITOR).headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
    assert issued(folder) == 1  # the fabricated claim never ran: the retry ran it, once


def test_a_claim_of_a_killed_worker_not_yet_reaped_is_taken_over(client: TestClient,
                                                                  folder: Path) -> None:
    """kill -9 of one worker of several: until its supervisor reaps it, the worker is a zombie
    with its pid and start time; it runs nothing, so the retry takes its claim over."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stat = Path(f"/proc/{worker.pid}/stat")
        owner = f"{worker.pid}:{stat.read_bytes().rsplit(b')', 1)[1].split()[19].decode()}"
        assert owner_alive(owner)
        os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while b") Z" not in stat.read_bytes():  # dead, not reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert owner_alive(owner) is False
        _claim_as(folder, owner, "zombie")
        response = post(client, bearer(folder), "zombie", AUDITOR)
        assert response.status_code == 201  # type: ignore[attr-defined]
        assert issued(folder) == 1
    finally:
        worker.wait()


def test_the_outcome_is_stored_before_the_response_leaves(folder: Path) -> None:
    """The status line goes out only once the outcome is on disk: a kill -9 after it cannot
    lose what the client was told."""
    import asyncio

    app = create_app(env(folder))
    admin = bearer(folder)
    seen: list[object] = []
    with TestClient(app):  # runs the lifespan: the store is open
        async def call() -> None:
            body = json.dumps(AUDITOR).encode()
            headers = [(k.lower().encode(), v.encode()) for k, v in
                       {**admin, "Idempotency-Key": "durable",
                        "Content-Type": "application/json"}.items()]
            scope = {"type": "http", "method": "POST", "path": "/users", "raw_path": b"/users",
                     "query_string": b"", "headers": headers, "scheme": "http",
                     "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5), "root_path": "",
                     "http_version": "1.1", "app": app, "state": {}}

            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, object]) -> None:
                if message["type"] == "http.response.start":
                    with sqlite3.connect(folder / "idempotency.sqlite") as db:
                        seen.append(db.execute("SELECT status FROM idempotency WHERE key = "
                                               "'durable'").fetchone())

            await app(scope, receive, send)

        asyncio.run(call())
    assert seen == [(201,)]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ключ".encode()])
def test_a_malformed_key_is_400(client: TestClient, folder: Path, key: str | bytes) -> None:
    response = client.post("/users", json=AUDITOR,
                           headers={**bearer(folder), "Idempotency-Key": key})  # type: ignore[dict-item]
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert issued(folder) == 0


def test_refusals_are_remembered_too(client: TestClient, folder: Path) -> None:
    """A 4xx answer is the request's outcome: the repeat gets it back even if the world
    changed in between (a new key asks again)."""
    admin = bearer(folder)
    body = {**AUDITOR, "login": "Not A Login!"}
    first = post(client, admin, "refused", body)
    assert first.status_code == 422  # type: ignore[attr-defined]
    again = post(client, admin, "refused", body)
    assert again.json() == first.json()  # type: ignore[attr-defined]
    assert again.headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]


def test_a_retried_deposit_is_credited_once(client: TestClient, folder: Path) -> None:
    """Without a key the retry would be refused as a reused bank reference (409); with the
    key it gets the first answer, and the money is there once."""
    admin = bearer(folder)
    body = {"amount": 5_000_000, "reference": "BANK-2025-0042"}
    first = post(client, admin, "deposit-0042", body, path=f"/cash/{code(1)}/deposits")
    again = post(client, admin, "deposit-0042", body, path=f"/cash/{code(1)}/deposits")
    assert first.status_code == again.status_code == 202  # type: ignore[attr-defined]
    assert again.json() == first.json()  # one proposal, not two  # type: ignore[attr-defined]
    second = bearer(folder, subject="chen.jie")
    proposal = first.json()["id"]  # type: ignore[attr-defined]
    approve = f"/proposals/{proposal}/approve"
    assert post(client, second, "approve-0042", {}, path=approve).status_code == 200  # type: ignore[attr-defined]
    assert post(client, second, "approve-0042", {}, path=approve).status_code == 200  # type: ignore[attr-defined]
    account = client.get(f"/cash/{code(1)}", headers=admin).json()
    assert account["deposited"] == 5_000_000
    unkeyed = client.post(approve, headers=second)
    assert unkeyed.status_code == 409


def test_a_new_tokens_secret_is_never_kept_for_replay(client: TestClient,
                                                      folder: Path) -> None:
    """Bypass: a token's secret sat in plaintext in idempotency.sqlite for 24 hours."""
    user = bearer(folder, "auditor", "li.wei")
    first = post(client, user, "my-token", {"days": 1}, path="/users/me/tokens")
    assert first.status_code == 201  # type: ignore[attr-defined]
    secret = first.json()["secret"]  # type: ignore[attr-defined]
    again = post(client, user, "my-token", {"days": 1}, path="/users/me/tokens")
    # the retry is told truthfully what was done, without the secret (and no second token)
    assert again.status_code == 201  # type: ignore[attr-defined]
    assert again.json() == {**first.json(), "secret": REDACTED}  # type: ignore[attr-defined]
    assert again.headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
    assert again.headers["idempotent-redacted"] == "true"  # type: ignore[attr-defined]
    dump = b"".join(f.read_bytes() for f in folder.glob("idempotency.sqlite*"))
    assert secret.encode() not in dump
    assert secret.rsplit(".", 1)[1].encode() not in dump
    assert (folder / "idempotency.sqlite").stat().st_mode & 0o077 == 0
