"""The user journeys over HTTP, one narrative test each, with people and tokens as an
operator sets them up: the two founding administrators by ``registry admin bootstrap``, each
logging in (``POST /login``) with the password and one-time code secret it printed once; the
other users created by an administrator (``POST /users``), their tokens issued by it (``POST
/tokens``), or, for privileged roles, their own login before the role is granted through a
proposal the other founder approves. Every sensitive act is proposed by one
administrator and approved by another.

- A Dongguan dye works' retrofit, from registration through a consultancy's baseline and post
  audits and a second agency's verification to confirmation, issuance, holdings and the
  provenance of one serial.
- The exchange: a market opened and a deposit recorded, a seller, a buyer, delivery versus
  payment, and a buyer who checks its receipt with nothing but the ledger's verifier key, then
  an auditor who rebuilds the checkpoint's root from the ledger's entries.
- A trade above the verification threshold, held in the queue, refused to its initiators and
  approved by a third administrator.
- An auditor proving that the ledger after a day's activity extends the one it saw before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cli import main
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.merkle import VerificationError, hash_leaf, root, verify_consistency, verify_inclusion
from registry.bootstrap import build_registry
from registry.credentials import totp_now
from tests.support.world import World, build_world, code, issue, sha

COD = "COD-2025-MAOZHOU"
PRICE = 800_000  # 8,000 CNY per tonne, in fen per tonne
PROBLEM = "application/problem+json"


@dataclass
class Desk:
    """The service as its users see it: a client and the bearer tokens of named people."""

    client: TestClient
    folder: Path
    capsys: pytest.CaptureFixture[str]
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def log_in(self, login: str, password: str, totp_secret: str | None = None) -> None:
        """A user's own token: its login, password and (administrators) one-time code."""
        body: dict[str, Any] = {"login": login, "password": password, "days": 7}
        if totp_secret is not None:
            body["totp"] = totp_now(totp_secret, datetime.now(UTC))
        r = self.client.post("/login", json=body)
        assert r.status_code == 201, f"POST /login as {login}: {r.status_code} {r.text}"
        self.tokens[login] = {"Authorization": f"Bearer {r.json()['secret']}"}

    def operator_bootstraps(self, *logins: str) -> None:
        """The founding administrators, from the command line on the server; each logs in
        with the password and one-time code secret printed once."""
        for login in logins:
            assert main(["--data-dir", str(self.folder), "admin", "bootstrap", "--login",
                         login, "--name", login]) == 0
            out = self.capsys.readouterr().out
            password = out.split("password (shown once): ", 1)[1].split()[0]
            totp = out.split("one-time code secret (shown once; add it to an authenticator "
                             "app): ", 1)[1].split()[0]
            self.log_in(login, password, totp)

    def issue(self, admin: str, who: str, role: str, subject: str | None = None) -> None:
        """A user created by an administrator over HTTP, and a token for it: issued by that
        administrator (enterprise and agency users), or by the operator once a second
        administrator approved the privileged role (administrators and auditors)."""
        organisation = {"enterprise": "enterprise", "agency": "agency",
                        "administrator": "regulator", "auditor": "audit_body"}[role]
        roles = {"enterprise": ["trader", "representative"], "agency": ["agency_staff"]}
        password = f"pw-of-{who}-for-tests"
        user = self.post(admin, "/users", {
            "login": who, "display_name": who, "organisation": organisation,
            "organisation_code": subject, "roles": roles.get(role, []),
            "password": password}, status=201)
        if role in ("enterprise", "agency"):
            issued = self.post(admin, "/tokens", {"user": who, "days": 7}, status=201)
            assert (issued["subject"], issued["role"]) == (subject, role)
            assert issued["issued_by"] == self.user_id(admin)
            self.tokens[who] = {"Authorization": f"Bearer {issued['secret']}"}
            return
        self.log_in(who, password)  # its own token, before the privileged role is granted
        proposal = self.post(admin, f"/users/{user['id']}/roles", {"role": role}, status=202)
        self.post(self.other_founder(admin), f"/proposals/{proposal['id']}/approve")

    def other_founder(self, admin: str) -> str:
        return "gdee-wu" if admin != "gdee-wu" else "gdee-li"

    def act(self, admin: str, path: str, body: Any = None) -> Any:
        """Propose as ``admin``; another founder approves; the act's result."""
        proposal = self.post(admin, path, body, status=202)
        self.refused(admin, f"/proposals/{proposal['id']}/approve", None, 403,
                     "four-eyes-violation")
        return self.post(self.other_founder(admin),
                         f"/proposals/{proposal['id']}/approve")["result"]

    def user_id(self, login: str) -> str:
        registry = self.client.app.state.registry_state.registry  # type: ignore[attr-defined]
        return str(registry.users.user_by_login(login).user_id)

    def get(self, who: str | None, path: str, status: int = 200, **params: Any) -> Any:
        r = self.client.get(path, params=params, headers=self.tokens.get(who or "", {}))
        assert r.status_code == status, f"GET {path} as {who}: {r.status_code} {r.text}"
        if r.headers["content-type"].startswith("text/plain"):
            return r.text
        return r.json()

    def post(self, who: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.client.post(path, json=body, headers=self.tokens[who])
        assert r.status_code == status, f"POST {path} as {who}: {r.status_code} {r.text}"
        return r.json()

    def refused(self, who: str, path: str, body: Any, status: int, problem: str) -> None:
        r = self.client.post(path, json=body, headers=self.tokens[who])
        assert r.status_code == status, f"POST {path} as {who}: {r.status_code} {r.text}"
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("/" + problem), r.json()

    @property
    def position(self) -> int:
        return int(self.client.app.state.registry_state.registry.queries.position())  # type: ignore[attr-defined]


def serve(folder: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    with TestClient(create_app({"REGISTRY_DATA_DIR": str(folder)})) as client:
        desk = Desk(client, folder, capsys)
        desk.operator_bootstraps("gdee-li", "gdee-wu")
        yield desk


@pytest.fixture
def empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Desk]:
    """A service over an empty data folder."""
    yield from serve(tmp_path, capsys)


@dataclass(frozen=True)
class Seeded:
    desk: Desk
    w: World


@pytest.fixture
def seeded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Seeded]:
    """tests.support.world's Guangdong world, in which Shenzhen Huaxin Printing & Dyeing holds
    100 t of Maozhou basin COD from its 2025 retrofit; no market is open and nobody has money
    yet."""
    registry = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(registry)
    issue(registry, w, reference="RF-HX-2025", enterprise=w.dyeing, kind="COD",
          baseline=120_000, post=20_000)
    registry.close()
    for desk in serve(tmp_path, capsys):
        for who, role, subject in (("huaxin", "enterprise", w.dyeing),
                                   ("jianhui", "enterprise", w.paper),
                                   ("audit-zhao", "auditor", None)):
            desk.issue("gdee-li", who, role, subject)
        yield Seeded(desk, w)


