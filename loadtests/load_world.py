"""The world a load run trades in: enterprises with units and cash on several markets, and the
bearer tokens of every Locust user.

Every trader is a Shenzhen textile dyer on the Maozhou River, a direct discharger, so one firm may
trade all three markets under the trading-scope rules: water (``COD-2025-MAOZHOU``, one basin,
direct dischargers only), air (``NOX-2025-SHENZHEN``, one prefecture, no thermal power) and
energy (``ENERGY-2025-GD``, province-wide). Each firm's units come from real retrofits taken
through audit, verification, confirmation and issuance; its cash from recorded deposits. The
COD market sends trades above a value threshold to the verification queue, so the
administrators have work.

The manifest (``world.json``) says what was seeded, so the checks after the run know what must
be conserved; the tokens (``tokens.json``, mode 0600) stay in the data folder, out of reports.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from domain.credit_code import make_credit_code
from registry.bootstrap import build_registry
from registry.seed_users import issue_in

AT = "2025-06-02T09:00:00+08:00"
UNITS_EACH = 500_000_000  # kg of each kind per firm: no order in a run is refused for want of units
CASH_EACH = 10**13  # fen per firm: nor for want of cash


@dataclass(frozen=True)
class MarketSpec:
    instrument: str
    kind: str
    reference_price: int  # fen per tonne
    tick: int
    verify_above: int | None  # fen: a trade worth more waits for an administrator


MARKETS = (
    MarketSpec("ENERGY-2025-GD", "ENERGY", 300_000, 100, None),
    MarketSpec("NOX-2025-SHENZHEN", "NOX", 1_200_000, 100, None),
    MarketSpec("COD-2025-MAOZHOU", "COD", 800_000, 100, 12_000_000),
)


@dataclass(frozen=True)
class Manifest:
    traders: list[str]
    instruments: list[str]
    units_each: int
    cash_each: int
    markets: list[dict[str, Any]]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls(**json.loads(path.read_text()))


def seed(env: dict[str, str], traders: int = 20) -> Manifest:
    """Register, retrofit, issue, deposit and open the markets in the store ``env`` selects."""
    from tests.support.world import (  # the real retrofit lifecycle, as tests run it
        build_world,
        issue,
    )

    app = build_registry(env)
    try:
        world = build_world(app)
        codes = []
        for n in range(traders):
            code = make_credit_code(f"91440300MA8L{n:05d}")
            app.register_enterprise(credit_code=code, name=f"Shenzhen Maozhou Dyeing {n}",
                                    sector="TEXTILE_DYEING", prefecture="SHENZHEN",
                                    basin="MAOZHOU", direct_discharger=True, at=AT)
            for spec in MARKETS:
                issue(app, world, reference=f"RF-L{n}-{spec.kind}", enterprise=code,
                      kind=spec.kind, baseline=UNITS_EACH, post=0)
            app.exchange.deposit(enterprise=code, amount=CASH_EACH, reference=f"LOAD-D-{n}",
                                 administrator="admin-cash", at=AT)
            codes.append(code)
        for spec in MARKETS:
            app.exchange.open_market(instrument=spec.instrument, administrator="admin-markets",
                                     at=AT, reference_price=spec.reference_price, tick=spec.tick,
                                     lot=1000, min_lot=1000, verify_above=spec.verify_above,
                                     sessions=[])  # load runs trade at any hour
    finally:
        app.close()
    return Manifest(traders=codes, instruments=[m.instrument for m in MARKETS],
                    units_each=UNITS_EACH, cash_each=CASH_EACH,
                    markets=[asdict(m) for m in MARKETS])


def issue_tokens(data_dir: Path, manifest: Manifest, *, administrators: int = 2,
                 auditors: int = 2, env: dict[str, str] | None = None,
                 ) -> dict[str, list[dict[str, str]]]:
    """One token per trader's user, and administrator and auditor tokens, valid a day (users
    created as needed in the registry of ``env``, by default the data folder's); written to
    ``tokens.json`` (0600) in the data folder for the Locust users."""
    data_dir.mkdir(parents=True, exist_ok=True)  # PostgreSQL runs keep only tokens and ledger here
    registry = build_registry(env or {"REGISTRY_DATA_DIR": str(data_dir)})
    out: dict[str, list[dict[str, str]]] = {"enterprise": [], "administrator": [], "auditor": []}
    try:
        def make(role: str, subject: str) -> None:
            _, secret = issue_in(registry, role, subject)
            out[role].append({"subject": subject, "token": secret})

        for code in manifest.traders:
            make("enterprise", code)
        for n in range(administrators):
            make("administrator", f"load-admin-{n + 1}")
        for n in range(auditors):
            make("auditor", f"load-auditor-{n + 1}")
    finally:
        registry.close()
    path = data_dir / "tokens.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({**out, "instruments": manifest.instruments, "markets": manifest.markets}, f)
    return out
