"""Confirmed-right commands, and the amendments other commands make to rights in their saves.

``confirm_right`` is the administrator's confirmation (a new right, or a new permit for an
existing one). The other changes are made by the commands that cause them, in their own save
(`domain.confirmed_right`): issuance records the retrofit's verified post-retrofit level after
checking the cap (`rights_for_issuance`); a transfer moves the right from seller to buyer
(`rights_for_transfer`); an approved expansion records its use (`rights_for_expansion`); a
revocation withdraws the retrofit's level and lowers the rights of holders who lost units
(`rights_for_revocation`); exchange settlement — a group-committed batch of order-book trades,
an approved trade, an agreement, an auction — amends each party's right once per settlement,
in the settlement's own save (`rights_for_settlement`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from domain.catalogue import Catalogue
from domain.confirmed_right import ConfirmedRight
from domain.enterprise import Enterprise
from domain.errors import NoConfirmedRight, NotFound
from domain.reference import kind_info
from domain.retrofit import Retrofit
from registry.app import RegistryBase, command

SECTION = "confirmed_rights"
HELD_STATES = ("available", "reserved")


class RightsService:
    """Confirmed rights, and the amendments other areas' commands make to them."""

    def __init__(self, core: RegistryBase) -> None:
        self.core = core

    def confirmed_right(self, enterprise: str, kind: str) -> ConfirmedRight:
        c: ConfirmedRight = self.core.load(
            ConfirmedRight, ConfirmedRight.create_id(enterprise, kind),
            f"confirmed {kind} right of {enterprise}")
        return c

    def right_or_none(self, enterprise: str, kind: str) -> ConfirmedRight | None:
        try:
            return self.confirmed_right(enterprise, kind)
        except NotFound:
            return None

    def rights_of(self, enterprise: str) -> list[ConfirmedRight]:
        self.core.enterprise(enterprise)
        keys = [k for k in self.core.catalogue().listed(SECTION) if k.startswith(f"{enterprise}/")]
        return [self.confirmed_right(*k.split("/", 1)) for k in sorted(keys)]

    @command
    def confirm_right(self, *, enterprise: str, kind: str, quantity: int, permit: str,
                      valid_from: str, valid_until: str, actor: str, at: str) -> ConfirmedRight:
        """Confirm an enterprise's annual right for ``kind`` from its permit or quota; a second
        confirmation records the new permit's quantity and term."""
        self.core.enterprise(enterprise)
        kind_info(kind)
        existing = self.right_or_none(enterprise, kind)
        if existing is not None:
            existing.reconfirm(quantity=quantity, permit=permit, valid_from=valid_from,
                               valid_until=valid_until, actor=actor, at=at)
            self.core.save(existing)
            return existing
        right = ConfirmedRight.confirm_new(enterprise=enterprise, kind=kind, quantity=quantity,
                                           permit=permit, valid_from=valid_from,
                                           valid_until=valid_until, actor=actor, at=at)
        self.core.create(SECTION, f"{enterprise}/{kind}", right)
        return right

    def held_surplus(self, enterprise: str, kind: str) -> int:
        """Surplus units of ``kind`` the enterprise holds (available or reserved), all zones
        and vintages."""
        held = 0
        for code in self.core.catalogue().listed("instruments"):
            if code.split("-", 1)[0] == kind:
                per = self.core.instrument(code).balances().get(enterprise, {})
                held += sum(per.get(s, 0) for s in HELD_STATES)
        return held

    # -- amendments made inside other commands' saves -------------------------------------------

    def rights_for_issuance(self, r: Retrofit, e: Enterprise, surplus: dict[str, int],
                            at: str) -> list[ConfirmedRight]:
        """Check the cap for every kind and record the verified post-retrofit levels; the
        caller saves the rights with the issuance."""
        out = []
        for kind, amount in sorted(surplus.items()):
            right = self.right_or_none(e.credit_code, kind)
            if right is None:
                raise NoConfirmedRight(
                    f"{e.credit_code} holds no confirmed {kind} right: an administrator "
                    "confirms it from the permit or quota before surplus is issued")
            if r.verification is None:
                raise NotFound(f"retrofit {r.reference} has no verification")
            post_level = r.baseline_amounts()[kind] - r.verification["reductions"][kind]
            right.check_issuable(amount=amount, post_level=post_level,
                                 remaining_obligation=e.remaining_obligation(kind, r.period),
                                 held=self.held_surplus(e.credit_code, kind))
            right.record_retrofit(retrofit=r.reference, post_level=post_level, at=at)
            out.append(right)
        return out

    def rights_for_transfer(self, *, kind: str, seller: str, buyer: str, quantity: int,
                            ref: str, at: str) -> list[ConfirmedRight]:
        """Amend the rights both parties hold for ``kind`` (a party holding none, e.g. in a
        store from before confirmed rights, is left as it is)."""
        out = []
        sold = self.right_or_none(seller, kind)
        if sold is not None:
            sold.sell(quantity=quantity, ref=ref, counterparty=buyer, at=at)
            out.append(sold)
        bought = self.right_or_none(buyer, kind)
        if bought is not None:
            bought.buy(quantity=quantity, ref=ref, counterparty=seller, at=at)
            out.append(bought)
        return out

    def rights_for_settlement(
        self, *, kind: str, transfers: Iterable[Sequence[Any]], ref: str, at: str,
        catalogue: Catalogue | None = None, get: Callable[[UUID, str], Any] | None = None,
    ) -> list[ConfirmedRight]:
        """Amend the rights of everyone a settlement moved units between: ``transfers`` are
        ``(seller, buyer, qty, trade)``; each party's right changes once (its totals sold and
        bought, naming every trade it sold and bought in), whatever the number of its trades.
        ``catalogue`` and ``get`` are the exchange writer's (cached) when the settlement runs
        there. A party
        holding no right for ``kind`` (a store from before confirmed rights) is left as it is.
        """
        per: dict[str, list[Any]] = {}  # code -> [sold, bought, sales, purchases]
        for seller, buyer, qty, trade in transfers:
            s = per.get(seller) or per.setdefault(seller, [0, 0, [], []])
            s[0] += qty
            s[2].append(trade)
            b = per.get(buyer) or per.setdefault(buyer, [0, 0, [], []])
            b[1] += qty
            b[3].append(trade)
        listed = (catalogue or self.core.catalogue()).entries.get(SECTION, ())
        out = []
        for code in sorted(per):
            if f"{code}/{kind}" not in listed:
                continue
            right_id = ConfirmedRight.create_id(code, kind)
            what = f"confirmed {kind} right of {code}"
            right: ConfirmedRight = get(right_id, what) if get else self.core.load(
                ConfirmedRight, right_id, what)
            sold, bought, sales, purchases = per[code]
            right.settle(sold=sold, bought=bought, sales=sales, purchases=purchases, ref=ref,
                         at=at)
            out.append(right)
        return out

    def rights_for_expansion(self, *, enterprise: str, kind: str, quantity: int,
                             expansion: str, project_permit: str,
                             at: str) -> list[ConfirmedRight]:
        right = self.right_or_none(enterprise, kind)
        if right is None:
            return []
        right.use_for_expansion(quantity=quantity, expansion=expansion,
                                project_permit=project_permit, at=at)
        return [right]

    def rights_for_revocation(self, r: Retrofit, kind: str, lost_by_holder: dict[str, int],
                              spot_check: str, at: str) -> list[ConfirmedRight]:
        """The originator's level goes; every other holder's right falls by what it lost."""
        out = []
        for holder in sorted({r.enterprise, *lost_by_holder}):
            right = self.right_or_none(holder, kind)
            if right is None:
                continue
            lost = 0 if holder == r.enterprise else lost_by_holder.get(holder, 0)
            right.revoke(retrofit=r.reference, lost=lost, spot_check=spot_check, at=at)
            out.append(right)
        return out


def right_view(right: ConfirmedRight, *, remaining_obligation: int | None = None
               ) -> dict[str, Any]:
    view: dict[str, Any] = {
        "enterprise": right.enterprise, "kind": right.kind, "quantity": right.quantity,
        "unit": f"{kind_info(right.kind).unit}/yr", "permit": right.permit,
        "post_retrofit_level": right.post_retrofit_level, "levels": right.levels,
        "expansion_use": right.expansion_use, "changes": right.changes,
        "version": right.version,
    }
    if remaining_obligation is not None:
        view["headroom"] = right.headroom(remaining_obligation=remaining_obligation)
    return view
