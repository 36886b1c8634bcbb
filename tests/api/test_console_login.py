"""Signing in to the console: a form with a CSRF token, a session cookie that is HttpOnly and
SameSite=Strict, CSRF on every signed-in form, logout, idle expiry.

The credentials are the registry's users (``api.console.sessions.user_login``): a login and
its password, and for an administrator a one-time code (TOTP); a suspended user cannot sign
in, every wrong credential gets the same answer, and failed sign-ins count against the limits
of ``POST /login`` (per login and per client address)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.sessions import COOKIE, LOGIN_CSRF_COOKIE, SessionStore
from api.tokens import Principal
from registry.bootstrap import build_registry
from registry.seed_users import founders, user_for
from tests.support.world import code, seed_data_folder

ENTERPRISE = code(1)
TRADER = f"trader.{ENTERPRISE.lower()}"
PASSWORD = "correct horse battery staple"
ADMIN = "wang.fang"
ADMIN_PASSWORD = "a long administrator passphrase"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG = "The login, password or code is not right."


@dataclass(frozen=True)
class People:
    """The users of a test's data folder: a trader of ENTERPRISE (password PASSWORD), an
    administrator (ADMIN_PASSWORD and a TOTP secret) and a suspended trader of code(2)."""

    admin_totp: str
    suspended: str  # its login; its password is PASSWORD


def create_people(folder: Path) -> People:
    at = datetime.now(UTC).isoformat()
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        one, _ = founders(registry, at)
        trader = user_for(registry, "enterprise", ENTERPRISE)
        registry.users.set_password(user_id=trader.user_id, password=PASSWORD, by=one, at=at)
        gone = user_for(registry, "enterprise", code(2))
        registry.users.set_password(user_id=gone.user_id, password=PASSWORD, by=one, at=at)
        registry.users.suspend_user(user_id=gone.user_id, reason="left the firm", by=one, at=at)
        admin = user_for(registry, "administrator", ADMIN)
        registry.users.set_password(user_id=admin.user_id, password=ADMIN_PASSWORD,
                                    by=admin.user_id, at=at)
        secret = registry.users.enroll_second_factor(user_id=admin.user_id, by=admin.user_id, at=at)
        return People(admin_totp=secret, suspended=gone.login)
    finally:
        registry.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, People]:
    folder = tmp_path_factory.mktemp("console-login")
    seed_data_folder(folder)
    return folder, create_people(folder)


@pytest.fixture
def folder(template: tuple[Path, People], tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(template[0], tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def people(template: tuple[Path, People]) -> People:
    return template[1]


def open_client(folder: Path, **env: str) -> TestClient:
    return TestClient(create_app({"REGISTRY_DATA_DIR": str(folder),
                                  "REGISTRY_SESSION_IDLE_SECONDS": "600", **env}))


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with open_client(folder) as c:
        yield c


def login_csrf(client: TestClient) -> str:
    r = client.get("/console/login?lang=en")
    assert r.status_code == 200
    set_cookie = r.headers["set-cookie"].lower()
    assert LOGIN_CSRF_COOKIE in set_cookie and "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    match = CSRF.search(r.text)
    assert match is not None
    return match.group(1)


def sign_in(client: TestClient, login: str, password: str, totp: str = "",  # type: ignore[no-untyped-def]
            csrf: str | None = None):
    csrf = login_csrf(client) if csrf is None else csrf
    return client.post("/console/login", data={"login": login, "password": password,
                                                "totp": totp, "csrf_token": csrf},
                       follow_redirects=False)


def refused(r) -> bool:  # type: ignore[no-untyped-def]
    """The one answer of a wrong credential: 401, the same message, no session."""
    return (r.status_code == 401 and WRONG in r.text
            and COOKIE not in r.headers.get("set-cookie", ""))


def test_the_sign_in_form_is_labelled_and_carries_a_csrf_token(client: TestClient) -> None:
    text = client.get("/console/login?lang=en").text
    for field, kind in (("login", "text"), ("password", "password"), ("totp", "text")):
        assert f'<label for="{field}">' in text
        assert f'id="{field}" name="{field}" type="{kind}"' in text
    assert CSRF.search(text)
    assert 'action="/console/login"' in text and 'method="post"' in text
    assert "API token" not in text  # the credentials are the user's own, not a token
    zh = client.get("/console/login?lang=zh-Hans").text
    assert "动态验证码" in zh and "密码" in zh


def test_a_login_without_the_forms_csrf_token_is_refused(client: TestClient) -> None:
    login_csrf(client)  # the cookie is set, but the field is missing or wrong
    for csrf in ("", "forged"):
        r = sign_in(client, TRADER, PASSWORD, csrf=csrf)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    client.cookies.clear()
    assert sign_in(client, TRADER, PASSWORD, csrf="any").status_code == 403  # no cookie
    assert client.cookies.get(COOKIE) is None


def test_wrong_credentials_get_one_answer_and_no_session(folder: Path, people: People) -> None:
    code_now = pyotp.TOTP(people.admin_totp).now()
    attempts = [
        (TRADER, "not the password", ""),  # a wrong password
        (TRADER, PASSWORD.upper(), ""),
        ("nobody.here", PASSWORD, ""),  # an unknown login
        ("", PASSWORD, ""),
        (ENTERPRISE, PASSWORD, ""),  # the credit code is not a login
        (people.suspended, PASSWORD, ""),  # a suspended user, right password
        (ADMIN, ADMIN_PASSWORD, ""),  # an administrator without the one-time code
        (ADMIN, ADMIN_PASSWORD, "000000" if code_now != "000000" else "111111"),
        (ADMIN, PASSWORD, code_now),  # the code, but another's password
    ]
    pages = set()
    with open_client(folder, REGISTRY_LOGIN_LIMIT="none") as client:
        for login, password, totp in attempts:
            r = sign_in(client, login, password, totp)
            assert refused(r), (login, r.status_code)
            # the same page whatever was wrong: only the echoed login and the token differ
            pages.add(CSRF.sub("", r.text).replace(f'value="{login}"', 'value=""'))
            assert client.get("/console/account", follow_redirects=False).status_code == 303
    assert len(pages) == 1


def test_signing_in_opens_a_strict_httponly_session(client: TestClient) -> None:
    r = sign_in(client, TRADER, PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/console/account"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    account = client.get("/console/account?lang=en")
    assert account.status_code == 200
    assert TRADER in account.text and ENTERPRISE in account.text and "Enterprise" in account.text
    assert "Sign out" in account.text and CSRF.search(account.text)
    # every page's header now offers the signed-in form, with the session's token
    overview = client.get("/console/lots?lang=en").text
    assert 'action="/console/logout"' in overview and CSRF.search(overview)
    # signed in, the sign-in page leads to the account
    again = client.get("/console/login", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/console/account"


def test_the_session_acts_as_the_user(client: TestClient, folder: Path) -> None:
    sign_in(client, TRADER, PASSWORD)
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    session = state.sessions.current(client.cookies.get(COOKIE), now=datetime.now(UTC))
    user = state.registry.users.user_by_login(TRADER)
    who = session.principal
    assert (who.user_id, who.login, who.role, who.subject) == (user.user_id, TRADER,
                                                               "enterprise", ENTERPRISE)
    assert who.roles == frozenset({"trader", "representative"})
    assert who.organisation == "enterprise" and who.token_id == ""


def test_an_administrator_signs_in_with_a_one_time_code_good_once(
        client: TestClient, people: People) -> None:
    totp = pyotp.TOTP(people.admin_totp)
    code_now = totp.now()
    r = sign_in(client, ADMIN, ADMIN_PASSWORD, code_now)
    assert r.status_code == 303, r.text
    account = client.get("/console/account?lang=en").text
    assert ADMIN in account and "Administrator" in account
    csrf = CSRF.search(account).group(1)  # type: ignore[union-attr]
    client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert refused(sign_in(client, ADMIN, ADMIN_PASSWORD, code_now))  # replayed: refused


def test_a_suspended_user_cannot_sign_in_and_its_session_ends(client: TestClient) -> None:
    assert sign_in(client, TRADER, PASSWORD).status_code == 303
    assert client.get("/console/account", follow_redirects=False).status_code == 200
    registry = client.app.state.registry_state.registry  # type: ignore[attr-defined]
    at = datetime.now(UTC).isoformat()
    admin = registry.users.user_by_login(ADMIN).user_id
    trader = registry.users.user_by_login(TRADER).user_id
    registry.users.suspend_user(user_id=trader, reason="left the firm", by=admin, at=at)
    gone = client.get("/console/account", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/console/login"
    assert refused(sign_in(client, TRADER, PASSWORD))


def test_signing_out_needs_the_sessions_csrf_token_and_ends_it(client: TestClient) -> None:
    sign_in(client, TRADER, PASSWORD)
    page = client.get("/console/account").text
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    refused_out = client.post("/console/logout", data={"csrf_token": "forged"},
                              follow_redirects=False)
    assert refused_out.status_code == 403
    assert client.get("/console/account", follow_redirects=False).status_code == 200
    cookie = client.cookies.get(COOKIE)
    out = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/"
    assert client.get("/console/account", follow_redirects=False).headers["location"] == \
        "/console/login"
    client.cookies.set(COOKIE, cookie)  # the old cookie opens nothing any more
    assert client.get("/console/account", follow_redirects=False).status_code == 303


def test_an_idle_session_ends(folder: Path) -> None:
    with open_client(folder, REGISTRY_SESSION_IDLE_SECONDS="1") as client:
        sign_in(client, TRADER, PASSWORD)
        cookie = client.cookies.get(COOKIE)
        sessions = client.app.state.registry_state.sessions  # type: ignore[attr-defined]
        later = datetime.now(UTC) + timedelta(seconds=2)  # the store is asked about "later"
        assert sessions.current(cookie, now=later) is None
        assert client.get("/console/account", follow_redirects=False).status_code == 303


def test_a_tampered_session_cookie_opens_nothing(client: TestClient) -> None:
    sign_in(client, TRADER, PASSWORD)
    value = client.cookies.get(COOKIE)
    session_id, _, mac = value.rpartition(".")
    for forged in (f"{session_id}x.{mac}", f"{session_id}.{'0' * len(mac)}", "junk", ""):
        client.cookies.set(COOKIE, forged)
        assert client.get("/console/account", follow_redirects=False).status_code == 303


def test_a_form_must_be_urlencoded(client: TestClient) -> None:
    r = client.post("/console/login", json={"login": "x"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


# -- failed sign-ins are limited like POST /login ---------------------------------------------


def limited(r) -> bool:  # type: ignore[no-untyped-def]
    return (r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            and "Too many failed sign-ins" in r.text
            and COOKIE not in r.headers.get("set-cookie", ""))


def test_failed_sign_ins_are_limited_per_login(folder: Path) -> None:
    app = create_app({"REGISTRY_DATA_DIR": str(folder), "REGISTRY_LOGIN_LIMIT": "3/hour"})
    with TestClient(app, client=("127.0.0.2", 1)) as first:
        second = TestClient(app, client=("127.0.0.3", 1))  # the same app, started once
        assert all(refused(sign_in(first, TRADER, f"guess {n}")) for n in range(3))
        # over the limit, even the right password opens nothing, from any address
        assert limited(sign_in(first, TRADER, PASSWORD))
        assert limited(sign_in(second, TRADER, PASSWORD))
        api = second.post("/login", json={"login": TRADER, "password": PASSWORD})
        assert api.status_code == 429  # the same counter as the API's login
        # another login from the second address is not held back
        assert sign_in(second, ADMIN, "not it").status_code == 401


def test_failed_sign_ins_are_limited_per_address(folder: Path) -> None:
    app = create_app({"REGISTRY_DATA_DIR": str(folder), "REGISTRY_LOGIN_LIMIT": "3/hour"})
    with TestClient(app, client=("127.0.0.2", 1)) as guesser:
        other = TestClient(app, client=("127.0.0.3", 1))  # the same app, started once
        for n in range(3):  # a different login each time: the address is counted
            assert refused(sign_in(guesser, f"guess.{n}", PASSWORD))
        assert limited(sign_in(guesser, TRADER, PASSWORD))
        assert sign_in(other, TRADER, PASSWORD).status_code == 303  # elsewhere, it opens


def test_failed_api_logins_count_for_the_console(folder: Path) -> None:
    with open_client(folder, REGISTRY_LOGIN_LIMIT="2/hour") as client:
        for _ in range(2):
            r = client.post("/login", json={"login": TRADER, "password": "not the password"})
            assert r.status_code == 401
        assert limited(sign_in(client, TRADER, PASSWORD))
        zh = client.get("/console/login?lang=zh-Hans")
        r = client.post("/console/login", data={"login": TRADER, "password": PASSWORD,
                                                "totp": "", "csrf_token": CSRF.search(
                                                    zh.text).group(1)},  # type: ignore[union-attr]
                        follow_redirects=False)
        assert r.status_code == 429 and "登录失败次数过多" in r.text


def test_a_forged_form_is_not_counted_as_a_failed_sign_in(folder: Path) -> None:
    with open_client(folder, REGISTRY_LOGIN_LIMIT="2/hour") as client:
        login_csrf(client)
        for _ in range(5):
            assert sign_in(client, TRADER, "guess", csrf="forged").status_code == 403
        assert sign_in(client, TRADER, PASSWORD).status_code == 303


# -- the store ---------------------------------------------------------------------------------


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WHO = Principal(token_id="", user_id="a" * 32, login="li.admin", role="administrator",
                subject="a" * 32, roles=frozenset({"administrator"}), organisation="regulator",
                issued_by="a" * 32)


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


def test_a_session_of_an_older_shape_opens_nothing(tmp_path: Path) -> None:
    s = store(tmp_path)
    cookie, _ = s.open(WHO, now=T0)
    db = sqlite3.connect(tmp_path / "sessions.sqlite", isolation_level=None)
    db.execute("UPDATE sessions SET principal = ?", ('{"token_id": "t-1", "role": '
                                                     '"enterprise", "subject": "X"}',))
    assert s.current(cookie, now=T0) is None
    assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


def test_the_signing_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    from api.console.sessions import signing_key

    key = signing_key(tmp_path)
    assert len(key) == 32 and signing_key(tmp_path) == key
    assert (tmp_path / "console-session.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["console-session.key"]
