"""``registry token`` from the command line: a credential belongs to the person who asks for
it. The authenticated user issues a token for itself; an authenticated administrator may issue
one for a named existing user who is neither an administrator nor an auditor, recorded with the
administrator as issuer (the HTTP rules, `registry.users`). Holding the data folder names nobody.
``token demo`` runs only on a folder ``registry demo`` seeded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli import main
from registry.bootstrap import build_registry
from registry.events import stored_events
from tests.support.cli_people import CliPerson, cli_people
from tests.support.world import build_world


@pytest.fixture
def people(tmp_path: Path) -> tuple[CliPerson, CliPerson, CliPerson, CliPerson]:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(app)
    app.close()
    li, chen, zhao, trader = cli_people(
        tmp_path, ("administrator", "gdee-admin-li"), ("administrator", "gdee-admin-chen"),
        ("auditor", "zhao.min"), ("enterprise", w.dyeing))
    return li, chen, zhao, trader


def _issued(folder: str) -> list[dict[str, Any]]:
    app = build_registry({"REGISTRY_DATA_DIR": folder})
    try:
        return [e.__dict__ for _, e in stored_events(app)
                if type(e).__qualname__.endswith("TokenIssued")]
    finally:
        app.close()


def _secret(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def _acts_as(folder: str, secret: str) -> str:
    app = build_registry({"REGISTRY_DATA_DIR": folder})
    try:
        from datetime import UTC, datetime

        found = app.users.verify_token(secret, datetime.now(UTC))
        assert found is not None
        return str(found[0].user_id)
    finally:
        app.close()


def test_a_user_issues_a_token_for_itself(people: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    li, _, zhao, _ = people
    assert main(["token", "create", "--days", "7"], env=zhao.env()) == 0
    assert _acts_as(zhao.folder, _secret(capsys)) == zhao.user_id
    assert main(["token", "create"], env=li.login_env()) == 0  # password and one-time code
    assert _acts_as(li.folder, _secret(capsys)) == li.user_id
    issued = _issued(zhao.folder)
    assert [e["by"] for e in issued[-2:]] == [zhao.user_id, li.user_id]


def test_an_administrator_issues_one_for_a_named_user_recorded_as_issuer(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li, _, _, trader = people
    assert main(["token", "create", "--user", trader.login], env=li.env()) == 0
    assert _acts_as(li.folder, _secret(capsys)) == trader.user_id
    assert _issued(li.folder)[-1]["by"] == li.user_id


@pytest.mark.parametrize("target", [1, 2])  # another administrator, an auditor
def test_nobody_obtains_a_privileged_persons_token(
        people: Any, target: int, capsys: pytest.CaptureFixture[str]) -> None:
    li = people[0]
    before = len(_issued(li.folder))
    assert main(["token", "create", "--user", people[target].login], env=li.env()) == 2
    assert "issues its own tokens" in capsys.readouterr().err
    assert len(_issued(li.folder)) == before


def test_a_non_administrator_issues_none_for_another(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li, _, zhao, trader = people
    before = len(_issued(li.folder))
    for who, other in ((trader, zhao), (zhao, trader), (trader, li)):
        assert main(["token", "create", "--user", other.login], env=who.env()) == 2
    assert len(_issued(li.folder)) == before


def test_holding_the_data_folder_issues_no_token(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li = people[0]
    before = len(_issued(li.folder))
    folder_only = {"REGISTRY_DATA_DIR": li.folder}
    assert main(["token", "create", "--user", people[3].login], env=folder_only) == 2
    assert "person's act" in capsys.readouterr().err
    assert main(["token", "create"], env=li.login_env(password="wrong")) == 2
    assert len(_issued(li.folder)) == before


def test_token_demo_is_refused_outside_a_demo_folder(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li = people[0]
    before = len(_issued(li.folder))
    assert main(["token", "demo"], env={"REGISTRY_DATA_DIR": li.folder}) == 2
    err = capsys.readouterr().err
    assert err.startswith("registry: error: token demo is for the demo world only")
    assert len(err.strip().splitlines()) == 1
    assert len(_issued(li.folder)) == before


def test_revoking_is_ones_own_or_an_administrators(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li, _, zhao, trader = people
    assert main(["token", "create"], env=zhao.env()) == 0
    token_id = capsys.readouterr().out.split()[1]
    assert main(["token", "revoke", token_id], env=trader.env()) == 2  # not its token
    assert main(["token", "revoke", token_id], env=li.env()) == 0
    assert main(["token", "revoke", token_id], env=zhao.env()) == 2  # already revoked


# -- registry user create: the authenticated administrator's act -------------------------------


def _registered(folder: str, login: str) -> dict[str, Any] | None:
    app = build_registry({"REGISTRY_DATA_DIR": folder})
    try:
        found = [e.__dict__ for _, e in stored_events(app)
                 if type(e).__qualname__.endswith("Registered")
                 and getattr(e, "login", None) == login]
        return found[-1] if found else None
    finally:
        app.close()


def test_user_create_acts_as_the_authenticated_administrator(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    li, _, _, trader = people
    code = trader.login.removeprefix("trader.").upper()
    args = ["user", "create", "--login", "wang.fang", "--name", "Wang Fang", "--enterprise",
            code, "--role", "trader"]
    assert main(args, env=li.login_env()) == 0
    event = _registered(li.folder, "wang.fang")
    assert event is not None
    assert event["by"] == li.user_id and event["actor"] == li.user_id


def test_user_create_by_a_non_administrator_or_the_folder_alone_creates_nobody(
        people: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, zhao, trader = people
    code = trader.login.removeprefix("trader.").upper()
    args = ["user", "create", "--login", "wang.fang", "--name", "Wang Fang", "--enterprise",
            code, "--role", "trader"]
    assert main(args, env=trader.env()) == 2
    assert main(args, env=zhao.env()) == 2
    assert main(args, env={"REGISTRY_DATA_DIR": zhao.folder}) == 2
    assert "person's act" in capsys.readouterr().err
    assert _registered(zhao.folder, "wang.fang") is None


def test_user_create_grants_no_privileged_role(people: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    li = people[0]
    assert main(["user", "create", "--login", "ma.lin", "--name", "Ma Lin", "--regulator",
                 "--role", "administrator"], env=li.env()) == 2  # a proposal, over HTTP
    assert _registered(li.folder, "ma.lin") is None
