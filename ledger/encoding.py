"""Strict, canonical base64 (RFC 4648 section 4, padded) shared by notes, checkpoints, exports.

Signed notes, checkpoints and export lines are compared and signed as text, so each value must
have exactly one accepted spelling: we reject characters outside the alphabet, missing or
excess padding, embedded whitespace and non-zero trailing bits (re-encoding must round-trip).
"""

from __future__ import annotations

import binascii

__all__ = ["b64decode_strict", "b64encode"]


def b64encode(data: bytes) -> str:
    """Standard padded base64 without a newline."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode canonical padded base64; raise ``ValueError`` for any other spelling."""
    try:
        raw = text.encode("ascii")
        data = binascii.a2b_base64(raw, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not canonical base64") from exc
    if binascii.b2a_base64(data, newline=False) != raw:
        raise ValueError("not canonical base64")
    return data