def verified_checkpoint(desk: Desk, note: str | None = None) -> Checkpoint:
    """A checkpoint (the latest, unless ``note``) checked against the public verifier key."""
    vkey = desk.get(None, "/ledger/vkey").strip()
    return verify_checkpoint(note=note or desk.get(None, "/ledger/checkpoint"), vkey=vkey)


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_a_dye_works_retrofit_from_registration_to_serial_provenance(empty: Desk) -> None:
    desk = empty
    humen, huanke, lvyuan = code(11), code(11, "91440101MA9X"), code(12, "91440101MA9X")
    # The provincial department registers the enterprise and two accredited agencies.
    assert desk.post("gdee-li", "/enterprises", {
        "credit_code": humen, "name": "Dongguan Humen Dyeing & Finishing Co",
        "sector": "TEXTILE_DYEING", "prefecture": "DONGGUAN", "basin": "MAOZHOU",
        "direct_discharger": True}, status=201)["standing"] == "good"
    for n, (agency, name) in enumerate(((huanke, "Guangdong Huanke CP Consulting"),
                                        (lvyuan, "Shenzhen Lvyuan Verification Centre")), 1):
        desk.post("gdee-li", "/agencies", {"credit_code": agency, "name": name}, status=201)
        desk.post("gdee-li", f"/agencies/{agency}/accreditation",
                  {"accreditation": f"GD-CP-ACC-{n:03d}"})
    desk.issue("gdee-li", "humen", "enterprise", humen)
    desk.issue("gdee-li", "huanke", "agency", huanke)
    desk.issue("gdee-li", "lvyuan", "agency", lvyuan)
    # Its discharge permit confirms its annual COD right (kg a year), which caps its surplus.
    right = desk.post("gdee-li", f"/enterprises/{humen}/rights", {
        "kind": "COD", "quantity": 50_000, "permit": "91441900-PW-2023-0117",
        "valid_from": "2023-01-01", "valid_until": "2027-12-31"}, status=201)
    assert (right["quantity"], right["permit"]["number"]) == (50_000, "91441900-PW-2023-0117")

    # The dye works registers its retrofit and engages Huanke to audit it, Lvyuan to verify;
    # Huanke audits before and after it.
    retrofit = desk.post("humen", "/retrofits", {
        "reference": "RF-HM-2025-01", "period": 2025, "kinds": ["COD"],
        "description": "membrane bioreactor on the dyeing effluent line"}, status=201)
    assert (retrofit["enterprise"], retrofit["state"]) == (humen, "registered")
    ref = "/retrofits/RF-HM-2025-01"
    desk.refused("lvyuan", f"{ref}/baseline-audit", {
        "report_sha256": sha("HM baseline audit 2024"), "amounts": {"COD": 48_000}}, 403,
        "agency-not-eligible")  # nobody engaged it for the audits
    desk.post("humen", f"{ref}/engagements", {"stage": "audit", "agency": huanke}, status=201)
    engaged = desk.post("humen", f"{ref}/engagements",
                        {"stage": "verification", "agency": lvyuan}, status=201)
    assert engaged["engagements"] == {"audit": huanke, "verification": lvyuan}
    desk.post("huanke", f"{ref}/baseline-audit", {
        "report_sha256": sha("HM baseline audit 2024"), "amounts": {"COD": 48_000}})
    audited = desk.post("huanke", f"{ref}/post-audit", {
        "report_sha256": sha("HM post audit 2025"), "amounts": {"COD": 12_000}})
    assert audited["post_audit"]["agency"] == huanke

    # The auditing agency may not verify its own work; a different agency does.
    verification = {"report_sha256": sha("HM verification 2025"), "reductions": {"COD": 36_000}}
    desk.refused("huanke", f"{ref}/verification", verification, 403, "agency-not-eligible")
    verified = desk.post("lvyuan", f"{ref}/verification", verification)
    assert verified["verification"]["agency"] == lvyuan

    # Only administrators confirm and issue: one proposes, another approves.
    desk.refused("humen", f"{ref}/confirmation", None, 403, "forbidden")
    surplus = desk.act("gdee-li", f"{ref}/confirmation")
    assert surplus == {"COD": 36_000}
    lot = desk.act("gdee-li", f"{ref}/issuance")["COD"]
    assert (lot["instrument"], lot["quantity"]) == (COD, 36_000)
    assert desk.get("humen", ref)["state"] == "issued"

    # The units are the dye works' to use.
    (balance,) = desk.get("humen", f"/holdings/{humen}")["items"]
    assert (balance["instrument"], balance["available"], balance["usable"]) == (COD, 36_000,
                                                                               36_000)
    (block,) = desk.get("humen", f"/holdings/{humen}/instruments/{COD}")["blocks"]
    assert (block["last"] - block["first"] + 1, block["state"]) == (36_000, "available")
    serial = "-".join(block["serials"].split("-")[:4])

    # Every unit traces back to its retrofit, its evidence and the two agencies.
    provenance = desk.get("humen", f"/serials/{serial}")
    assert provenance["retrofit"]["reference"] == "RF-HM-2025-01"
    assert set(provenance["retrofit"]["agencies"].values()) == {huanke, lvyuan}
    assert sha("HM verification 2025") in json.dumps(provenance)
    assert provenance["final"]["owner"] == humen
    assert desk.get("lvyuan", f"/serials/{serial}") == provenance
    desk.issue("gdee-li", "mawan", "enterprise", register_outsider(desk))
    desk.get("mawan", f"/serials/{serial}", status=404)


