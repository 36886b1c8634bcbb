"""A small Guangdong world for tests, written as domain text.

Maozhou River (Shenzhen / Dongguan) water users, Shenzhen air emitters incl. a thermal power
plant, and three accredited agencies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from domain.credit_code import make_credit_code
from registry.bootstrap import Registry

AT = "2025-03-01T09:00:00+08:00"


def code(n: int, prefix: str = "91440300MA5F") -> str:
    return make_credit_code(f"{prefix}{n:05d}")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class World:
    dyeing: str  # Shenzhen, Maozhou basin, direct discharger, textile dyeing
    paper: str  # Dongguan, Maozhou basin, direct discharger, paper
    electronics: str  # Shenzhen, Maozhou basin, NOT a direct discharger
    power: str  # Shenzhen thermal power plant, Danshui basin
    chemicals: str  # Huizhou, Danshui basin, direct discharger
    auditor: str
    verifier: str
    other_agency: str


ENTERPRISES = (
    ("dyeing", "Shenzhen Huaxin Printing & Dyeing Co", "TEXTILE_DYEING", "SHENZHEN", "MAOZHOU",
     True),
    ("paper", "Dongguan Jianhui Paper Co", "PAPER", "DONGGUAN", "MAOZHOU", True),
    ("electronics", "Shenzhen Guangming Electronics Co", "ELECTRONICS", "SHENZHEN", "MAOZHOU",
     False),
    ("power", "Shenzhen Mawan Power Co", "THERMAL_POWER", "SHENZHEN", "DANSHUI", True),
    ("chemicals", "Huizhou Daya Bay Petrochemical Co", "PETROCHEMICAL", "HUIZHOU", "DANSHUI",
     True),
)


def build_world(app: Registry) -> World:
    codes: dict[str, str] = {}
    for n, (key, name, sector, city, basin, direct) in enumerate(ENTERPRISES, start=1):
        codes[key] = code(n)
        app.register_enterprise(credit_code=codes[key], name=name, sector=sector,
                                prefecture=city, basin=basin, direct_discharger=direct, at=AT)
    for n, key in enumerate(("auditor", "verifier", "other_agency"), start=1):
        codes[key] = code(n, prefix="91440101MA9X")
        app.register_agency(credit_code=codes[key], name=f"Guangdong CP Agency {n}", at=AT)
        app.accredit_agency(credit_code=codes[key], accreditation=f"GD-CP-ACC-{n:03d}", at=AT)
    return World(**codes)


def engage(app: Registry, world: World, reference: str, at: str = AT) -> None:
    """The enterprise engages the world's auditor and verifier for the retrofit."""
    app.retrofits.engage_agency(reference=reference, stage="audit", agency=world.auditor,
                                by="system:test", at=at)
    app.retrofits.engage_agency(reference=reference, stage="verification", agency=world.verifier,
                                by="system:test", at=at)


def issue(
    app: Registry, world: World, *, reference: str, enterprise: str, kind: str,
    baseline: int, post: int, verified: int | None = None, period: int = 2025, at: str = AT,
) -> dict[str, dict[str, int]]:
    """Take one single-kind retrofit through its whole lifecycle and issue its surplus (the
    enterprise's permit is confirmed first if it has none: `ensure_right`)."""
    ensure_right(app, enterprise, kind, at=at)
    app.retrofits.register_retrofit(reference=reference, enterprise=enterprise, period=period,
                                    kinds=[kind], description=f"{kind} retrofit", at=at)
    engage(app, world, reference, at)
    app.retrofits.record_baseline_audit(reference=reference, agency=world.auditor,
                                        report_sha256=sha(f"{reference}/baseline"),
                                        amounts={kind: baseline}, at=at)
    app.retrofits.record_post_audit(reference=reference, agency=world.auditor,
                                    report_sha256=sha(f"{reference}/post"), amounts={kind: post},
                                    at=at)
    app.retrofits.verify_retrofit(reference=reference, agency=world.verifier,
                                  report_sha256=sha(f"{reference}/verification"),
                                  reductions={
                                      kind: baseline - post if verified is None else verified},
                                  at=at)
    app.retrofits.confirm_retrofit(reference=reference, administrator="admin-1", at=at)
    return app.retrofits.issue_surplus(reference=reference, administrator="admin-1", at=at)


#: a permit far above any test's amounts, so that the cap binds only where a test sets a right
GENEROUS_RIGHT = 10**9


def ensure_right(app: Registry, enterprise: str, kind: str, *, quantity: int = GENEROUS_RIGHT,
                 at: str = AT) -> None:
    """Confirm the enterprise's annual right for ``kind`` unless it holds one."""
    if app.rights.right_or_none(enterprise, kind) is None:
        app.rights.confirm_right(enterprise=enterprise, kind=kind, quantity=quantity,
                                 permit=f"PW-{enterprise[-6:]}-{kind}", valid_from="2023-01-01",
                                 valid_until="2027-12-31", actor="admin-permits", at=at)


def seed_data_folder(data: Path) -> dict[str, str]:
    """A SQLite data folder holding the world, one issued COD lot and one transfer; returns the
    environment that selects it."""
    from registry.bootstrap import build_registry

    env = {"REGISTRY_DATA_DIR": str(data)}
    app = build_registry(env)
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=w.dyeing, buyer=w.paper,
                          quantity=300, ref="T-1", at="2025-04-01T10:00:00+08:00",
                          reason="correction", administrator="admin-t")
    app.close()
    return env
