"""Witnesses: C2SP tlog-witness ``add-checkpoint`` and tlog-cosignature ``cosignature/v1``.

A witness is another organisation's key and memory: it keeps, per log origin, the last tree it
cosigned, and cosigns a new checkpoint only if the log's signature verifies and an RFC 9162
consistency proof shows the new tree extends that one. A registry showing one tree to some and
another to others cannot get both cosigned by the same witness, so clients that require
cosignatures from k of n named witnesses cannot be shown a split view (c2sp.org/tlog-witness).

Request body (``POST <prefix>/add-checkpoint``)::

    old <size>\\n
    <base64 consistency proof hash>\\n … (at most 63)
    \\n
    <the signed checkpoint note>

Answers: 200 with the cosignature line(s); 404 unknown origin; 403 no valid signature by the
log's key; 400 old size above the checkpoint's or a malformed body; 409 (``text/x.tlog.size``,
the size it holds) when the old size is not the size it last cosigned; 422 a proof that does
not verify, a non-empty proof from size 0, a same-size checkpoint with another root, or an
empty tree with a non-empty root.

A cosignature line is ``— <name> base64(key id ‖ u64 timestamp ‖ Ed25519 signature)`` with key
id ``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]``, signing
``"cosignature/v1\\ntime <timestamp>\\n" ‖ checkpoint body``.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.checkpoint import Checkpoint, CheckpointFormatError, parse_checkpoint
from ledger.encoding import b64decode_strict, b64encode
from ledger.fsutil import atomic_write_bytes
from ledger.merkle import EMPTY_ROOT, VerificationError, verify_consistency
from ledger.note import (
    ALG_COSIGNATURE_V1,
    SIG_PREFIX,
    Signer,
    format_vkey,
    key_hash,
    parse_note,
    parse_vkey,
    verify_note,
)

__all__ = ["Cosigner", "Outcome", "QuorumError", "Witness", "add_checkpoint_body",
           "cosigned_by", "verify_quorum"]

MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"


class QuorumError(VerificationError):
    """Fewer valid cosignatures of the named witnesses than required."""


class Cosigner:
    """An Ed25519 ``cosignature/v1`` cosigner (type ``0x04``)."""

    def __init__(self, *, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_hash(name, self.public_key, ALG_COSIGNATURE_V1)

    @classmethod
    def from_seed(cls, *, name: str, seed: bytes) -> Cosigner:
        return cls(name=name, private_key=Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_signer(cls, signer: Signer) -> Cosigner:
        """The same key material as a note signer's key file, used as a cosigner."""
        rest = signer.skey()[len("PRIVATE+KEY+") :]  # name+hash+base64, base64 may hold '+'
        seed = b64decode_strict(rest.split("+", 2)[2])[1:]
        return cls.from_seed(name=signer.key_name, seed=seed)

    @property
    def vkey(self) -> str:
        """The verifier key (``<name>+<key id>+base64(0x04 ‖ public key)``) to publish."""
        return format_vkey(self.name, self.public_key, ALG_COSIGNATURE_V1)

    def cosignature_line(self, body: str, timestamp: int) -> str:
        """The signature line cosigning checkpoint ``body`` at POSIX time ``timestamp``."""
        if not 0 < timestamp < 2**63:
            raise ValueError("a cosignature needs a positive timestamp")
        message = b"cosignature/v1\ntime %d\n" % timestamp + body.encode()
        raw = struct.pack(">IQ", self.key_id, timestamp) + self._key.sign(message)
        return f"{SIG_PREFIX}{self.name} {b64encode(raw)}\n"


