"""C2SP tlog-checkpoint: the signed tree head of the ledger.

Body (c2sp.org/tlog-checkpoint)::

    <origin>\\n
    <tree size, ASCII decimal without leading zeroes>\\n
    <base64 of the 32-byte RFC 9162 root hash>\\n
    [<extension line>\\n ...]

wrapped in a signed note (:mod:`ledger.note`).  The root is an RFC 9162 section 2.1.1 Merkle
Tree Hash; the size is what authenticates the tree size of proofs (see :mod:`ledger.merkle`).

Key rotation: a new key gets a *new key name* and a new key file (:mod:`ledger.keys`), and its
vkey is published next to the old one.  Checkpoints signed before the rotation keep verifying
against the old vkey, and the ledger's "never sign a non-extension" rule is checked on tree
contents, not on keys, so the first checkpoint under the new key must still extend the last
one signed under the old key.  Auditors holding a checkpoint signed by the old key check an
export against it with ``verify_export(..., previous_vkey=old_vkey)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.encoding import b64decode_strict, b64encode
from ledger.merkle import HASH_SIZE, VerificationError
from ledger.note import (
    ALG_ED25519,
    Signer,
    Verifier,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)

__all__ = [
    "Checkpoint",
    "CheckpointFormatError",
    "Signer",
    "parse_checkpoint",
    "read_checkpoint_unverified",
    "sign_checkpoint",
    "verify_checkpoint",
]

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = (1 << 64) - 1


class CheckpointFormatError(ValueError):
    """A checkpoint body does not follow c2sp.org/tlog-checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` plus extension lines."""
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        text = "".join(line + "\n" for line in lines)
        parse_checkpoint(text)  # never produce what we would refuse to read
        return text


def parse_checkpoint(text: str, *, strict_root_len: bool = True) -> Checkpoint:
    """Parse a checkpoint body strictly (c2sp.org/tlog-checkpoint).

    ``strict_root_len=False`` only exists to read other logs' test data whose "root" is not
    a SHA-256 hash; everything in this package uses the strict default.
    """
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointFormatError("checkpoint needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointFormatError("empty origin")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_SIZE:
        raise CheckpointFormatError("size must be a decimal uint64 without leading zeroes")
    try:
        root = b64decode_strict(root_text)
    except ValueError as exc:
        raise CheckpointFormatError("root is not canonical base64") from exc
    if strict_root_len and len(root) != HASH_SIZE:
        raise CheckpointFormatError("root must be a 32-byte SHA-256 hash")
    if any(not line for line in extensions):
        raise CheckpointFormatError("empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(*, checkpoint: Checkpoint, signer: Signer) -> str:
    """The signed note for ``checkpoint``."""
    return sign_note(text=checkpoint.body(), signers=[signer])


def read_checkpoint_unverified(note: str) -> Checkpoint:
    """Parse the body of a signed checkpoint *without* checking signatures (local state only)."""
    text, _ = parse_note(note)
    try:
        return parse_checkpoint(text)
    except CheckpointFormatError as exc:
        raise VerificationError(f"malformed checkpoint: {exc}") from exc


def verify_checkpoint(
    *, note: str | bytes, vkey: str | Verifier, origin: str | None = None
) -> Checkpoint:
    """Verify a checkpoint note signed by ``vkey`` (an Ed25519 log key) and parse it.

    Raises :class:`VerificationError` on a bad signature, a malformed body or, if ``origin``
    is given, a different origin.
    """
    verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    if verifier.alg != ALG_ED25519:
        raise VerificationError("a checkpoint must be signed by an Ed25519 log key")
    verified = verify_note(note=note, vkeys=[verifier])
    try:
        checkpoint = parse_checkpoint(verified.text)
    except CheckpointFormatError as exc:
        raise VerificationError(f"malformed checkpoint: {exc}") from exc
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r} != {origin!r}")
    return checkpoint
