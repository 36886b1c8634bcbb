"""The fault suite (``make faults``): recording clients drive orders, cancels, deposits and
transfers over HTTP against ``registry serve`` while faults are injected, and after every round
the store and the ledger are checked (`loadtests.fault_checks`).

Fault kinds (``--kinds``, default all; rounds per kind with ``--rounds``):

- ``kill9-sqlite``: ``kill -9`` of ``registry serve`` (SQLite) under traffic, restarted at once;
- ``pg-worker-kill``: ``registry serve --workers 2`` on PostgreSQL, ``kill -9`` of one worker
  (uvicorn replaces it);
- ``pg-restart``: the same service, the PostgreSQL server killed (immediate shutdown) and
  started again after a second (a throw-away cluster from `tests.pgserver`, run as the
  ``postgres`` user when root);
- ``disk-full``: SQLite on a small tmpfs (root only; skipped with a message otherwise) filled to
  the last byte under traffic, then freed;
- ``cli-beside``: ``registry`` CLI writes (deposits) and reads against the served data folder.

A round: the service up; clients sending for ``--traffic-seconds``; the fault at a random moment
in the middle; the clients keep sending through it and the recovery; then every in-doubt write
and the last acknowledged ones before the fault are retried with their Idempotency-Key; the
service stopped; the checks. Recovery time is from the end of the fault (the kill, PostgreSQL
back, the space freed) to the first write acknowledged after it.

Figures (rounds, ops sent and acknowledged, refused, in doubt, lost, duplicated, recovery time)
and every failed check go to ``--json`` (default ``loadtests/results/faults/result.json``) and,
with ``--benchmarks BENCHMARKS.md``, into the fault block of that file (`loadtests.fault_report`).
Exit 0 only if every check of every round passed. ``--skip-checks NAME,…`` leaves named checks
out of the verdict (they are still run and reported).

Run: ``.venv/bin/python -m loadtests.faults [--kinds kill9-sqlite,cli-beside] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests.bench_report import run_info
from loadtests.fault_checks import (
    CHECKS,
    Verdicts,
    ledger_checks,
    registry_cli,
    store_checks,
    summary_of,
)
from loadtests.fault_client import Op, Traffic, World
from loadtests.load_service import Service, free_port, step
from loadtests.load_world import Manifest, issue_tokens, seed

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("kill9-sqlite", "pg-worker-kill", "pg-restart", "disk-full", "cli-beside")
#: about 10 minutes in all on this 2-core machine (BENCHMARKS.md has the measured time)
DEFAULT_ROUNDS = {"kill9-sqlite": 20, "pg-worker-kill": 4, "pg-restart": 4, "disk-full": 3,
                  "cli-beside": 3}
TRADERS = 4
#: a fault is over when writes are acknowledged again; past this, the round says it was not
RECOVERY_LIMIT_S = 30.0
ACKED_RETRIED = 5  # acknowledged writes retried with their key per round (the last before it)
TMPFS_MB = 64


def parse_rounds(text: str) -> dict[str, int]:
    """``3`` (every kind) or ``kill9-sqlite=20,pg-restart=2``."""
    text = text.strip()
    if not text:
        return dict(DEFAULT_ROUNDS)
    if text.isdigit():
        return dict.fromkeys(KINDS, int(text))
    out = dict(DEFAULT_ROUNDS)
    for item in text.split(","):
        kind, _, n = item.partition("=")
        if kind.strip() not in KINDS or not n.strip().isdigit():
            raise argparse.ArgumentTypeError(f"{item!r}: expected KIND=N with KIND one of "
                                             f"{', '.join(KINDS)}")
        out[kind.strip()] = int(n)
    return out


def parse_list(text: str, allowed: tuple[str, ...] | dict[str, str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; one of {', '.join(allowed)}")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--kinds", type=lambda t: parse_list(t, KINDS, "kind"),
                   default=parse_list(env.get("FAULTS_KINDS", ",".join(KINDS)), KINDS, "kind"),
                   help=f"comma-separated fault kinds (default $FAULTS_KINDS or all: "
                        f"{','.join(KINDS)})")
    p.add_argument("--rounds", type=parse_rounds,
                   default=parse_rounds(env.get("FAULTS_ROUNDS", "")),
                   help="rounds: N for every kind, or KIND=N,… (default $FAULTS_ROUNDS, else "
                        + ", ".join(f"{k}={n}" for k, n in DEFAULT_ROUNDS.items()) + ")")
    p.add_argument("--traffic-seconds", type=float,
                   default=float(env.get("FAULTS_TRAFFIC_SECONDS", "3")),
                   help="client traffic per round before the fault's recovery (default 3)")
    p.add_argument("--budget-seconds", type=float,
                   default=float(env.get("FAULTS_BUDGET_SECONDS", "900")),
                   help="start no round after this many seconds (default 900: 15 minutes)")
    p.add_argument("--skip-checks", type=lambda t: parse_list(t, CHECKS, "check"), default=[],
                   help="checks run and reported but left out of the verdict")
    p.add_argument("--results", type=Path, default=ROOT / "loadtests" / "results" / "faults")
    p.add_argument("--json", type=Path, default=None,
                   help="the result file (default RESULTS/result.json)")
    p.add_argument("--benchmarks", type=Path, default=None,
                   help="render the figures into this file's fault block (BENCHMARKS.md)")
    p.add_argument("--seed", type=int, default=int(env.get("FAULTS_SEED", "0")) or None)
    args = p.parse_args(argv)
    if args.json is None:
        args.json = args.results / "result.json"
    return args


# -- the service and the stores -------------------------------------------------------------


class Served(Service):
    """``registry serve`` itself, also with ``--workers N`` (its own supervisor)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "registry.cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers)]

    def worker_pids(self) -> list[int]:
        """The supervisor's worker processes (not multiprocessing's resource tracker)."""
        if self.pid is None:
            return []
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return []
        pids = []
        for child in map(int, children):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"resource_tracker" not in cmdline:
                    pids.append(child)
        return pids

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class Scenario:
    """One store seeded once for a fault kind, and the service over it."""

    kind: str
    folder: Path
    env: dict[str, str]
    manifest: Manifest
    world: World
    workers: int
    service: Served | None = None
    server: Any = None  # the PostgreSQL server, for pg-restart
    mount: Path | None = None  # the tmpfs of disk-full
    previous: Path | None = None  # the checkpoint the next round's ledger must extend
    vkey: Path | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> float:
        """Start the service on a fresh port; seconds until it answered /health."""
        t0 = time.monotonic()
        self.service = Served(self.env, port=free_port(), workers=self.workers,
                              log=self.folder / f"service-{len(self.rounds) + 1}.log")
        self.service.start()
        return time.monotonic() - t0

    def restart_on_same_port(self) -> None:
        assert self.service is not None
        self.service.log = self.service.log.with_suffix(".restarted.log")
        self.service.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


