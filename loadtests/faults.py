"""The fault suite (``make faults``): recording clients drive orders, cancels, deposits and
transfers over HTTP against ``registry serve`` while faults are injected, and after every round
the store and the ledger are checked (`loadtests.fault_checks`).

Fault kinds (``--kinds``, default all; rounds per kind with ``--rounds``):

- ``kill9-sqlite``: ``kill -9`` of ``registry serve`` (SQLite) under traffic, restarted at once;
- ``pg-worker-kill``: ``registry serve --workers 2`` on PostgreSQL, ``kill -9`` of one worker
  (uvicorn replaces it);
- ``pg-restart``: the same service, the PostgreSQL server killed (immediate shutdown) and
  started again after a second (a throw-away cluster from `tests.support.pgserver`, run as the
  ``postgres`` user when root);
- ``disk-full``: SQLite on a small tmpfs (root only; skipped with a message otherwise) filled to
  the last byte under traffic, then freed;
- ``cli-beside``: ``registry`` CLI writes (deposits) and reads against the served data folder.

A round: the service up; clients sending for ``--traffic-seconds``; the fault at a random moment
in the middle (once a few writes were acknowledged); the clients keep sending through it and
the recovery; then every in-doubt write and the last acknowledged ones before the fault are
retried with their Idempotency-Key; the service stopped; the checks. Recovery time is from the
end of the fault (the kill, PostgreSQL back, the space freed) to the first write acknowledged
after it.

Figures (rounds, ops sent and acknowledged, refused, in doubt, lost, duplicated, recovery time)
and every failed check go to ``--json`` (default ``loadtests/results/faults/result.json``) and,
with ``--benchmarks BENCHMARKS.md``, into the fault block of that file (`loadtests.fault_report`).
Exit 0 only if every check of every round passed and every kind ran all its rounds (only
``disk-full`` may be skipped, when not root; a kind that cannot run, e.g. no PostgreSQL, or
rounds cut by the budget fail the suite).
``--skip-checks NAME,…`` leaves named checks out of the verdict (they are still run and
reported).

Run: ``.venv/bin/python -m loadtests.faults [--kinds kill9-sqlite,cli-beside] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loadtests.bench_report import run_info
from loadtests.fault_checks import (
    CHECKS,
    Verdicts,
    ledger_checks,
    store_checks,
    summary_of,
)
from loadtests.fault_client import Op, Traffic
from loadtests.fault_kinds import (
    FAULTS,
    TRADERS,
    Fault,
    KindUnavailable,
    Scenario,
    prepare,
    unmount,
)
from loadtests.load_service import step

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("kill9-sqlite", "pg-worker-kill", "pg-restart", "disk-full", "cli-beside")
#: about 10 minutes in all on this 2-core machine (BENCHMARKS.md has the measured time)
DEFAULT_ROUNDS = {"kill9-sqlite": 20, "pg-worker-kill": 4, "pg-restart": 4, "disk-full": 3,
                  "cli-beside": 3}
#: a fault is over when writes are acknowledged again; past this, the round says it was not
RECOVERY_LIMIT_S = 30.0
ACKED_RETRIED = 5  # acknowledged writes retried with their key per round (the last before it)


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


# -- a round ---------------------------------------------------------------------------------


def first_ack_after(ops: list[Op], moment: float) -> float | None:
    times = [op.answered for op in ops if op.outcome == "acked" and op.sent >= moment]
    return min(times) - moment if times else None


def run_round(s: Scenario, number: int, args: argparse.Namespace) -> dict[str, Any]:
    folder = s.folder / f"round-{number}"
    folder.mkdir()
    round_from = time.monotonic()
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
    # on a loaded machine the first answers can take longer than that: the fault waits for a
    # few acknowledged writes, so that it meets traffic under way and their retries with the
    # key (acked-replay-by-key) have something to replay
    deadline = time.monotonic() + RECOVERY_LIMIT_S
    while sum(op.outcome == "acked" for op in list(traffic.ops)) < ACKED_RETRIED and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    fault_at = time.time()
    fault = FAULTS[s.kind](s)
    # writes must go on after every fault, the CLI beside the service included (it ends
    # nothing, so it has no recovery figure: then they are counted from its last command)
    resume_from = time.time() if fault.ended is None else fault.ended
    time.sleep(max(1.5, args.traffic_seconds * 0.5))
    resumed = first_ack_after(traffic.ops, resume_from)
    deadline = time.monotonic() + RECOVERY_LIMIT_S
    while resumed is None and time.monotonic() < deadline:
        time.sleep(0.5)  # the clients keep trying: writes must resume by themselves
        resumed = first_ack_after(traffic.ops, resume_from)
    recovery = None if fault.ended is None else resumed
    traffic.stop()
    ops = traffic.ops
    in_doubt = [op for op in ops if op.outcome == "in-doubt"]
    acked_before = [op for op in ops if op.outcome == "acked" and op.key
                    and op.answered <= fault_at][-ACKED_RETRIED:]
    traffic.retry(in_doubt + acked_before)
    traffic.close()
    s.stop()
    checks_from = time.monotonic()
    all_ops = ops + fault.ops
    v = fault_verdicts(s.kind, fault, ops, fault_at, resumed)
    if resumed is None:  # name the cause: what the writes were answered, what the service said
        v.fail("writes-resume", f"{answers_of(ops)}; the service log ends: {_log_tail(s, 6)}")
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
              "checks_s": round(time.monotonic() - checks_from, 2),
              "round_s": round(time.monotonic() - round_from, 2),
              "fault_at": datetime.fromtimestamp(fault_at, UTC).isoformat(timespec="seconds"),
              "recovery_s": None if recovery is None else round(recovery, 2),
              "retried": len(in_doubt) + len(acked_before), "notes": fault.notes, **figures,
              "checks": {name: fails[:10] for name, fails in v.failures.items()},
              "failure_counts": {name: len(fails) for name, fails in v.failed.items()},
              "failed_checks": sorted(v.failed)}
    (folder / "round.json").write_text(json.dumps(result, indent=1))
    return result


def fault_verdicts(kind: str, fault: Fault, ops: list[Op], fault_at: float,
                   resumed: float | None) -> Verdicts:
    """The checks on the fault itself: the service started, the fault went as planned (a
    full disk was met by some write), writes resumed, the CLI's answers beside the service."""
    v = Verdicts()
    v.run("service-starts")  # it did: a start that fails ends the round before this
    v.run("writes-resume")
    if resumed is None:
        v.fail("writes-resume", f"no write acknowledged within {RECOVERY_LIMIT_S:.0f} s of "
                                "the fault's end")
    v.run("fault-injected").extend(fault.failures)
    if kind == "disk-full" and fault.ended is not None and not any(
            op.problem == "storage-unavailable" and fault_at <= op.sent <= fault.ended
            for op in ops):
        v.fail("fault-injected", "no write met the full disk (none answered 503 "
                                 "storage-unavailable while it was full)")
    if kind == "cli-beside":
        v.run("cli-beside-service").extend(fault.cli_failures)
    return v


