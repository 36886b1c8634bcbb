"""The checks after every fault round (`loadtests.faults`), from the store and the ledger alone.

- every op the clients recorded (`loadtests.fault_client`): acknowledged ones stored exactly
  once, refused ones absent, in-doubt ones at most once and settled by a retry with their key;
  acknowledged ones retried with their key answer the first response again;
- units of every instrument and cash over all accounts conserved, no account below zero, every
  book equal to its replay (the load run's checks, `loadtests.load_checks`);
- no version gap (nor repeat) in any aggregate's stored events;
- the ledger exported and verified against the previous round's checkpoint, its leaves the
  store's events in commit order, each once; ``audit replay`` and ``audit matching`` clean.

Each check is named (`CHECKS`), so a report says which promise broke, on which op, and how.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.exchange.cash import CashAccount
from loadtests.fault_client import Op
from loadtests.load_checks import (
    Report,
    StoredRequests,
    check_books,
    check_conservation,
    scan_markets,
)
from loadtests.load_world import Manifest
from registry.app import instrument_id
from registry.bootstrap import Registry, build_registry
from registry.log_reader import LogReader

TRANSFERRED = "surplus:Instrument.Transferred.v1"
DEPOSITED = "surplus:CashAccount.Deposited.v1"
#: seconds: no request may hang longer (issue 11: "no request hangs past about 10 s")
ANSWER_LIMIT_S = 10.0
#: check name -> what it promises (the report and BENCHMARKS.md use these names)
CHECKS = {
    "acked-stored-once": "acknowledged writes stored exactly once",
    "refused-absent": "refused writes absent",
    "in-doubt-at-most-once": "in-doubt writes stored at most once",
    "in-doubt-settled-by-key": "a retry of an in-doubt write with its key settles it truthfully",
    "acked-replay-by-key": "a retry of an acknowledged write with its key returns the first "
                           "response",
    "storage-errors-typed": "no write answered a bare 500: a storage fault answers 503 "
                            "storage-unavailable or outcome-unknown",
    "answers-in-time": f"every request answered within {ANSWER_LIMIT_S:.0f} s",
    "conservation": "units and cash conserved, no account below zero",
    "books-equal-replay": "every book equals its replay",
    "no-version-gap": "no version gap in any aggregate's stored events",
    "ledger": "ledger exported, verifies, extends the previous checkpoint, one leaf per event",
    "audit-replay": "registry audit replay clean",
    "audit-matching": "registry audit matching clean",
    "cli-beside-service": "CLI writes beside the service refuse before writing (naming it) "
                          "or complete; CLI reads work",
    "writes-resume": "writes are acknowledged again by themselves after the fault (30 s)",
    "fault-injected": "the fault was injected as planned",
    "service-starts": "the service starts again on the store the previous round left",
}


@dataclass
class Verdicts:
    """Failures per named check (empty list: passed); a check not run is absent."""

    failures: dict[str, list[str]] = field(default_factory=dict)

    def run(self, name: str) -> list[str]:
        return self.failures.setdefault(name, [])

    def fail(self, name: str, text: str) -> None:
        self.run(name).append(text)

    def absorb(self, name: str, report: Report) -> None:
        self.run(name).extend(report.failed)

    @property
    def failed(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.failures.items() if v}


@dataclass
class StoreFacts:
    """What the store holds, as the ops' natural keys, counted."""

    markets: StoredRequests
    transfers: Counter[tuple[str, str, str]]  # (instrument, seller, ref)
    deposits: dict[tuple[str, str], list[int]]  # (owner, reference) -> amounts
    positions: list[int]
    gaps: list[str]

    def count(self, op: Op) -> int:
        if op.kind == "order":
            return self.markets.orders.get(op.identity[0], Counter())[op.identity[1]]
        if op.kind == "cancel":
            return self.markets.cancels.get(op.identity[0], Counter())[op.identity[1]]
        if op.kind == "transfer":
            instrument, seller, ref = op.identity
            return self.transfers[(instrument, seller, ref)]
        return len(self.deposits.get((op.identity[0], op.identity[1]), []))


