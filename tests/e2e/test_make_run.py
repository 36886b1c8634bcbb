"""`make run`'s recipe, run as written: it seeds an empty data folder with the demo world,
prints the API docs URL, one working token per role and the demo users' logins and passwords
(with a TOTP secret for administrators) that sign in to the console, and serves the API."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pyotp

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("enterprise", "agency", "administrator", "auditor")


def recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    block = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M)
    assert block is not None
    return [line.strip() for line in block.group(1).splitlines()]


def argv(line: str, variables: dict[str, str]) -> list[str]:
    for name, value in variables.items():
        line = line.replace(f"$({name})", value)
    words = shlex.split(line)
    assert words[0] == "$(BIN)/registry", line
    return [sys.executable, "-m", "cli", *words[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, secret: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


LOGIN_LINE = re.compile(r"^\s+(\S+)\s+password (\S+)(?:\s+one-time codes from secret (\S+))?$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_sign_in(base: str, login: str, password: str, totp: str = "") -> tuple[str, str]:
    """Sign in through the console's form as a browser would (cookies kept): the URL the
    form leads to and that page's text."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(base + "/console/login?lang=en", timeout=10) as r:
        match = CSRF.search(r.read().decode())
    assert match is not None
    form = urlencode({"login": login, "password": password, "totp": totp,
                      "csrf_token": match.group(1)}).encode()
    try:
        with opener.open(base + "/console/login", data=form, timeout=30) as r:
            return r.geturl(), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.geturl(), e.read().decode()


def test_make_run_seeds_prints_tokens_and_serves(tmp_path: Path) -> None:
    port = free_port()
    variables = {"DATA_DIR": str(tmp_path / "data"), "HOST": "127.0.0.1", "PORT": str(port)}
    *setup, serve = [argv(line, variables) for line in recipe("run")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    printed = "".join(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                     check=True).stdout for cmd in setup)
    assert "Surplus Registry demo world" in printed
    assert f"http://127.0.0.1:{port}/docs" in printed
    assert f"http://127.0.0.1:{port}/console/" in printed
    lines = printed.splitlines()
    tokens = {}
    for role in ROLES:
        at = next(i for i, line in enumerate(lines) if line.split()[:1] == [role])
        tokens[role] = (lines[at].split()[1], lines[at + 1].strip())
    at = next(i for i, line in enumerate(lines) if line.startswith("Log in "))
    logins = [m.groups() for m in map(LOGIN_LINE.match, lines[at + 1:at + 1 + len(ROLES)])
              if m]
    assert len(logins) == len(ROLES), lines[at:]

    proc = subprocess.Popen(serve, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(base + "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        assert get(base + "/docs")[0] == 200
        status, page = get(base + "/console/")
        assert status == 200 and b"<html lang=" in page
        code, secret = tokens["enterprise"]
        status, body = get(f"{base}/holdings/{code}", secret)
        assert status == 200 and json.loads(body)["total"] > 0
        assert get(base + "/tokens", tokens["administrator"][1])[0] == 200
        assert get(base + "/ledger/entries?limit=1", tokens["auditor"][1])[0] == 200
        agency_code, agency_secret = tokens["agency"]
        assert get(f"{base}/agencies/{agency_code}", agency_secret)[0] == 200
        # the printed logins sign in to the console; administrators with a one-time code
        for login, password, totp_secret in logins:
            url, page_text = console_sign_in(
                base, login, password, pyotp.TOTP(totp_secret).now() if totp_secret else "")
            assert url == base + "/console/account" and login in page_text, (login, url)
        wrong = console_sign_in(base, logins[0][0], "not the printed password")
        assert wrong[0] == base + "/console/login" and "is not right" in wrong[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # A second run reuses the world: the summary again, no second seeding.
    again = subprocess.run(setup[0], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True)
    assert "Surplus Registry demo world" in again.stdout