@dataclass(frozen=True)
class Outcome:
    """An HTTP answer: status, content type and body."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


def add_checkpoint_body(*, old_size: int, proof: Iterable[bytes], note: str) -> str:
    """The body of an ``add-checkpoint`` request."""
    lines = [f"old {old_size}", *(b64encode(h) for h in proof)]
    return "".join(line + "\n" for line in lines) + "\n" + note


def _parse_request(body: str) -> tuple[int, list[bytes], str]:
    head, sep, note = body.partition("\n\n")
    if not sep:
        raise ValueError("no blank line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    size_text = first[4:] if first.startswith("old ") else ""
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise ValueError("the first line must be 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError("more than 63 consistency proof lines")
    return int(size_text), [b64decode_strict(line) for line in lines[1:]], note


class Witness:
    """The witness's logic and state: per origin, the size and root it last cosigned.

    ``logs`` maps each log origin it witnesses to that log's verifier keys. State is a JSON
    file, replaced atomically *before* the cosignature is returned, and checked and updated
    under one lock, so no two requests can roll the size back (c2sp.org/tlog-witness)."""

    def __init__(self, cosigner: Cosigner, logs: Mapping[str, Iterable[str]],
                 state_file: str | os.PathLike[str], *,
                 clock: Callable[[], float]) -> None:
        self.cosigner = cosigner
        self.logs = {origin: [parse_vkey(k) for k in keys] for origin, keys in logs.items()}
        self.state_file = Path(state_file)
        self.clock = clock
        self._lock = threading.Lock()

    def _state(self) -> dict[str, dict[str, object]]:
        if not self.state_file.exists():
            return {}
        loaded: dict[str, dict[str, object]] = json.loads(self.state_file.read_text("utf-8"))
        return loaded

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) last cosigned for ``origin``, if any."""
        found = self._state().get(origin)
        if found is None:
            return None
        return int(str(found["size"])), b64decode_strict(str(found["root"]))

    def add_checkpoint(self, body: str) -> Outcome:
        """Handle one ``add-checkpoint`` request body."""
        try:
            old, proof, note = _parse_request(body)
            text, _ = parse_note(note)
            checkpoint = parse_checkpoint(text)
        except (ValueError, VerificationError, CheckpointFormatError) as e:
            return Outcome(400, f"malformed request: {e}\n")
        keys = self.logs.get(checkpoint.origin)
        if keys is None:
            return Outcome(404, f"unknown log {checkpoint.origin}\n")
        try:
            verify_note(note=note, vkeys=keys)
        except VerificationError as e:
            return Outcome(403, f"not signed by the log: {e}\n")
        if old > checkpoint.size:
            return Outcome(400, "old size is above the checkpoint's size\n")
        with self._lock:
            return self._check_and_cosign(old, proof, checkpoint)

    def _check_and_cosign(self, old: int, proof: list[bytes], cp: Checkpoint) -> Outcome:
        state = self._state()
        held = state.get(cp.origin)
        size = 0 if held is None else int(str(held["size"]))
        if old != size:
            return Outcome(409, f"{size}\n", SIZE_TYPE)
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            return Outcome(422, "an empty tree has the empty root\n")
        if old == 0 and proof:
            return Outcome(422, "no proof is needed from the empty tree\n")
        if held is not None and old == cp.size:
            if b64decode_strict(str(held["root"])) != cp.root:
                return Outcome(422, "same size, another root: not the tree cosigned\n")
        elif held is not None:
            try:
                verify_consistency(size1=old, size2=cp.size,
                                   root1=b64decode_strict(str(held["root"])), root2=cp.root,
                                   proof=proof)
            except (VerificationError, ValueError) as e:
                return Outcome(422, f"the tree does not extend the one cosigned: {e}\n")
        state[cp.origin] = {"size": cp.size, "root": b64encode(cp.root)}
        atomic_write_bytes(self.state_file, json.dumps(state, sort_keys=True).encode())
        return Outcome(200, self.cosigner.cosignature_line(cp.body(), int(self.clock())))


def cosigned_by(note: str, witnesses: Iterable[str]) -> list[str]:
    """Names of the ``witnesses`` (verifier keys, type 0x04) with a valid cosignature on
    ``note``; a bad signature by one of them raises ``VerificationError``."""
    keys = [parse_vkey(k) for k in witnesses]
    for key in keys:
        if key.alg != ALG_COSIGNATURE_V1:
            raise ValueError(f"{key.name}: not a cosignature/v1 witness key")
    text, sigs = parse_note(note)
    known = {(k.name, k.key_hash): k for k in keys}
    found = []
    for sig in sigs:
        match = known.get((sig.name, sig.key_hash))
        if match is not None and match.name not in found:
            match.check(text, sig.signature)
            found.append(match.name)
    return found


def verify_quorum(note: str, witnesses: Iterable[str], quorum: int) -> list[str]:
    """The witnesses that cosigned ``note``; :class:`QuorumError` if fewer than ``quorum``."""
    names = cosigned_by(note, witnesses)
    if len(names) < quorum:
        raise QuorumError(f"{len(names)} of the named witnesses cosigned the checkpoint "
                          f"({', '.join(names) or 'none'}); {quorum} required")
    return names
