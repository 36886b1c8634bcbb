"""Sampling rounds in the pure domain: the documented draw, sample sizes, audit depth as rule
data, and outcomes refused unless they fit the sampled retrofit's audit."""

from __future__ import annotations

import hashlib

import pytest

from domain.errors import InvalidInput, InvalidState, NotFound
from domain.sampling import (
    FULL,
    SIMPLIFIED,
    Candidate,
    SamplingRound,
    draw,
    population,
    rank,
    sampling_rules,
)

RULES = sampling_rules("GD-SC-2025.1")
AT = "2026-01-10T09:00:00+08:00"
SHA = "cd" * 32
SEED = bytes(range(32))


def members(n: int, sector: str = "PAPER") -> list[dict[str, object]]:
    return population([Candidate(retrofit=f"RF-{i:03d}", enterprise=f"E{i}", sector=sector,
                                 kinds=("COD",), agencies=("A1", "A2")) for i in range(n)],
                      RULES)


def opened(n: int = 10, sector: str = "PAPER") -> SamplingRound:
    return SamplingRound.open(reference="SC-2025", period=2025, members=members(n, sector),
                              rules=RULES, actor="admin-1", at=AT)


def test_rank_is_sha256_of_seed_then_reference() -> None:
    assert rank(SEED, "RF-001") == hashlib.sha256(SEED + b"RF-001").hexdigest()


def test_draw_takes_the_k_lowest_ranks_in_rank_order() -> None:
    pop = members(10)
    sample = draw(pop, SEED, 3)
    expected = sorted(pop, key=lambda m: hashlib.sha256(SEED + m["retrofit"].encode()).digest())
    assert [m["retrofit"] for m in sample] == [m["retrofit"] for m in expected[:3]]
    assert [m["rank"] for m in sample] == sorted(m["rank"] for m in sample)


def test_another_seed_draws_another_sample() -> None:
    pop = members(30)
    assert draw(pop, SEED, 5) != draw(pop, bytes(32), 5)


def test_sample_size_is_a_ceiling_share_with_a_minimum() -> None:
    assert [RULES.sample_size(n) for n in (1, 4, 5, 6, 10, 11)] == [1, 1, 1, 2, 2, 3]
    assert RULES.sample_size(0) == 0


def test_audit_depth_is_rule_data_per_sector() -> None:
    assert RULES.depth("THERMAL_POWER") == FULL
    assert RULES.depth("ELECTRONICS") == SIMPLIFIED
    assert members(1, "APPLIANCES")[0]["audit"] == SIMPLIFIED


def test_round_without_population_is_refused() -> None:
    with pytest.raises(InvalidState):
        opened(0)


def test_round_draws_once_and_records_the_seed() -> None:
    r = opened(10)
    sample = r.draw(seed_index=41, seed_root=SEED, checkpoint="note", actor="admin-1", at=AT)
    assert len(sample) == 2 and r.state == "drawn"
    assert r.seed == {"index": 41, "size": 42, "root": SEED.hex(), "checkpoint": "note"}
    with pytest.raises(InvalidState):
        r.draw(seed_index=41, seed_root=SEED, checkpoint="note", actor="admin-1", at=AT)


def test_full_audit_outcome_needs_measurements_and_closes_the_round() -> None:
    r = opened(4)
    (member,) = r.draw(seed_index=0, seed_root=SEED, checkpoint="n", actor="a", at=AT)
    ref = member["retrofit"]
    with pytest.raises(InvalidInput, match="full audit"):
        r.record_outcome(retrofit=ref, result="pass", findings="", report_sha256=SHA,
                         measured=None, agencies_at_fault=None, actor="a", at=AT)
    with pytest.raises(InvalidInput, match="findings"):
        r.record_outcome(retrofit=ref, result="fail", findings=" ", report_sha256=SHA,
                         measured={"COD": 1}, agencies_at_fault=None, actor="a", at=AT)
    with pytest.raises(InvalidInput, match="did not audit"):
        r.record_outcome(retrofit=ref, result="fail", findings="x", report_sha256=SHA,
                         measured={"COD": 1}, agencies_at_fault=["A9"], actor="a", at=AT)
    out = r.record_outcome(retrofit=ref, result="fail", findings="fake meter", report_sha256=SHA,
                           measured={"COD": 700}, agencies_at_fault=None, actor="a", at=AT)
    assert out["agencies_at_fault"] == ["A1", "A2"] and r.state == "closed"
    with pytest.raises(InvalidState, match="already"):
        r.record_outcome(retrofit=ref, result="pass", findings="", report_sha256=SHA,
                         measured={"COD": 1}, agencies_at_fault=None, actor="a", at=AT)


def test_simplified_audit_takes_no_measurements() -> None:
    r = opened(3, "ELECTRONICS")
    (member,) = r.draw(seed_index=0, seed_root=SEED, checkpoint="n", actor="a", at=AT)
    with pytest.raises(InvalidInput, match="simplified"):
        r.record_outcome(retrofit=member["retrofit"], result="pass", findings="",
                         report_sha256=SHA, measured={"COD": 1}, agencies_at_fault=None,
                         actor="a", at=AT)


def test_outcomes_only_for_sampled_retrofits_after_the_draw() -> None:
    r = opened(10)
    with pytest.raises(InvalidState, match="no sample"):
        r.record_outcome(retrofit="RF-000", result="pass", findings="", report_sha256=SHA,
                         measured={"COD": 1}, agencies_at_fault=None, actor="a", at=AT)
    sample = r.draw(seed_index=0, seed_root=SEED, checkpoint="n", actor="a", at=AT)
    outside = next(m["retrofit"] for m in r.population
                   if m["retrofit"] not in {s["retrofit"] for s in sample})
    with pytest.raises(NotFound):
        r.record_outcome(retrofit=outside, result="pass", findings="", report_sha256=SHA,
                         measured={"COD": 1}, agencies_at_fault=None, actor="a", at=AT)


def test_bad_round_input_is_refused() -> None:
    for kwargs in ({"reference": "a/b"}, {"period": 1999}, {"actor": " "}):
        args = {"reference": "SC", "period": 2025, "members": members(2), "rules": RULES,
                "actor": "admin", "at": AT, **kwargs}
        with pytest.raises(InvalidInput):
            SamplingRound.open(**args)  # type: ignore[arg-type]
