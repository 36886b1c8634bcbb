"""Every event the demo world and a second-representative scenario produce names its
``actor`` in its payload: a user's id or ``system:<job>`` (never the unattributed fallback);
an act that took effect through an approval or a confirmation also names ``approved_by``."""

from __future__ import annotations

from collections import Counter
from typing import Any

from registry.acting import UNATTRIBUTED
from registry.bootstrap import build_registry
from registry.demo import demo_id, seed_demo
from registry.events import stored_events

AT = "2025-12-20T10:00:00+08:00"
LATER = "2026-01-20T10:00:00+08:00"


def test_every_event_type_names_a_person_or_a_job() -> None:
    r = build_registry({"REGISTRY_STORE": "memory"})
    try:
        summary = seed_demo(r)
        sale = summary["transfers"][0]
        seller = sale["seller"]
        first, second = demo_id(f"trader.{seller.lower()}"), demo_id(f"rep.{seller.lower()}")
        # a request confirmed, one left to expire, and the setting switched off by two
        r.representatives.set_second_representative(credit_code=seller, required=False, by=first,
                                                    at=AT, confirmed_by=second, actor=first,
                                                    approved_by=second)
        r.representatives.set_second_representative(credit_code=seller, required=True, by=second,
                                                    at=AT, actor=second)
        params = {"reference": "AG-ACTOR-1", "instrument": sale["instrument"],
                  "seller": seller, "buyer": sale["buyer"], "price": sale["price"],
                  "qty": 1_000}
        request = r.requests.request_as_representative(action="offer_agreement", params=params,
                                                       by=first, at=AT)
        r.requests.confirm_request(request_id=request.proposal_id, by=second, at=AT)
        r.requests.request_as_representative(action="offer_agreement",
                                             params={**params, "reference": "AG-ACTOR-2"}, by=first,
                                             at=AT)
        assert r.proposals.expire_proposals(at=LATER) >= 1
        users = {u.user_id for u in r.users.users()}
        kinds: Counter[str] = Counter()
        unnamed: dict[str, Any] = {}
        for position, e in stored_events(r):
            name = type(e).__qualname__
            kinds[name] += 1
            actor = vars(e).get("actor")
            if not isinstance(actor, str) or actor == UNATTRIBUTED or not (
                    actor in users or actor.startswith("system:")):
                unnamed.setdefault(name, (position, actor))
        assert not unnamed, unnamed
        assert len(kinds) >= 45  # the whole world, not a corner of it
        for name in ("Enterprise.SecondRepresentativeSet", "Proposal.Expired",
                     "Agreement.Offered", "User.Registered", "Proposal.Approved"):
            assert kinds[name], name
        offered = [vars(e) for _, e in stored_events(r)
                   if type(e).__qualname__ == "Agreement.Offered"
                   and vars(e)["reference"] == "AG-ACTOR-1"]
        assert [(o["actor"], o["approved_by"]) for o in offered] == [(first, second)]
        expired = [vars(e) for _, e in stored_events(r)
                   if type(e).__qualname__ == "Proposal.Expired"]
        assert {x["actor"] for x in expired} == {"system:proposal-expiry"}
        # every act that went through a proposal names its approver
        for _, e in stored_events(r):
            if type(e).__qualname__ in ("Instrument.Frozen", "Retrofit.Confirmed"):
                assert vars(e).get("approved_by") in users, type(e).__qualname__
    finally:
        r.close()
