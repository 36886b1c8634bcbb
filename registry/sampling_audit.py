"""The auditor's re-derivation of a sampling round's sample from a ledger export alone.

``registry audit sample DIR --round ID`` trusts nothing but the export and a verifier key:

1. the export verifies (signature, every leaf against the signed root);
2. the population is re-derived by folding, through the same domain code, every event *before*
   the round's ``Opened`` leaf, and must equal the population ``Opened`` recorded, as must the
   sample size the rules give for it;
3. the seed is recomputed as the RFC 9162 root of the export's first ``index + 1`` leaves,
   ``index`` being the ``Opened`` leaf's, and must equal the seed ``Drawn`` recorded; the
   checkpoint ``Drawn`` names must carry a valid signature and a root the export reproduces;
4. the sample is drawn again (`domain.sampling.draw`) and must equal the recorded one.

Every difference is listed; the command exits 1 if there is any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import registry.bootstrap  # noqa: F401 - defines every aggregate, so every stored topic resolves
from domain.enterprise import Enterprise
from domain.retrofit import Retrofit
from domain.sampling import SamplingRound, candidates, draw, population, sampling_rules
from ledger.checkpoint import verify_checkpoint
from ledger.merkle import VerificationError, hash_leaf, root_of_hashes
from ledger.verify import ExportVerificationError, verify_export
from registry.audit import _event_record, _lines
from registry.replay import Fold
from registry.speedups import ALL

OPENED = "surplus:SamplingRound.Opened.v1"
DRAWN = "surplus:SamplingRound.Drawn.v1"


@dataclass
class SampleAudit:
    round: str
    period: int | None = None
    population: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[dict[str, Any]] | None = None
    differences: list[str] = field(default_factory=list)


class SampleAuditError(ValueError):
    """The export does not hold the round at all (bad input, not a differing sample)."""


def audit_sample(directory: str | Path, reference: str, *,
                 vkey: str | None = None) -> SampleAudit:
    folder = Path(directory)
    result = SampleAudit(round=reference)
    try:
        verify_export(folder, vkey=vkey)
    except ExportVerificationError as e:
        result.differences.append(f"the export does not verify: {e}")
        return result
    used_vkey = vkey or (folder / "vkey").read_text(encoding="utf-8").strip()
    round_id = str(SamplingRound.create_id(reference))
    fold, hashes = Fold(), []
    opened: tuple[int, dict[str, Any]] | None = None
    drawn: dict[str, Any] | None = None
    decode = ALL.leaf_decoder()
    for index, text, openings in _lines(folder):
        leaf = decode(text)
        hashes.append(hash_leaf(leaf))  # the seed is over the leaves as signed (format 2)
        # a format-2 leaf seals other parties' data: the export's openings give the full
        # record back (each checked against its commitment) for the fold
        record = _event_record(orjson.loads(leaf), openings)
        if record.get("aggregate_id") == round_id:
            if record["topic"] == OPENED:
                opened = (index, record["payload"])
            elif record["topic"] == DRAWN:
                drawn = record["payload"]
        if opened is None and "undecodable" not in record:
            fold.apply_record(record)  # the state the round opened on
    if opened is None:
        raise SampleAuditError(f"the export holds no sampling round {reference!r}")
    index, payload = opened
    _check_population(fold, payload, result)
    seed = root_of_hashes(hashes[:index + 1])
    if drawn is None:
        result.differences.append(f"round {reference} has no recorded draw in the export")
    else:
        result.recorded = drawn["sample"]
        _check_seed(drawn["seed"], index, seed, hashes, used_vkey, result)
    result.sample = draw(payload["population"], seed, payload["sample_size"])
    if result.recorded is not None and result.recorded != result.sample:
        result.differences.append("the recorded sample differs from the re-derived one")
    return result


def _check_population(fold: Fold, payload: dict[str, Any], result: SampleAudit) -> None:
    """The population ``Opened`` recorded equals the one the state before it gives."""
    result.period = payload["period"]
    rules = sampling_rules(payload["rules_version"])
    sectors = {e.credit_code: e.sector for e in fold.of_type(Enterprise)}
    retrofits = sorted(fold.of_type(Retrofit), key=lambda r: r.reference)
    derived = population(candidates(retrofits, sectors, payload["period"]), rules)
    result.population = len(derived)
    if derived != payload["population"]:
        recorded = {m["retrofit"] for m in payload["population"]}
        mine = {m["retrofit"] for m in derived}
        result.differences.append(
            f"the recorded population differs from the state it opened on: missing "
            f"{sorted(mine - recorded)}, not issued in the period {sorted(recorded - mine)}"
            + ("" if mine != recorded else " (same retrofits, other details)"))
    if payload["sample_size"] != rules.sample_size(len(payload["population"])):
        result.differences.append(f"sample size {payload['sample_size']} is not what rules "
                                  f"{rules.version} give for {len(payload['population'])}")


def _check_seed(seed: dict[str, Any], index: int, root: bytes, hashes: list[bytes],
                vkey: str, result: SampleAudit) -> None:
    if seed["index"] != index or seed["size"] != index + 1:
        result.differences.append(f"the seed was taken at ledger index {seed['index']}, the "
                                  f"opening is at {index}")
    if seed["root"] != root.hex():
        result.differences.append(f"the recorded seed {seed['root']} is not the root "
                                  f"{root.hex()} of the first {index + 1} leaves")
    try:
        checkpoint = verify_checkpoint(note=seed["checkpoint"], vkey=vkey)
    except VerificationError as e:
        result.differences.append(f"the draw's checkpoint does not verify: {e}")
        return
    if checkpoint.size <= index or checkpoint.size > len(hashes):
        result.differences.append(f"the draw's checkpoint (size {checkpoint.size}) does not "
                                  "cover the opening within the export")
    elif root_of_hashes(hashes[:checkpoint.size]) != checkpoint.root:
        result.differences.append("the export's leaves do not reproduce the draw's checkpoint")