_pg_server: Any = None


def postgres_env(name: str) -> tuple[dict[str, str], Any]:
    """A fresh database on the suite's throw-away PostgreSQL server (started on first use,
    stopped at exit)."""
    global _pg_server  # noqa: PLW0603 - one server for the whole run
    from tests import pgserver

    if _pg_server is None:
        _pg_server = pgserver.start()
    return {**pgserver.create_database(_pg_server, name), "REGISTRY_STORE": "postgres",
            "POSTGRES_POOL_SIZE": "10"}, _pg_server


def mount_tmpfs(folder: Path) -> str | None:
    """A size-limited tmpfs at ``folder``; the reason when it cannot be had."""
    if os.geteuid() != 0:
        return "disk-full needs root to mount a size-limited tmpfs: skipped"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700",
                           "tmpfs", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"disk-full: mount of a tmpfs failed ({done.stderr.strip()}): skipped"
    return None


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def prepare(kind: str, results: Path) -> Scenario | str:
    """Seed the kind's store; a string says why the kind is skipped."""
    folder = results / kind
    if folder.exists():
        unmount(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = folder / "data"
    mount = None
    if kind == "disk-full":
        why = mount_tmpfs(data)
        if why:
            return why
        mount = data
    env = {"REGISTRY_DATA_DIR": str(data), "REGISTRY_RATE_LIMIT": "none"}
    server = None
    if kind.startswith("pg-"):
        pg, server = postgres_env(kind.replace("-", "_"))
        env.update(pg)
    manifest = seed(env, TRADERS)
    manifest.save(folder / "world.json")
    issue_tokens(data, manifest)
    scenario = Scenario(kind=kind, folder=folder, env=env, manifest=manifest,
                        world=World.from_tokens(data / "tokens.json"),
                        workers=2 if kind.startswith("pg-") else 1, server=server, mount=mount)
    baseline = folder / "export-0"
    status, out = registry_cli(env, "ledger", "export", str(baseline))
    if status != 0:
        raise RuntimeError(f"{kind}: the baseline ledger export failed: {out[-500:]}")
    scenario.previous, scenario.vkey = baseline / "checkpoint", baseline / "vkey"
    return scenario


# -- the faults ------------------------------------------------------------------------------


@dataclass
class Fault:
    """What a round's fault did: when it ended (recovery is counted from there) and what it
    found on the way (the CLI's answers)."""

    ended: float | None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)


