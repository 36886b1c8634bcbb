"""RFC 6962 signed tree heads (section 3.5), for checking real Certificate Transparency logs.

The ledger itself signs C2SP checkpoints (:mod:`ledger.checkpoint`); this module only lets the
known-answer tests (and auditors comparing against CT) verify a classic STH: a TLS
``DigitallySigned`` (RFC 5246 section 4.7) over ``TreeHeadSignature`` =
``version (0) || signature_type tree_hash (1) || timestamp (uint64) || tree_size (uint64) ||
sha256_root_hash (32 bytes)``.  Only SHA-256 with ECDSA (the CT norm) is accepted.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ledger.merkle import HASH_SIZE, VerificationError

__all__ = ["verify_sth"]

_SHA256, _ECDSA = 4, 3


def verify_sth(
    *, public_key_der: bytes, timestamp: int, tree_size: int, root: bytes, signature: bytes
) -> None:
    """Verify an RFC 6962 STH signature; raise :class:`VerificationError` on failure."""
    if len(root) != HASH_SIZE:
        raise VerificationError("STH root must be 32 bytes")
    if len(signature) < 4 or signature[0] != _SHA256 or signature[1] != _ECDSA:
        raise VerificationError("STH signature must be SHA-256 with ECDSA")
    (length,) = struct.unpack(">H", signature[2:4])
    if length != len(signature) - 4:
        raise VerificationError("STH signature length mismatch")
    key = load_der_public_key(public_key_der)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError("STH key is not an ECDSA key")
    message = struct.pack(">BBQQ", 0, 1, timestamp, tree_size) + root
    try:
        key.verify(signature[4:], message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise VerificationError("STH signature does not verify") from exc
