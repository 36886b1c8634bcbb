"""The states kept from the log (`registry.pending`) pick exactly what the plain path gives:
pending proposals (now and as of a later time), retrofits and expansion applications by state,
after random interleavings of writes and reads, including another instance's writes."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from domain.expansion import SUBMITTED
from domain.proposal import PENDING
from domain.retrofit import CONFIRMED, VERIFIED
from registry import directory
from registry.bootstrap import Registry
from tests.conftest import Factory
from tests.support.world import AT, World, build_world, issue

COD = "COD-2025-MAOZHOU"
LATER = "2025-04-05T10:00:00+08:00"  # past a one-hour proposal's expiry


def _check(reader: Registry) -> None:
    every = reader.proposals.proposals()
    for at in (None, AT, LATER):
        assert [
            p.proposal_id for p in reader.proposals.enterprise_requests(state=PENDING, at=at)] == \
            [p.proposal_id for p in reader.proposals.enterprise_requests()
             if (p.state_at(at) if at else p.state) == PENDING]
    for at in (None, AT, LATER):
        plain = [p.proposal_id for p in every if (p.state_at(at) if at else p.state) == PENDING]
        assert [p.proposal_id for p in reader.proposals.proposals(state=PENDING, at=at)] == plain
    for states in ((VERIFIED, CONFIRMED), (VERIFIED,)):
        assert [r.reference for r in directory.retrofits(reader, states=states)] == \
            [r.reference for r in directory.retrofits(reader) if r.state in states]
    assert [x.reference for x in directory.expansions(reader, states=(SUBMITTED,))] == \
        [x.reference for x in directory.expansions(reader) if x.state == SUBMITTED]


def _steps(app: Registry, w: World, rnd: random.Random, a: str, b: str) -> list[Any]:
    steps: list[Callable[[], Any]] = []
    for n in range(8):
        pid = f"P-{n}"
        steps.append(lambda pid=pid: app.proposals.propose(
            action="grant_role", params={"user_id": a, "role": "auditor"}, by=a, at=AT,
            proposal_id=pid, ttl_hours=rnd.choice((1, 240))))
        end = rnd.choice(("approve", "reject", "withdraw", "leave"))
        if end == "reject":
            steps.append(lambda pid=pid: app.proposals.reject_proposal(proposal_id=pid, by=b,
                                                                       reason="no", at=AT))
        elif end == "withdraw":
            steps.append(lambda pid=pid: app.proposals.withdraw_proposal(proposal_id=pid, by=a,
                                                                         at=AT))
    for n in range(4):
        reference = f"EX-{n}"
        steps.append(lambda reference=reference: app.holdings.submit_expansion(
            reference=reference, enterprise=w.dyeing, instrument=COD, quantity=10,
            project="line", at=AT))
        if n % 2:
            steps.append(lambda reference=reference: app.holdings.reject_expansion(
                reference=reference, administrator="admin-t", reason="no", at=AT))
    return steps


@pytest.mark.parametrize("seed", [1, 2])
def test_states_from_the_log_pick_what_the_plain_path_gives(factory: Factory,
                                                           seed: int) -> None:
    rnd = random.Random(seed)
    app = factory()
    w = build_world(app)
    a, _ = app.users.bootstrap_administrator(login="li.admin", display_name="Li", password=None,
                                             at=AT)
    b, _ = app.users.bootstrap_administrator(login="chen.admin", display_name="Chen", password=None,
                                             at=AT)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    reader = factory()  # another instance stands for another process
    _check(reader)
    steps = _steps(app, w, rnd, a.user_id, b.user_id)
    for step in steps:
        step()
        if rnd.random() < 0.5:
            _check(reader)
            _check(app)
    _check(reader)
    assert reader.states.rebuilds == 1  # brought up to date, never rebuilt
    # something to compare
    assert [p.proposal_id for p in reader.proposals.proposals(state=PENDING)]
    assert [x.reference for x in directory.expansions(reader, states=(SUBMITTED,))] == \
        ["EX-0", "EX-2"]