def kill9_service(s: Scenario) -> Fault:
    assert s.service is not None
    s.service.kill9()
    ended = time.time()
    s.restart_on_same_port()  # as a supervisor (systemd) would, while the clients keep trying
    return Fault(ended, [f"killed pid {s.service.pid}"])


def kill_worker(s: Scenario) -> Fault:
    assert s.service is not None
    workers = s.service.worker_pids()
    if not workers:
        return Fault(None, failures=["no worker process found to kill"])
    victim = random.choice(workers)
    os.kill(victim, signal.SIGKILL)
    return Fault(time.time(), [f"killed worker {victim} of {workers}"])


def restart_postgres(s: Scenario) -> Fault:
    from tests import pgserver

    pgserver.crash(s.server)
    time.sleep(1.0)
    pgserver.restart(s.server)
    return Fault(time.time(), ["PostgreSQL killed (immediate shutdown), restarted after 1 s"])


def fill_disk(s: Scenario) -> Fault:
    assert s.mount is not None
    filler = s.mount / "filler.bin"
    chunk = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:  # to the last byte: then the smallest write fails
            f.write(chunk)
            f.flush()
    with contextlib.suppress(OSError), filler.open("ab") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    time.sleep(2.0)  # writes meet a full disk for a while
    filler.unlink()
    return Fault(time.time(), [f"tmpfs of {TMPFS_MB} MB filled for 2 s, then freed"])


def cli_beside(s: Scenario) -> Fault:
    """CLI deposits and reads against the served folder while the clients run."""
    assert s.service is not None
    fault = Fault(None)
    code = s.manifest.traders[0]
    for k in range(2):
        reference = f"CLI-{len(s.rounds) + 1}-{k}"
        op = Op(k + 1, len(s.rounds) + 1, "cli", "deposit", "CLI", "registry cash deposit",
                {"amount": 100, "reference": reference}, None, [code, reference])
        op.sent = time.time()
        done = cli_run(s.env, "cash", "deposit", code, "--amount", "100", "--reference",
                       reference, "--administrator", "admin-cash")
        op.answered = time.time()
        op.status, op.extra["body"] = done.returncode, done.stderr[-300:]
        if done.returncode == 0:
            op.outcome = "acked"
        elif done.returncode == 3:
            op.outcome = "refused"
            if f"pid {s.service.pid}" not in done.stderr or s.service.url not in done.stderr:
                fault.failures.append(f"refusal does not name the service: {done.stderr!r}")
        else:
            op.outcome = "in-doubt"
            fault.failures.append(f"cli deposit exit {done.returncode}: "
                                  f"{done.stderr.strip()[-200:]}")
        fault.ops.append(op)
    for args in (("balances", "--enterprise", code), ("cash", "show", code)):
        done = cli_run(s.env, *args)
        if done.returncode != 0:
            fault.failures.append(f"registry {' '.join(args)} exit {done.returncode} beside "
                                  f"the service: {done.stderr.strip()[-200:]}")
    fault.notes.append(", ".join(f"cli {op.identity[1]}: {op.outcome}" for op in fault.ops))
    return fault


def cli_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "registry.cli", *args],
                          env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


FAULTS = {"kill9-sqlite": kill9_service, "pg-worker-kill": kill_worker,
          "pg-restart": restart_postgres, "disk-full": fill_disk, "cli-beside": cli_beside}


# -- a round ---------------------------------------------------------------------------------


def first_ack_after(ops: list[Op], moment: float) -> float | None:
    times = [op.answered for op in ops if op.outcome == "acked" and op.sent >= moment]
    return min(times) - moment if times else None


