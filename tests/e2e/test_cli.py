"""The ``registry`` command line: help everywhere, one-line errors with status 2, and a journey
through the retrofit lifecycle on the default SQLite store, one process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli import build_parser, command_paths, main
from domain.credit_code import make_credit_code
from tests.support.cli_people import cli_people

MEMORY = {"REGISTRY_STORE": "memory"}
AT = "2025-03-01T09:00:00+08:00"
DYEING = make_credit_code("91440300MA5F00001")  # Shenzhen, Maozhou River, direct discharger
PAPER = make_credit_code("91441900MA5F00002")  # Dongguan, Maozhou River, direct discharger
CHIPS = make_credit_code("91440300MA5F00003")  # Shenzhen, Maozhou River, not direct
AUDITOR = make_credit_code("91440101MA9X00001")
VERIFIER = make_credit_code("91440101MA9X00002")
SHA = "ab" * 32


def run(capsys: pytest.CaptureFixture[str], *argv: str,
        env: dict[str, str] | None = None) -> tuple[int, str, str]:
    status = main(list(argv), env=MEMORY if env is None else env)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *needles: str) -> None:
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("registry: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -- help --------------------------------------------------------------------------------------


def test_every_command_and_action_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = list(command_paths(build_parser()))
    assert ("retrofit", "verify") in paths and ("expansion", "approve") in paths
    assert len(paths) >= 25
    for path in [(), *paths]:
        status, out, err = run(capsys, *path, "--help")
        assert status == 0, (path, err)
        assert out.startswith(f"usage: {' '.join(('registry', *path))}"), (path, out[:80])
        assert err == ""


def test_command_tree_has_the_required_commands() -> None:
    paths = {" ".join(p) for p in command_paths(build_parser())}
    required = {
        "demo", "enterprise register", "enterprise show", "enterprise list",
        "agency register", "agency accredit", "retrofit register", "retrofit baseline",
        "retrofit post", "retrofit verify", "retrofit confirm", "retrofit issue",
        "retrofit revoke", "retrofit show", "transfer", "balances", "provenance", "report",
        "expire", "freeze", "unfreeze", "expansion submit", "expansion approve",
        "expansion reject",
    }
    assert required <= paths, required - paths


# -- bad input ---------------------------------------------------------------------------------

REGISTER = ("enterprise", "register", "--name", "Shenzhen Huaxin Printing & Dyeing Co",
            "--sector", "TEXTILE_DYEING", "--prefecture", "SHENZHEN", "--direct-discharger")
BASELINE = ("retrofit", "baseline", "RF-1", "--agency", AUDITOR, "--report-sha256", SHA)

BAD_INPUTS = {
    "no command": ((), ("required", "COMMAND")),
    "unknown command": (("mint",), ("invalid choice", "mint")),
    "group without action": (("retrofit",), ("retrofit", "ACTION")),
    "bad check character": (
        (*REGISTER, "--basin", "MAOZHOU", "--credit-code", DYEING[:-1] + "0"),
        ("--credit-code", "check character"),
    ),
    "forbidden character in credit code": (
        ("enterprise", "show", "91440300MA5F0000I1"), ("not allowed", "'I'"),
    ),
    "short credit code": (("enterprise", "show", "9144"), ("18 characters",)),
    "unknown basin": (
        (*REGISTER, "--basin", "YANGTZE", "--credit-code", DYEING), ("river basin", "YANGTZE"),
    ),
    "unknown sector": (
        ("enterprise", "register", "--credit-code", DYEING, "--name", "X", "--sector",
         "MINING", "--prefecture", "SHENZHEN", "--basin", "MAOZHOU", "--indirect-discharger"),
        ("sector", "MINING"),
    ),
    "discharger flag missing": (
        ("enterprise", "register", "--credit-code", DYEING, "--name", "X", "--sector",
         "PAPER", "--prefecture", "SHENZHEN", "--basin", "MAOZHOU"),
        ("--direct-discharger",),
    ),
    "decimal amount": ((*BASELINE, "--amounts", "COD=100.5"), ("COD", "whole number", "100.5")),
    "decimal amount in JSON": (
        (*BASELINE, "--amounts", '{"COD": 1.5}'), ("COD", "whole number"),
    ),
    "malformed JSON": ((*BASELINE, "--amounts", '{"COD": 100000,'), ("invalid JSON",)),
    "amount without kind": ((*BASELINE, "--amounts", "100000"), ("KIND=AMOUNT",)),
    "decimal quantity": (
        ("transfer", "--instrument", "COD-2025-MAOZHOU", "--seller", DYEING, "--buyer", PAPER,
         "--quantity", "2.5", "--ref", "T-1",
         "--reason", "correction"),
        ("--quantity", "whole number"),
    ),
    "unknown retrofit": (("retrofit", "show", "RF-404"), ("retrofit RF-404 not found",)),
    "unknown retrofit to audit": (
        (*BASELINE, "--amounts", "COD=100000"), ("retrofit RF-1 not found",),
    ),
    "unknown enterprise": (("enterprise", "show", DYEING), (DYEING, "not found")),
    "malformed instrument": (
        ("transfer", "--instrument", "CODMAOZHOU", "--seller", DYEING, "--buyer", PAPER,
         "--quantity", "5", "--ref", "T-1",
         "--reason", "correction"),
        ("--as LOGIN",),  # a person's act: who acts comes before what is wrong with it
    ),
    "malformed serial": (("provenance", "COD-2025-MAOZHOU"), ("serial number",)),
    "time without offset": (
        ("agency", "register", "--credit-code", AUDITOR, "--name", "A", "--at",
         "2025-03-01T09:00:00"),
        ("--at", "UTC offset"),
    ),
    "time that is no time": (
        ("agency", "register", "--credit-code", AUDITOR, "--name", "A", "--at", "noon"),
        ("--at", "ISO 8601"),
    ),
    "year that is no year": (
        ("report", "--enterprise", DYEING, "--year", "twenty"), ("--year", "integer"),
    ),
    "negative log position": (("balances", "--as-of", "-3"), ("--as-of", "non-negative")),
    "report format": (
        ("report", "--enterprise", DYEING, "--year", "2025", "--format", "xml"), ("xml",),
    ),
    "missing report file": (
        ("retrofit", "baseline", "RF-1", "--agency", AUDITOR, "--report", "/nonexistent/r.pdf",
         "--amounts", "COD=1"),
        ("cannot read report",),
    ),
}


@pytest.mark.parametrize(("argv", "needles"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gets_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    status, out, err = run(capsys, *argv)
    assert_one_line_error(status, err, *needles)
    assert out == ""


def test_bad_store_setting_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "balances", env={"REGISTRY_STORE": "oracle"})
    assert_one_line_error(status, err, "REGISTRY_STORE", "oracle")


def test_data_dir_that_is_a_file_is_bad_input(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    status, _, err = run(capsys, "balances", "--data-dir", str(blocker / "data"), env={})
    assert_one_line_error(status, err, "data folder")


def test_domain_refusal_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # the memory store starts empty in every process, so a one-shot refusal suffices here
    status, _, err = run(capsys, "retrofit", "register", "RF/1", "--enterprise", DYEING,
                         "--period", "2025", "--kinds", "COD", "--description", "x",
                         "--at", AT)
    assert_one_line_error(status, err, DYEING, "not found")


# -- a journey on the default SQLite store, one process state per command ----------------------


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"REGISTRY_DATA_DIR": str(tmp_path / "data")}


def test_retrofit_journey_persists_across_invocations(
    capsys: pytest.CaptureFixture[str], sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    def ok(*argv: str, as_admin: bool = False) -> str:
        env = {**sqlite_env, **li.env()} if as_admin else sqlite_env
        status, out, err = run(capsys, *argv, env=env)
        assert status == 0, err
        return out

    def refused(*argv: str, as_admin: bool = False) -> str:
        env = {**sqlite_env, **li.env()} if as_admin else sqlite_env
        status, _, err = run(capsys, *argv, env=env)
        assert_one_line_error(status, err)
        return err

    li, chen = cli_people(tmp_path / "data", ("administrator", "gdee-admin-li"),
                          ("administrator", "gdee-admin-chen"))

    def decided(*argv: str) -> tuple[int, str, str]:
        """Proposed by one administrator, approved by another at the same time."""
        at = list(argv[argv.index("--at"):][:2]) if "--at" in argv else []
        status, out, err = run(capsys, *argv, env={**sqlite_env, **li.env()})
        assert status == 0 and "awaiting a second administrator" in out, err
        return run(capsys, "proposal", "approve", out.split()[1].rstrip(":"), *at,
                   env={**sqlite_env, **chen.env()})

    def approved(*argv: str) -> Any:
        status, out, err = decided(*argv)
        assert status == 0, err
        return json.loads(out)["result"]

    def refused_on_approval(*argv: str) -> str:
        status, _, err = decided(*argv)
        assert_one_line_error(status, err)
        return err

    for code, name, sector, city, flag in (
        (DYEING, "Shenzhen Huaxin Printing & Dyeing Co", "TEXTILE_DYEING", "SHENZHEN",
         "--direct-discharger"),
        (PAPER, "Dongguan Jianhui Paper Co", "PAPER", "dongguan", "--direct-discharger"),
        (CHIPS, "Shenzhen Guangming Electronics Co", "ELECTRONICS", "SHENZHEN",
         "--indirect-discharger"),
    ):
        ok("enterprise", "register", "--credit-code", code, "--name", name, "--sector", sector,
           "--prefecture", city, "--basin", "MAOZHOU", flag, "--at", AT)
    assert "already exists" in refused(*REGISTER, "--basin", "MAOZHOU", "--credit-code", DYEING)
    listed = json.loads(ok("enterprise", "list", "--json"))
    assert [e["credit_code"] for e in listed] == [DYEING, PAPER, CHIPS]
    assert listed[1]["prefecture"] == "DONGGUAN"

    for n, code in enumerate((AUDITOR, VERIFIER), start=1):
        ok("agency", "register", "--credit-code", code, "--name", f"Agency {n}", "--at", AT)
        ok("agency", "accredit", code, "--accreditation", f"GD-CP-ACC-{n:03d}", "--at", AT)


    approved("enterprise", "obligation", DYEING, "--kind", "cod", "--period", "2025",
             "--target", "10000", "--at", AT)

    report = tmp_path / "baseline-audit.pdf"
    report.write_bytes(b"%PDF-1.7 baseline audit of RF-1")
    ok("retrofit", "register", "RF-1", "--enterprise", DYEING, "--period", "2025",
       "--kinds", "COD", "--description", "membrane bioreactor")  # --at defaults to now
    assert "not engaged" in refused("retrofit", "baseline", "RF-1", "--agency", AUDITOR,
                                    "--report", str(report), "--amounts", "COD=100000")
    ok("retrofit", "engage", "RF-1", "--stage", "audit", "--agency", AUDITOR, "--at", AT)
    ok("retrofit", "engage", "RF-1", "--stage", "verification", "--agency", VERIFIER,
       "--at", AT)
    ok("retrofit", "baseline", "RF-1", "--agency", AUDITOR, "--report", str(report),
       "--amounts", "COD=100000", "--at", "2025-03-02T09:00:00+08:00")
    ok("retrofit", "post", "RF-1", "--agency", AUDITOR, "--report-sha256", SHA,
       "--amounts", '{"COD": 40000}', "--at", "2025-06-02T09:00:00+08:00")
    assert "audited" in refused("retrofit", "verify", "RF-1", "--agency", AUDITOR,
                                "--report-sha256", SHA, "--reductions", "COD=55000")
    assert "another stage" in refused("retrofit", "verify", "RF-1", "--agency", VERIFIER,
                                      "--report-sha256", SHA, "--reductions", "COD=55_000")
    ok("retrofit", "verify", "RF-1", "--agency", VERIFIER, "--report-sha256", "cd" * 32,
       "--reductions", "COD=55_000", "--at", "2025-07-02T09:00:00+08:00")
    confirmed = approved("retrofit", "confirm", "RF-1", "--at", "2025-08-01T09:00:00+08:00")
    assert confirmed == {"COD": 45_000}
    assert "no confirmed COD right" in refused_on_approval("retrofit", "issue", "RF-1")
    ok("right", "confirm", DYEING, "--kind", "COD", "--quantity", "80000", "--permit",
       "PW-SZ-2023-001", "--valid-from", "2023-01-01", "--valid-until", "2027-12-31",
       "--at", AT, as_admin=True)
    # the cap: 80,000 right − 45,000 post-retrofit level − 0 remaining task = 35,000 < 45,000
    assert "exceeds its confirmed right" in refused_on_approval("retrofit", "issue", "RF-1")
    ok("right", "confirm", DYEING, "--kind", "COD", "--quantity", "90000", "--permit",
       "PW-SZ-2025-002", "--valid-from", "2025-01-01", "--valid-until", "2029-12-31",
       "--at", AT, as_admin=True)
    issued = approved("retrofit", "issue", "RF-1", "--at", "2025-08-02T09:00:00+08:00")
    lot = issued["COD"]
    assert (lot["instrument"], lot["first"], lot["last"]) == ("COD-2025-MAOZHOU", 1, 45_000)

    shown = json.loads(ok("retrofit", "show", "RF-1"))
    assert shown["state"] == "issued"
    assert shown["baseline_audit"]["report_sha256"] != SHA  # the file's own digest
    assert shown["post_audit"]["report_sha256"] == SHA
    assert shown["baseline_audit"]["at"] == "2025-03-02T09:00:00+08:00"

    assert json.loads(ok("balances", "--json")) == [
        {"enterprise": DYEING, "instrument": "COD-2025-MAOZHOU",
         "term": {"first_year": 2026, "last_year": 2030, "ends_on": "2030-12-31"},
         "available": 45_000,
         "frozen": 0, "reserved": 0, "consumed": 0, "retired": 0, "expired": 0, "revoked": 0}]
    assert "COD-2025-MAOZHOU  2026-2030" in ok("balances")  # the table shows the term too
    assert "direct dischargers" in refused(
        "transfer", "--instrument", "COD-2025-MAOZHOU", "--seller", DYEING, "--buyer", CHIPS,
        "--quantity", "1000", "--ref", "T-0", "--reason", "correction",
        "--at", "2025-09-01T09:00:00+08:00", as_admin=True)
    out = ok("transfer", "--instrument", "cod-2025-maozhou", "--seller", DYEING,
             "--buyer", PAPER, "--quantity", "5000", "--ref", "T-1",
             "--reason", "correction", "--at", "2025-09-01T09:00:00+08:00", as_admin=True)
    assert "rules GD-2023.1" in out
    assert "only" in refused("transfer", "--instrument", "COD-2025-MAOZHOU", "--seller", PAPER,
                             "--buyer", DYEING, "--quantity", "5001", "--ref", "T-2",
                             "--reason", "correction", as_admin=True)

    ok("expansion", "submit", "EX-1", "--enterprise", PAPER, "--instrument", "COD-2025-MAOZHOU",
       "--quantity", "2000", "--project", "paper machine 3", "--at", "2025-10-01T09:00:00+08:00")
    ok("expansion", "approve", "EX-1", "--approval",
       "GDEE-2025-17", "--at", "2025-10-09T09:00:00+08:00", as_admin=True)
    approved("freeze", "--instrument", "COD-2025-MAOZHOU", "--owner", DYEING, "--ref", "F-1",
             "--reason", "inquiry", "--quantity", "1000", "--at", "2025-10-10T09:00:00+08:00")
    assert "no frozen units" in refused_on_approval("unfreeze", "--instrument",
                                                    "COD-2025-MAOZHOU", "--ref", "F-404")
    approved("unfreeze", "--instrument", "COD-2025-MAOZHOU", "--ref", "F-1",
             "--at", "2025-10-11T09:00:00+08:00")

    balances = {r["enterprise"]: r for r in json.loads(ok("balances", "--json"))}
    assert balances[DYEING]["available"] == 40_000
    assert balances[PAPER]["available"] == 3_000 and balances[PAPER]["consumed"] == 2_000
    table = ok("balances", "--enterprise", PAPER)
    assert "COD-2025-MAOZHOU" in table and "3,000" in table and DYEING not in table

    provenance = json.loads(ok("provenance", "COD-2025-MAOZHOU-000000001"))
    assert provenance["final"]["owner"] == PAPER
    assert [h["event"] for h in provenance["history"]] == ["LotIssued", "Transferred",
                                                           "Reserved", "Consumed"]
    csv_text = ok("report", "--enterprise", DYEING, "--year", "2025", "--format", "csv")
    assert csv_text.splitlines()[1].startswith(f"{DYEING},2025,COD,55000,45000,5000,0")
    assert json.loads(ok("expire", "--as-of", "2031-01-01",
                         "--at", "2031-01-01T00:00:00+08:00"))["expired"] == {
        "COD-2025-MAOZHOU": 43_000}

    revoked = approved("retrofit", "revoke", "RF-1", "--reason", "falsified meter data",
                       "--spot-check", "SC-9", "--restrict-agency", VERIFIER,
                       "--at", "2031-02-01T09:00:00+08:00")
    assert revoked["COD"]["unrecoverable"] == 2_000
    assert json.loads(ok("enterprise", "show", DYEING))["standing"] == "restricted"
    assert "barred from trading" in refused(
        "transfer", "--instrument", "COD-2025-MAOZHOU", "--seller", DYEING, "--buyer", PAPER,
        "--quantity", "1", "--ref", "T-3",
         "--reason", "correction", as_admin=True)
    ok("retrofit", "register", "RF-2", "--enterprise", PAPER, "--period", "2031",
       "--kinds", "NOX,COD", "--description", "boiler and wastewater upgrade")
    ok("retrofit", "engage", "RF-2", "--stage", "audit", "--agency", AUDITOR)
    ok("retrofit", "baseline", "RF-2", "--agency", AUDITOR, "--report-sha256", SHA,
       "--amounts", "COD=9000,NOX=5000")
    ok("retrofit", "post", "RF-2", "--agency", AUDITOR, "--report-sha256", "ef" * 32,
       "--amounts", "NOX=4000,COD=8000")
    assert "barred by its credit record" in refused(
        "retrofit", "verify", "RF-2", "--agency", VERIFIER, "--report-sha256", SHA,
        "--reductions", "COD=1000,NOX=1000")


def test_register_without_at_records_china_standard_time(
    capsys: pytest.CaptureFixture[str], sqlite_env: dict[str, str]
) -> None:
    assert run(capsys, "agency", "register", "--credit-code", AUDITOR, "--name", "A",
               env=sqlite_env)[0] == 0
    assert run(capsys, "enterprise", "register", "--credit-code", DYEING, "--name", "D",
               "--sector", "PAPER", "--prefecture", "SHENZHEN", "--basin", "MAOZHOU",
               "--direct-discharger", env=sqlite_env)[0] == 0
    _, out, _ = run(capsys, "enterprise", "show", DYEING, env=sqlite_env)
    assert json.loads(out)["registered_at"].endswith("+08:00")


def test_per_command_data_dir_overrides_the_global_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    status, _, err = run(capsys, "--data-dir", str(first), "agency", "register",
                         "--data-dir", str(second), "--credit-code", AUDITOR, "--name", "A",
                         "--at", AT, env={})
    assert status == 0, err
    assert (second / "registry.sqlite").exists() and not first.exists()
    status, out, _ = run(capsys, "--data-dir", str(tmp_path / "env"), "balances", env={})
    assert (status, out.strip()) == (0, "no holdings")


# -- the installed console script, in its own process ------------------------------------------


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("registry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "REGISTRY_STORE": "memory"}
    helped = subprocess.run([*console_script(), "retrofit", "verify", "--help"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=False)
    assert helped.returncode == 0 and "--reductions" in helped.stdout

    bad = subprocess.run([*console_script(), "retrofit", "baseline", "RF-1", "--agency", AUDITOR,
                          "--report-sha256", SHA, "--amounts", '{"COD": '], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("registry: error: ") and "invalid JSON" in bad.stderr
    assert "Traceback" not in bad.stderr

    demo = subprocess.run([*console_script(), "demo"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert demo.returncode == 0, demo.stderr
    assert "Enterprises: 24" in demo.stdout and demo.stderr == ""
    assert not (tmp_path / "data").exists()  # the memory store writes no files

    module = subprocess.run([sys.executable, "-m", "cli", "unknown"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=False)
    assert module.returncode == 2 and module.stderr.startswith("registry: error: ")