def register_outsider(desk: Desk) -> str:
    """Shenzhen Mawan Power, an enterprise with no part in the retrofit."""
    mawan = code(12)
    desk.post("gdee-li", "/enterprises", {
        "credit_code": mawan, "name": "Shenzhen Mawan Power Co", "sector": "THERMAL_POWER",
        "prefecture": "SHENZHEN", "basin": "DANSHUI", "direct_discharger": True}, status=201)
    return mawan


def test_a_trade_settles_and_the_buyer_verifies_its_receipt_offline(seeded: Seeded) -> None:
    desk, w = seeded.desk, seeded.w
    # The department opens the COD market and records Jianhui Paper's deposit of 1M CNY.
    desk.act("gdee-li", "/markets", {"instrument": COD, "reference_price": PRICE,
                                     "sessions": []})
    market = desk.get("jianhui", f"/markets/{COD}")
    assert (market["lower_price"], market["upper_price"]) == (720_000, 880_000)
    assert desk.act("gdee-li", f"/cash/{w.paper}/deposits", {
        "amount": 100_000_000, "reference": "BOC-DG-20250301-0001"}) == 100_000_000
    assert desk.get("jianhui", f"/cash/{w.paper}")["available"] == 100_000_000

    # Huaxin offers 5 t at 8,000 CNY/t; Jianhui takes it.
    offer = desk.post("huaxin", f"/markets/{COD}/orders", {
        "order_id": "HX-0301-1", "side": "sell", "price": PRICE, "quantity": 5000}, status=201)
    assert (offer["filled"], offer["resting"]) == (0, 5000)
    bid = desk.post("jianhui", f"/markets/{COD}/orders", {
        "side": "buy", "price": PRICE, "quantity": 5000}, status=201)
    (fill,) = bid["fills"]
    assert (fill["price"], fill["quantity"], fill["state"]) == (PRICE, 5000, "settled")
    trade_id = fill["trade"]

    # Delivery versus payment: both sides see the trade, the money and the units.
    for who in ("huaxin", "jianhui"):
        (trade,) = desk.get(who, "/trades")["items"]
        assert (trade["trade"], trade["buyer"], trade["seller"], trade["value"]) == (
            trade_id, w.paper, w.dyeing, 4_000_000)
    assert desk.get("jianhui", f"/cash/{w.paper}")["balance"] == 100_000_000 - 4_000_000
    assert desk.get("huaxin", f"/cash/{w.dyeing}")["balance"] == 4_000_000
    (bought,) = desk.get("jianhui", f"/holdings/{w.paper}")["items"]
    assert (bought["instrument"], bought["usable"]) == (COD, 5000)
    (sold,) = desk.get("huaxin", f"/holdings/{w.dyeing}")["items"]
    assert sold["usable"] == 100_000 - 5000

    # The buyer's receipt verifies with nothing but the public verifier key.
    receipt = desk.get("jianhui", f"/trades/{trade_id}/receipt")
    checkpoint = verified_checkpoint(desk, receipt["checkpoint"])
    leaf = b64(receipt["leaf"])
    proof = receipt["proof"]
    assert (proof["index"], proof["size"]) == (receipt["index"], checkpoint.size)
    verify_inclusion(index=proof["index"], size=proof["size"], leaf_hash=hash_leaf(leaf),
                     proof=[b64(h) for h in proof["hashes"]], root=checkpoint.root)
    record = json.loads(leaf)
    assert {"type": "trade", "id": trade_id} in [
        {k: v for k, v in s.items() if k != "parts"} for s in record["subjects"]]
    (part,) = receipt["disclosed"]
    assert receipt["disclosed"][part]["value"][0] == trade_id  # only its own trade opened
    with pytest.raises(VerificationError):  # a receipt for another leaf would not pass
        verify_inclusion(index=proof["index"], size=proof["size"],
                         leaf_hash=hash_leaf(leaf + b" "),
                         proof=[b64(h) for h in proof["hashes"]], root=checkpoint.root)

    # An auditor rebuilds the latest checkpoint's root from the ledger's entries.
    latest = verified_checkpoint(desk)
    assert latest.size >= checkpoint.size
    leaves: list[bytes] = []
    while len(leaves) < latest.size:
        page = desk.get("audit-zhao", "/ledger/entries", start=len(leaves), limit=1000)
        assert [e["index"] for e in page] == list(range(len(leaves), len(leaves) + len(page)))
        leaves += [b64(e["leaf"]) for e in page]
    assert root(leaves[:latest.size]) == latest.root
    assert leaves[receipt["index"]] == leaf
    desk.get("huaxin", "/ledger/entries", status=403)


