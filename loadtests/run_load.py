"""A bounded, loud load run of the HTTP API (``make loadtest``, ``make loadtest-postgres``).

1. a fresh data folder (and, for PostgreSQL, a throw-away server from `tests.support.pgserver`); the
   world of `loadtests.load_world` seeded into it and a token for every Locust user;
2. ``registry ledger export`` of the ledger before the run (its checkpoint is the baseline);
3. the service on a free loopback port: ``registry serve`` (SQLite, one process) or uvicorn with
   ``--workers N`` over PostgreSQL (`loadtests.asgi`);
4. Locust headless for ``--seconds`` (``LOADTEST_SECONDS``, default 60) with the realistic users
   (after ``--warmup`` seconds of them as a run of its own, default none: its latencies are
   reported apart, its orders checked with the rest); with ``--compare``, then saturation runs
   of the bare FastAPI reference (`loadtests.bare_app`), the trivial endpoint, order submission
   and the reference again, back to back with the same settings; HTML, JSON and CSV reports
   in the results folder;
5. the service stopped by its pid (SIGTERM, then SIGKILL after a grace period);
6. the checks: thresholds (failure ratio, p95, p99), every acknowledged order stored exactly once,
   units and cash conserved, every book equal to its replay (`loadtests.load_checks`), and
   ``registry ledger export`` + ``registry ledger verify --previous-checkpoint`` +
   ``registry audit matching``; with several workers, each worker's own ledger copy too.

Exit code 0 only if every step and check passed. Run:
``.venv/bin/python -m loadtests.run_load [--store postgres --workers 2] [--compare]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests import load_profile, load_stats
from loadtests.bench_report import run_info
from loadtests.load_checks import check_store
from loadtests.load_service import Service, cli, free_port, step
from loadtests.load_stats import compare_names
from loadtests.load_world import Manifest, issue_tokens, seed

ROOT = Path(__file__).resolve().parent.parent
REALISTIC = ["Trader", "Administrator", "Auditor"]


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--workers", type=int, default=None,
                   help="uvicorn worker processes (default 1 for SQLite, 2 for PostgreSQL)")
    p.add_argument("--seconds", type=int, default=int(env_number("LOADTEST_SECONDS", 60)))
    p.add_argument("--users", type=int, default=int(env_number("LOADTEST_USERS", 50)))
    p.add_argument("--spawn-rate", type=float, default=env_number("LOADTEST_SPAWN_RATE", 25))
    p.add_argument("--spawn-spread", type=float, default=None,
                   help="each user starts after a random delay of up to this many seconds "
                        "(default: Locust's dispatch interval, floor(rate)/rate, so that "
                        "users arrive at the spawn rate instead of in a clump each second; "
                        "0 keeps the clump)")
    p.add_argument("--traders", type=int, default=20, help="seeded enterprises")
    p.add_argument("--warmup", type=int, default=int(env_number("LOADTEST_WARMUP_SECONDS", 0)),
                   help="first run the realistic users this long as a separate 'warmup' run "
                        "(its orders are checked like the others; thresholds apply to the "
                        "realistic run only)")
    p.add_argument("--compare", action="store_true",
                   help="then saturate order submission and /bench/echo, back to back")
    p.add_argument("--compare-seconds", type=int,
                   default=int(env_number("LOADTEST_COMPARE_SECONDS", 20)))
    p.add_argument("--compare-rounds", type=int,
                   default=int(env_number("LOADTEST_COMPARE_ROUNDS", 3)),
                   help="rounds of bare, /bench/echo and orders (then bare again); the "
                        "figures are those of the median round (a shared machine's noise "
                        "moves one window of a few seconds by a fifth)")
    p.add_argument("--max-merge-delay-ms", type=float,
                   default=env_number("LOADTEST_MAX_MERGE_DELAY_MS", 1000),
                   help="p99 of the time a committed event waits for a signed checkpoint")
    p.add_argument("--max-failure-ratio", type=float,
                   default=env_number("LOADTEST_MAX_FAILURE_RATIO", 0.0))
    p.add_argument("--p95-ms", type=float, default=env_number("LOADTEST_P95_MS", 250))
    p.add_argument("--p99-ms", type=float, default=env_number("LOADTEST_P99_MS", 500))
    p.add_argument("--profile", action="store_true",
                   help="sample the service with py-spy during each Locust run")
    p.add_argument("--results", type=Path, default=None,
                   help="folder for reports (default loadtests/results/STORE-TIME)")
    args = p.parse_args(argv)
    if args.workers is None:
        args.workers = 2 if args.store == "postgres" else 1
    if args.store == "sqlite" and args.workers != 1:
        p.error("SQLite is one process: --workers 1")
    if args.results is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        args.results = ROOT / "loadtests" / "results" / f"{args.store}-{stamp}"
    return args


def store_env(args: argparse.Namespace, data: Path) -> dict[str, str]:
    """The registry's environment for this run (no secrets are printed from it)."""
    env = {"REGISTRY_DATA_DIR": str(data)}
    if args.store == "postgres":
        from tests.support import pgserver

        server = pgserver.start()  # stopped at exit (atexit), also on failure
        env.update(pgserver.create_database(server, "loadtest"), REGISTRY_STORE="postgres")
        env["POSTGRES_POOL_SIZE"] = "20"
    return env