def read_store(app: Registry, manifest: Manifest) -> StoreFacts:
    """One pass over the stored events (decoding only transfers and deposits), and the
    markets' requests re-run (`scan_markets`)."""
    owners = {CashAccount.create_id(code): code for code in manifest.traders}
    codes = {instrument_id(code): code for code in manifest.instruments}
    versions: dict[UUID, int] = {}
    gaps: list[str] = []
    transfers: Counter[tuple[str, str, str]] = Counter()
    deposits: dict[tuple[str, str], list[int]] = defaultdict(list)
    positions: list[int] = []
    log = LogReader(app)
    for n in log.notifications():
        positions.append(n.id)
        last = versions.get(n.originator_id, 0)
        if n.originator_version != last + 1:
            gaps.append(f"aggregate {n.originator_id}: version {n.originator_version} "
                        f"stored after {last} (position {n.id}, {n.topic})")
        versions[n.originator_id] = max(last, n.originator_version)
        if n.topic in (TRANSFERRED, DEPOSITED):
            p = vars(log.decode(n))
            if n.topic == TRANSFERRED and n.originator_id in codes:
                transfers[(codes[n.originator_id], p["seller"], p["ref"])] += 1
            elif n.topic == DEPOSITED and n.originator_id in owners:
                deposits[(owners[n.originator_id], p["reference"])].append(p["amount"])
    return StoreFacts(markets=scan_markets(app), transfers=transfers, deposits=dict(deposits),
                      positions=positions, gaps=gaps)


def _name(op: Op) -> str:
    said = op.status if op.status is not None else op.error
    return f"{op.kind} {'/'.join(op.identity)} (round {op.round}, answered {said}" \
           f"{' ' + op.problem if op.problem else ''})"


def check_ops(v: Verdicts, facts: StoreFacts, ops: Iterable[Op]) -> None:
    for name in ("acked-stored-once", "refused-absent", "in-doubt-at-most-once",
                 "in-doubt-settled-by-key"):
        v.run(name)
    for op in ops:
        n = facts.count(op)
        if op.outcome == "acked" and n != 1:
            v.fail("acked-stored-once", f"{_name(op)} stored {n} times")
        elif op.outcome == "refused" and n != 0:
            v.fail("refused-absent", f"{_name(op)} stored {n} times: a stored write answered "
                                     "as a refusal")
        elif op.outcome == "in-doubt":
            if n > 1:
                v.fail("in-doubt-at-most-once", f"{_name(op)} stored {n} times")
            if op.client != "cli":  # the CLI's own check reports an unexpected exit
                _check_settled(v, op, n)


def _check_settled(v: Verdicts, op: Op, n: int) -> None:
    retry = op.retry
    if retry is None:
        v.fail("in-doubt-settled-by-key", f"{_name(op)} was never retried")
        return
    said = f"retry answered {retry['status'] or retry['error']} {retry['problem'] or ''}".strip()
    if retry["outcome"] == "in-doubt":
        v.fail("in-doubt-settled-by-key", f"{_name(op)}: {said}, still in doubt "
                                          f"(stored {n} times)")
    elif op.kind == "cancel":
        return  # a DELETE takes no key: 200 or 404 ("not resting") are both true answers
    elif retry["outcome"] == "acked" and n != 1:
        v.fail("in-doubt-settled-by-key", f"{_name(op)}: {said} but stored {n} times")
    elif retry["outcome"] == "refused" and n != 0:
        v.fail("in-doubt-settled-by-key", f"{_name(op)}: {said} but it is stored: a stored "
                                          "write answered as a refusal")


def check_answers(v: Verdicts, ops: Iterable[Op]) -> None:
    """How the service answered, whatever the store holds: typed storage errors, in time."""
    v.run("storage-errors-typed")
    v.run("answers-in-time")
    for op in ops:
        if op.client == "cli":
            continue
        if op.status is not None and op.status >= 500 and op.status != 503:
            v.fail("storage-errors-typed", f"{_name(op)}: {op.extra.get('body', '')[:120]}")
        if op.answered - op.sent > ANSWER_LIMIT_S:
            v.fail("answers-in-time", f"{_name(op)} after {op.answered - op.sent:.1f} s")


def check_acked_replays(v: Verdicts, ops: Iterable[Op]) -> None:
    """Acknowledged keyed writes retried with their key (``retry`` set by the suite)."""
    v.run("acked-replay-by-key")
    for op in ops:
        if op.outcome != "acked" or op.retry is None:
            continue
        r = op.retry
        if r["status"] != op.status or not r["replayed"]:
            v.fail("acked-replay-by-key",
                   f"{_name(op)}: the retry with its key answered {r['status'] or r['error']} "
                   f"{r['problem'] or ''} (replayed: {r['replayed']}), not the first response"
                   .replace("  ", " "))


