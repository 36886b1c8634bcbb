"""No single user brings any proposal into effect (hypothesis), and two different
administrators always can; approvals are stored with the act or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import RegistryError
from registry.bootstrap import Registry, build_registry
from registry.proposals import ACTIONS

AT = "2025-03-01T10:00:00+08:00"
OPS = ("propose", "approve", "reject", "withdraw")


def world() -> tuple[Registry, dict[str, str]]:
    r = build_registry({"REGISTRY_STORE": "memory"})
    a, _ = r.users.bootstrap_administrator(
        login="li.admin", display_name="Li", password=None, at=AT)
    b, _ = r.users.bootstrap_administrator(login="chen.admin", display_name="Chen", password=None,
                                           at=AT)
    clerk = r.users.create_user(login="zhou.clerk", display_name="Zhou", organisation="regulator",
                                roles=[], by=a.user_id, at=AT)
    return r, {"a": a.user_id, "b": b.user_id, "clerk": clerk.user_id}


def grants(users: dict[str, str]) -> list[dict[str, Any]]:
    return [{"user_id": users["clerk"], "role": role} for role in ("auditor", "administrator")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=st.sampled_from(["a", "b", "clerk"]),
       ops=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3)), min_size=1,
                    max_size=12))
def test_no_single_user_brings_a_proposal_into_effect(who: str,
                                                      ops: list[tuple[str, int]]) -> None:
    r, users = world()
    me = users[who]
    made: list[str] = []
    try:
        for op, n in ops:
            try:
                if op == "propose":
                    params = grants(users)[n % 2]
                    made.append(r.proposals.propose(action="grant_role", params=params, by=me,
                                                    at=AT).proposal_id)
                elif made:
                    pid = made[n % len(made)]
                    if op == "approve":
                        r.proposals.approve_proposal(proposal_id=pid, by=me, at=AT)
                    elif op == "reject":
                        r.proposals.reject_proposal(proposal_id=pid, by=me, reason="no", at=AT)
                    else:
                        r.proposals.withdraw_proposal(proposal_id=pid, by=me, at=AT)
            except RegistryError:
                pass  # refused, and nothing changed
        assert all(p.state != "approved" for p in r.proposals.proposals())
        assert r.users.user(users["clerk"]).roles == []
    finally:
        r.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(role=st.sampled_from(["auditor", "administrator"]), proposer=st.sampled_from("ab"))
def test_two_different_administrators_always_can(role: str, proposer: str) -> None:
    r, users = world()
    try:
        approver = "b" if proposer == "a" else "a"
        p = r.proposals.propose(action="grant_role",
                                params={"user_id": users["clerk"], "role": role},
                                by=users[proposer], at=AT)
        r.proposals.approve_proposal(proposal_id=p.proposal_id, by=users[approver], at=AT)
        done = r.proposals.proposal(p.proposal_id)
        assert (done.state, done.proposed_by, done.decided_by) == (
            "approved", users[proposer], users[approver])
        assert r.users.user(users["clerk"]).roles == [role]
    finally:
        r.close()


def test_every_sensitive_act_is_an_action_and_a_refused_act_leaves_the_proposal_open(
) -> None:
    assert {"confirm_retrofit", "issue_surplus", "deposit", "withdraw", "freeze", "unfreeze",
            "revoke_retrofit", "set_obligation", "restrict_enterprise", "restore_enterprise",
            "restrict_agency", "restore_agency", "open_market", "set_market_parameters",
            "adopt_rules", "grant_role", "record_sampling_outcome"} == set(ACTIONS)
    r, users = world()
    try:
        p = r.proposals.propose(action="adopt_rules", params={"version": "NO-SUCH-RULES"},
                                by=users["a"], at=AT)
        with pytest.raises(RegistryError):
            r.proposals.approve_proposal(proposal_id=p.proposal_id, by=users["b"], at=AT)
        # not approved without its act
        assert r.proposals.proposal(p.proposal_id).state == "pending"
    finally:
        r.close()


# -- the second representative inside an enterprise ----------------------------------------

REQUEST_OPS = ("offer", "confirm", "reject", "withdraw", "switch_off", "direct")


@pytest.fixture(scope="module")
def market() -> Any:
    """The exchange world (Dyeing holds 100 t of COD) with users: Dyeing's two
    representatives, a trader without the role, and Paper's representative."""
    from registry.seed_users import user_for
    from tests.integration.test_exchange_journeys import COD, exchange_world

    r = build_registry({"REGISTRY_STORE": "memory"})
    w = exchange_world(r)
    people = {"first": user_for(r, "enterprise", w.dyeing).user_id,
              "second": user_for(r, "representative", w.dyeing).user_id,
              "other": user_for(r, "representative", w.paper).user_id}
    yield r, w, people, COD
    r.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(who=st.sampled_from(["first", "second", "other"]),
       ops=st.lists(st.tuples(st.sampled_from(REQUEST_OPS), st.integers(0, 3)), min_size=1,
                    max_size=10))
def test_no_single_representative_moves_units_out(market: Any, who: str,
                                                  ops: list[tuple[str, int]]) -> None:
    """Whatever one user does alone (request, confirm, reject, withdraw, switch the
    requirement off, offer directly), no agreement is made and the requirement stays on."""
    r, w, people, cod = market
    me = people[who]
    made: list[str] = []
    refs = {f"AG-P-{n}" for n in range(4)}
    for op, n in ops:
        try:
            if op == "offer":
                made.append(r.requests.request_as_representative(
                    action="offer_agreement", by=me, at=AT,
                    params={"reference": f"AG-P-{n}", "instrument": cod, "seller": w.dyeing,
                            "buyer": w.paper, "price": 750_000, "qty": 1_000}).proposal_id)
            elif op == "switch_off":
                made.append(r.requests.request_as_representative(
                    action="set_second_representative", by=me, at=AT,
                    params={"credit_code": w.dyeing, "required": False}).proposal_id)
            elif op == "direct":
                r.exchange_modes.offer_agreement(reference=f"AG-P-{n}", instrument=cod,
                                                 seller=w.dyeing, buyer=w.paper, price=750_000,
                                                 qty=1_000, offered_by=me, at=AT)
            elif made:
                rid = made[n % len(made)]
                if op == "confirm":
                    r.requests.confirm_request(request_id=rid, by=me, at=AT)
                elif op == "reject":
                    r.requests.reject_request(request_id=rid, by=me, reason="no", at=AT)
                else:
                    r.requests.withdraw_request(request_id=rid, by=me, at=AT)
        except RegistryError:
            pass  # refused, and nothing changed
    assert r.enterprise(w.dyeing).needs_second_representative
    for ref in refs:
        with pytest.raises(RegistryError):
            r.exchange_modes.agreement(ref)
