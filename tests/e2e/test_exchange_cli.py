"""Exchange commands: a refused order is one line and exit 2; a trade settles DvP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from registry.bootstrap import build_registry
from registry.events import stored_events
from tests.support.cli_people import cli_people
from tests.support.world import build_world, issue


def test_trade_settles_and_bad_orders_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=50_000, post=0)
    app.close()
    li, chen, dyer, papermaker = cli_people(
        tmp_path, ("administrator", "gdee-admin-li"), ("administrator", "gdee-admin-chen"),
        ("enterprise", w.dyeing), ("enterprise", w.paper))
    run = ["--data-dir", str(tmp_path)]
    at = ["--at", "2025-03-03T10:00:00+08:00"]  # a Monday morning: the market is in session
    for command in (["market", "open", "COD-2025-MAOZHOU", "--reference-price", "800000"],
                    ["cash", "deposit", w.paper, "--amount", "10000000", "--reference", "B-1"]):
        capsys.readouterr()
        assert main([*run, *command, *at], env=li.env()) == 0
        proposal = capsys.readouterr().out.split()[1].rstrip(":")
        assert main([*run, "proposal", "approve", proposal, *at], env=chen.env()) == 0
    capsys.readouterr()
    # more than the paper mill can pay for: refused, nothing written
    assert main([*run, "order", "submit", "COD-2025-MAOZHOU", "--id", "b0", "--account",
                 w.paper, "--side", "buy", "--price", "800000", "--quantity", "20000",
                 *at], env=papermaker.env()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("registry: error:")
    assert main([*run, "order", "submit", "COD-2025-MAOZHOU", "--id", "s1", "--account",
                 w.dyeing, "--side", "sell", "--price", "800000", "--quantity", "5000",
                 *at], env=dyer.env()) == 0
    assert main([*run, "order", "submit", "COD-2025-MAOZHOU", "--id", "b1", "--account",
                 w.paper, "--side", "buy", "--type", "market", "--quantity", "2000",
                 *at], env=papermaker.env()) == 0
    capsys.readouterr()
    assert main([*run, "cash", "show", w.paper]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["balance"], shown["reserved"]) == (10_000_000 - 1_600_000, 0)
    assert main([*run, "cash", "show", w.dyeing]) == 0
    assert json.loads(capsys.readouterr().out)["balance"] == 1_600_000
    # the order names the person who entered it, by user id
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    try:
        payloads = [json.dumps(e.__dict__, default=str) for _, e in stored_events(app)
                    if "Market" in type(e).__qualname__ or "Batch" in type(e).__qualname__]
    finally:
        app.close()
    for person in (dyer, papermaker):
        assert any(person.user_id in p for p in payloads), person.login


def test_an_order_is_entered_by_a_person_who_may_act_for_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(app)
    app.close()
    (dyer,) = cli_people(tmp_path, ("enterprise", w.dyeing))
    order = ["order", "submit", "COD-2025-MAOZHOU", "--id", "x1", "--account", w.paper,
             "--side", "buy", "--price", "800000", "--quantity", "1000",
             "--at", "2025-03-03T10:00:00+08:00"]
    before = _position(tmp_path)
    assert main(order, env=dyer.env()) == 2  # another enterprise's account
    assert "may not enter orders for enterprise" in capsys.readouterr().err
    assert main(order, env={"REGISTRY_DATA_DIR": str(tmp_path)}) == 2  # nobody authenticated
    assert "person's act" in capsys.readouterr().err
    assert main([*order, "--entered-by", "desk"], env=dyer.env()) == 2  # no free-text name
    assert _position(tmp_path) == before


def _position(folder: Path) -> int:
    app = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        return int(app.queries.position())
    finally:
        app.close()