def spawn_spread(args: argparse.Namespace) -> float:
    """How long after its dispatch a user may start. Locust dispatches ``floor(rate)``
    users at the same instant once every ``floor(rate) / rate`` seconds (``locust.dispatch``,
    2.x): 25 connections and first requests in the same millisecond, which no population of
    desks does. Spreading each user's start uniformly over that interval makes them arrive
    at the configured rate."""
    if args.spawn_spread is not None:
        return float(args.spawn_spread)
    rate = float(args.spawn_rate)
    return max(1, int(rate)) / rate


def run_locust(args: argparse.Namespace, env: dict[str, str], service: Service, name: str,
               classes: list[str], seconds: int) -> int:
    results: Path = args.results
    base_url = service.url
    locust_env = {**os.environ, **env, "LOADTEST_TOKENS": str(Path(env["REGISTRY_DATA_DIR"])
                                                              / "tokens.json"),
                  "LOADTEST_ACKS": str(results / "acks"),
                  "LOADTEST_SPAWN_SPREAD": str(spawn_spread(args))}
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
               "--headless", "--host", base_url, "--users", str(args.users),
               "--spawn-rate", str(args.spawn_rate), "--run-time", f"{seconds}s",
               "--stop-timeout", "10", "--only-summary", "--csv", str(results / name),
               "--html", str(results / f"{name}.html"),
               "--json-file", str(results / name), "--exit-code-on-error", "1",
               "--loglevel", "WARNING", *classes]
    log = results / f"{name}.log"
    with step(f"locust '{name}': {args.users} users ({args.spawn_rate:g}/s, each within "
              f"{spawn_spread(args):g} s of its dispatch), {seconds} s ({', '.join(classes)})",
              seconds=seconds), log.open("w") as out:
        spy = load_profile.start(service.pid or 0, seconds + 5,
                                 results / f"{name}.folded") if args.profile else None
        code = subprocess.run(command, env=locust_env, stdout=out, stderr=subprocess.STDOUT,
                              cwd=ROOT, check=False).returncode
        if spy is not None:
            spy.wait()
    if spy is not None:
        print(load_profile.top(results / f"{name}.folded"))
    if code != 0:
        print(f"  locust exited {code}; its log, {log}, ends:")
        print("  " + "\n  ".join(log.read_text().splitlines()[-15:]))
    return code


def ledger_checks(env: dict[str, str], data: Path, before: Path) -> list[tuple[bool, str]]:
    after = data / "export-after"
    out = []
    done = cli(env, "ledger", "export", str(after))
    out.append((done.returncode == 0, f"ledger export after the run: {done.summary}"))
    done = cli(env, "ledger", "verify", str(after), "--vkey", str(before / "vkey"),
               "--previous-checkpoint", str(before / "checkpoint"))
    out.append((done.returncode == 0, "ledger verifies and extends the checkpoint taken "
                                      f"before the run: {done.summary}"))
    done = cli(env, "audit", "matching", str(after))
    out.append((done.returncode == 0, f"audit matching: {done.summary}"))
    out += worker_ledger_checks(env, data, before, after)
    return out


def worker_ledger_checks(env: dict[str, str], data: Path, before: Path,
                         after: Path) -> list[tuple[bool, str]]:
    """Each worker's own ledger copy (PostgreSQL runs, `loadtests.asgi`), brought up to date:
    it extends the checkpoint taken before the run and has the canonical ledger's tree."""
    out = []
    body = (after / "checkpoint").read_text().split("\n\n")[0] if after.exists() else None
    for folder in sorted(data.glob("ledger-worker-*")):
        export = data / f"export-{folder.name}"
        done = cli({**env, "REGISTRY_LEDGER_DIR": str(folder)}, "ledger", "export", str(export))
        if done.returncode == 0:
            done = cli(env, "ledger", "verify", str(export), "--vkey", str(before / "vkey"),
                       "--previous-checkpoint", str(before / "checkpoint"))
        same = done.returncode == 0 and body == (export / "checkpoint").read_text().split(
            "\n\n")[0]
        out.append((same, f"{folder.name}: verifies, extends the checkpoint before the run and "
                          f"equals the canonical tree: {done.summary}"))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # date, machine, load average at the start (the machine is shared) and the commit
    args.run = run_info("loadtests.run_load", sys.argv[1:] if argv is None else argv)
    results: Path = args.results
    results.mkdir(parents=True, exist_ok=True)
    data = results / "data"
    print(f"load run: {args.store}, {args.workers} worker(s), {args.users} users, "
          f"{args.seconds} s; results in {results}")
    env = store_env(args, data)
    with step(f"seed {args.traders} enterprises on 3 markets, issue tokens"):
        manifest = seed(env, args.traders)
        manifest.save(results / "world.json")
        issue_tokens(data, manifest, env=env)
    before = data / "export-before"
    done = cli(env, "ledger", "export", str(before))
    if done.returncode != 0:
        print(f"ledger export before the run failed: {done.summary}")
        return 1
    port = free_port()
    service = Service(env, port=port, workers=args.workers, log=results / "service.log")
    codes: dict[str, int] = {}
    with step(f"start the service on 127.0.0.1:{port}"):
        service.start()
    try:
        if args.warmup > 0:
            codes["warmup"] = run_locust(args, env, service, "warmup", REALISTIC, args.warmup)
        if codes.get("warmup") != 3:
            codes["realistic"] = run_locust(args, env, service, "realistic", REALISTIC,
                                            args.seconds)
        if args.compare and codes.get("realistic", 3) != 3:
            codes.update(compare_runs(args, env, service))
        merge = merge_delay(service.url, workers=args.workers or 1)
    finally:
        with step(f"stop the service (pid {service.pid})"):
            service.stop()
    return report(args, env, data, before, manifest, codes, merge)


