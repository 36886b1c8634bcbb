"""Sampling-round commands (§20 spot checks) and the auditor's offline re-derivation.

``sampling open`` fixes the population, brings the ledger up to date (signing a checkpoint
that covers the opening) and draws the sample from the ledger's seed; ``sampling draw``
draws a round whose draw did not happen; ``sampling outcome`` records one outcome (a failure
is proposed: approved, it revokes the retrofit); ``audit sample DIR --round ID`` re-derives
the sample from an export.
"""

from __future__ import annotations

from pathlib import Path

from cli.base import (
    EXIT_FAILURE,
    CliError,
    Context,
    Subparsers,
    add_command,
    add_group,
    amounts,
    credit_code,
    emit_json,
    fail,
    year,
)
from cli.proposal_commands import add_proposing_arguments, propose
from cli.registry_commands import add_evidence_arguments, report_digest


def add_sampling_commands(subparsers: Subparsers) -> None:
    actions = add_group(subparsers, "sampling", "spot-check sampling rounds (§20)")
    p = add_command(actions, "open", cmd_open,
                    "open a round for PERIOD: fix its population, then draw the sample from "
                    "the ledger's seed", person=True)
    p.add_argument("reference", metavar="ROUND")
    p.add_argument("--period", type=year, required=True,
                   help="the retrofits' period (compliance year)")
    p.add_argument("--rules", default=None, help="sampling rules version (default: current)")
    p = add_command(actions, "draw", cmd_draw,
                    "draw an opened round's sample from the ledger's seed", person=True)
    p.add_argument("reference", metavar="ROUND")
    p = add_command(actions, "outcome", cmd_outcome,
                    "record a sampled retrofit's outcome; 'fail' only proposes revoking it "
                    "(clawback) and restricting the enterprise and the agencies at fault, "
                    "which a second administrator's approval brings into effect", person=True)
    p.add_argument("reference", metavar="ROUND")
    p.add_argument("--retrofit", required=True)
    p.add_argument("--result", choices=("pass", "fail"), required=True)
    p.add_argument("--findings", default="")
    p.add_argument("--measured", type=amounts, default=None,
                   help="full audits: measured post-retrofit amounts, e.g. COD=100")
    p.add_argument("--agency-at-fault", type=credit_code, action="append", default=None,
                   metavar="CREDIT_CODE",
                   help="repeatable; default on failure: every agency behind the retrofit")
    add_evidence_arguments(p)
    add_proposing_arguments(p)
    p = add_command(actions, "show", cmd_show, "a round as JSON", writes=False)
    p.add_argument("reference", metavar="ROUND")
    add_command(actions, "list", cmd_list, "every round: reference, period, state",
                writes=False)


def add_audit_sample_command(audit: Subparsers) -> None:
    p = add_command(audit, "sample", cmd_audit_sample,
                    "re-derive a sampling round's population, seed and sample from an export "
                    "alone; exit 1 if any differs from the recorded one", writes=False)
    p.add_argument("directory", metavar="DIR", help="an export folder")
    p.add_argument("--round", required=True, metavar="ID", dest="round_reference")
    p.add_argument("--vkey", metavar="FILE", type=Path,
                   help="verifier key obtained out of band (default: the export's own)")
    p.add_argument("--json", action="store_true")


def _draw(ctx: Context, reference: str, actor: str) -> None:
    ctx.follow()  # the opening's leaf under a signed checkpoint: the seed exists
    ctx.registry.sampling.draw_sampling_round(reference=reference, ledger=ctx.ledger, actor=actor,
                                              at=ctx.at)


def _print_round(ctx: Context, reference: str) -> None:
    from registry.sampling import sample_view

    emit_json(sample_view(ctx.registry.sampling.sampling_round(reference)))


def cmd_open(ctx: Context) -> None:
    from domain.sampling import CURRENT_SAMPLING_RULES

    a = ctx.args
    if ctx.settings.store == "memory":
        raise CliError("the in-memory store keeps no ledger to draw a seed from")
    ctx.registry.sampling.open_sampling_round(reference=a.reference, period=a.period,
                                              actor=ctx.actor, at=ctx.at,
                                              rules_version=a.rules or CURRENT_SAMPLING_RULES)
    _draw(ctx, a.reference, ctx.actor)
    _print_round(ctx, a.reference)


def cmd_draw(ctx: Context) -> None:
    if ctx.settings.store == "memory":
        raise CliError("the in-memory store keeps no ledger to draw a seed from")
    _draw(ctx, ctx.args.reference, ctx.actor)
    _print_round(ctx, ctx.args.reference)


def cmd_outcome(ctx: Context) -> None:
    a = ctx.args
    params = {"reference": a.reference, "retrofit": a.retrofit, "result": a.result,
              "findings": a.findings, "report_sha256": report_digest(a),
              "measured": a.measured, "agencies_at_fault": a.agency_at_fault}
    if a.result == "fail":  # revocation, clawback and credit records: four eyes
        ctx.registry.sampling.check_sampling_outcome(**params, actor=ctx.actor)
        propose(ctx, "record_sampling_outcome", **params)
        return
    emit_json(ctx.registry.sampling.record_sampling_outcome(**params, actor=ctx.actor, at=ctx.at))


def cmd_show(ctx: Context) -> None:
    _print_round(ctx, ctx.args.reference)


def cmd_list(ctx: Context) -> None:
    for r in ctx.registry.sampling.sampling_rounds():
        print(f"{r.reference}\tperiod {r.period}\t{r.state}\t{len(r.sample)} of "
              f"{len(r.population)} sampled")


def cmd_audit_sample(ctx: Context) -> int | None:
    from registry.sampling_audit import SampleAuditError, audit_sample

    a = ctx.args
    if not (Path(a.directory) / "entries.jsonl").is_file():
        raise CliError(f"{a.directory!r} holds no entries.jsonl")
    vkey = None
    if a.vkey is not None:
        try:
            vkey = a.vkey.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CliError(f"cannot read verifier key {str(a.vkey)!r}: {e.strerror}") from None
    try:
        result = audit_sample(a.directory, a.round_reference, vkey=vkey)
    except (SampleAuditError, ValueError, KeyError) as e:
        raise CliError(f"{e}") from None
    if a.json:
        emit_json(vars(result))
    else:
        print(f"round {result.round}, period {result.period}: population {result.population},"
              f" sample of {len(result.sample)}")
        for m in result.sample:
            print(f"{m['rank'][:16]}  {m['retrofit']}\t{m['enterprise']}\t{m['audit']}\t"
                  f"agencies {','.join(m['agencies'])}")
        for line in result.differences:
            print(f"DIFFER {line}")
    if result.differences:
        return fail(f"the sample of round {result.round} does not re-derive "
                    f"({len(result.differences)} differences)", EXIT_FAILURE)
    print(f"OK: the recorded sample of round {result.round} re-derives from the export")
    return None