def test_a_large_trade_waits_for_an_administrator_who_did_not_initiate_it(
        seeded: Seeded) -> None:
    desk, w = seeded.desk, seeded.w
    for admin in ("gdee-wang", "gdee-chen"):
        desk.issue("gdee-li", admin, "administrator")
    # Li opens the market: trades above 10,000 CNY wait for an administrator.
    desk.act("gdee-li", "/markets", {"instrument": COD, "reference_price": PRICE,
                                     "verify_above": 1_000_000, "sessions": []})
    desk.act("gdee-li", f"/cash/{w.paper}/deposits",
             {"amount": 50_000_000, "reference": "BOC-DG-20250302-0007"})
    desk.post("huaxin", f"/markets/{COD}/orders",
              {"side": "sell", "price": PRICE, "quantity": 3000}, status=201)
    # Wang enters Jianhui's telephone order: 3 t, 2,400,000 fen, above the threshold.
    (fill,) = desk.post("gdee-wang", f"/markets/{COD}/orders", {
        "side": "buy", "price": PRICE, "quantity": 3000, "account": w.paper},
        status=201)["fills"]
    assert fill["state"] == "pending"
    trade_id = fill["trade"]
    (queued,) = desk.get("audit-zhao", "/trades/queue")["items"]
    assert (queued["trade"], queued["value"], queued["reasons"]) == (
        trade_id, 2_400_000, ["above-threshold"])
    assert {desk.user_id("gdee-li"), desk.user_id("gdee-wang")} <= set(queued["initiators"])
    assert desk.get("jianhui", f"/cash/{w.paper}")["reserved"] == 2_400_000
    assert desk.get("jianhui", f"/trades/{trade_id}")["state"] == "pending"

    # Four eyes: neither the one who entered the order nor the one who set the threshold.
    before = desk.position
    for initiator in ("gdee-wang", "gdee-li"):
        desk.refused(initiator, f"/trades/queue/{trade_id}/approve", None, 403,
                     "four-eyes-violation")
    desk.refused("huaxin", f"/trades/queue/{trade_id}/approve", None, 403, "forbidden")
    assert desk.position == before
    approved = desk.post("gdee-chen", f"/trades/queue/{trade_id}/approve")
    assert (approved["state"], approved["buyer"], approved["seller"]) == (
        "settled", w.paper, w.dyeing)
    assert desk.get("audit-zhao", "/trades/queue")["items"] == []
    cash = desk.get("jianhui", f"/cash/{w.paper}")
    assert (cash["balance"], cash["reserved"]) == (50_000_000 - 2_400_000, 0)
    (bought,) = desk.get("jianhui", f"/holdings/{w.paper}")["items"]
    assert bought["usable"] == 3000
    receipt = desk.get("jianhui", f"/trades/{trade_id}/receipt")
    assert receipt["event"] == "TradeApproved"
    assert json.loads(b64(receipt["leaf"]))["payload"]["trade_id"] == trade_id