def check_money(v: Verdicts, app: Registry, facts: StoreFacts, manifest: Manifest,
                ops: Iterable[Op]) -> None:
    """Conservation and books, as the load run checks them; cash expected = the seeded
    deposits plus every deposit of the suite found in the store, each with the amount sent."""
    # an approval carries no body: the amount its proposal asked for is kept on the op
    sent = {(op.identity[0], op.identity[1]): op.extra.get("amount") or op.body["amount"]
            for op in ops if op.kind == "deposit" and (op.body or op.extra.get("amount"))}
    extra = 0
    for key, amounts in facts.deposits.items():
        if key[1].startswith(("F", "CLI-")):
            extra += sum(amounts)
            if key in sent and any(a != sent[key] for a in amounts):
                v.fail("conservation", f"deposit {key} stored {amounts}, sent {sent[key]}")
    with guarded(v, "conservation"):
        report = Report()
        check_conservation(report, app, manifest, deposited=manifest.cash_each *
                           len(manifest.traders) + extra)
        v.absorb("conservation", report)
    with guarded(v, "books-equal-replay"):
        report = Report()
        check_books(report, app, facts.markets)
        v.absorb("books-equal-replay", report)


@contextlib.contextmanager
def guarded(v: Verdicts, name: str) -> Iterator[None]:
    """A check that cannot even be made (the store does not load) has failed, saying why."""
    v.run(name)
    try:
        yield
    except Exception as e:
        v.fail(name, f"could not be checked: {type(e).__name__}: {e}"[:300])


def store_checks(v: Verdicts, env: Mapping[str, str], manifest: Manifest,
                 ops: list[Op]) -> StoreFacts | None:
    """Every check that reads the store (the service stopped or not writing); None if the
    store could not be read at all (reported under ``no-version-gap``)."""
    check_answers(v, ops)
    app = build_registry(env)
    try:
        facts = None
        with guarded(v, "no-version-gap"):
            facts = read_store(app, manifest)
            v.run("no-version-gap").extend(facts.gaps[:20])
        if facts is None:
            return None
        check_ops(v, facts, ops)
        check_acked_replays(v, ops)
        check_money(v, app, facts, manifest, ops)
    finally:
        app.close()
    return facts


def registry_cli(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    """``registry ARGS`` in this process (no interpreter start per call), its status and
    output."""
    from cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(list(args), env=dict(env))
    return status, out.getvalue()


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-3:])


def ledger_checks(v: Verdicts, env: Mapping[str, str], export: Path, *, vkey: Path,
                  previous: Path | None, facts: StoreFacts) -> None:
    """Export, verify against the previous round's checkpoint, one leaf per stored event in
    commit order, then the auditor's replays."""
    v.run("ledger")
    status, out = registry_cli(env, "ledger", "export", str(export))
    if status != 0:
        v.fail("ledger", f"ledger export: exit {status}: {_tail(out)}")
        return
    args = ["ledger", "verify", str(export), "--vkey", str(vkey)]
    if previous is not None:
        args += ["--previous-checkpoint", str(previous)]
    status, out = registry_cli(env, *args)
    if status != 0:
        v.fail("ledger", f"ledger verify: exit {status}: {_tail(out)}")
    positions = []
    with (export / "entries.jsonl").open() as f:
        for index, line in enumerate(f):
            entry = json.loads(line)
            if entry["index"] != index:
                v.fail("ledger", f"entry {index} has index {entry['index']}")
                break
            positions.append(json.loads(base64.b64decode(entry["leaf"]))["position"])
    if positions != facts.positions:
        missing = sorted(set(facts.positions) - set(positions))[:5]
        twice = [p for p, c in Counter(positions).items() if c > 1][:5]
        v.fail("ledger", f"{len(positions)} leaves for {len(facts.positions)} stored events "
                         f"(missing positions {missing}, repeated {twice})")
    status, out = registry_cli(env, "audit", "replay", str(export))
    v.run("audit-replay")
    if status != 0:
        v.fail("audit-replay", f"exit {status}: {_tail(out)}")
    status, out = registry_cli(env, "audit", "matching", str(export))
    v.run("audit-matching")
    if status != 0:
        v.fail("audit-matching", f"exit {status}: {_tail(out)}")


def summary_of(ops: Iterable[Op], facts: StoreFacts | None) -> dict[str, Any]:
    """The round's figures: sent, by outcome, lost (acknowledged, not stored) and duplicated
    (stored more than once); lost and duplicated are None when the store did not read."""
    ops = list(ops)
    outcomes = Counter(op.outcome for op in ops)
    return {"sent": len(ops), "acked": outcomes["acked"], "refused": outcomes["refused"],
            "in_doubt": outcomes["in-doubt"],
            "lost": None if facts is None else
            sum(op.outcome == "acked" and facts.count(op) == 0 for op in ops),
            "duplicated": None if facts is None else sum(facts.count(op) > 1 for op in ops),
            "by_kind": dict(Counter(op.kind for op in ops)),
            "acked_by_kind": dict(Counter(op.kind for op in ops if op.outcome == "acked"))}
