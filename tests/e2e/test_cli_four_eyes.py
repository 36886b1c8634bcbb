"""Four eyes from the command line, through the same proposal service as ``/proposals``: a
sensitive command of one authenticated administrator only proposes its act; a *different*
administrator's ``registry proposal approve`` brings it into effect; a wrong password acts as
nobody and writes nothing; the events name the real user ids (``actor``, ``approved_by``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli import main
from domain.errors import NotFound
from registry.bootstrap import build_registry
from registry.events import stored_events
from tests.support.cli_people import CliPerson, cli_people
from tests.support.world import AT as WORLD_AT
from tests.support.world import World, build_world, engage, ensure_right, issue, sha

AT: list[str] = []  # now: a proposal reads as of now, open 72 hours


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, World, CliPerson, CliPerson]:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=50_000, post=0)
    app.exchange.deposit(enterprise=w.paper, amount=5_000, reference="SEED",
                         administrator="admin-0", at="2025-03-01T09:00:00+08:00")
    app.holdings.freeze(instrument="COD-2025-MAOZHOU", owner=w.dyeing, ref="F-0", reason="inquiry",
                        quantity=10, at="2025-03-01T09:00:00+08:00")
    for reference, enterprise in (("RF-2", w.paper), ("RF-3", w.power)):  # verified only
        ensure_right(app, enterprise, "COD", at=WORLD_AT)
        app.retrofits.register_retrofit(reference=reference, enterprise=enterprise, period=2025,
                                        kinds=["COD"], description="another", at=WORLD_AT)
        engage(app, w, reference)
        app.retrofits.record_baseline_audit(reference=reference, agency=w.auditor,
                                            report_sha256=sha(f"{reference}/b"),
                                            amounts={"COD": 9_000}, at=WORLD_AT)
        app.retrofits.record_post_audit(reference=reference, agency=w.auditor,
                                        report_sha256=sha(f"{reference}/p"), amounts={"COD": 0},
                                        at=WORLD_AT)
        app.retrofits.verify_retrofit(reference=reference, agency=w.verifier,
                                      report_sha256=sha(f"{reference}/v"),
                                      reductions={"COD": 9_000}, at=WORLD_AT)
    app.retrofits.confirm_retrofit(reference="RF-3", administrator="admin-0", at=WORLD_AT)
    app.close()
    li, chen = cli_people(tmp_path, ("administrator", "gdee-admin-li"),
                          ("administrator", "gdee-admin-chen"))
    return tmp_path, w, li, chen


def _state(folder: Path, paper: str) -> tuple[int, int, bool]:
    """(events stored, the paper mill's balance, whether the COD market is open)."""
    app = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        try:
            app.exchange.book("COD-2025-MAOZHOU")
            is_open = True
        except NotFound:
            is_open = False
        return app.queries.position(), app.exchange.cash_account(paper).balance, is_open
    finally:
        app.close()


def _events(folder: Path, name: str) -> list[dict[str, Any]]:
    app = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        return [e.__dict__ for _, e in stored_events(app) if type(e).__qualname__ == name]
    finally:
        app.close()


def _command(kind: str, w: World) -> list[str]:
    cod = ["--instrument", "COD-2025-MAOZHOU"]
    return {"deposit": ["cash", "deposit", w.paper, "--amount", "1000", "--reference", "B-9"],
            "withdraw": ["cash", "withdraw", w.paper, "--amount", "1000", "--reference", "W-9"],
            "open_market": ["market", "open", "COD-2025-MAOZHOU", "--reference-price",
                            "800000"],
            "freeze": ["freeze", *cod, "--owner", w.dyeing, "--ref", "F-1", "--reason", "x",
                       "--quantity", "100"],
            "unfreeze": ["unfreeze", *cod, "--ref", "F-0"],
            "confirm_retrofit": ["retrofit", "confirm", "RF-2"],
            "issue_surplus": ["retrofit", "issue", "RF-3"],
            "revoke_retrofit": ["retrofit", "revoke", "RF-1", "--reason", "falsified",
                                "--spot-check", "SC-1"],
            "set_obligation": ["enterprise", "obligation", w.chemicals, "--kind", "COD",
                               "--period", "2026", "--target", "100"]}[kind]


#: each sensitive CLI command's act, and the event it stores once in effect
SENSITIVE = {"deposit": "CashAccount.Deposited", "withdraw": "CashAccount.Withdrawn",
             "open_market": "Market.Opened", "freeze": "Instrument.Frozen",
             "unfreeze": "Instrument.Unfrozen", "confirm_retrofit": "Retrofit.Confirmed",
             "issue_surplus": "Retrofit.Issued", "revoke_retrofit": "Retrofit.Revoked",
             "set_obligation": "Enterprise.ObligationChanged"}


def _effect(folder: Path, w: World, kind: str) -> Any:
    """How many times the act has taken effect (its events stored)."""
    return len(_events(folder, SENSITIVE[kind]))


@pytest.mark.parametrize("kind", sorted(SENSITIVE))
def test_one_administrator_alone_cannot_bring_a_cli_act_into_effect(
    folder: tuple[Path, World, CliPerson, CliPerson], kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, w, li, chen = folder
    run = ["--data-dir", str(path)]
    before = _effect(path, w, kind)
    capsys.readouterr()
    assert main([*run, *_command(kind, w), *AT], env=li.login_env()) == 0
    out = capsys.readouterr().out
    assert "awaiting a second administrator" in out
    proposal = out.split()[1].rstrip(":")
    assert _effect(path, w, kind) == before  # proposed only
    # its proposer approving it: refused, one typed line, nothing in effect
    assert main([*run, "proposal", "approve", proposal, *AT], env=li.env()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("registry: error:") and "proposed by" in err[0]
    assert _effect(path, w, kind) == before
    assert main([*run, "proposal", "show", proposal]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "pending"
    # a different administrator: in effect now, the events naming both by user id
    assert main([*run, "proposal", "approve", proposal, *AT], env=chen.env()) == 0, \
        capsys.readouterr().err
    assert _effect(path, w, kind) == before + 1
    event = _events(path, SENSITIVE[kind])[-1]
    assert (event["actor"], event["approved_by"]) == (li.user_id, chen.user_id)
    approved = _events(path, "Proposal.Approved")[-1]
    assert approved["actor"] == chen.user_id
    assert _events(path, "Proposal.Proposed")[-1]["actor"] == li.user_id


@pytest.mark.parametrize("kind", sorted(SENSITIVE))
def test_a_wrong_password_is_refused_and_writes_nothing(
    folder: tuple[Path, World, CliPerson, CliPerson], kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, w, li, _ = folder
    before = _state(path, w.paper)
    capsys.readouterr()
    env = li.login_env(password="not-the-password-of-li")
    assert main(["--data-dir", str(path), *_command(kind, w), *AT], env=env) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "login, password or one-time code is wrong" in err[0]
    assert _state(path, w.paper) == before


def test_holding_the_data_folder_names_nobody(
    folder: tuple[Path, World, CliPerson, CliPerson], capsys: pytest.CaptureFixture[str],
) -> None:
    """Without a login (or a token) a person's act is refused; a forged token too."""
    path, w, li, _ = folder
    before = _state(path, w.paper)
    command = ["--data-dir", str(path), *_command("deposit", w), *AT]
    assert main(command, env={"REGISTRY_DATA_DIR": str(path)}) == 2
    assert "--as LOGIN" in capsys.readouterr().err
    forged = li.token[:-4] + "AAAA"
    assert main(command, env={"REGISTRY_DATA_DIR": str(path), "REGISTRY_TOKEN": forged}) == 2
    assert "invalid" in capsys.readouterr().err
    # an administrator without its one-time code is refused like a wrong password
    env = li.login_env()
    del env["REGISTRY_TOTP"]
    assert main(command, env=env) == 2
    assert _state(path, w.paper) == before


def test_a_second_administrator_rejects_and_nothing_takes_effect(
    folder: tuple[Path, World, CliPerson, CliPerson], capsys: pytest.CaptureFixture[str],
) -> None:
    path, w, li, chen = folder
    run = ["--data-dir", str(path)]
    capsys.readouterr()
    assert main([*run, *_command("deposit", w), *AT], env=li.env()) == 0
    proposal = capsys.readouterr().out.split()[1].rstrip(":")
    assert main([*run, "proposal", "list", "--state", "pending", *AT]) == 0
    assert [p["id"] for p in json.loads(capsys.readouterr().out)] == [proposal]
    before = _effect(path, w, "deposit")
    assert main([*run, "proposal", "reject", proposal, "--reason", "no bank slip", *AT],
                env=chen.env()) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["decided_by"]) == ("rejected", chen.user_id)
    assert main([*run, "proposal", "approve", proposal, *AT], env=chen.env()) == 2
    assert _effect(path, w, "deposit") == before


def test_a_direct_act_names_the_authenticated_administrator(
    folder: tuple[Path, World, CliPerson, CliPerson], capsys: pytest.CaptureFixture[str],
) -> None:
    """A write that needs no second administrator (halting a market) takes effect at once,
    its event naming the user who ran it; without a login it is refused."""
    path, w, li, chen = folder
    run = ["--data-dir", str(path)]
    assert main([*run, *_command("open_market", w)], env=li.env()) == 0
    proposal = capsys.readouterr().out.split()[1].rstrip(":")
    assert main([*run, "proposal", "approve", proposal], env=chen.env()) == 0
    halt = [*run, "market", "halt", "COD-2025-MAOZHOU", "--reason", "inquiry"]
    assert main(halt, env={"REGISTRY_DATA_DIR": str(path)}) == 2
    assert main(halt, env=chen.login_env()) == 0
    (halted,) = _events(path, "Market.Halted")
    assert halted["actor"] == chen.user_id and halted.get("approved_by") is None
