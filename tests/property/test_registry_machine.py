"""A stateful property test of the registry: any sequence of commands keeps the books straight.

After every step, per instrument: issued = available + reserved + consumed + retired + expired +
revoked; no negative balance; serial blocks disjoint and covering the issued range; a refused
command wrote nothing; and the state rebuilt from the stored events equals the live state.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.errors import RegistryError
from domain.instrument import FIRST, LAST, STATES, Instrument
from registry.bootstrap import build_registry
from registry.events import stored_events, to_record
from registry.replay import Fold, comparable
from tests.support.world import AT, build_world, issue

KINDS = ("COD", "NOX")
VINTAGES = (2021, 2023, 2025)
ROLES = ("dyeing", "paper", "electronics", "power", "chemicals")
quantities = st.integers(min_value=1, max_value=400)


class RegistryMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.app = build_registry({"REGISTRY_STORE": "memory"})
        self.world = build_world(self.app)
        self.serial = itertools.count()
        self.refs: list[tuple[str, str]] = []  # (instrument, reservation ref)
        self.freezes: list[tuple[str, str]] = []
        self.expansions: list[str] = []
        self.retrofits: list[str] = []
        self.lot_total: dict[str, int] = {}

    def code_of(self, role: str) -> str:
        return str(getattr(self.world, role))

    def attempt(self, fn, **kwargs):  # type: ignore[no-untyped-def]
        """Run a command; a refusal must leave the event log exactly as it was."""
        position = self.app.queries.position()
        try:
            return fn(**kwargs)
        except RegistryError:
            assert self.app.queries.position() == position
            return None

    def instrument_codes(self) -> list[str]:
        return list(self.app.catalogue().entries["instruments"])

    @rule(role=st.sampled_from(ROLES), kind=st.sampled_from(KINDS),
          vintage=st.sampled_from(VINTAGES), baseline=st.integers(1, 2_000),
          cut=st.integers(0, 100))
    def issue_retrofit(self, role: str, kind: str, vintage: int, baseline: int, cut: int) -> None:
        # no double counting: a further retrofit starts from the level verified last
        level = self.app.enterprise(self.code_of(role)).latest_level(kind, vintage)
        if level is not None:
            baseline = min(baseline, level)
        if baseline < 1:
            return
        post = baseline - max(1, baseline * cut // 100)
        if post < 0:
            post = 0
        ref = f"RF-{next(self.serial)}"
        lots = issue(self.app, self.world, reference=ref, enterprise=self.code_of(role),
                     kind=kind, baseline=baseline, post=post, period=vintage)
        self.retrofits.append(ref)
        for lot in lots.values():
            self.lot_total[lot["instrument"]] = (
                self.lot_total.get(lot["instrument"], 0) + lot["quantity"])

    @rule(data=st.data(), seller=st.sampled_from(ROLES), buyer=st.sampled_from(ROLES),
          quantity=quantities)
    def transfer(self, data: st.DataObject, seller: str, buyer: str, quantity: int) -> None:
        codes = self.instrument_codes()
        if not codes:
            return
        self.attempt(self.app.holdings.transfer, instrument=data.draw(st.sampled_from(codes)),
                     seller=self.code_of(seller), buyer=self.code_of(buyer), quantity=quantity,
                     ref=f"T-{next(self.serial)}", at=AT, reason="correction",
                     administrator="admin-t")

    @rule(data=st.data(), owner=st.sampled_from(ROLES), quantity=quantities)
    def reserve(self, data: st.DataObject, owner: str, quantity: int) -> None:
        codes = self.instrument_codes()
        if not codes:
            return
        code, ref = data.draw(st.sampled_from(codes)), f"order-{next(self.serial)}"
        self.attempt(self.app.holdings.reserve, instrument=code, owner=self.code_of(owner),
                     quantity=quantity, ref=ref, at=AT)
        self.refs.append((code, ref))

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if self.refs:
            code, ref = data.draw(st.sampled_from(self.refs))
            self.attempt(self.app.holdings.release, instrument=code, ref=ref, at=AT)

    @rule(data=st.data(), owner=st.sampled_from(ROLES), quantity=quantities,
          approve=st.booleans())
    def expansion(self, data: st.DataObject, owner: str, quantity: int, approve: bool) -> None:
        codes = self.instrument_codes()
        if not codes:
            return
        ref = f"EX-{next(self.serial)}"
        done = self.attempt(self.app.holdings.submit_expansion, reference=ref,
                            enterprise=self.code_of(owner),
                            instrument=data.draw(st.sampled_from(codes)), quantity=quantity,
                            project="new line", at=AT)
        if done is None:
            return
        if approve:
            self.attempt(self.app.holdings.approve_expansion, reference=ref,
                         administrator="admin-2", approval=f"GDEE-{ref}", at=AT)
        else:
            self.attempt(self.app.holdings.reject_expansion, reference=ref, administrator="admin-2",
                         reason="capacity plan withdrawn", at=AT)

    @rule(data=st.data(), owner=st.sampled_from(ROLES), quantity=quantities)
    def retire(self, data: st.DataObject, owner: str, quantity: int) -> None:
        codes = self.instrument_codes()
        if codes:
            self.attempt(self.app.holdings.retire, instrument=data.draw(st.sampled_from(codes)),
                         owner=self.code_of(owner), quantity=quantity, reason="voluntary",
                         at=AT)

    @rule(data=st.data(), owner=st.sampled_from(ROLES))
    def freeze(self, data: st.DataObject, owner: str) -> None:
        codes = self.instrument_codes()
        if codes:
            code, ref = data.draw(st.sampled_from(codes)), f"F-{next(self.serial)}"
            if self.attempt(self.app.holdings.freeze, instrument=code, owner=self.code_of(owner),
                            ref=ref, reason="investigation", at=AT):
                self.freezes.append((code, ref))

    @rule(data=st.data())
    def unfreeze(self, data: st.DataObject) -> None:
        if self.freezes:
            code, ref = data.draw(st.sampled_from(self.freezes))
            self.attempt(self.app.holdings.unfreeze, instrument=code, ref=ref, at=AT)

    @rule(as_of=st.sampled_from(["2026-12-31", "2027-01-01", "2029-01-01", "2031-01-01"]))
    def expire(self, as_of: str) -> None:
        self.attempt(self.app.holdings.expire, as_of=as_of, at=AT)

    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        if self.retrofits:
            self.attempt(self.app.retrofits.revoke_retrofit,
                         reference=data.draw(st.sampled_from(self.retrofits)),
                         reason="spot check failed", spot_check=f"SC-{next(self.serial)}",
                         at=AT, restrict_enterprise=False)

    @invariant()
    def units_are_conserved_and_blocks_partition_the_issued_range(self) -> None:
        for code in self.instrument_codes():
            i = self.app.instrument(code)
            assert i.issued() == self.lot_total[code]
            totals = i.totals()
            assert set(totals) == set(STATES)
            assert sum(totals.values()) == i.issued()
            expected_first = 1
            for b in i.iter_blocks():
                assert b[FIRST] == expected_first and b[LAST] >= b[FIRST]
                expected_first = b[LAST] + 1
            assert expected_first == i.issued() + 1
            for per in i.balances().values():
                assert all(v >= 0 for v in per.values())
            index: dict[str, list[int]] = {}
            for b in i.iter_blocks():
                index.setdefault(b[2], []).append(b[FIRST])
            assert i.owned == index  # the per-owner index matches the blocks

    @invariant()
    def replay_of_stored_events_equals_live_state(self) -> None:
        fold = self.app.queries.replay()
        for aggregate_id, rebuilt in fold.aggregates.items():
            assert comparable(rebuilt) == comparable(self.app.repository.get(aggregate_id))
        assert {i.code for i in fold.of_type(Instrument)} == set(self.instrument_codes())
        # the auditor's fast path, from plain records as in a ledger export, agrees
        records = Fold()
        for position, event in stored_events(self.app):
            records.apply_record(json.loads(json.dumps(to_record(position, event))))
        assert {k: comparable(v) for k, v in records.aggregates.items()} == {
            k: comparable(v) for k, v in fold.aggregates.items()}


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
