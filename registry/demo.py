"""The demo world: a deterministic Guangdong cleaner-production year, seeded through the registry.

``seed_demo(registry, at_start=...)`` drives the registry's own commands — the same ones the CLI
and the API call — so the demo exercises every rule it shows: 24 enterprises in 8 river basins
and 11 prefectures, 5 accredited agencies, obligations, retrofits reducing every indicator kind
through the full lifecycle (audits and verification by different agencies, SHA-256 evidence),
one retrofit whose reduction only meets the enterprise's own task (no surplus), confirmed
rights from discharge permits and energy-use quotas capping issuance, sales inside the trading
zones as agreement transfers (offered, accepted, verified by a second administrator, delivery
versus payment), a task changed with its reason, a capacity expansion, a freeze that reaches
units parked in a hold, a revocation after a failed spot check that also ends the agreement
still pending on the revoked units and releases the buyer's cash, and (on a store with a
ledger: ``run_spot_checks``) the year's sampling round drawn from the ledger's seed. A few
sales the rules forbid are attempted and their refusals recorded.

Nothing here reads a clock or draws unseeded randomness: the same ``at_start`` gives the same
events. Times advance from ``at_start`` over about ten months.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.credit_code import ALPHABET, make_credit_code
from domain.errors import NoSurplus, OutsideTradingZone
from domain.instrument import STATES
from domain.reference import BASINS, PREFECTURES
from registry import holds
from registry.acting import acting

if TYPE_CHECKING:
    from ledger.log import Ledger
    from registry.bootstrap import Registry

DEFAULT_START = "2025-01-06T09:00:00+08:00"
ADMIN = "gdee-admin-li"
ADMIN_2 = "gdee-admin-chen"
DEMO_AUDITOR = "gd-audit-office-zhou"

# Administrative division codes (GB/T 2260) that open a unified social credit code.
DIVISIONS = {
    "GUANGZHOU": "440100", "SHAOGUAN": "440200", "SHENZHEN": "440300", "ZHUHAI": "440400",
    "SHANTOU": "440500", "FOSHAN": "440600", "JIANGMEN": "440700", "ZHANJIANG": "440800",
    "MAOMING": "440900", "ZHAOQING": "441200", "HUIZHOU": "441300", "MEIZHOU": "441400",
    "SHANWEI": "441500", "HEYUAN": "441600", "YANGJIANG": "441700", "QINGYUAN": "441800",
    "DONGGUAN": "441900", "ZHONGSHAN": "442000", "CHAOZHOU": "445100", "JIEYANG": "445200",
    "YUNFU": "445300",
}


@dataclass(frozen=True)
class Firm:
    key: str
    name: str
    sector: str
    prefecture: str
    basin: str
    direct_discharger: bool


FIRMS = (
    Firm("huaxin", "Shenzhen Huaxin Printing & Dyeing Co., Ltd.", "TEXTILE_DYEING", "SHENZHEN",
         "MAOZHOU", True),
    Firm("jianhui", "Dongguan Jianhui Paper Co., Ltd.", "PAPER", "DONGGUAN", "MAOZHOU", True),
    Firm("guangming", "Shenzhen Guangming Precision Electronics Co., Ltd.", "ELECTRONICS",
         "SHENZHEN", "MAOZHOU", False),
    Firm("changan", "Dongguan Chang'an Circuit Board Co., Ltd.", "ELECTRONICS", "DONGGUAN",
         "MAOZHOU", True),
    Firm("shima", "Dongguan Shima Textile Dyeing Co., Ltd.", "TEXTILE_DYEING", "DONGGUAN",
         "SHIMA", True),
    Firm("qingxi", "Dongguan Qingxi Paper Industry Co., Ltd.", "PAPER", "DONGGUAN", "SHIMA",
         True),
    Firm("humen", "Dongguan Humen Thermal Power Co., Ltd.", "THERMAL_POWER", "DONGGUAN", "SHIMA",
         True),
    Firm("dayawan", "Huizhou Daya Bay Petrochemical Co., Ltd.", "PETROCHEMICAL", "HUIZHOU",
         "DANSHUI", True),
    Firm("zhongkai", "Huizhou Zhongkai Display Technology Co., Ltd.", "ELECTRONICS", "HUIZHOU",
         "DANSHUI", False),
    Firm("huiyang", "Huizhou Huiyang Textile Printing Co., Ltd.", "TEXTILE_DYEING", "HUIZHOU",
         "DANSHUI", True),
    Firm("dongbu", "Shenzhen Dongbu Power Co., Ltd.", "THERMAL_POWER", "SHENZHEN", "DANSHUI",
         True),
    Firm("huangpu", "Guangzhou Huangpu Thermal Power Co., Ltd.", "THERMAL_POWER", "GUANGZHOU",
         "GUANGFO", True),
    Firm("zhujiang", "Guangzhou Zhujiang Thermal Power Co., Ltd.", "THERMAL_POWER", "GUANGZHOU",
         "GUANGFO", True),
    Firm("baiyun", "Guangzhou Baiyun Coatings Chemical Co., Ltd.", "PETROCHEMICAL", "GUANGZHOU",
         "GUANGFO", True),
    Firm("panyu", "Guangzhou Panyu Automobile Manufacturing Co., Ltd.", "AUTOMOBILES",
         "GUANGZHOU", "GUANGFO", False),
    Firm("nanhai", "Foshan Nanhai Aluminium Products Co., Ltd.", "NONFERROUS", "FOSHAN",
         "GUANGFO", True),
    Firm("shunde", "Foshan Shunde Household Appliances Co., Ltd.", "APPLIANCES", "FOSHAN",
         "GUANGFO", False),
    Firm("sanshui", "Foshan Sanshui Ceramics Co., Ltd.", "BUILDING_MATERIALS", "FOSHAN",
         "GUANGFO", True),
    Firm("chaoyang", "Shantou Chaoyang Printing & Dyeing Co., Ltd.", "TEXTILE_DYEING",
         "SHANTOU", "LIANJIANG", True),
    Firm("puning", "Jieyang Puning Textile Dyeing Co., Ltd.", "TEXTILE_DYEING", "JIEYANG",
         "LIANJIANG", True),
    Firm("maoming", "Maoming Petrochemical Refining Co., Ltd.", "PETROCHEMICAL", "MAOMING",
         "XIAODONG", True),
    Firm("shaogang", "Shaoguan Iron and Steel Co., Ltd.", "IRON_STEEL", "SHAOGUAN", "BEIJIANG",
         True),
    Firm("yingde", "Qingyuan Yingde Cement Co., Ltd.", "BUILDING_MATERIALS", "QINGYUAN",
         "BEIJIANG", True),
    Firm("gaoyao", "Zhaoqing Gaoyao Paper Co., Ltd.", "PAPER", "ZHAOQING", "XIJIANG", True),
)

#: key, name, accreditation certificate
AGENCIES = (
    ("huankeyuan", "Guangdong Huankeyuan Cleaner Production Consulting Co., Ltd.",
     "GD-CP-ACC-2023-011"),
    ("lvyuan", "Guangzhou Lvyuan Environmental Audit Co., Ltd.", "GD-CP-ACC-2023-027"),
    ("qingchan", "Shenzhen Qingchan Verification Centre Co., Ltd.", "GD-CP-ACC-2023-035"),
    ("nanfang", "South China Energy Conservation Assessment Co., Ltd.", "GD-CP-ACC-2024-004"),
    ("zhujiang_env", "Pearl River Environmental Technology Verification Co., Ltd.",
     "GD-CP-ACC-2024-019"),
)


@dataclass(frozen=True)
class Plan:
    """One retrofit: per kind (baseline, post-retrofit, verified reduction, own obligation)."""

    reference: str
    firm: str
    description: str
    auditor: str
    verifier: str
    figures: dict[str, tuple[int, int, int, int]]


# kg for pollutants, kgce for energy. Verified reductions never exceed the audited ones.
PLANS = (
    Plan("GDCP-2025-001", "huaxin", "Dyeing wastewater reuse with membrane bioreactor and "
         "heat recovery on stenters", "huankeyuan", "qingchan",
         {"COD": (420_000, 250_000, 165_000, 60_000), "NH3N": (38_000, 20_000, 17_000, 5_000),
          "ENERGY": (5_200_000, 4_500_000, 680_000, 200_000)}),
    Plan("GDCP-2025-002", "huangpu", "Low-NOx burners, SCR upgrade and wet desulphurisation "
         "on units 5 and 6", "lvyuan", "qingchan",
         {"NOX": (1_850_000, 1_100_000, 720_000, 250_000),
          "SO2": (960_000, 610_000, 330_000, 150_000)}),
    Plan("GDCP-2025-003", "sanshui", "Kiln flue-gas denitrification and dry desulphurisation",
         "lvyuan", "huankeyuan",
         {"NOX": (410_000, 290_000, 115_000, 40_000), "SO2": (180_000, 120_000, 58_000, 20_000)}),
    Plan("GDCP-2025-004", "baiyun", "Water-borne coating switch and regenerative thermal "
         "oxidiser", "qingchan", "lvyuan",
         {"VOC": (520_000, 260_000, 250_000, 80_000)}),
    Plan("GDCP-2025-005", "qingxi", "Pulping line white-water recycling", "huankeyuan",
         "nanfang",
         {"COD": (310_000, 270_000, 38_000, 60_000),
          "ENERGY": (2_400_000, 2_280_000, 110_000, 150_000)}),
    Plan("GDCP-2025-006", "maoming", "Refinery sour-water stripping, LDAR programme and "
         "furnace efficiency", "lvyuan", "nanfang",
         {"COD": (690_000, 470_000, 210_000, 90_000), "VOC": (880_000, 600_000, 270_000, 100_000),
          "ENERGY": (41_000_000, 38_500_000, 2_300_000, 900_000)}),
    Plan("GDCP-2025-007", "shaogang", "Sinter flue-gas desulphurisation and waste-heat power "
         "generation", "nanfang", "huankeyuan",
         {"SO2": (2_300_000, 1_700_000, 560_000, 300_000),
          "ENERGY": (95_000_000, 90_100_000, 4_700_000, 2_000_000)}),
    Plan("GDCP-2025-008", "puning", "Dyeing bath-ratio reduction and anaerobic pretreatment",
         "huankeyuan", "zhujiang_env",
         {"COD": (260_000, 150_000, 105_000, 30_000), "NH3N": (21_000, 12_000, 8_500, 2_000)}),
    Plan("GDCP-2025-009", "dayawan", "Tank-farm vapour recovery and oily-wastewater "
         "treatment upgrade", "qingchan", "lvyuan",
         {"COD": (350_000, 230_000, 115_000, 40_000), "VOC": (640_000, 420_000, 210_000, 70_000)}),
    Plan("GDCP-2025-010", "dongbu", "Gas-turbine combustor retrofit with ultra-low NOx "
         "burners", "huankeyuan", "lvyuan",
         {"NOX": (980_000, 640_000, 320_000, 120_000), "SO2": (90_000, 60_000, 28_000, 10_000)}),
)

#: every enterprise's opening deposit on the exchange (fen): 50M CNY
DEPOSIT = 5_000_000_000
#: agreement prices, fen per tonne (tce for energy)
PRICES = {"COD": 800_000, "NH3N": 1_200_000, "NOX": 600_000, "SO2": 500_000, "VOC": 400_000,
          "ENERGY": 30_000}

#: seller, buyer, kind, quantity: every one inside its trading zone
TRANSFERS = (
    ("huaxin", "jianhui", "COD", 30_000),
    ("huaxin", "changan", "NH3N", 4_000),
    ("huaxin", "shunde", "ENERGY", 150_000),
    ("huangpu", "zhujiang", "NOX", 200_000),
    ("sanshui", "nanhai", "NOX", 50_000),
    ("baiyun", "panyu", "VOC", 90_000),
    ("maoming", "gaoyao", "ENERGY", 600_000),
    ("dayawan", "huiyang", "COD", 40_000),
    ("shaogang", "yingde", "ENERGY", 1_000_000),
    ("puning", "chaoyang", "COD", 25_000),
)

#: seller, buyer, kind, quantity, why the rules refuse it
FORBIDDEN = (
    ("huangpu", "panyu", "NOX", 10_000, "thermal power may not trade air rights with others"),
    ("huaxin", "guangming", "COD", 5_000, "COD only between direct dischargers"),
    ("huaxin", "dayawan", "COD", 5_000, "water rights stay in their river basin"),
    ("sanshui", "baiyun", "NOX", 5_000, "air rights stay in their prefecture"),
)


#: the annual right (kg a year; kgce a year) of a buyer without a retrofit, per kind
BUYER_RIGHTS = {"COD": 300_000, "NH3N": 30_000, "NOX": 600_000, "SO2": 300_000,
                "VOC": 400_000, "ENERGY": 8_000_000}


class Timeline:
    """Deterministic business hours: each step on a day comes 20 minutes after the last."""

    def __init__(self, start: str) -> None:
        self.start = datetime.fromisoformat(start)
        if self.start.tzinfo is None:
            raise ValueError(f"the demo start needs a UTC offset, got {start!r}")
        self.day = 0
        self.now = self.start

    def on(self, day: int) -> str:
        if day < self.day:
            raise ValueError(f"demo timeline went back from day {self.day} to {day}")
        if day > self.day:
            self.day = day
            self.now = self.start + timedelta(days=day)
        else:
            self.now += timedelta(minutes=20)
        return self.now.isoformat(timespec="seconds")


def demo_id(login: str) -> str:
    """The demo's user ids: derived from the login, so the same world every run."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"/demo/users/{login}").hex