def _log_tail(s: Scenario, lines_kept: int = 2) -> str:
    if s.service is None or not s.service.log.exists():
        return ""
    lines = s.service.log.read_text(errors="replace").strip().splitlines()
    return " / ".join(lines[-lines_kept:])[-150 * lines_kept:]


def answers_of(ops: list[Op]) -> str:
    """The answers of the writes not acknowledged, counted by kind, status and problem (or
    transport error), most frequent first, with one body of the most frequent."""
    counted = Counter((op.kind, op.status, op.problem or op.error) for op in ops
                      if op.outcome != "acked")
    if not counted:
        return "no write was answered other than acknowledged"
    top = counted.most_common(1)[0][0]
    sample = next(op for op in ops if (op.kind, op.status, op.problem or op.error) == top)
    body = str(sample.extra.get("body") or sample.extra.get("detail") or "")[:200]
    return ("not acknowledged: " + ", ".join(f"{k} {st} {why} ×{n}"
                                              for (k, st, why), n in counted.most_common(8))
            + f"; e.g. {body!r}")


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
        f"{c} ({r.get('failure_counts', {}).get(c, len(r['checks'][c]))})" for c in failed)
    if pending:
        verdict += " (skipped from the verdict: " + ", ".join(pending) + ")"
    # a failed check says why under its round (its last text: the most specific one)
    why = "".join(f"\n      {c}: {r['checks'][c][-1][:600]}" for c in failed if r["checks"].get(c))
    return (f"  {kind} round {r['round']}/{total}: sent {r['sent']}, acked {r['acked']}, "
            f"refused {r['refused']}, in doubt {r['in_doubt']}, lost {_n(r['lost'])}, "
            f"duplicated {_n(r['duplicated'])}, recovery {rec}: {verdict}{why}")


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
    out: dict[str, Any] = {"rounds_planned": rounds, "rounds": [], "skipped": None,
                           "unavailable": None}
    try:
        with step(f"{kind}: seed {TRADERS} enterprises on 3 markets"):
            scenario = prepare(kind, args.results)
    except KindUnavailable as e:
        print(f"  {kind}: CANNOT RUN: {e}", flush=True)
        out["unavailable"] = str(e)
        return out
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
            "failed_checks": failed, "shortfalls": shortfalls(kinds),
            "passed": not failed and not shortfalls(kinds)}


def shortfalls(kinds: dict[str, dict[str, Any]]) -> list[str]:
    """What the run did not do that it was asked to: a kind that could not run, rounds the
    budget cut (the suite promises its rounds, e.g. at least 20 of kill -9, in its budget)."""
    out = []
    for kind, k in kinds.items():
        if k.get("unavailable"):
            out.append(f"{kind} could not run")
        elif k.get("budget_stop"):
            out.append(f"{kind} cut short by the budget ({len(k['rounds'])} of "
                       f"{k['rounds_planned']} rounds)")
    return out


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
    # the kinds with fewest rounds first: if the budget runs out, it cuts the many rounds of
    # one kind short rather than leaving another kind out altogether
    for kind in sorted(args.kinds, key=lambda k: args.rounds[k]):
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
          + ("PASSED" if t["passed"] else
             f"FAILED: {', '.join(t['failed_checks'] + t['shortfalls'])}")
          + f"; result in {args.json}")
    return 0 if t["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
