"""The fault suite's verdicts (`loadtests.fault_client`, `loadtests.fault_checks`,
`loadtests.fault_report`): answers classified as the store must see them, each promise checked
by name and able to fail, the BENCHMARKS block rendered from the result file alone."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from domain.enterprise import Enterprise
from loadtests import fault_kinds, faults
from loadtests.fault_checks import (
    StoreFacts,
    Verdicts,
    check_acked_replays,
    check_answers,
    check_ops,
    read_store,
)
from loadtests.fault_client import Op, classify
from loadtests.fault_kinds import Fault, KindUnavailable
from loadtests.fault_report import BEGIN, END, render, update_benchmarks
from loadtests.faults import DEFAULT_ROUNDS, KINDS, fault_verdicts, parse_rounds
from loadtests.load_checks import StoredRequests
from loadtests.load_world import Manifest
from registry.bootstrap import build_registry
from tests.support import pgserver
from tests.support.world import AT, code


@pytest.mark.parametrize(("status", "problem", "error", "outcome"), [
    (201, None, None, "acked"),
    (200, None, None, "acked"),
    (422, "invalid-input", None, "refused"),
    (404, "not-found", None, "refused"),
    (409, "idempotency-key-in-progress", None, "in-doubt"),
    (409, "idempotency-outcome-unknown", None, "in-doubt"),
    (503, "storage-unavailable", None, "refused"),
    (503, "outcome-unknown", None, "in-doubt"),
    (500, "internal-error", None, "in-doubt"),
    (None, None, "not-connected", "refused"),  # never sent
    (None, None, "no-answer", "in-doubt"),  # sent, then the connection went
])
def test_answers_are_classified_as_the_store_must_see_them(
        status: int | None, problem: str | None, error: str | None, outcome: str) -> None:
    assert classify(status, problem, error) == outcome


def test_rounds_are_one_number_or_per_kind() -> None:
    assert parse_rounds("") == DEFAULT_ROUNDS
    assert parse_rounds("2") == dict.fromkeys(KINDS, 2)
    assert parse_rounds("pg-restart=1")["pg-restart"] == 1
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rounds("meteor=3")


def _op(kind: str, outcome: str, identity: list[str], **kw: object) -> Op:
    op = Op(1, 1, "F1-d0", kind, "POST", "/", {}, "k1", identity, **kw)  # type: ignore[arg-type]
    op.outcome = outcome
    return op


def _facts(orders: dict[str, int]) -> StoreFacts:
    markets = StoredRequests(orders={"ENERGY-2025-GD": Counter(orders)},
                             cancels={"ENERGY-2025-GD": Counter()})
    return StoreFacts(markets=markets, transfers=Counter(), deposits={}, positions=[], gaps=[])


def test_each_promise_about_an_op_fails_by_name() -> None:
    facts = _facts({"lost-never": 0, "twice": 2, "refused-but-stored": 1, "doubt": 1})
    ops = [_op("order", "acked", ["ENERGY-2025-GD", "twice"]),
           _op("order", "refused", ["ENERGY-2025-GD", "refused-but-stored"]),
           _op("order", "in-doubt", ["ENERGY-2025-GD", "doubt"],
               retry={"status": 409, "problem": "idempotency-key-in-progress", "error": None,
                      "replayed": False, "outcome": "in-doubt"}),
           _op("order", "acked", ["ENERGY-2025-GD", "lost"], status=201,
               retry={"status": 409, "problem": "idempotency-outcome-unknown", "error": None,
                      "replayed": False, "outcome": "in-doubt"})]
    v = Verdicts()
    check_ops(v, facts, ops)
    check_acked_replays(v, ops)
    failed = v.failed
    assert set(failed) == {"acked-stored-once", "refused-absent", "in-doubt-settled-by-key",
                           "acked-replay-by-key"}
    assert len(failed["acked-stored-once"]) == 2  # stored twice; and lost
    assert "answered as a refusal" in failed["refused-absent"][0]
    assert "still in doubt" in failed["in-doubt-settled-by-key"][0]


def test_an_in_doubt_write_settled_by_its_key_passes() -> None:
    facts = _facts({"doubt": 1})
    op = _op("order", "in-doubt", ["ENERGY-2025-GD", "doubt"],
             retry={"status": 201, "problem": None, "error": None, "replayed": True,
                    "outcome": "acked"})
    v = Verdicts()
    check_ops(v, facts, [op])
    assert not v.failed and "in-doubt-settled-by-key" in v.failures


def test_a_version_gap_in_the_store_is_found(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    firm = code(1)
    e = Enterprise.register(credit_code=firm, name="Firm", sector="PAPER", prefecture="DONGGUAN",
                            basin="MAOZHOU", direct_discharger=True, at=AT)
    for year in (2024, 2025):
        e.set_obligation(kind="COD", period=year, target=1000, at=AT)
    first, _, third = e.collect_events()
    app.recorder.insert_events([app.mapper.to_stored_event(x) for x in (first, third)])
    facts = read_store(app, Manifest(traders=[], instruments=[], units_each=0, cash_each=0,
                                     markets=[]))
    app.close()
    assert len(facts.gaps) == 1 and "version 3 stored after 1" in facts.gaps[0]


def test_the_benchmarks_block_comes_from_the_result_alone(tmp_path: Path) -> None:
    result = {
        "command": ".venv/bin/python -m loadtests.faults", "date": "2026-12-01T23:00+00:00",
        "code": "abc1234", "cores": 2, "load_average": [1.0, 1.0, 1.0], "seconds": 61.0,
        "traffic_seconds": 3, "skip_checks": [], "checks": {"ledger": "the ledger verifies"},
        "totals": {"rounds": 1, "sent": 10, "acked": 9, "lost": 0, "duplicated": 0,
                   "failed_checks": ["no-version-gap"]},
        "kinds": {"disk-full": {"rounds_planned": 1, "skipped": None, "rounds": [{
            "round": 1, "sent": 10, "acked": 9, "refused": 0, "in_doubt": 1, "lost": 0,
            "duplicated": 0, "recovery_s": 0.4, "failed_checks": ["no-version-gap"],
            "checks": {"no-version-gap": ["aggregate X: version 19 stored after 16"]}}]},
            "pg-restart": {"rounds_planned": 4, "skipped": "no server", "rounds": []}},
    }
    text = render(result)
    assert "| disk-full | 1 | 10 | 9 | 0 | 1 | 0 | 0 | 0.4 s / 0.4 s | no-version-gap" in text
    assert "skipped: no server" in text and "version 19 stored after 16" in text
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(f"# Benchmarks\n\n{BEGIN}\nold\n{END}\n\nkept\n")
    update_benchmarks(out, result)
    written = out.read_text()
    assert "old" not in written and written.endswith("\n\nkept\n") and "61 s" in written


def test_bare_500s_and_slow_answers_fail_by_name() -> None:
    ops = [_op("deposit", "in-doubt", ["X", "D1"], status=500, sent=0.0, answered=0.1),
           _op("deposit", "refused", ["X", "D2"], status=503, problem="storage-unavailable",
               sent=0.0, answered=0.1),
           _op("order", "in-doubt", ["X", "O1"], error="no-answer", sent=0.0, answered=15.0)]
    v = Verdicts()
    check_answers(v, ops)
    assert len(v.failed["storage-errors-typed"]) == 1  # the 500, not the 503
    assert "after 15.0 s" in v.failed["answers-in-time"][0]


def test_a_kind_that_cannot_run_fails_the_suite_naming_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(kind: str, results: Path) -> None:
        raise KindUnavailable(f"{kind}: no throw-away PostgreSQL server: binaries not found")

    monkeypatch.setattr(faults, "prepare", unavailable)
    status = faults.main(["--kinds", "pg-restart", "--rounds", "pg-restart=1",
                          "--results", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    assert status == 1 and not result["totals"]["passed"]
    assert result["totals"]["shortfalls"] == ["pg-restart could not run"]
    text = render(result)
    assert "**could not run**: pg-restart: no throw-away PostgreSQL" in text
    assert "**failed** (pg-restart could not run)" in text


def test_without_postgresql_binaries_a_postgresql_kind_is_unavailable_not_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise RuntimeError("PostgreSQL server binaries not found")

    monkeypatch.setattr(pgserver, "_bindir", missing)
    monkeypatch.setattr(fault_kinds, "_pg_server", None)
    with pytest.raises(KindUnavailable, match="no throw-away PostgreSQL server: PostgreSQL "
                                              "server binaries not found"):
        fault_kinds.prepare("pg-worker-kill", tmp_path)


def test_rounds_cut_by_the_budget_fail_the_suite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults, "prepare", lambda kind, results: SimpleNamespace(
        stop=lambda: None, mount=None))
    status = faults.main(["--kinds", "kill9-sqlite", "--budget-seconds", "0",
                          "--results", str(tmp_path)])
    result = json.loads((tmp_path / "result.json").read_text())
    assert status == 1
    assert result["totals"]["shortfalls"] == [
        "kill9-sqlite cut short by the budget (0 of 20 rounds)"]


def _fault_op(sent: float, problem: str | None) -> Op:
    return _op("order", "refused" if problem else "acked", ["X", f"O{sent}"],
               status=503 if problem else 201, problem=problem, sent=sent, answered=sent)


def test_the_checks_on_the_fault_itself_fail_by_name() -> None:
    full = Fault(ended=20.0)
    met = [_fault_op(15.0, "storage-unavailable")]
    assert not fault_verdicts("disk-full", full, met, 10.0, 0.1).failed
    missed = fault_verdicts("disk-full", full, [_fault_op(25.0, "storage-unavailable")],
                            10.0, 0.1)
    assert set(missed.failed) == {"fault-injected"}
    assert "no write met the full disk" in missed.failed["fault-injected"][0]
    stuck = fault_verdicts("kill9-sqlite", Fault(ended=20.0), [], 10.0, None)
    assert set(stuck.failed) == {"writes-resume"}
    cli = fault_verdicts("cli-beside", Fault(None, cli_failures=["cli deposit exit 2: ..."]),
                         [], 10.0, 0.1)
    assert set(cli.failures) == {"service-starts", "writes-resume", "fault-injected",
                                 "cli-beside-service"}
    assert set(cli.failed) == {"cli-beside-service"}