def demo_proposal_id(what: str) -> str:
    return "P-" + hashlib.sha256(f"/demo/proposals/{what}".encode()).hexdigest()[:16]


def credit_code(rng: random.Random, prefecture: str) -> str:
    """91 (enterprise registered with market regulation) + division + 9-character org code."""
    org = "MA" + "".join(rng.choice(ALPHABET) for _ in range(7))
    return make_credit_code(f"91{DIVISIONS[prefecture]}{org}")


def evidence(reference: str, stage: str, agency: str) -> str:
    """The SHA-256 of the (deterministically named) report file."""
    return hashlib.sha256(f"{reference}-{stage}-{agency}.pdf".encode()).hexdigest()


def seed_demo(registry: Registry, *, at_start: str = DEFAULT_START) -> dict[str, Any]:
    """Seed the demo world into ``registry`` (expected empty) and return its summary. Acts
    of the world's people name their user ids; the setting-up before the users exist (the
    register, the tasks and permits, the buyers' funding) names the job, ``system:demo``."""
    with acting("system:demo"):
        return _seed(registry, at_start)


def _seed(registry: Registry, at_start: str) -> dict[str, Any]:
    seeder = _Seeder(registry, at_start)
    seeder.register_parties()  # January
    seeder.register_users()
    seeder.run_retrofits()  # February to August
    issued, no_surplus = seeder.confirm_and_issue()  # August
    transfers, refusals = seeder.trade(issued)  # September and October
    expansion = seeder.expand(issued)  # October
    freeze, revocation = seeder.enforce(issued)  # November
    lot = issued["GDCP-2025-001"]["COD"]
    summary = summarise(registry)
    summary.update({
        "period": seeder.period, "first_at": at_start,
        "last_at": seeder.clock.now.isoformat(timespec="seconds"),
        "transfers": transfers, "refused_transfers": refusals, "expansion": expansion,
        "freeze": freeze, "revocation": revocation, "no_surplus": no_surplus,
        "sample_serial": f"{lot['instrument']}-{lot['first']:09d}",
    })
    return summary


