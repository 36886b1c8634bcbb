"""Report commands: the §19 report per enterprise and compliance year, the province-wide
report per zone, and the auditor's zone check from an export (``audit zones``)."""

from __future__ import annotations

import sys
from pathlib import Path

from cli.base import (
    EXIT_FAILURE,
    CliError,
    Context,
    Subparsers,
    add_command,
    credit_code,
    emit_json,
    fail,
    year,
)

FORMATS = ("json", "csv", "html")


def add_report_commands(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "compliance-report", cmd_compliance,
                    "an enterprise's §19 report for a compliance year: every figure with the "
                    "log positions it sums", writes=False)
    p.add_argument("--enterprise", type=credit_code, required=True)
    p.add_argument("--year", type=year, required=True, help="the compliance year (period)")
    p.add_argument("--format", choices=FORMATS, default="json")
    p = add_command(subparsers, "province-report", cmd_province,
                    "the province-wide report per kind and trading zone for a compliance year",
                    writes=False)
    p.add_argument("--year", type=year, required=True)
    p.add_argument("--format", choices=FORMATS, default="json")


def add_audit_zones_command(audit: Subparsers) -> None:
    p = add_command(audit, "zones", cmd_audit_zones,
                    "from an export alone: per zone, the year's units issued and in every "
                    "state; exit 1 unless every zone is conserved and no transfer left its "
                    "zone", writes=False)
    p.add_argument("directory", metavar="DIR", help="an export folder")
    p.add_argument("--year", type=year, required=True)


def _emit(report: dict[str, object], fmt: str, csv: str, html: str) -> None:
    if fmt == "json":
        emit_json(report)
    else:
        sys.stdout.write(csv if fmt == "csv" else html)


def cmd_compliance(ctx: Context) -> None:
    from registry.compliance import enterprise_csv, enterprise_html

    a = ctx.args
    report = ctx.registry.compliance.compliance_report(enterprise=a.enterprise, year=a.year)
    _emit(report, a.format, enterprise_csv(report) if a.format == "csv" else "",
          enterprise_html(report) if a.format == "html" else "")


def cmd_province(ctx: Context) -> None:
    from registry.compliance import province_csv, province_html

    a = ctx.args
    report = ctx.registry.compliance.province_report(year=a.year)
    _emit(report, a.format, province_csv(report) if a.format == "csv" else "",
          province_html(report) if a.format == "html" else "")


def cmd_audit_zones(ctx: Context) -> int | None:
    import registry.bootstrap  # noqa: F401 - every aggregate defined: every topic resolves
    from registry.audit import export_records
    from registry.compliance import province_report_from
    from registry.events import from_record

    directory = Path(ctx.args.directory)
    if not (directory / "entries.jsonl").is_file():
        raise CliError(f"{str(directory)!r} holds no entries.jsonl")
    events = ((r["position"], from_record(r)) for _, r in export_records(directory))
    try:
        report = province_report_from(events, ctx.args.year)
    except (ValueError, KeyError) as e:
        raise CliError(f"the export does not decode: {e}") from None
    for z in report["zones"]:
        print(f"{z['kind']:<7}{z['zone']:<12}issued {z['issued']['amount']:>12,}  "
              f"traded {z['traded']['amount']:>12,}  "
              f"{'conserved' if z['conserved'] else 'NOT CONSERVED'}")
    for t in report["cross_zone_transfers"]:
        print(f"CROSS-ZONE position {t['position']}: {t['instrument']} to {t['buyer']} "
              f"of zone {t['buyer_zone']}")
    if not report["proved"]:
        return fail("some zone's total is not what its issuance made it", EXIT_FAILURE)
    print(f"OK: {len(report['zones'])} zones of {ctx.args.year}; no total rose through trading")
    return None
