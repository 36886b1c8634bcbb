"""Benchmark: the auditor's replay of a ledger export (``registry audit replay``'s rebuild).

Builds a realistic history through the domain's public commands — enterprises, accredited
agencies, retrofits through audit, verification and confirmation, lots issued in every zone,
then transfers, reservations and releases between enterprises of the same trading zone — writes
it as an export's ``entries.jsonl`` (RFC 8785 leaves of format 2, base64, one a line), and times
``registry.audit.replay_export`` rebuilding every aggregate from that file alone.

    .venv/bin/python -m loadtests.bench_replay [--events 100000] [--seed 7] [--json PATH]

``--json PATH`` also writes the figures for `loadtests.bench_report` (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.agency import Agency
from domain.credit_code import make_credit_code
from domain.enterprise import Enterprise
from domain.errors import RegistryError
from domain.instrument import Instrument
from domain.retrofit import Retrofit
from ledger.export import format_entry
from loadtests import bench_report
from registry.audit import replay_export
from registry.events import to_record
from registry.leaves import SealKey, Subject, aggregate_subject, encode_v2
from registry.rulebook import CURRENT_RULES, rules

AT = "2025-06-01T10:00:00+08:00"
ZONES = ("MAOZHOU", "DANSHUI", "SHIMA", "GUANGFO")
CITY = {"MAOZHOU": "SHENZHEN", "DANSHUI": "HUIZHOU", "SHIMA": "DONGGUAN", "GUANGFO": "FOSHAN"}


class History:
    """Runs domain commands and numbers their events in commit order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def commit(self, *aggregates: Any) -> None:
        for a in aggregates:
            self.events.extend(a.collect_events())


def build(target: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    h = History()
    r = rules(CURRENT_RULES)
    agencies = []
    for n in range(4):
        a = Agency.register(credit_code=make_credit_code(f"91440101MA9X{n:05d}"),
                            name=f"Agency {n}", at=AT)
        a.accredit(accreditation=f"ACC-{n}", at=AT)
        agencies.append(a)
        h.commit(a)
    firms: dict[str, list[Enterprise]] = {}
    instruments: dict[str, Instrument] = {}
    digest = "ab" * 32
    for z, zone in enumerate(ZONES):
        firms[zone] = []
        for n in range(25):
            e = Enterprise.register(credit_code=make_credit_code(f"914403{z:02d}MA5F{n:05d}"),
                                    name=f"Firm {zone} {n}", sector="PAPER",
                                    prefecture=CITY[zone], basin=zone, direct_discharger=True,
                                    at=AT)
            firms[zone].append(e)
            h.commit(e)
        i = Instrument.open(kind="COD", vintage=2025, zone=zone, at=AT)
        for n, e in enumerate(firms[zone][:10]):
            ref = f"RF-{zone}-{n}"
            ret = Retrofit.register(reference=ref, enterprise=e.credit_code, period=2025,
                                    kinds=["COD"], description="MBR", at=AT)
            ret.engage(stage="audit", agency=agencies[0], by="bench", at=AT)
            ret.engage(stage="verification", agency=agencies[1], by="bench", at=AT)
            ret.record_baseline_audit(agency=agencies[0], report_sha256=digest,
                                      amounts={"COD": 5_000_000}, at=AT)
            ret.record_post_audit(agency=agencies[0], report_sha256="cd" * 32,
                                  amounts={"COD": 1_000_000}, at=AT)
            ret.verify(agency=agencies[1], report_sha256="ef" * 32,
                       reductions={"COD": 4_000_000}, at=AT)
            ret.confirm(administrator="admin", remaining_obligations={}, at=AT)
            i.issue(lot_id=f"{ref}/COD", owner=e.credit_code, retrofit=str(ret.id),
                    retrofit_reference=ref, quantity=4_000_000, expires_on="2030-12-31",
                    evidence=ret.evidence(), agencies=ret.agencies(), at=AT)
            ret.mark_issued(lots={}, administrator="admin", at=AT)
            h.commit(ret, i)
        instruments[zone] = i
    refs: list[tuple[str, str]] = []
    n = 0
    while len(h.events) < target:
        n += 1
        zone = rng.choice(ZONES)
        i, pool = instruments[zone], firms[zone]
        try:
            if rng.random() < 0.15:
                owner = rng.choice(pool)
                ref = f"order-{n}"
                i.reserve(owner=owner, quantity=rng.randint(1, 2_000), ref=ref, at=AT)
                refs.append((zone, ref))
            elif refs and rng.random() < 0.15:
                z, ref = refs.pop(rng.randrange(len(refs)))
                instruments[z].release(ref=ref, at=AT)
                i = instruments[z]
            else:
                seller, buyer = rng.sample(pool, 2)
                i.transfer(seller=seller, buyer=buyer, quantity=rng.randint(1, 2_000),
                           rules=r, ref=f"T-{n}", at=AT)
        except RegistryError:
            continue
        h.commit(i)
    return h.events[:target]


def write_export(events: list[Any], folder: Path) -> None:
    """Leaves as the ledger writes them today (format 2: typed subjects, multi-party elements
    sealed, their openings in the entry), so the replay pays what an auditor's does."""
    seal = SealKey(b"bench-replay-seal-key-" * 2)
    owners: dict[str, Subject] = {}
    with open(folder / "entries.jsonl", "wb") as out:
        for index, event in enumerate(events):
            record = to_record(index + 1, event)
            if record["version"] == 1:
                owners[record["aggregate_id"]] = aggregate_subject(
                    record["topic"], record["payload"], record["aggregate_id"])
            leaf, openings = encode_v2(record, owner=owners[record["aggregate_id"]], seal=seal)
            extra = {"openings": openings} if openings else None
            out.write(format_entry(index, leaf, extra))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the figures to PATH as JSON (read by "
                        "loadtests.bench_report)")
    args = parser.parse_args(argv)
    run = bench_report.run_info("loadtests.bench_replay", sys.argv[1:] if argv is None else argv)
    print(f"command: .venv/bin/python -m loadtests.bench_replay --events {args.events} "
          f"--seed {args.seed}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}  cores: {os.cpu_count()}  "
          f"python: {platform.python_version()}")
    t0 = time.perf_counter()
    events = build(args.events, args.seed)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
    print(f"history: {len(events):,} events built in {time.perf_counter() - t0:.1f} s; "
          + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items(), key=lambda x: -x[1])[:6]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_export(events, folder)
        size = (folder / "entries.jsonl").stat().st_size
        print(f"export: entries.jsonl {size / 1e6:.1f} MB")
        fold = None
        best: dict[str, float] = {}
        for workers in (1, None):  # one process, then the default split (2 on 2+ cores)
            rates = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                fold = replay_export(folder, workers=workers)
                rates.append(len(events) / (time.perf_counter() - t))
            label = "1 process" if workers == 1 else "default (split by aggregate)"
            best["one_process" if workers == 1 else "default"] = max(rates)
            print(f"replay, {label}: {len(events):,} events -> {len(fold.aggregates)} "
                  f"aggregates; best {max(rates):,.0f} events/s, runs "
                  f"{', '.join(f'{r:,.0f}' for r in rates)} (goal >= 100,000)")
        assert fold is not None
        instruments = fold.of_type(Instrument)
        assert all(sum(i.totals().values()) == i.issued() for i in instruments)
    if args.json:
        bench_report.write_result(args.json, run, {
            "events": len(events), "repeats": args.repeats, "aggregates": len(fold.aggregates),
            "one_process_events_per_s": best["one_process"],
            "default_events_per_s": best["default"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