def run_round(s: Scenario, number: int, args: argparse.Namespace) -> dict[str, Any]:
    folder = s.folder / f"round-{number}"
    folder.mkdir()
    try:
        start_s = s.start()
    except RuntimeError as e:
        s.stop()
        return {"round": number, "start_s": None, "fault_at": None, "recovery_s": None,
                "retried": 0, "notes": [], "sent": 0, "acked": 0, "refused": 0, "in_doubt": 0,
                "lost": None, "duplicated": None, "by_kind": {},
                "checks": {"service-starts": [f"{e}; its log ends: {_log_tail(s)}"]},
                "failed_checks": ["service-starts"]}
    traffic = Traffic(s.world, s.service.url if s.service else "", round_no=number,
                      log=folder / "ops.jsonl", seed=(args.seed or 0) * 1000 + number)
    traffic.start()
    time.sleep(args.traffic_seconds * random.uniform(0.3, 0.6))
    fault_at = time.time()
    fault = FAULTS[s.kind](s)
    time.sleep(max(1.5, args.traffic_seconds * 0.5))
    recovery = None if fault.ended is None else first_ack_after(traffic.ops, fault.ended)
    deadline = time.monotonic() + RECOVERY_LIMIT_S
    while fault.ended is not None and recovery is None and time.monotonic() < deadline:
        time.sleep(0.5)  # the clients keep trying: writes must resume by themselves
        recovery = first_ack_after(traffic.ops, fault.ended)
    traffic.stop()
    ops = traffic.ops
    in_doubt = [op for op in ops if op.outcome == "in-doubt"]
    acked_before = [op for op in ops if op.outcome == "acked" and op.key
                    and op.answered <= fault_at][-ACKED_RETRIED:]
    traffic.retry(in_doubt + acked_before)
    traffic.close()
    s.stop()
    all_ops = ops + fault.ops
    v = Verdicts()
    if fault.ended is not None:
        v.run("writes-resume")
        if recovery is None:
            v.fail("writes-resume", f"no write acknowledged within {RECOVERY_LIMIT_S:.0f} s of "
                                    "the fault's end")
    v.run("cli-beside-service" if s.kind == "cli-beside" else "fault-injected").extend(
        fault.failures)
    facts = store_checks(v, s.env, s.manifest, all_ops)
    export = folder / "export"
    assert s.vkey is not None
    if facts is not None:
        ledger_checks(v, s.env, export, vkey=s.vkey, previous=s.previous, facts=facts)
    else:
        v.fail("ledger", "not checked: the store did not read")
    if s.workers > 1:
        worker_ledgers(v, s, export)
    if (export / "checkpoint").exists():
        s.previous = export / "checkpoint"
    figures = summary_of(all_ops, facts)
    result = {"round": number, "start_s": round(start_s, 2),
              "fault_at": datetime.fromtimestamp(fault_at, UTC).isoformat(timespec="seconds"),
              "recovery_s": None if recovery is None else round(recovery, 2),
              "retried": len(in_doubt) + len(acked_before), "notes": fault.notes, **figures,
              "checks": {name: fails[:10] for name, fails in v.failures.items()},
              "failed_checks": sorted(v.failed)}
    (folder / "round.json").write_text(json.dumps(result, indent=1))
    return result


def _log_tail(s: Scenario) -> str:
    if s.service is None or not s.service.log.exists():
        return ""
    lines = s.service.log.read_text(errors="replace").strip().splitlines()
    return " / ".join(lines[-2:])[-300:]


def worker_ledgers(v: Verdicts, s: Scenario, export: Path) -> None:
    """Each worker's own ledger copy extends the previous checkpoint and equals the canonical
    tree (as the load run checks it, `loadtests.run_load.worker_ledger_checks`)."""
    from loadtests.run_load import worker_ledger_checks

    assert s.previous is not None
    before = s.previous.parent
    for ok, text in worker_ledger_checks(s.env, Path(s.env["REGISTRY_DATA_DIR"]), before,
                                         export):
        if not ok:
            v.fail("ledger", text)