def test_an_auditor_proves_the_later_ledger_extends_the_earlier(seeded: Seeded) -> None:
    desk, w = seeded.desk, seeded.w
    morning = verified_checkpoint(desk)
    # The day's activity: a bilateral transfer and a market opened.
    moved = desk.post("gdee-li", f"/holdings/{w.dyeing}/transfers", {
        "instrument": COD, "buyer": w.paper, "quantity": 2000, "ref": "HX-JH-0303",
        "reason": "correction"}, status=201)
    desk.act("gdee-li", "/markets", {"instrument": COD, "reference_price": PRICE,
                                     "sessions": []})
    evening = verified_checkpoint(desk)
    assert evening.size > morning.size

    proof = desk.get(None, "/ledger/proof/consistency", old=morning.size, new=evening.size)
    assert (proof["old"], proof["new"]) == (morning.size, evening.size)
    hashes = [b64(h) for h in proof["hashes"]]
    verify_consistency(size1=morning.size, size2=evening.size, root1=morning.root,
                       root2=evening.root, proof=hashes)
    forged = bytes(32)
    with pytest.raises(VerificationError):
        verify_consistency(size1=morning.size, size2=evening.size, root1=forged,
                           root2=evening.root, proof=hashes)

    # The transfer's receipt is covered by the evening checkpoint.
    receipt = desk.get("jianhui", f"/holdings/{w.paper}/receipts/{moved['position']}")
    assert receipt["index"] >= morning.size
    covering = verified_checkpoint(desk, receipt["checkpoint"])
    verify_inclusion(index=receipt["index"], size=covering.size,
                     leaf_hash=hash_leaf(b64(receipt["leaf"])),
                     proof=[b64(h) for h in receipt["proof"]["hashes"]], root=covering.root)
    # And the inclusion proof the public endpoint gives for that leaf agrees.
    public = desk.get(None, "/ledger/proof/inclusion", index=receipt["index"],
                      size=evening.size)
    verify_inclusion(index=receipt["index"], size=evening.size,
                     leaf_hash=hash_leaf(b64(receipt["leaf"])),
                     proof=[b64(h) for h in public["hashes"]], root=evening.root)
