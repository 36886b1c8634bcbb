"""Registry commands: demo, enterprises, agencies, retrofits, holdings and queries."""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from cli.base import (
    CliError,
    Context,
    Parser,
    Subparsers,
    add_command,
    add_group,
    amounts,
    credit_code,
    emit_json,
    iso_date,
    kind_list,
    position,
    quantity,
    timestamp,
    upper,
    year,
)
from cli.proposal_commands import add_proposing_arguments, propose
from domain.reference import BASINS, KINDS, PREFECTURES, SECTORS

PROPOSED = " (proposed; a second administrator approves it)"

# -- demo --------------------------------------------------------------------------------------


def add_demo_command(subparsers: Subparsers) -> None:
    from registry.demo import DEFAULT_START

    p = add_command(subparsers, "demo", cmd_demo,
                    "seed the demo world (an empty store only) and print its summary",
                    writes=False, beside_service="refuse")
    p.add_argument("--at", type=timestamp, metavar="ISO-DATETIME", default=DEFAULT_START,
                   help=f"start of the demo's timeline (default: {DEFAULT_START})")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--reuse", action="store_true",
                   help="if the store already holds a world, print its summary instead")


def cmd_demo(ctx: Context) -> None:
    from registry.demo import format_summary, run_spot_checks, seed_demo, summarise

    app = ctx.registry
    existing = app.queries.position()
    if existing and ctx.args.reuse:
        summary = summarise(app)
    elif existing:
        where = (f"data folder {ctx.data_dir!r}" if ctx.settings.store == "sqlite"
                 else f"{ctx.settings.store} store")
        raise CliError(f"the event store of {where} already holds {existing} events; the demo "
                       "seeds only an empty store (use another --data-dir)")
    else:
        summary = seed_demo(app, at_start=ctx.args.at)
        if ctx.settings.store != "memory":  # files, and a ledger holding the round's seed
            mark_demo_folder(ctx)
            summary["sampling"] = run_spot_checks(app, lambda: _followed(ctx),
                                                  at_start=ctx.args.at)
        if ctx.settings.store == "sqlite":
            summary["cli_tokens"] = write_demo_tokens(ctx)
        if ctx.settings.store != "memory":
            summary["position"] = app.queries.position()
    if ctx.args.json:
        emit_json(summary)
    else:
        print(format_summary(summary))
        if "cli_tokens" in summary:
            print(f"Demo only: a CLI token of each administrator in {summary['cli_tokens']}/ "
                  "(0600; use --token-file to act as one)")


#: written (0600) in a data folder that ``registry demo`` seeded: ``token demo`` runs there only
DEMO_MARKER = "demo-world"


