"""Retrofit commands: audits, verification, confirmation, issuance and revocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.agency import Agency
from domain.errors import InvalidInput
from domain.instrument import Instrument, Term
from domain.retrofit import Retrofit
from domain.rules import TradingRules
from registry.app import RegistryBase, command
from registry.exchange_writes import ExchangeWrites
from registry.lifecycle import SYSTEM, Changes, LifecycleService, who
from registry.rights import RightsService

if TYPE_CHECKING:
    from registry.exchange_writer import ExchangeWriter


class RetrofitService:
    """Retrofits from registration to issuance, and their revocation."""

    def __init__(self, core: RegistryBase, *, rights: RightsService,
                 exchange_writes: ExchangeWrites, lifecycle: LifecycleService) -> None:
        self.core = core
        self.rights = rights
        self.exchange_writes = exchange_writes
        self.lifecycle = lifecycle

    @command
    def register_retrofit(
        self, *, reference: str, enterprise: str, period: int, kinds: list[str],
        description: str, at: str,
    ) -> Retrofit:
        self.core.enterprise(enterprise)  # must exist
        r = Retrofit.register(reference=reference, enterprise=enterprise, period=period,
                              kinds=kinds, description=description, at=at)
        self.core.create("retrofits", reference, r)
        return r

    @command
    def engage_agency(self, *, reference: str, stage: str, agency: str, by: str,
                      at: str) -> Retrofit:
        """The enterprise engages ``agency`` for the retrofit's audits or its verification
        (``stage``); only the engaged agency files that stage."""
        r = self.core.retrofit(reference)
        r.engage(stage=stage, agency=self.core.agency(agency), by=by, at=at)
        self.core.save(r)
        return r

    def _check_agencies(self, r: Retrofit) -> None:
        """A barred agency's pending work is neither confirmed nor issued."""
        r.check_agencies_in_good_standing(
            [self.core.agency(code) for code in sorted(set(r.agencies().values()))])

    @command
    def record_baseline_audit(
        self, *, reference: str, agency: str, report_sha256: str, amounts: dict[str, int],
        at: str,
    ) -> None:
        r = self.core.retrofit(reference)
        e = self.core.enterprise(r.enterprise)
        for kind, amount in sorted(amounts.items()):
            if isinstance(amount, int):  # the audit's own checks refuse anything else
                e.check_baseline(kind, amount, reference, r.period)
        r.record_baseline_audit(agency=self.core.agency(agency), report_sha256=report_sha256,
                                amounts=amounts, at=at)
        self.core.save(r)

    @command
    def record_post_audit(
        self, *, reference: str, agency: str, report_sha256: str, amounts: dict[str, int],
        at: str,
    ) -> None:
        r = self.core.retrofit(reference)
        r.record_post_audit(agency=self.core.agency(agency), report_sha256=report_sha256,
                            amounts=amounts, at=at)
        self.core.save(r)

    @command
    def verify_retrofit(
        self, *, reference: str, agency: str, report_sha256: str, reductions: dict[str, int],
        at: str,
    ) -> None:
        r = self.core.retrofit(reference)
        r.verify(agency=self.core.agency(agency), report_sha256=report_sha256,
                 reductions=reductions, at=at)
        self.core.save(r)

    @command
    def confirm_retrofit(self, *, reference: str, administrator: str, at: str) -> dict[str, int]:
        """确权: the reduction first meets the enterprise's own task; the rest is surplus."""
        r = self.core.retrofit(reference)
        self._check_agencies(r)
        e = self.core.enterprise(r.enterprise)
        baseline = r.baseline_amounts()
        for kind in r.kinds:  # again: another retrofit may have been confirmed meanwhile
            if kind in baseline:  # else `confirm` refuses: not audited yet
                e.check_baseline(kind, baseline[kind], reference, r.period)
        remaining = {k: e.remaining_obligation(k, r.period) for k in r.kinds}
        r.confirm(administrator=administrator, remaining_obligations=remaining, at=at)
        for kind, applied in r.confirmation["obligation_applied"].items():  # type: ignore[index]
            if applied:
                e.meet_obligation(kind=kind, period=r.period, amount=applied,
                                  retrofit_id=str(r.id))
        for kind in r.kinds:
            verified = r.verification["reductions"][kind]  # type: ignore[index]
            e.record_level(kind=kind, level=baseline[kind] - verified, retrofit=reference,
                           period=r.period, at=at)
        self.core.save(r, e)
        return r.surplus()

    @command
    def issue_surplus(self, *, reference: str, administrator: str, at: str) -> dict[str, Any]:
        """Issue the confirmed surplus as serial-numbered lots, one per kind, in the instrument
        of the enterprise's trading zone for that kind."""
        if not administrator.strip():
            raise InvalidInput("issuance needs the administrator's id")
        r = self.core.retrofit(reference)
        surplus = r.check_issuable()
        self._check_agencies(r)
        e = self.core.enterprise(r.enterprise)
        catalogue = self.core.catalogue()
        rules = self.core.current_rules(at, catalogue)
        # the cap: no more than the confirmed right less the post-retrofit level less the
        # remaining obligation less the surplus held (`registry.rights`)
        rights = self.rights.rights_for_issuance(r, e, surplus, at)
        changed: list[Any] = [r, *rights]
        lots: dict[str, dict[str, Any]] = {}
        for kind, quantity in sorted(surplus.items()):
            zone = rules.zone_of(kind, e.party())
            instrument = self._instrument_or_open(kind, r.period, zone, at, catalogue,
                                                  rules)
            lot_id = f"{reference}/{kind}"
            first, last = instrument.issue(
                lot_id=lot_id, owner=e.credit_code, retrofit=str(r.id),
                retrofit_reference=reference, quantity=quantity,
                expires_on=instrument.term.ends_on, evidence=r.evidence(),
                agencies=r.agencies(), at=at,
            )
            lots[kind] = {"instrument": instrument.code, "lot": lot_id, "first": first,
                          "last": last, "quantity": quantity, "term": instrument.term.view()}
            changed.append(instrument)
        r.mark_issued(lots=lots, administrator=administrator, at=at)
        self.core.save(*changed, catalogue)
        return lots

    def _instrument_or_open(self, kind: str, vintage: int, zone: str, at: str,
                            catalogue: Any, rules: TradingRules) -> Instrument:
        """The instrument of the zone; a new one trades under the rules in force today and
        its units run for their term (`domain.instrument.Term`); issued units expire at the
        end of the instrument's term."""
        code = f"{kind}-{vintage}-{zone}"
        if code in catalogue.entries["instruments"]:
            return self.core.instrument(code)
        catalogue.add(section="instruments", key=code)
        i = Instrument.open(kind=kind, vintage=vintage, zone=zone, at=at,
                            term=Term.after(vintage, rules.term_years))
        i.assign_rules(version=rules.version, reason="in force when the instrument opened",
                       by="system:issuance", at=at)
        return i

    @command
    def revoke_retrofit(
        self, *, reference: str, reason: str, spot_check: str, at: str,
        restrict_enterprise: bool = True, restrict_agencies: tuple[str, ...] = (),
        actor: str = SYSTEM,
    ) -> dict[str, Any]:
        """A failed spot check: revoke every lot of the retrofit under the clawback policy
        (domain/instrument.py), charge unrecoverable units to the enterprise's obligation,
        and put the fraud on the credit records named. What stood on the revoked units
        (orders, agreements, auctions, holds, applications), and everything of a restricted
        enterprise, ends in the same save (`registry.lifecycle`)."""
        actor = who(actor)

        def run(w: ExchangeWriter) -> dict[str, Any]:
            changes = Changes()
            outcome = self.revocation_into(
                w, changes, reference=reference, reason=reason, spot_check=spot_check, at=at,
                restrict_enterprise=restrict_enterprise, restrict_agencies=restrict_agencies,
                actor=actor)
            self.lifecycle.save_changes(w, changes, ref=f"revocation:{reference}", at=at)
            return outcome

        result: dict[str, Any] = self.exchange_writes.with_writer(f"revocation of {reference}", run)
        return result

    def revocation_into(
        self, w: ExchangeWriter, changes: Changes, *, reference: str, reason: str,
        spot_check: str, at: str, restrict_enterprise: bool = True,
        restrict_agencies: tuple[str, ...] = (), actor: str = SYSTEM,
    ) -> dict[str, Any]:
        """A revocation's changes, added to ``changes`` (not saved): so a command that revokes
        as part of something else (a sampling round's failed outcome, `registry.sampling`)
        saves them with its own in one transaction. Returns what each lot lost."""
        r: Retrofit = w.get(Retrofit.create_id(reference), f"retrofit {reference}")
        e = self.exchange_writes.trader_in(w, r.enterprise)
        r.revoke(reason=reason, spot_check=spot_check, at=at)
        changes.add(r, e)
        if r.confirmation is not None:  # what it counted towards the task goes back
            for kind, credit in sorted(r.confirmation["obligation_applied"].items()):
                e.reverse_retrofit(kind=kind, period=r.period, obligation_credit=credit,
                                   retrofit=reference, reason=reason, at=at)
        why = f"retrofit {reference} revoked ({spot_check}): {reason}"
        outcome: dict[str, Any] = {}
        for kind, lot in sorted(r.lots.items()):
            instrument = self.exchange_writes.instrument_in(w, lot["instrument"])
            result = instrument.revoke_lot(lot_id=lot["lot"], reason=reason,
                                           ref=spot_check, at=at)
            if result["unrecoverable"]:
                e.owe_clawback(kind=kind, period=r.period, amount=result["unrecoverable"],
                               retrofit_id=str(r.id))
            outcome[kind] = result
            changes.add(instrument)
            changes.add(*self.rights.rights_for_revocation(
                r, kind, result["lost_by_holder"], spot_check, at))
            self.lifecycle.settle_dependents(w, instrument, changes, reason=why, by=actor, at=at,
                                             refs=result["reservations_hit"])
        if restrict_enterprise:
            e.restrict(reason=f"retrofit {reference} failed spot check: {reason}",
                       reference=spot_check, at=at)
            self.lifecycle.settle_party(w, e.credit_code, changes, reason=why, by=actor, at=at)
        for code in restrict_agencies:
            agency = w.get(Agency.create_id(code), f"agency {code}")
            agency.restrict(reason=f"retrofit {reference} failed spot check: {reason}",
                            reference=spot_check, at=at)
            changes.add(agency)
        return outcome