def compare_runs(args: argparse.Namespace, env: dict[str, str],
                 service: Service) -> dict[str, int]:
    """The saturation runs, back to back with the same Locust settings, interleaved with the
    bare FastAPI reference (`loadtests.bare_app`, one process on a port of its own) so that a
    shared machine's load weighs on both alike: ``--compare-rounds`` rounds of bare,
    /bench/echo and orders, then bare again (`load_stats.compare_names`); each round is
    measured against the bare runs before and after it (`load_stats.summary`)."""
    bare = Service(env, port=free_port(), workers=1, log=args.results / "bare.log", bare=True)
    codes: dict[str, int] = {}
    with step(f"start the bare FastAPI reference on 127.0.0.1:{bare.port}"):
        bare.start()
    try:
        for name, users, target in compare_names(args.compare_rounds):
            codes[name] = run_locust(args, env, bare if target == "bare" else service, name,
                                     [users], args.compare_seconds)
    finally:
        bare.stop()
    return codes


def merge_delay(url: str, *, workers: int) -> list[dict[str, Any]]:
    """Each worker's ``/ledger/status`` once it has signed everything it appended (the merge
    delay its signer measured: signing time minus each event's timestamp; an event not yet
    signed would be missing from the figures, so we wait for it, boundedly). With several
    workers, asked until as many distinct answers came or a bound of tries is reached."""
    import httpx

    found: dict[str, dict[str, Any]] = {}
    for _ in range(50 * workers):
        status = httpx.get(f"{url}/ledger/status", timeout=10).json()
        if status["size"] == status["signed_size"]:
            found[json.dumps(status["merge_delay"], sort_keys=True)] = status
            if len(found) >= workers:
                break
        time.sleep(0.1)
    return list(found.values())


def report(args: argparse.Namespace, env: dict[str, str], data: Path, before: Path,
           manifest: Manifest, codes: dict[str, int],
           merge: list[dict[str, Any]] | None = None) -> int:
    results: Path = args.results
    outcome: list[tuple[bool, str]] = []
    for name, code in codes.items():
        outcome.append((code == 0, f"locust '{name}' exit code {code}"))
    for status in merge or []:
        delay = status["merge_delay"]
        outcome.append((delay["p99_ms"] <= args.max_merge_delay_ms and not status[
            "signing_error"], f"merge delay of {delay['count']} events signed: p50 "
            f"{delay['p50_ms']:.0f} ms, p99 {delay['p99_ms']:.0f} ms, max "
            f"{delay['max_ms']:.0f} ms (goal p99 <= {args.max_merge_delay_ms:g} ms)"))
    stats = {name: load_stats.read(results, name) for name in codes}
    outcome += load_stats.thresholds(stats.get("realistic", {}),
                                     max_failure_ratio=args.max_failure_ratio,
                                     p95_ms=args.p95_ms, p99_ms=args.p99_ms)
    with step("check the store: acknowledged orders, conservation, books = replays"):
        store = check_store(env, manifest, sorted((results / "acks").glob("acks-*.txt")))
    outcome += [(True, t) for t in store.passed] + [(False, t) for t in store.failed]
    with step("check the ledger: export, verify against the checkpoint before, audit matching"):
        outcome += ledger_checks(env, data, before)
    summary = load_stats.summary(stats, store=args.store, workers=args.workers,
                                 users=args.users, seconds=args.seconds,
                                 compare_seconds=args.compare_seconds if args.compare else None,
                                 compare_rounds=args.compare_rounds)
    summary.update(**args.run, spawn_rate=args.spawn_rate, spawn_spread_s=spawn_spread(args),
                   merge_delay=[m["merge_delay"] for m in merge or []],
                   checks=[{"ok": ok, "check": text} for ok, text in outcome])
    (results / "summary.json").write_text(json.dumps(summary, indent=1))
    print()
    print(load_stats.format_summary(summary))
    print()
    for ok, text in outcome:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    failed = sum(not ok for ok, _ in outcome)
    print(f"\n{'PASSED' if not failed else f'FAILED ({failed} checks)'}; reports in {results}")
    return 0 if not failed else 1


def _elapsed_main() -> int:
    t0 = time.monotonic()
    code = main()
    print(f"load run took {time.monotonic() - t0:.0f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(_elapsed_main())