class _Seeder:
    def __init__(self, registry: Registry, at_start: str) -> None:
        self.registry = registry
        self.clock = Timeline(at_start)
        self.period = self.clock.start.year
        self.rng = random.Random(20_250_106)  # noqa: S311 - fixed seed: the same codes every run
        self.firms = {f.key: f for f in FIRMS}
        self.codes: dict[str, str] = {}
        self.agencies: dict[str, str] = {}

    def register_parties(self) -> None:
        """Agencies and enterprises register; the enterprises' tasks for the year are set."""
        r, clock = self.registry, self.clock
        for key, name, _ in AGENCIES:
            self.agencies[key] = credit_code(self.rng, "GUANGZHOU")
            r.register_agency(credit_code=self.agencies[key], name=name, at=clock.on(0))
        for key, _, certificate in AGENCIES:
            r.accredit_agency(credit_code=self.agencies[key], accreditation=certificate,
                              at=clock.on(1))
        for n, f in enumerate(FIRMS):
            self.codes[f.key] = credit_code(self.rng, f.prefecture)
            r.register_enterprise(
                credit_code=self.codes[f.key], name=f.name, sector=f.sector,
                prefecture=f.prefecture, basin=f.basin, direct_discharger=f.direct_discharger,
                at=clock.on(2 + n // 8),
            )
        for plan in PLANS:
            for kind, (*_, obligation) in sorted(plan.figures.items()):
                r.set_obligation(credit_code=self.codes[plan.firm], kind=kind,
                                 period=self.period, target=obligation, at=clock.on(8))
        self.confirm_rights()
        # a task changes only by an event with its reason and the administrator's id
        for target, reason in ((40_000, "first energy-saving task"),
                               (45_000, "discharge permit renewed with a tighter quota")):
            r.set_obligation(credit_code=self.codes["guangming"], kind="ENERGY",
                             period=self.period, target=target, at=clock.on(9),
                             reason=reason, actor=ADMIN)
        buyers = sorted({t[1] for t in TRANSFERS})
        for n, key in enumerate(buyers):  # the buyers fund their exchange cash accounts
            r.exchange.deposit(enterprise=self.codes[key], amount=DEPOSIT,
                               reference=f"GDEX-{self.period}-D{n + 1:03d}", administrator=ADMIN_2,
                               at=clock.on(9))

    def confirm_rights(self) -> None:
        """Each firm's annual right per kind from its discharge permit or energy-use quota
        (2023–2027): the retrofitting firms' permits allow their baseline plus a tenth, the
        buyers' a fixed allowance; every surplus issued later is capped by them."""
        rights: dict[tuple[str, str], int] = {}
        for plan in PLANS:
            for kind, (baseline, *_) in plan.figures.items():
                rights[plan.firm, kind] = baseline + baseline // 10
        for _, buyer, kind, _ in TRANSFERS:
            rights.setdefault((buyer, kind), BUYER_RIGHTS[kind])
        for n, ((firm, kind), quantity) in enumerate(sorted(rights.items())):
            prefix = "YN" if kind == "ENERGY" else "PW"  # 用能 quota or 排污 permit
            division = DIVISIONS[self.firms[firm].prefecture]
            self.registry.rights.confirm_right(
                enterprise=self.codes[firm], kind=kind, quantity=quantity,
                permit=f"{division}-{prefix}-2023-{n + 1:04d}", valid_from="2023-01-01",
                valid_until="2027-12-31", actor="system:demo", at=self.clock.on(9))

    def register_users(self) -> None:
        """The people: the two founding administrators (bootstrapped), an auditor whose role
        one proposed and the other approved, a trader-representative and a second
        representative per enterprise and staff per agency (logins ``trader.<code>``,
        ``rep.<code>`` and ``staff.<code>``). No passwords: ``registry
        token demo`` sets them and prints how to log in."""
        r, at = self.registry, self.clock.on(9)
        li, _ = r.users.bootstrap_administrator(login=ADMIN, display_name="Li Wen (GDEE)",
                                                password=None, at=at, user_id=demo_id(ADMIN))
        chen, _ = r.users.bootstrap_administrator(login=ADMIN_2, display_name="Chen Hui (GDEE)",
                                                  password=None, at=at, user_id=demo_id(ADMIN_2))
        self.admins = (li.user_id, chen.user_id)
        auditor = r.users.create_user(login=DEMO_AUDITOR, display_name="Zhou Min (audit office)",
                                      organisation="audit_body", roles=[], by=li.user_id, at=at,
                                      user_id=demo_id(DEMO_AUDITOR))
        proposal = r.proposals.propose(action="grant_role", by=li.user_id, at=at,
                                       params={"user_id": auditor.user_id, "role": "auditor"},
                                       proposal_id=demo_proposal_id("grant-auditor"))
        r.proposals.approve_proposal(proposal_id=proposal.proposal_id, by=chen.user_id, at=at)
        for key, code in sorted(self.codes.items()):
            login = f"trader.{code.lower()}"
            r.users.create_user(login=login, display_name=f"Trader of {self.firms[key].name}",
                                organisation="enterprise", organisation_code=code,
                                roles=["trader", "representative"], by=li.user_id, at=at,
                                user_id=demo_id(login))
            # the second representative, who confirms what leaves the account
            second = f"rep.{code.lower()}"
            r.users.create_user(login=second,
                                display_name=f"Second representative of {self.firms[key].name}",
                                organisation="enterprise", organisation_code=code,
                                roles=["representative"], by=li.user_id, at=at,
                                user_id=demo_id(second))
        for key, code in sorted(self.agencies.items()):
            login = f"staff.{code.lower()}"
            r.users.create_user(login=login, display_name=f"Staff of {key}", organisation="agency",
                                organisation_code=code, roles=["agency_staff"], by=li.user_id,
                                at=at, user_id=demo_id(login))

    def four_eyes(self, action: str, at: str, **params: Any) -> Any:
        """Propose as the first administrator, approve as the second."""
        li, chen = self.admins
        proposal = self.registry.proposals.propose(
            action=action, params=params, by=li, at=at,
            proposal_id=demo_proposal_id(f"{action}/{sorted(params.items())}"))
        return self.registry.proposals.approve_proposal(proposal_id=proposal.proposal_id, by=chen,
                                                        at=at)

    def offer(self, *, reference: str, instrument: str, seller: str, buyer: str, price: int,
              qty: int, at: str) -> None:
        """The seller's trader-representative requests the offer; its second representative
        confirms it (`registry.representatives`); a refused offer is refused at the request."""
        code = self.codes[seller]
        request = self.registry.requests.request_as_representative(
            action="offer_agreement", by=demo_id(f"trader.{code.lower()}"), at=at,
            params={"reference": reference, "instrument": instrument, "seller": code,
                    "buyer": self.codes[buyer], "price": price, "qty": qty},
            request_id="R-" + demo_proposal_id(f"offer/{reference}")[2:])
        self.registry.requests.confirm_request(request_id=request.proposal_id,
                                               by=demo_id(f"rep.{code.lower()}"), at=at)

    def run_retrofits(self) -> None:
        """Registration, baseline audit, post-retrofit audit, verification by another agency."""
        r, clock = self.registry, self.clock
        for n, plan in enumerate(PLANS):
            r.retrofits.register_retrofit(actor=demo_id(f"trader.{self.codes[plan.firm].lower()}"),
                                          reference=plan.reference,
                                          enterprise=self.codes[plan.firm], period=self.period,
                                          kinds=sorted(plan.figures), description=plan.description,
                                          at=clock.on(30 + 2 * n))
        for plan in PLANS:  # the enterprise engages its auditor and verifier
            trader = demo_id(f"trader.{self.codes[plan.firm].lower()}")
            for stage, agency in (("audit", plan.auditor), ("verification", plan.verifier)):
                r.retrofits.engage_agency(reference=plan.reference, stage=stage,
                                          agency=self.agencies[agency], by=trader,
                                          at=clock.on(clock.day), actor=trader)
        for n, plan in enumerate(PLANS):
            r.retrofits.record_baseline_audit(
                actor=demo_id(f"staff.{self.agencies[plan.auditor].lower()}"),
                reference=plan.reference, agency=self.agencies[plan.auditor],
                report_sha256=evidence(plan.reference, "baseline-audit", plan.auditor),
                amounts={k: v[0] for k, v in plan.figures.items()}, at=clock.on(55 + 3 * n),
            )
        for n, plan in enumerate(PLANS):
            r.retrofits.record_post_audit(
                actor=demo_id(f"staff.{self.agencies[plan.auditor].lower()}"),
                reference=plan.reference, agency=self.agencies[plan.auditor],
                report_sha256=evidence(plan.reference, "post-audit", plan.auditor),
                amounts={k: v[1] for k, v in plan.figures.items()}, at=clock.on(150 + 3 * n),
            )
        for n, plan in enumerate(PLANS):
            r.retrofits.verify_retrofit(
                actor=demo_id(f"staff.{self.agencies[plan.verifier].lower()}"),
                reference=plan.reference, agency=self.agencies[plan.verifier],
                report_sha256=evidence(plan.reference, "verification", plan.verifier),
                reductions={k: v[2] for k, v in plan.figures.items()},
                at=clock.on(185 + 3 * n),
            )

    def confirm_and_issue(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        """确权, then issuance of whatever exceeds the enterprise's own task."""
        issued: dict[str, dict[str, Any]] = {}
        no_surplus: dict[str, Any] | None = None
        for n, plan in enumerate(PLANS):
            surplus = self.four_eyes("confirm_retrofit", self.clock.on(215 + 2 * n),
                                     reference=plan.reference)
            try:
                issued[plan.reference] = self.four_eyes(
                    "issue_surplus", self.clock.on(215 + 2 * n), reference=plan.reference)
            except NoSurplus as refused:
                no_surplus = {"retrofit": plan.reference, "enterprise": self.codes[plan.firm],
                              "surplus": surplus, "reason": str(refused)}
        return issued, no_surplus

    def trade(self, issued: dict[str, dict[str, Any]]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Sales inside the trading zones, as agreement transfers settled delivery versus
        payment (units move between enterprises only through the exchange's modes, or for a
        merger, court order or correction); the forbidden ones are refused at the offer."""
        r = self.registry
        transfers = []
        for n, (seller, buyer, kind, quantity) in enumerate(TRANSFERS):
            instrument = _instrument_of(issued, seller, kind)
            ref = f"GDEX-{self.period}-T{n + 1:03d}"
            day = 250 + 3 * n
            self.offer(reference=ref, instrument=instrument, seller=seller, buyer=buyer,
                       price=PRICES[kind], qty=quantity, at=self.clock.on(day))
            buyer_trader = demo_id(f"trader.{self.codes[buyer].lower()}")
            r.exchange_modes.accept_agreement(reference=ref, buyer=self.codes[buyer],
                                              accepted_by=buyer_trader, at=self.clock.on(day),
                                              actor=buyer_trader)
            r.exchange_modes.verify_agreement(reference=ref, administrator=self.admins[1],
                                              at=self.clock.on(day), actor=self.admins[1])
            version = r.rules_for(r.instrument(instrument)).version
            transfers.append({"ref": ref, "instrument": instrument,
                              "seller": self.codes[seller], "buyer": self.codes[buyer],
                              "quantity": quantity, "rule_version": version,
                              "price": PRICES[kind],
                              "seller_name": self.firms[seller].name,
                              "buyer_name": self.firms[buyer].name})
        refusals = []
        for seller, buyer, kind, quantity, why in FORBIDDEN:
            instrument = _instrument_of(issued, seller, kind)
            try:
                self.offer(reference=f"refused-{seller}-{buyer}", instrument=instrument,
                           seller=seller, buyer=buyer, price=PRICES[kind], qty=quantity,
                           at=self.clock.on(280))
            except OutsideTradingZone as refused:
                refusals.append({"instrument": instrument, "seller": self.firms[seller].name,
                                 "buyer": self.firms[buyer].name, "rule": why,
                                 "error": str(refused)})
            else:  # the demo checks its own claims
                raise RuntimeError(f"the rules let through a forbidden transfer: {why}")
        return transfers, refusals

    def expand(self, issued: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Shaoguan Iron and Steel applies its energy-use rights to a furnace expansion."""
        instrument = _instrument_of(issued, "shaogang", "ENERGY")
        expansion: dict[str, Any] = {
            "reference": f"GDKR-{self.period}-0042", "enterprise": self.codes["shaogang"],
            "instrument": instrument, "quantity": 1_500_000,
            "project": "No. 3 electric-arc furnace capacity expansion",
            "approval": f"Yue-Fa-Gai-Neng-Ping-{self.period}-117",
        }
        self.registry.holdings.submit_expansion(
            actor=demo_id(f"trader.{expansion['enterprise'].lower()}"),
            reference=expansion["reference"], enterprise=expansion["enterprise"],
            instrument=instrument, quantity=expansion["quantity"],
            project=expansion["project"], at=self.clock.on(285))
        self.registry.holdings.approve_expansion(actor=self.admins[1],
                                                 reference=expansion["reference"],
                                                 administrator=self.admins[1],
                                                 approval=expansion["approval"],
                                                 at=self.clock.on(296))
        return expansion

    def enforce(self, issued: dict[str, dict[str, Any]]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A freeze pending an inquiry, and a retrofit revoked after a failed spot check."""
        instrument = _instrument_of(issued, "dongbu", "SO2")
        freeze: dict[str, Any] = {
            "instrument": instrument, "owner": self.codes["dongbu"],
            "ref": f"GDEE-FRZ-{self.period}-03",
            "reason": "online-monitoring data gap under inquiry", "quantity": 10_000,
        }
        # the plant parks most of its SO2 in a hold of its own; the freeze reaches past its
        # available units, so the hold is ended (with its reason) and the units frozen
        with acting(demo_id(f"trader.{freeze['owner'].lower()}")):
            holds.reserve(self.registry, instrument=instrument, owner=freeze["owner"],
                          quantity=12_000, ref="LISTING-SO2-1", at=self.clock.on(304))
        self.four_eyes("freeze", self.clock.on(305), instrument=instrument,
                       owner=freeze["owner"], ref=freeze["ref"], reason=freeze["reason"],
                       quantity=freeze["quantity"])
        freeze["hold_released"] = "LISTING-SO2-1"
        plan = next(p for p in PLANS if p.firm == "puning")
        # a sale still waiting for verification when the spot check fails
        pending = f"GDEX-{self.period}-T099"
        cod = _instrument_of(issued, "puning", "COD")
        self.offer(reference=pending, instrument=cod, seller="puning", buyer="chaoyang",
                   price=PRICES["COD"], qty=5_000, at=self.clock.on(308))
        chaoyang = demo_id(f"trader.{self.codes['chaoyang'].lower()}")
        self.registry.exchange_modes.accept_agreement(reference=pending,
                                                      buyer=self.codes["chaoyang"],
                                                      accepted_by=chaoyang, at=self.clock.on(308),
                                                      actor=chaoyang)
        spot_check = f"GDEE-SC-{self.period}-118"
        outcome = self.four_eyes(
            "revoke_retrofit", self.clock.on(310), reference=plan.reference,
            spot_check=spot_check,
            reason="spot check found falsified online COD monitoring data in the baseline "
                   "period",
            restrict_agencies=[self.agencies[plan.verifier]],
        )
        revocation = {"retrofit": plan.reference, "enterprise": self.codes[plan.firm],
                      "spot_check": spot_check, "restricted_agency": self.agencies[plan.verifier],
                      "outcome": outcome, "agreement_ended": pending,
                      "agreement_state": self.registry.exchange_modes.agreement(pending).state}
        return freeze, revocation


def run_spot_checks(registry: Registry, ledger: Callable[[], Ledger], *,
                    at_start: str = DEFAULT_START) -> dict[str, Any]:
    """December: the year's spot-check round (§20). Its population is every retrofit still
    issued, its sample drawn from the ledger's seed (``ledger()`` brings the ledger up to date
    and returns it), so which retrofits are re-audited is known only once the round is on the
    ledger; each sampled retrofit passes its full or simplified re-audit here."""
    clock, period = Timeline(at_start), Timeline(at_start).start.year
    reference = f"GDEE-SC-{period}-R1"
    registry.sampling.open_sampling_round(reference=reference, period=period, actor=demo_id(ADMIN),
                                          at=clock.on(330))
    round_ = registry.sampling.draw_sampling_round(reference=reference, ledger=ledger(),
                                                   actor=demo_id(ADMIN),
                                                   at=clock.on(331))
    for n, member in enumerate(round_.sample):
        r = registry.retrofit(member["retrofit"])
        measured = dict(r.post["amounts"]) if member["audit"] == "full" and r.post else None
        registry.sampling.record_sampling_outcome(
            reference=reference, retrofit=member["retrofit"], result="pass",
            findings="re-audit confirms the verified reduction",
            report_sha256=evidence(reference, member["retrofit"], "spot-check"),
            measured=measured, actor=demo_id(ADMIN_2), at=clock.on(340 + n))
    return {"round": reference, "population": len(round_.population),
            "sample": [{"retrofit": m["retrofit"], "audit": m["audit"]} for m in round_.sample],
            "seed_size": (round_.seed or {}).get("size")}


def _instrument_of(issued: dict[str, dict[str, Any]], firm: str, kind: str) -> str:
    for plan in PLANS:
        if plan.firm == firm and kind in issued.get(plan.reference, {}):
            code: str = issued[plan.reference][kind]["instrument"]
            return code
    raise KeyError(f"no {kind} issued to {firm}")


def summarise(registry: Registry) -> dict[str, Any]:
    """Counts read back from the registry itself, not from the seeding script."""
    catalogue = registry.catalogue().entries
    enterprises = [registry.enterprise(c) for c in catalogue["enterprises"]]
    agencies = [registry.agency(c) for c in catalogue["agencies"]]
    retrofits = [registry.retrofit(r) for r in catalogue["retrofits"]]
    instruments = []
    for i in sorted(registry.queries.instruments(), key=lambda x: x.code):
        frozen = sum(per.get("frozen", 0) for per in i.balances().values())
        instruments.append({"instrument": i.code, "issued": i.issued(), **i.totals(),
                            "frozen": frozen})
    return {
        "enterprises": {
            "total": len(enterprises),
            "direct_dischargers": sum(e.direct_discharger for e in enterprises),
            "by_basin": dict(sorted(Counter(e.basin for e in enterprises).items())),
            "by_prefecture": dict(sorted(Counter(e.prefecture for e in enterprises).items())),
            "by_sector": dict(sorted(Counter(e.sector for e in enterprises).items())),
            "restricted": sorted(e.credit_code for e in enterprises if e.standing != "good"),
        },
        "agencies": {
            "total": len(agencies),
            "accredited": sum(a.accreditation is not None for a in agencies),
            "restricted": sorted(a.credit_code for a in agencies if a.standing != "good"),
        },
        "retrofits": {
            "total": len(retrofits),
            "by_state": dict(sorted(Counter(r.state for r in retrofits).items())),
            "kinds": sorted({k for r in retrofits for k in r.kinds}),
        },
        "instruments": instruments,
        "position": registry.queries.position(),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as text for a terminal."""
    e, a, r = summary["enterprises"], summary["agencies"], summary["retrofits"]
    title = "Surplus Registry demo world"
    if summary.get("first_at"):
        title += (f", {summary.get('period', '')} "
                  f"({summary['first_at']} .. {summary.get('last_at', '')})")
    lines = [
        title,
        "",
        f"Enterprises: {e['total']} ({e['direct_dischargers']} direct dischargers, "
        f"{len(e['restricted'])} restricted)",
        "  by river basin: " + _counts(e["by_basin"], {k: v[0] for k, v in BASINS.items()}),
        "  by prefecture:  " + _counts(e["by_prefecture"], PREFECTURES),
        f"Agencies: {a['total']} ({a['accredited']} accredited, "
        f"{len(a['restricted'])} restricted)",
        f"Retrofits: {r['total']} covering {', '.join(r['kinds'])}",
        "  by state: " + ", ".join(f"{k} {v}" for k, v in r["by_state"].items()),
        "",
        "Instruments (kg; kgce for ENERGY):",
    ]
    columns = ("issued", *STATES, "frozen")
    rows = [[i["instrument"], *(f"{i[c]:,}" for c in columns)] for i in summary["instruments"]]
    lines += table(["instrument", *columns], rows)
    transfers = summary.get("transfers", [])
    if transfers:
        lines += ["", f"Transfers: {len(transfers)} "
                      f"(rules {', '.join(sorted({t['rule_version'] for t in transfers}))})"]
        lines += [f"  {t['ref']}  {t['instrument']:<20} {t['quantity']:>11,}  "
                  f"{_short(t['seller_name'])} -> {_short(t['buyer_name'])}" for t in transfers]
    for refusal in summary.get("refused_transfers", []):
        lines.append(f"  refused: {refusal['instrument']} {_short(refusal['seller'])} -> "
                     f"{_short(refusal['buyer'])}: {refusal['rule']}")
    if summary.get("no_surplus"):
        ns = summary["no_surplus"]
        lines += ["", f"No surplus: retrofit {ns['retrofit']} only met its enterprise's own "
                      f"task ({_amounts(ns['surplus'])} left over)"]
    if summary.get("expansion"):
        x = summary["expansion"]
        lines += ["", f"Expansion {x['reference']}: {x['quantity']:,} of {x['instrument']} "
                      f"consumed by {x['enterprise']} for {x['project']} "
                      f"(approval {x['approval']})"]
    if summary.get("freeze"):
        f = summary["freeze"]
        lines.append(f"Freeze {f['ref']}: {f['quantity']:,} of {f['instrument']} held by "
                     f"{f['owner']} ({f['reason']})")
    if summary.get("revocation"):
        v = summary["revocation"]
        lines.append(f"Revocation: retrofit {v['retrofit']} after spot check {v['spot_check']}; "
                     f"enterprise {v['enterprise']} and agency {v['restricted_agency']} "
                     "restricted")
        for kind, o in sorted(v["outcome"].items()):
            held = ", ".join(f"{n:,} held by {c}" for c, n in sorted(o["lost_by_holder"].items()))
            lines.append(f"  {kind}: revoked {held or 'nothing'}; "
                         f"{o['unrecoverable']:,} unrecoverable")
    if summary.get("sampling"):
        sc = summary["sampling"]
        sampled = ", ".join(f"{m['retrofit']} ({m['audit']})" for m in sc["sample"])
        lines += ["", f"Spot checks: round {sc['round']} drew {len(sc['sample'])} of "
                      f"{sc['population']} issued retrofits from the ledger root at size "
                      f"{sc['seed_size']}: {sampled}; all passed",
                  f"  re-derive it: registry ledger export DIR; "
                  f"registry audit sample DIR --round {sc['round']}"]
    lines += ["", f"Event log position: {summary['position']}"]
    if summary.get("sample_serial"):
        lines.append(f"Try: registry provenance {summary['sample_serial']}")
    return "\n".join(lines)


def table(headers: list[str], rows: list[list[str]], *, text_columns: int = 1) -> list[str]:
    """Text columns (the first ``text_columns``) left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    out = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) if n < text_columns else str(c).rjust(w)
                 for n, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append(("  " + "  ".join(cells)).rstrip())
    return out


def _short(name: str) -> str:
    return name.removesuffix(", Ltd.").removesuffix(" Co.")


def _counts(counts: dict[str, int], names: dict[str, str]) -> str:
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in counts.items())


def _amounts(amounts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(amounts.items()))
