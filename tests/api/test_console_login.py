"""Signing in to the console: a form with a CSRF token, a session cookie that is HttpOnly and
SameSite=Strict, CSRF on every signed-in form, logout, idle expiry.

Credentials are PROVISIONAL until the identity work lands: the login names a token's subject
and the password is the token (``api.console.sessions.bearer_token_login``)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.sessions import COOKIE, LOGIN_CSRF_COOKIE, SessionStore
from api.tokens import Principal, TokenStore
from tests.world import code, seed_data_folder

ENTERPRISE = code(1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    seed_data_folder(tmp_path)
    return tmp_path


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_SESSION_IDLE_SECONDS": "600"}
    with TestClient(create_app(env)) as c:
        yield c


def token(folder: Path, role: str = "enterprise", subject: str = ENTERPRISE) -> str:
    now = datetime.now(UTC)
    store = TokenStore(folder / "tokens.sqlite")
    try:
        return store.create(role=role, subject=subject, now=now,
                            expires_at=now + timedelta(hours=1))[1]
    finally:
        store.close()


def login_csrf(client: TestClient) -> str:
    r = client.get("/console/login?lang=en")
    assert r.status_code == 200
    set_cookie = r.headers["set-cookie"].lower()
    assert LOGIN_CSRF_COOKIE in set_cookie and "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    match = CSRF.search(r.text)
    assert match is not None
    return match.group(1)


def sign_in(client: TestClient, login: str, password: str, csrf: str | None = None):  # type: ignore[no-untyped-def]
    csrf = login_csrf(client) if csrf is None else csrf
    return client.post("/console/login", data={"login": login, "password": password,
                                                "totp": "", "csrf_token": csrf},
                       follow_redirects=False)


def test_the_sign_in_form_is_labelled_and_carries_a_csrf_token(client: TestClient) -> None:
    text = client.get("/console/login?lang=en").text
    for field, kind in (("login", "text"), ("password", "password"), ("totp", "text")):
        assert f'<label for="{field}">' in text
        assert f'id="{field}" name="{field}" type="{kind}"' in text
    assert CSRF.search(text)
    assert 'action="/console/login"' in text and 'method="post"' in text
    zh = client.get("/console/login?lang=zh-Hans").text
    assert "动态验证码" in zh and "密码" in zh


def test_a_login_without_the_forms_csrf_token_is_refused(client: TestClient,
                                                         folder: Path) -> None:
    secret = token(folder)
    login_csrf(client)  # the cookie is set, but the field is missing or wrong
    for csrf in ("", "forged"):
        r = sign_in(client, ENTERPRISE, secret, csrf=csrf)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    client.cookies.clear()
    assert sign_in(client, ENTERPRISE, secret, csrf="any").status_code == 403  # no cookie


def test_wrong_credentials_get_one_answer_and_no_session(client: TestClient,
                                                         folder: Path) -> None:
    secret = token(folder)
    for login, password in ((ENTERPRISE, "not-a-token"), (code(2), secret), ("", secret)):
        r = sign_in(client, login, password)
        assert r.status_code == 401
        assert "The login, password or code is not right." in r.text
        assert COOKIE not in r.headers.get("set-cookie", "")


def test_signing_in_opens_a_strict_httponly_session(client: TestClient, folder: Path) -> None:
    r = sign_in(client, ENTERPRISE, token(folder))
    assert r.status_code == 303 and r.headers["location"] == "/console/account"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    account = client.get("/console/account?lang=en")
    assert account.status_code == 200
    assert ENTERPRISE in account.text and "Enterprise" in account.text
    assert "Sign out" in account.text and CSRF.search(account.text)
    # every page's header now offers the signed-in form, with the session's token
    overview = client.get("/console/lots?lang=en").text
    assert 'action="/console/logout"' in overview and CSRF.search(overview)


def test_signing_out_needs_the_sessions_csrf_token_and_ends_it(client: TestClient,
                                                               folder: Path) -> None:
    sign_in(client, ENTERPRISE, token(folder))
    page = client.get("/console/account").text
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    refused = client.post("/console/logout", data={"csrf_token": "forged"},
                          follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/console/account", follow_redirects=False).status_code == 200
    cookie = client.cookies.get(COOKIE)
    out = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/"
    assert client.get("/console/account", follow_redirects=False).headers["location"] == \
        "/console/login"
    client.cookies.set(COOKIE, cookie)  # the old cookie opens nothing any more
    assert client.get("/console/account", follow_redirects=False).status_code == 303


def test_a_tampered_session_cookie_opens_nothing(client: TestClient, folder: Path) -> None:
    sign_in(client, ENTERPRISE, token(folder))
    value = client.cookies.get(COOKIE)
    session_id, _, mac = value.rpartition(".")
    for forged in (f"{session_id}x.{mac}", f"{session_id}.{'0' * len(mac)}", "junk", ""):
        client.cookies.set(COOKIE, forged)
        assert client.get("/console/account", follow_redirects=False).status_code == 303


def test_a_form_must_be_urlencoded(client: TestClient) -> None:
    r = client.post("/console/login", json={"login": "x"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


# -- the store ---------------------------------------------------------------------------------


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WHO = Principal(token_id="t-1", role="administrator", subject="gdee-admin-li")


def store(tmp_path: Path, **kw: int) -> SessionStore:
    return SessionStore(tmp_path / "sessions.sqlite", key=b"k" * 32, **kw)


def test_idle_expiry_slides_with_each_use(tmp_path: Path) -> None:
    s = store(tmp_path, idle=600, lifetime=3600)
    cookie, opened = s.open(WHO, now=T0)
    assert opened.expires == T0 + timedelta(seconds=600)
    at = T0
    for _ in range(4):  # used every 9 minutes: it stays open
        at += timedelta(minutes=9)
        assert s.current(cookie, now=at) is not None
    assert s.current(cookie, now=at + timedelta(minutes=10)) is None  # idle 10 minutes
    assert s.current(cookie, now=at) is None  # and it is gone, not just hidden


def test_a_session_ends_at_its_lifetime_however_busy(tmp_path: Path) -> None:
    s = store(tmp_path, idle=600, lifetime=1800)
    cookie, _ = s.open(WHO, now=T0)
    at = T0
    while at < T0 + timedelta(seconds=1800 - 300):
        at += timedelta(minutes=5)
        assert s.current(cookie, now=at) is not None
    assert s.current(cookie, now=T0 + timedelta(seconds=1800)) is None


def test_the_store_keeps_no_session_id(tmp_path: Path) -> None:
    s = store(tmp_path)
    cookie, _ = s.open(WHO, now=T0)
    assert s.current(cookie, now=T0).principal == WHO  # type: ignore[union-attr]
    session_id = cookie.rpartition(".")[0]
    rows = sqlite3.connect(tmp_path / "sessions.sqlite").execute(
        "SELECT * FROM sessions").fetchall()
    assert rows and all(session_id not in str(value) for row in rows for value in row)
    other = SessionStore(tmp_path / "sessions.sqlite", key=b"x" * 32)
    assert other.current(cookie, now=T0) is None  # signed under another key


def test_the_signing_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    from api.console.sessions import signing_key

    key = signing_key(tmp_path)
    assert len(key) == 32 and signing_key(tmp_path) == key
    assert (tmp_path / "console-session.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["console-session.key"]
