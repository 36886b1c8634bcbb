"""The administrator's console pages and the own-token page, over the ASGI app: who may open
them (an administrator; anyone else 403, nobody signed in is led to the sign-in page), CSRF
on every form, the acts going through the API's services (four eyes by user id, events naming
the administrator), a token issued on the page working as a bearer token until revoked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.console.admin import ACTS, PAGES
from registry.bootstrap import build_registry
from registry.seed_users import founders, user_for
from tests.api.test_console_login import (
    ADMIN,
    ADMIN_PASSWORD,
    CSRF,
    PASSWORD,
    TRADER,
    People,
    create_people,
    open_client,
    sign_in,
)
from tests.support.world import code, seed_data_folder

ADMIN_B = "li.na"
ENTERPRISE = code(1)
SECRET = re.compile(r'id="secret" class="secret" type="text" readonly value="([^"]+)"')


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, People, str]:
    folder = tmp_path_factory.mktemp("console-admin")
    seed_data_folder(folder)
    people = create_people(folder)
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:  # a second administrator, for four eyes
        at = datetime.now(UTC).isoformat()
        one, _ = founders(registry, at)
        b = user_for(registry, "administrator", ADMIN_B)
        if "administrator" not in b.roles:
            registry.users.grant_role(user_id=b.user_id, role="administrator", by=one, at=at)
        registry.users.set_password(user_id=b.user_id, password=ADMIN_PASSWORD, by=b.user_id, at=at)
        secret_b = registry.users.enroll_second_factor(user_id=b.user_id, by=b.user_id, at=at)
    finally:
        registry.close()
    return folder, people, secret_b


@pytest.fixture
def folder(template: tuple[Path, People, str], tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(template[0], tmp_path / "data")
    return tmp_path / "data"


@pytest.fixture
def clients(folder: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two browsers on one service (two cookie jars)."""
    with open_client(folder, REGISTRY_LOGIN_LIMIT="none") as a:
        b = TestClient(a.app)
        yield a, b


def admin_in(client: TestClient, login: str, secret: str) -> str:
    """Sign ``login`` in; the session's CSRF token."""
    r = sign_in(client, login, ADMIN_PASSWORD, pyotp.TOTP(secret).now())
    assert r.status_code == 303, r.text
    match = CSRF.search(client.get("/console/admin/?lang=en").text)
    assert match is not None
    return match.group(1)