def line(kind: str, r: dict[str, Any], total: int, skipped: list[str]) -> str:
    failed = [c for c in r["failed_checks"] if c not in skipped]
    pending = [c for c in r["failed_checks"] if c in skipped]
    rec = "—" if r["recovery_s"] is None else f"{r['recovery_s']:.1f} s"
    verdict = "ok" if not failed else "FAIL " + ", ".join(
        f"{c} ({len(r['checks'][c])})" for c in failed)
    if pending:
        verdict += " (skipped from the verdict: " + ", ".join(pending) + ")"
    return (f"  {kind} round {r['round']}/{total}: sent {r['sent']}, acked {r['acked']}, "
            f"refused {r['refused']}, in doubt {r['in_doubt']}, lost {_n(r['lost'])}, "
            f"duplicated {_n(r['duplicated'])}, recovery {rec}: {verdict}")


def _n(value: int | None) -> str:
    return "unknown" if value is None else str(value)


@contextlib.contextmanager
def cleanup(s: Scenario) -> Iterator[None]:
    try:
        yield
    finally:
        s.stop()
        if s.mount is not None:
            unmount(s.mount)


def run_kind(kind: str, args: argparse.Namespace, t0: float) -> dict[str, Any]:
    rounds = args.rounds[kind]
    out: dict[str, Any] = {"rounds_planned": rounds, "rounds": [], "skipped": None}
    with step(f"{kind}: seed {TRADERS} enterprises on 3 markets"):
        scenario = prepare(kind, args.results)
    if isinstance(scenario, str):
        print(f"  {scenario}", flush=True)
        out["skipped"] = scenario
        return out
    with cleanup(scenario):
        for number in range(1, rounds + 1):
            if time.monotonic() - t0 > args.budget_seconds:
                out["budget_stop"] = f"stopped after {number - 1} rounds: over the budget " \
                                     f"of {args.budget_seconds:.0f} s"
                print(f"  {kind}: {out['budget_stop']}", flush=True)
                break
            r = run_round(scenario, number, args)
            scenario.rounds.append(r)
            out["rounds"].append(r)
            print(line(kind, r, rounds, args.skip_checks), flush=True)
            if "service-starts" in r["failed_checks"]:
                print(f"  {kind}: the service no longer starts; its other rounds are not run",
                      flush=True)
                break
    return out


def totals(kinds: dict[str, dict[str, Any]], skipped: list[str]) -> dict[str, Any]:
    rounds = [r for k in kinds.values() for r in k["rounds"]]
    failed = sorted({c for r in rounds for c in r["failed_checks"] if c not in skipped})
    recoveries = [r["recovery_s"] for r in rounds if r["recovery_s"] is not None]
    return {"rounds": len(rounds), "sent": sum(r["sent"] for r in rounds),
            "acked": sum(r["acked"] for r in rounds),
            "lost": sum(r["lost"] or 0 for r in rounds),
            "duplicated": sum(r["duplicated"] or 0 for r in rounds),
            "unchecked_rounds": sum(r["lost"] is None for r in rounds),
            "recovery_median_s": statistics.median(recoveries) if recoveries else None,
            "failed_checks": failed}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        random.seed(args.seed)
    run = run_info("loadtests.faults", sys.argv[1:] if argv is None else argv)
    args.results.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    plan = ", ".join(f"{k} ×{args.rounds[k]}" for k in args.kinds)
    print(f"fault suite: {plan}; {args.traffic_seconds:g} s of traffic a round; budget "
          f"{args.budget_seconds:.0f} s; results in {args.results}", flush=True)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in args.kinds:
        kinds[kind] = run_kind(kind, args, t0)
    result = {**run, "seconds": round(time.monotonic() - t0, 1),
              "traffic_seconds": args.traffic_seconds, "skip_checks": args.skip_checks,
              "kinds": kinds, "totals": totals(kinds, args.skip_checks), "checks": CHECKS}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    if args.benchmarks is not None:
        from loadtests.fault_report import update_benchmarks

        update_benchmarks(args.benchmarks, result)
    t = result["totals"]
    print(f"\n{t['rounds']} rounds in {result['seconds']:.0f} s: {t['sent']} writes sent, "
          f"{t['acked']} acknowledged, {t['lost']} lost, {t['duplicated']} duplicated; "
          + (f"FAILED: {', '.join(t['failed_checks'])}" if t["failed_checks"] else "PASSED")
          + f"; result in {args.json}")
    return 1 if t["failed_checks"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