def mark_demo_folder(ctx: Context) -> None:
    """Mark the data folder as the demo world's, so that demo-only commands can tell."""
    import os
    from pathlib import Path

    folder = Path(ctx.data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / DEMO_MARKER
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("seeded by 'registry demo': demo-only commands may run here\n")


def is_demo_folder(ctx: Context) -> bool:
    from pathlib import Path

    return (Path(ctx.data_dir) / DEMO_MARKER).is_file()


def write_demo_tokens(ctx: Context) -> str:
    """Demo only: a bearer token of each demo administrator, issued by itself, in
    ``DATA/demo-tokens/LOGIN`` (folder 0700, files 0600), so a walkthrough can act as each
    of them from the command line (``--token-file``). Returns the folder."""
    import os
    from pathlib import Path

    from registry.clock import now
    from registry.demo import ADMIN, ADMIN_2

    folder = Path(ctx.data_dir) / "demo-tokens"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    for login in (ADMIN, ADMIN_2):
        user = ctx.registry.users.user_by_login(login)
        _, secret = ctx.registry.users.issue_token(user_id=user.user_id, by=user.user_id,
                                                   at=now(), days=7)
        path = folder / login
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
    return str(folder)


def _followed(ctx: Context) -> Any:
    ctx.follow()
    return ctx.ledger


# -- enterprises and agencies ------------------------------------------------------------------


def add_enterprise_commands(subparsers: Subparsers) -> None:
    actions = add_group(subparsers, "enterprise", "register, show and list enterprises")
    p = add_command(actions, "register", cmd_enterprise_register,
                    "register an enterprise under its unified social credit code")
    p.add_argument("--credit-code", type=credit_code, required=True,
                   help="18-character unified social credit code (GB 32100-2015)")
    p.add_argument("--name", required=True)
    p.add_argument("--sector", type=upper, required=True, help=", ".join(SECTORS))
    p.add_argument("--prefecture", type=upper, required=True, help=", ".join(PREFECTURES))
    p.add_argument("--basin", type=upper, required=True, help=", ".join(BASINS))
    discharge = p.add_mutually_exclusive_group(required=True)
    discharge.add_argument("--direct-discharger", dest="direct", action="store_true",
                           help="discharges directly into the environment")
    discharge.add_argument("--indirect-discharger", dest="direct", action="store_false",
                           help="discharges into a sewage works")

    p = add_command(actions, "obligation", cmd_enterprise_obligation,
                    "set an enterprise's own reduction or energy-saving task" + PROPOSED,
                    person=True)
    add_proposing_arguments(p)
    p.add_argument("credit_code", type=credit_code, metavar="CREDIT_CODE")
    p.add_argument("--kind", type=upper, required=True, help=", ".join(KINDS))
    p.add_argument("--period", type=year, required=True, help="the task's year")
    p.add_argument("--target", type=quantity, required=True, help="kg (kgce for ENERGY)")
    p.add_argument("--reason", default="", help="why (needed to change a task set before)")

    p = add_command(actions, "show", cmd_enterprise_show,
                    "an enterprise's record, obligations and credit record as JSON",
                    writes=False)
    p.add_argument("credit_code", type=credit_code, metavar="CREDIT_CODE")

    p = add_command(actions, "list", cmd_enterprise_list, "all enterprises", writes=False)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def cmd_enterprise_register(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.register_enterprise(credit_code=a.credit_code, name=a.name, sector=a.sector,
                                     prefecture=a.prefecture, basin=a.basin,
                                     direct_discharger=a.direct, at=ctx.at)
    print(f"registered enterprise {a.credit_code} ({a.name})")


def cmd_enterprise_obligation(ctx: Context) -> None:
    a = ctx.args
    propose(ctx, "set_obligation", credit_code=a.credit_code, kind=a.kind, period=a.period,
            target=a.target, reason=a.reason)


def enterprise_record(e: Any) -> dict[str, Any]:
    return {"credit_code": e.credit_code, "name": e.name, "sector": e.sector,
            "prefecture": e.prefecture, "basin": e.basin,
            "direct_discharger": e.direct_discharger, "standing": e.standing,
            "registered_at": e.registered_at, "obligations": e.obligations,
            "credit_record": e.credit_record}


def cmd_enterprise_show(ctx: Context) -> None:
    emit_json(enterprise_record(ctx.registry.enterprise(ctx.args.credit_code)))


def cmd_enterprise_list(ctx: Context) -> None:
    from registry.demo import table

    app = ctx.registry
    records = [enterprise_record(app.enterprise(c))
               for c in app.catalogue().entries["enterprises"]]
    if ctx.args.json:
        emit_json(records)
        return
    columns = ("credit_code", "sector", "prefecture", "basin", "direct_discharger", "standing",
               "name")
    rows = [[str(r[c]) for c in columns] for r in records]
    print("\n".join(table(list(columns), rows, text_columns=len(columns))))


def add_agency_commands(subparsers: Subparsers) -> None:
    actions = add_group(subparsers, "agency", "third-party audit and verification agencies")
    p = add_command(actions, "register", cmd_agency_register, "register an agency")
    p.add_argument("--credit-code", type=credit_code, required=True)
    p.add_argument("--name", required=True)
    p = add_command(actions, "accredit", cmd_agency_accredit,
                    "record an agency's accreditation")
    p.add_argument("credit_code", type=credit_code, metavar="CREDIT_CODE")
    p.add_argument("--accreditation", required=True, help="the certificate's reference")


def cmd_agency_register(ctx: Context) -> None:
    ctx.registry.register_agency(credit_code=ctx.args.credit_code, name=ctx.args.name,
                                 at=ctx.at)
    print(f"registered agency {ctx.args.credit_code} ({ctx.args.name})")


def cmd_agency_accredit(ctx: Context) -> None:
    ctx.registry.accredit_agency(credit_code=ctx.args.credit_code,
                                 accreditation=ctx.args.accreditation, at=ctx.at)
    print(f"agency {ctx.args.credit_code} accredited ({ctx.args.accreditation})")


# -- retrofits ---------------------------------------------------------------------------------


def add_retrofit_commands(subparsers: Subparsers) -> None:
    actions = add_group(subparsers, "retrofit",
                        "the retrofit lifecycle: register, audits, verification, "
                        "confirmation, issuance, revocation")
    p = add_command(actions, "register", cmd_retrofit_register, "register a retrofit project")
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("--enterprise", type=credit_code, required=True)
    p.add_argument("--period", type=year, required=True)
    p.add_argument("--kinds", type=kind_list, required=True,
                   help=f"comma-separated indicator kinds it reduces: {', '.join(KINDS)}")
    p.add_argument("--description", required=True)
    p = add_command(actions, "engage", cmd_retrofit_engage,
                    "the enterprise engages an agency for the audits or the verification")
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("--stage", choices=("audit", "verification"), required=True)
    p.add_argument("--agency", type=credit_code, required=True)

    for name, handler, summary in (
        ("baseline", cmd_retrofit_baseline, "record the baseline (before) audit"),
        ("post", cmd_retrofit_post, "record the post-retrofit audit"),
        ("verify", cmd_retrofit_verify, "record the verification by a different agency"),
    ):
        p = add_command(actions, name, handler, summary)
        p.add_argument("reference", metavar="REFERENCE")
        p.add_argument("--agency", type=credit_code, required=True)
        add_evidence_arguments(p)
        p.add_argument("--reductions" if name == "verify" else "--amounts", dest="amounts",
                       type=amounts, required=True, metavar="KIND=N,…",
                       help="whole kg / kgce per kind, e.g. COD=100000,NH3N=2000 "
                            "(or a JSON object)")

    for name, handler, summary in (
        ("confirm", cmd_retrofit_confirm, "confirm (确权) the verified reduction; the part "
                                          "beyond the remaining obligation is surplus"),
        ("issue", cmd_retrofit_issue, "issue the confirmed surplus as serial-numbered lots"),
    ):
        p = add_command(actions, name, handler, summary + PROPOSED, person=True)
        p.add_argument("reference", metavar="REFERENCE")
        add_proposing_arguments(p)

    p = add_command(actions, "revoke", cmd_retrofit_revoke,
                    "revoke a retrofit after a failed spot check (clawback policy applies)"
                    + PROPOSED, person=True)
    p.add_argument("reference", metavar="REFERENCE")
    add_proposing_arguments(p)
    p.add_argument("--reason", required=True)
    p.add_argument("--spot-check", required=True, help="the spot check's reference")
    p.add_argument("--restrict-agency", type=credit_code, action="append", default=[],
                   metavar="CREDIT_CODE", help="an agency to restrict too (repeatable)")
    p.add_argument("--keep-enterprise-standing", action="store_true",
                   help="do not restrict the enterprise's credit standing")

    p = add_command(actions, "show", cmd_retrofit_show, "a retrofit's record as JSON",
                    writes=False)
    p.add_argument("reference", metavar="REFERENCE")


def add_evidence_arguments(p: Parser) -> None:
    evidence = p.add_mutually_exclusive_group(required=True)
    evidence.add_argument("--report-sha256", metavar="HEX",
                          help="SHA-256 of the report file, lowercase hex")
    evidence.add_argument("--report", metavar="FILE",
                          help="the report file itself; its SHA-256 is recorded")


def report_digest(args: argparse.Namespace) -> str:
    if args.report_sha256 is not None:
        digest: str = args.report_sha256
        return digest
    try:
        with open(args.report, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as e:
        raise CliError(f"cannot read report {args.report!r}: {e.strerror or e}") from None


def cmd_retrofit_register(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.retrofits.register_retrofit(reference=a.reference, enterprise=a.enterprise,
                                             period=a.period, kinds=a.kinds,
                                             description=a.description, at=ctx.at)
    print(f"registered retrofit {a.reference} of {a.enterprise} ({', '.join(sorted(a.kinds))})")


def cmd_retrofit_engage(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.retrofits.engage_agency(reference=a.reference, stage=a.stage, agency=a.agency,
                                         by="system:cli-retrofit-engage", at=ctx.at)
    print(f"retrofit {a.reference}: agency {a.agency} engaged for the {a.stage}")


def cmd_retrofit_baseline(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.retrofits.record_baseline_audit(reference=a.reference, agency=a.agency,
                                                 report_sha256=report_digest(a), amounts=a.amounts,
                                                 at=ctx.at)
    print(f"retrofit {a.reference}: baseline audit recorded")


def cmd_retrofit_post(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.retrofits.record_post_audit(reference=a.reference, agency=a.agency,
                                             report_sha256=report_digest(a), amounts=a.amounts,
                                             at=ctx.at)
    print(f"retrofit {a.reference}: post-retrofit audit recorded")


def cmd_retrofit_verify(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.retrofits.verify_retrofit(reference=a.reference, agency=a.agency,
                                           report_sha256=report_digest(a), reductions=a.amounts,
                                           at=ctx.at)
    print(f"retrofit {a.reference}: verified")


def cmd_retrofit_confirm(ctx: Context) -> None:
    propose(ctx, "confirm_retrofit", reference=ctx.args.reference)


def cmd_retrofit_issue(ctx: Context) -> None:
    propose(ctx, "issue_surplus", reference=ctx.args.reference)


def cmd_retrofit_revoke(ctx: Context) -> None:
    a = ctx.args
    propose(ctx, "revoke_retrofit", reference=a.reference, reason=a.reason,
            spot_check=a.spot_check, restrict_enterprise=not a.keep_enterprise_standing,
            restrict_agencies=list(a.restrict_agency))


def cmd_retrofit_show(ctx: Context) -> None:
    r = ctx.registry.retrofit(ctx.args.reference)
    emit_json({"reference": r.reference, "enterprise": r.enterprise, "period": r.period,
               "kinds": r.kinds, "description": r.description, "state": r.state,
               "baseline_audit": r.baseline, "post_audit": r.post,
               "verification": r.verification, "confirmation": r.confirmation,
               "lots": r.lots, "revocation": r.revocation, "version": r.version})


# -- holdings ----------------------------------------------------------------------------------


def add_holding_commands(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "transfer", cmd_transfer,
                    "move units outside the exchange (merger, court order, correction)",
                    person=True)
    p.add_argument("--instrument", type=upper, required=True, help="KIND-VINTAGE-ZONE")
    p.add_argument("--seller", type=credit_code, required=True)
    p.add_argument("--buyer", type=credit_code, required=True)
    p.add_argument("--quantity", type=quantity, required=True, help="kg (kgce for ENERGY)")
    p.add_argument("--ref", required=True, help="the transfer agreement's reference")
    p.add_argument("--from-reservation", metavar="REF",
                   help="deliver units reserved under this reference")
    p.add_argument("--reason", required=True, choices=("merger", "court-order", "correction"),
                   help="the non-trade reason: sales go through the exchange")

    p = add_command(subparsers, "expire", cmd_expire,
                    "expire every unit whose validity ended before a date")
    p.add_argument("--as-of", type=iso_date, required=True, metavar="DATE")

    p = add_command(subparsers, "freeze", cmd_freeze,
                    "freeze an owner's available units" + PROPOSED, person=True)
    add_proposing_arguments(p)
    p.add_argument("--instrument", type=upper, required=True)
    p.add_argument("--owner", type=credit_code, required=True)
    p.add_argument("--ref", required=True, help="the freeze order's reference")
    p.add_argument("--reason", required=True)
    p.add_argument("--quantity", type=quantity, help="default: all the owner's available units")

    p = add_command(subparsers, "unfreeze", cmd_unfreeze, "lift a freeze" + PROPOSED,
                    person=True)
    add_proposing_arguments(p)
    p.add_argument("--instrument", type=upper, required=True)
    p.add_argument("--ref", required=True, help="the freeze order's reference")

    actions = add_group(subparsers, "expansion",
                        "apply surplus to one's own capacity expansion or new products")
    p = add_command(actions, "submit", cmd_expansion_submit,
                    "submit an application; the units are reserved meanwhile")
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("--enterprise", type=credit_code, required=True)
    p.add_argument("--instrument", type=upper, required=True)
    p.add_argument("--quantity", type=quantity, required=True)
    p.add_argument("--project", required=True)
    p = add_command(actions, "approve", cmd_expansion_approve,
                    "approve an application; its units are consumed", person=True)
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("--approval", required=True, help="the approval document's reference")
    p = add_command(actions, "reject", cmd_expansion_reject,
                    "reject an application; its units are released", person=True)
    p.add_argument("reference", metavar="REFERENCE")
    p.add_argument("--reason", required=True)


def cmd_transfer(ctx: Context) -> None:
    a = ctx.args
    version = ctx.registry.holdings.transfer(instrument=a.instrument, seller=a.seller,
                                             buyer=a.buyer, quantity=a.quantity, ref=a.ref,
                                             at=ctx.at, from_reservation=a.from_reservation,
                                             reason=a.reason, administrator=ctx.actor)
    print(f"transferred {a.quantity:,} of {a.instrument} from {a.seller} to {a.buyer} "
          f"(ref {a.ref}, rules {version})")


def cmd_expire(ctx: Context) -> None:
    emit_json({"as_of": ctx.args.as_of,
               "expired": ctx.registry.holdings.expire(as_of=ctx.args.as_of, at=ctx.at)})


def cmd_freeze(ctx: Context) -> None:
    a = ctx.args
    propose(ctx, "freeze", instrument=a.instrument, owner=a.owner, ref=a.ref, reason=a.reason,
            quantity=a.quantity)


def cmd_unfreeze(ctx: Context) -> None:
    propose(ctx, "unfreeze", instrument=ctx.args.instrument, ref=ctx.args.ref)


def cmd_expansion_submit(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.holdings.submit_expansion(reference=a.reference, enterprise=a.enterprise,
                                           instrument=a.instrument, quantity=a.quantity,
                                           project=a.project, at=ctx.at)
    print(f"expansion {a.reference}: {a.quantity:,} of {a.instrument} reserved")


def cmd_expansion_approve(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.holdings.approve_expansion(reference=a.reference, administrator=ctx.actor,
                                            approval=a.approval, at=ctx.at)
    print(f"expansion {a.reference}: approved ({a.approval}), units consumed")


def cmd_expansion_reject(ctx: Context) -> None:
    a = ctx.args
    ctx.registry.holdings.reject_expansion(reference=a.reference, administrator=ctx.actor,
                                           reason=a.reason, at=ctx.at)
    print(f"expansion {a.reference}: rejected, units released")


# -- queries -----------------------------------------------------------------------------------


def add_query_commands(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "balances", cmd_balances,
                    "units per enterprise and instrument by state, now or at a past position",
                    writes=False)
    p.add_argument("--enterprise", type=credit_code)
    p.add_argument("--as-of", type=position, metavar="POSITION",
                   help="position of the event log (see 'registry demo' output)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add_command(subparsers, "provenance", cmd_provenance,
                    "the full history of one serial number as JSON", writes=False)
    p.add_argument("serial", type=upper, metavar="SERIAL", help="e.g. COD-2025-MAOZHOU-000000001")

    p = add_command(subparsers, "report", cmd_report,
                    "an enterprise's annual cleaner-production performance report",
                    writes=False)
    p.add_argument("--enterprise", type=credit_code, required=True)
    p.add_argument("--year", type=year, required=True)
    p.add_argument("--format", choices=("json", "csv"), default="json")


def cmd_balances(ctx: Context) -> None:
    from registry.demo import table
    from registry.queries import BALANCE_COLUMNS

    rows = ctx.registry.queries.balances(enterprise=ctx.args.enterprise, as_of=ctx.args.as_of)
    if ctx.args.json:
        emit_json(rows)
        return
    columns = ["enterprise", "instrument", "term", *BALANCE_COLUMNS]
    lines = table(columns, [[r["enterprise"], r["instrument"],
                             f"{r['term']['first_year']}-{r['term']['last_year']}",
                             *(f"{r[c]:,}" for c in BALANCE_COLUMNS)] for r in rows],
                  text_columns=3)
    print("\n".join(lines) if rows else "no holdings")


def cmd_provenance(ctx: Context) -> None:
    emit_json(ctx.registry.queries.provenance(ctx.args.serial))


def cmd_report(ctx: Context) -> None:
    report = ctx.registry.queries.annual_report(enterprise=ctx.args.enterprise, year=ctx.args.year)
    if ctx.args.format == "csv":
        sys.stdout.write(ctx.registry.queries.report_csv(report))
    else:
        emit_json(report)