def post(client: TestClient, act_name: str, csrf: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(f"/console/admin/act/{act_name}", data={"csrf_token": csrf, **fields},
                       follow_redirects=False)


def test_nobody_signed_in_is_led_to_sign_in_and_posts_are_refused(
        clients: tuple[TestClient, TestClient]) -> None:
    a, _ = clients
    for shown in PAGES.values():
        r = a.get(shown.path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert a.get("/console/tokens", follow_redirects=False).status_code == 303
    assert post(a, "deposit", "x", enterprise=ENTERPRISE, amount="1",
                reference="B-1").status_code == 401


def test_an_enterprise_user_gets_403_on_every_admin_page_and_act(
        clients: tuple[TestClient, TestClient]) -> None:
    a, _ = clients
    assert sign_in(a, TRADER, PASSWORD).status_code == 303
    csrf = CSRF.search(a.get("/console/account").text).group(1)  # type: ignore[union-attr]
    for shown in PAGES.values():
        assert a.get(shown.path).status_code == 403
    for name in ACTS:
        assert post(a, name, csrf).status_code == 403, name
    # its nav offers its own pages, not the administrator's
    text = a.get("/console/account?lang=en").text
    assert 'href="/console/tokens"' in text and "/console/admin/" not in text


def test_every_admin_page_renders_for_an_administrator_in_both_languages(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    admin_in(a, ADMIN, template[1].admin_totp)
    for shown in PAGES.values():
        for lang in ("en", "zh-Hans"):
            r = a.get(f"{shown.path}?lang={lang}")
            assert r.status_code == 200, (shown.path, lang, r.text[:500])
            assert 'name="csrf_token"' in r.text
    assert "等待您处理" in a.get("/console/admin/?lang=zh-Hans").text


def test_an_admin_form_without_the_sessions_csrf_token_is_refused(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    before = len(registry.proposals.proposals(state="pending", at=datetime.now(UTC).isoformat()))
    for csrf in ("", "forged"):
        r = post(a, "deposit", csrf, enterprise=ENTERPRISE, amount="100.00",
                 reference="BANK-CSRF")
        assert r.status_code == 403
    assert len(
        registry.proposals.proposals(state="pending", at=datetime.now(UTC).isoformat())) == before


def test_four_eyes_a_deposit_proposed_by_one_admin_is_approved_by_another(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, b = clients
    csrf_a = admin_in(a, ADMIN, template[1].admin_totp)
    csrf_b = admin_in(b, ADMIN_B, template[2])
    state = a.app.state.registry_state  # type: ignore[attr-defined]
    registry = state.registry
    r = post(a, "deposit", csrf_a, enterprise=ENTERPRISE, amount="1,234.56",
             reference="BANK-4E-1")
    assert r.status_code == 303, r.text
    proposal_id = r.headers["location"].split("proposal=")[1]
    shown = a.get(r.headers["location"] + "&lang=en").text
    assert "Deposit proposed" in shown and proposal_id in shown
    p = registry.proposals.proposal(proposal_id)
    assert p.params["amount"] == 123_456 and p.proposed_by == registry.users.user_by_login(
        ADMIN).user_id
    # A sees its own proposal with no approve button; approving anyway is refused
    queue_a = a.get("/console/admin/?lang=en").text
    row = queue_a[queue_a.index(f'<tr id="{proposal_id}">'):]
    row = row[:row.index("</tr>")]
    assert "Your own proposal" in row and "/act/approve" not in row
    refused = post(a, "approve", csrf_a, proposal=proposal_id)
    assert refused.status_code == 403 and "Refused" in refused.text
    assert registry.proposals.proposal(
        proposal_id).state_at(datetime.now(UTC).isoformat()) == "pending"
    # B sees it with the buttons and approves
    queue_b = b.get("/console/admin/?lang=en").text
    row = queue_b[queue_b.index(f'<tr id="{proposal_id}">'):]
    assert "/console/admin/act/approve" in row[:row.index("</tr>")]
    done = post(b, "approve", csrf_b, proposal=proposal_id)
    assert done.status_code == 303
    assert registry.exchange.cash_account(ENTERPRISE).balance >= 123_456
    deposited = [e for e in registry.events.get(registry.exchange.cash_account(ENTERPRISE).id)
                 if type(e).__name__ == "Deposited"][-1]
    assert deposited.actor == registry.users.user_by_login(ADMIN).user_id
    assert deposited.approved_by == registry.users.user_by_login(ADMIN_B).user_id


def test_a_refused_act_shows_the_reason_and_changes_nothing(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    csrf = admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    at = datetime.now(UTC).isoformat()
    before = len(registry.proposals.proposals(at=at))
    for fields in ({"enterprise": ENTERPRISE, "amount": "1.001", "reference": "B-2"},
                   {"enterprise": ENTERPRISE, "amount": "-5", "reference": "B-2"},
                   {"enterprise": ENTERPRISE, "amount": "ten", "reference": "B-2"},
                   {"enterprise": "NOPE", "amount": "10", "reference": "B-2"}):
        r = post(a, "deposit", csrf, **fields)
        assert r.status_code in (404, 422), (fields, r.status_code)
        assert 'role="alert"' in r.text
    assert post(a, "approve", csrf, proposal="not-a-proposal").status_code == 404
    assert post(a, "no_such_act", csrf).status_code == 404
    assert len(registry.proposals.proposals(at=datetime.now(UTC).isoformat())) == before


def test_users_and_roles_a_privileged_grant_is_a_proposal(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, b = clients
    csrf_a = admin_in(a, ADMIN, template[1].admin_totp)
    csrf_b = admin_in(b, ADMIN_B, template[2])
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    r = post(a, "create_user", csrf_a, login="zhao.lei", display_name="Zhao Lei",
             organisation="regulator", password="a fine first password")
    assert r.status_code == 303, r.text
    user = registry.users.user_by_login("zhao.lei")
    assert user.created_by == registry.users.user_by_login(ADMIN).user_id
    r = post(a, "grant_role", csrf_a, user=user.user_id, role="auditor")
    assert r.status_code == 303 and "proposal=" in r.headers["location"]
    assert "auditor" not in registry.users.user(user.user_id).roles
    proposal_id = r.headers["location"].split("proposal=")[1]
    assert post(b, "approve", csrf_b, proposal=proposal_id).status_code == 303
    assert "auditor" in registry.users.user(user.user_id).roles
    assert post(a, "withdraw_role", csrf_a, user=user.user_id,
                role="auditor").status_code == 303
    assert "auditor" not in registry.users.user(user.user_id).roles


def test_the_own_token_page_issues_a_working_token_and_revokes_it(
        clients: tuple[TestClient, TestClient]) -> None:
    a, _ = clients
    assert sign_in(a, TRADER, PASSWORD).status_code == 303
    page = a.get("/console/tokens?lang=en")
    assert page.status_code == 200
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    assert a.post("/console/tokens", data={"days": "7"}).status_code == 403  # no CSRF token
    issued = a.post("/console/tokens", data={"days": "7", "csrf_token": csrf})
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    secret = SECRET.search(issued.text).group(1)  # type: ignore[union-attr]
    bearer = {"Authorization": f"Bearer {secret}"}
    a.cookies.clear()
    assert a.get("/users/me", headers=bearer).json()["login"] == TRADER
    sign_in(a, TRADER, PASSWORD)
    again = a.get("/console/tokens?lang=en").text
    assert secret not in again  # shown once, never again
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    user = registry.users.user_by_login(TRADER)
    token_id = secret.split(".")[1]
    assert token_id in again and secret not in str(user.tokens)
    csrf = CSRF.search(again).group(1)  # type: ignore[union-attr]
    assert a.post(f"/console/tokens/{token_id}/revoke",
                  data={"csrf_token": "forged"}).status_code == 403
    r = a.post(f"/console/tokens/{token_id}/revoke", data={"csrf_token": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    assert registry.users.user(user.user_id).tokens[token_id]["revoked_by"] == user.user_id
    a.cookies.clear()
    assert a.get("/users/me", headers=bearer).status_code == 401
    # another's token cannot be revoked from one's page
    sign_in(a, TRADER, PASSWORD)
    other = user_for(registry, "enterprise", code(3))
    other_id, _ = registry.users.issue_token(user_id=other.user_id, by=other.user_id,
                                             at=datetime.now(UTC).isoformat(), days=1)
    csrf = CSRF.search(a.get("/console/tokens").text).group(1)  # type: ignore[union-attr]
    assert a.post(f"/console/tokens/{other_id}/revoke",
                  data={"csrf_token": csrf}).status_code == 404
    assert registry.users.user(other.user_id).tokens[other_id]["revoked_at"] is None


AGENCY = code(1, prefix="91440101MA9X")
COD = "COD-2025-MAOZHOU"
PROPOSING = [
    ("restrict_enterprise", {"code": ENTERPRISE, "reason": "falsified monitoring data",
                             "reference": "GDEE-2025-17"},
     "restrict_enterprise", {"credit_code": ENTERPRISE, "reference": "GDEE-2025-17"}),
    ("restrict_agency", {"code": AGENCY, "reason": "audit quality", "reference": "SC-9"},
     "restrict_agency", {"credit_code": AGENCY}),
    ("freeze", {"instrument": COD, "owner": ENTERPRISE, "ref": "FZ-1", "reason": "court order",
                "quantity": "0.125"},
     "freeze", {"instrument": COD, "owner": ENTERPRISE, "ref": "FZ-1", "quantity": 125}),
    ("unfreeze", {"instrument": COD, "ref": "FZ-1"}, "unfreeze", {"ref": "FZ-1"}),
    ("revoke_retrofit", {"retrofit": "RF-1", "reason": "spot check failed", "spot_check": "SC-1",
                         "restrict_enterprise": "on", "restrict_agencies": f" {AGENCY.lower()} "},
     "revoke_retrofit", {"reference": "RF-1", "restrict_enterprise": True,
                         "restrict_agencies": [AGENCY]}),
    ("open_market", {"instrument": COD, "reference_price": "3,000.00", "lot": "1",
                     "continuous": "on"},
     "open_market", {"instrument": COD, "reference_price": 300_000, "lot": 1000,
                     "sessions": []}),
]


@pytest.mark.parametrize(("act", "fields", "action", "params"), PROPOSING,
                         ids=[p[0] for p in PROPOSING])
def test_a_proposing_form_makes_the_apis_proposal(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str], act: str,
        fields: dict[str, str], action: str, params: dict[str, object]) -> None:
    """Each four-eyes form proposes what the API route would, with amounts typed in tonnes
    and yuan stored as kg and fen, and nothing takes effect yet."""
    a, _ = clients
    csrf = admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    r = post(a, act, csrf, **fields)
    assert r.status_code == 303, r.text
    p = registry.proposals.proposal(r.headers["location"].split("proposal=")[1])
    assert p.action == action and p.proposed_by == registry.users.user_by_login(ADMIN).user_id
    assert {k: p.params[k] for k in params} == params
    assert p.state_at(datetime.now(UTC).isoformat()) == "pending"


def test_acts_that_take_effect_at_once_and_refusals_of_the_wrong_state(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    csrf = admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    new = code(7, prefix="91440101MA9X")
    assert post(a, "register_agency", csrf, credit_code=new.lower(),
                name="Pearl River CP Consulting").status_code == 303
    assert post(a, "accredit_agency", csrf, code=new,
                accreditation="GD-CP-ACC-077").status_code == 303
    assert registry.agency(new).accreditation == "GD-CP-ACC-077"
    assert post(a, "register_agency", csrf, credit_code=new,
                name="again").status_code == 409  # already registered
    # no market is open for COD: halting and new parameters are refused, nothing changes
    assert post(a, "halt", csrf, instrument=COD, reason="test").status_code == 404
    assert post(a, "set_parameters", csrf, instrument=COD,
                reference_price="1.00").status_code == 404
    # RF-1 is issued already: neither confirmation nor issuance may be proposed again
    for act in ("propose_confirmation", "propose_issuance"):
        assert post(a, act, csrf, retrofit="RF-1").status_code == 409


def test_an_administrator_whose_role_is_withdrawn_loses_the_pages_at_once(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    csrf = admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    admin = registry.users.user_by_login(ADMIN)
    other = registry.users.user_by_login(ADMIN_B)
    registry.users.withdraw_role(user_id=admin.user_id, role="administrator", by=other.user_id,
                                 at=datetime.now(UTC).isoformat())
    assert a.get("/console/admin/").status_code == 403
    assert post(a, "deposit", csrf, enterprise=ENTERPRISE, amount="1",
                reference="B-GONE").status_code == 403


def test_the_queue_holds_an_expansion_decision_and_the_form_decides_it(
        clients: tuple[TestClient, TestClient], template: tuple[Path, People, str]) -> None:
    a, _ = clients
    csrf = admin_in(a, ADMIN, template[1].admin_totp)
    registry = a.app.state.registry_state.registry  # type: ignore[attr-defined]
    for reference in ("EXP-1", "EXP-2"):
        registry.holdings.submit_expansion(reference=reference, enterprise=ENTERPRISE,
                                           instrument=COD, quantity=100,
                                           project="a second dyeing line",
                                           at=datetime.now(UTC).isoformat())
    queue = a.get("/console/admin/?lang=en").text
    decisions = queue[queue.index('id="expansions"'):]
    assert "EXP-1" in decisions and "EXP-2" in decisions and "a second dyeing line" in decisions
    r = post(a, "approve_expansion", csrf, expansion="EXP-1", approval="GDEE-EIA-2025-3")
    assert r.status_code == 303, r.text
    assert registry.expansion("EXP-1").state == "approved"
    assert registry.expansion("EXP-1").approval == "GDEE-EIA-2025-3"
    assert post(a, "reject_expansion", csrf, expansion="EXP-2",
                reason="").status_code == 422  # a reason is required, as over the API
    assert post(a, "reject_expansion", csrf, expansion="EXP-2",
                reason="capacity cap reached").status_code == 303
    assert registry.expansion("EXP-2").state == "rejected"
    queue = a.get("/console/admin/?lang=en").text
    assert "EXP-1" not in queue and "EXP-2" not in queue
    assert post(a, "approve_expansion", csrf, expansion="EXP-2",
                approval="X-1").status_code == 409  # decided already


def test_a_flagged_trade_waits_in_the_queue_and_its_initiator_may_not_approve_it(
        tmp_path: Path) -> None:
    """Four eyes by user id on a held trade: the administrator who entered the buy order sees
    it in its queue without an approve button and is refused; another approves it."""
    from tests.support.exchange_world import COD as BOOK
    from tests.support.exchange_world import PRICE, open_exchange

    for ex in open_exchange(tmp_path, verify_above=1_000_000):
        seller = ex.enterprise(ex.world.dyeing)
        assert ex.client.post(f"/markets/{BOOK}/orders", headers=seller, json={
            "side": "sell", "price": PRICE, "quantity": 2000}).status_code == 201
        r = ex.client.post(f"/markets/{BOOK}/orders",
                           headers=ex.token("administrator", "zhao.min"),
                           json={"side": "buy", "price": PRICE, "quantity": 2000,
                                 "account": ex.world.paper})
        (fill,) = r.json()["fills"]
        assert fill["state"] == "pending"
        secrets = {}
        at = datetime.now(UTC).isoformat()
        for login in ("zhao.min", "approver.two"):
            user = ex.registry.users.user_by_login(login)
            ex.registry.users.set_password(user_id=user.user_id, password=ADMIN_PASSWORD,
                                           by=user.user_id, at=at)
            secrets[login] = ex.registry.users.enroll_second_factor(user_id=user.user_id,
                                                                    by=user.user_id, at=at)
        initiator, other = ex.client, TestClient(ex.client.app)
        csrf = admin_in(initiator, "zhao.min", secrets["zhao.min"])
        queue = initiator.get("/console/admin/?lang=en").text
        held = queue[queue.index('id="trades"'):queue.index('id="agreements"')]
        assert fill["trade"] in held and "You initiated it" in held
        assert "/act/approve_trade" not in held
        assert post(initiator, "approve_trade", csrf, trade=fill["trade"]).status_code == 403
        csrf_other = admin_in(other, "approver.two", secrets["approver.two"])
        assert post(other, "approve_trade", csrf_other,
                    trade=fill["trade"]).status_code == 303
        assert ex.client.get(f"/trades/{fill['trade']}", headers=seller).json()[
            "state"] == "settled"
