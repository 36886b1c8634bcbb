"""Exchange commands: a refused order is one line and exit 2; a trade settles DvP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from registry.bootstrap import build_registry
from tests.support.cli_people import cli_people
from tests.support.world import build_world, issue


def test_trade_settles_and_bad_orders_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=50_000, post=0)
    app.close()
    li, chen = cli_people(tmp_path, ("administrator", "gdee-admin-li"),
                          ("administrator", "gdee-admin-chen"))
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
                 "--entered-by", "p", *at]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("registry: error:")
    assert main([*run, "order", "submit", "COD-2025-MAOZHOU", "--id", "s1", "--account",
                 w.dyeing, "--side", "sell", "--price", "800000", "--quantity", "5000",
                 "--entered-by", "d", *at]) == 0
    assert main([*run, "order", "submit", "COD-2025-MAOZHOU", "--id", "b1", "--account",
                 w.paper, "--side", "buy", "--type", "market", "--quantity", "2000",
                 "--entered-by", "p", *at]) == 0
    capsys.readouterr()
    assert main([*run, "cash", "show", w.paper]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["balance"], shown["reserved"]) == (10_000_000 - 1_600_000, 0)
    assert main([*run, "cash", "show", w.dyeing]) == 0
    assert json.loads(capsys.readouterr().out)["balance"] == 1_600_000
