"""C2SP signed-note: verifier/signer keys, Ed25519 signing, strict verification.

Format (c2sp.org/signed-note, as implemented by golang.org/x/mod/sumdb/note)::

    <text ending in "\\n">
    <blank line>
    \u2014 <key name> <base64(key hash (4 bytes) || signature)>\\n   (one or more lines)

* Verifier key: ``<name>+<8 lowercase hex key hash>+<base64(type || public key)>``; the key hash
  is the first 4 bytes of ``SHA-256(name || 0x0A || type || public key)``.  Type ``0x01`` is
  Ed25519 over the note text; type ``0x04`` is a tlog-cosignature/v1 Ed25519 cosigner
  (c2sp.org/tlog-cosignature), whose signature is ``timestamp (8 bytes BE) || Ed25519 sig`` over
  ``"cosignature/v1\\ntime <timestamp>\\n" || text``.
* Signer key (Go's format): ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>``.

Verification rules (strict): the note must be valid UTF-8 without ASCII control characters
other than newline (DEL included); the signature block follows the *last* blank line and every
line in it must be a well-formed signature line with canonical base64; at most 100 signatures.
Signatures from unknown keys (name or key hash not among ``vkeys``) are ignored; a signature
from a known key that does not verify rejects the whole note; at least one known signature must
verify.  Repeated signatures by the same key are ignored after the first.  Every failure raises
:class:`~ledger.merkle.VerificationError`; malformed *keys* raise ``ValueError``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.encoding import b64decode_strict, b64encode
from ledger.merkle import VerificationError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "NoteSignature",
    "Signer",
    "VerifiedNote",
    "Verifier",
    "format_vkey",
    "key_hash",
    "parse_note",
    "parse_vkey",
    "sign_note",
    "verify_note",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
SIG_PREFIX = "\u2014 "  # em dash and a space
_MAX_SIGNATURES = 100
_SKEY_PREFIX = "PRIVATE+KEY+"


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise ValueError(f"invalid key name {name!r}")


def key_hash(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    """Key hash: first 4 bytes (big-endian) of SHA-256(name || 0x0A || alg || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def format_vkey(name: str, public_key: bytes, alg: int = ALG_ED25519) -> str:
    """Verifier key text ``<name>+<hex key hash>+<base64(alg || public key)>``."""
    _check_name(name)
    return f"{name}+{key_hash(name, public_key, alg):08x}+{b64encode(bytes([alg]) + public_key)}"


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier key (Ed25519 note key or tlog-cosignature/v1 cosigner key)."""

    name: str
    key_hash: int
    alg: int
    public_key: bytes
    _key: Ed25519PublicKey = field(repr=False, compare=False)

    @property
    def vkey(self) -> str:
        """The verifier key in text form."""
        return format_vkey(self.name, self.public_key, self.alg)

    def check(self, text: str, signature: bytes) -> int | None:
        """Verify one signature over ``text``; return the cosignature time, if any.

        Raises :class:`VerificationError` if the signature is invalid.
        """
        message = text.encode()
        timestamp = None
        if self.alg == ALG_COSIGNATURE_V1 and len(signature) == 72:
            timestamp = int.from_bytes(signature[:8], "big")
            message = b"cosignature/v1\ntime %d\n" % timestamp + message
            signature = signature[8:]
        if len(signature) != 64:
            raise VerificationError(f"invalid signature length by {self.name}")
        try:
            self._key.verify(signature, message)
        except InvalidSignature as exc:
            raise VerificationError(f"invalid signature by {self.name}") from exc
        return timestamp


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``<name>+<hash>+<base64 key>`` strictly (lowercase hex, canonical base64)."""
    name, _, rest = vkey.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    _check_name(name)
    if len(hash_hex) != 8 or any(c not in "0123456789abcdef" for c in hash_hex):
        raise ValueError("verifier key hash must be 8 lowercase hex digits")
    key = b64decode_strict(key_b64)
    if len(key) != 33 or key[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise ValueError("unsupported verifier key type or length")
    if key_hash(name, key[1:], key[0]) != int(hash_hex, 16):
        raise ValueError("verifier key hash does not match the key")
    public = Ed25519PublicKey.from_public_bytes(key[1:])
    return Verifier(name, int(hash_hex, 16), key[0], key[1:], public)


class Signer:
    """An Ed25519 note signer with its key name (c2sp.org/signed-note, type 0x01)."""

    def __init__(self, *, key_name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(key_name)
        self._name = key_name
        self._key = private_key
        self._public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._hash = key_hash(key_name, self._public)

    @classmethod
    def generate(cls, *, key_name: str) -> Signer:
        """A fresh random key."""
        return cls(key_name=key_name, private_key=Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, *, key_name: str, seed: bytes) -> Signer:
        """A signer from a 32-byte Ed25519 seed."""
        return cls(key_name=key_name, private_key=Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse Go's ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`` signer key."""
        if not skey.startswith(_SKEY_PREFIX):
            raise ValueError("signer key must start with PRIVATE+KEY+")
        name, _, rest = skey[len(_SKEY_PREFIX) :].partition("+")
        hash_hex, _, key_b64 = rest.partition("+")
        key = b64decode_strict(key_b64)
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise ValueError("unsupported signer key type or length")
        signer = cls.from_seed(key_name=name, seed=key[1:])
        if f"{signer.key_hash:08x}" != hash_hex:
            raise ValueError("signer key hash does not match the key")
        return signer

    @property
    def key_name(self) -> str:
        """The key name used in signature lines."""
        return self._name

    @property
    def key_hash(self) -> int:
        """The 4-byte key hash as an integer."""
        return self._hash

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def vkey(self) -> str:
        """The verifier key to publish."""
        return format_vkey(self._name, self._public)

    def skey(self) -> str:
        """The secret signer key text (for key files only; never log it)."""
        seed = self._key.private_bytes_raw()
        return f"{_SKEY_PREFIX}{self._name}+{self._hash:08x}+{b64encode(bytes([1]) + seed)}"

    def signature_line(self, text: str) -> str:
        """The ``\u2014 name base64(hash || sig)`` line (with newline) signing ``text``."""
        sig = self._key.sign(text.encode())
        return f"{SIG_PREFIX}{self._name} {b64encode(struct.pack('>I', self._hash) + sig)}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    if any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise ValueError("note text contains a control character")


def sign_note(*, text: str, signers: Iterable[Signer]) -> str:
    """Sign ``text`` (must end in newline, no control characters) with every signer."""
    _check_text(text)
    lines = [signer.signature_line(text) for signer in signers]
    if not lines:
        raise ValueError("at least one signer is required")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line."""

    name: str
    key_hash: int
    signature: bytes  # without the 4-byte key hash


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose text carries at least one valid signature from a known key."""

    text: str
    verified_by: tuple[str, ...]
    unverified: tuple[NoteSignature, ...]
    cosignature_times: dict[str, int] = field(default_factory=dict)


def _decode(note: str | bytes) -> str:
    if isinstance(note, bytes):
        try:
            return note.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise VerificationError("malformed note: not UTF-8") from exc
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerificationError("malformed note: not UTF-8") from exc
    return note


def parse_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a note into its text and signature lines, strictly; no signature is checked."""
    msg = _decode(note)
    if any((c < " " and c != "\n") or c == "\x7f" for c in msg):
        raise VerificationError("malformed note: control character")
    split = msg.rfind("\n\n")
    if split < 0:
        raise VerificationError("malformed note: no blank line before signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise VerificationError("malformed note: signature block must end in newline")
    sigs: list[NoteSignature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise VerificationError("malformed note: bad signature line")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        try:
            _check_name(name)
            raw = b64decode_strict(b64)
        except ValueError as exc:
            raise VerificationError("malformed note: bad signature line") from exc
        if len(raw) < 5:
            raise VerificationError("malformed note: signature too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
        if len(sigs) > _MAX_SIGNATURES:
            raise VerificationError("malformed note: too many signatures")
    return text, sigs


def verify_note(*, note: str | bytes, vkeys: Iterable[str | Verifier]) -> VerifiedNote:
    """Verify a signed note against known verifier keys (c2sp.org/signed-note rules)."""
    parsed = [parse_vkey(k) if isinstance(k, str) else k for k in vkeys]
    known = {(v.name, v.key_hash): v for v in parsed}
    text, sigs = parse_note(note)
    verified: list[str] = []
    unverified: list[NoteSignature] = []
    times: dict[str, int] = {}
    seen: set[tuple[str, int]] = set()
    for sig in sigs:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_hash) in seen:
            continue
        seen.add((sig.name, sig.key_hash))
        timestamp = verifier.check(text, sig.signature)
        if timestamp is not None:
            times[sig.name] = timestamp
        verified.append(sig.name)
    if not verified:
        raise VerificationError("no valid signature from a known key")
    return VerifiedNote(text, tuple(verified), tuple(unverified), times)
