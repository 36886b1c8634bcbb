"""The registry's side of C2SP tlog-witness: each new checkpoint goes, with a consistency proof,
to every configured witness, and the cosignatures that come back are published with it.

``REGISTRY_WITNESSES``: entries separated by ``;``, each ``<submission URL prefix> <witness
verifier key>`` (the key is only used to keep lines from other keys out). The size a witness
holds is remembered per witness; a 409 answer tells the real one, and the request is sent again
with a proof from there. A witness that is down or refuses is logged and tried again with the
next checkpoint: signing never waits for witnesses.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.checkpoint import read_checkpoint_unverified
from ledger.log import Ledger
from ledger.note import parse_note, parse_vkey
from ledger.witness import SIZE_TYPE, add_checkpoint_body

log = logging.getLogger(__name__)


RETRY_SECONDS = 5.0


@dataclass
class WitnessPeer:
    url: str
    vkey: str
    size: int = 0  # the size we believe it last cosigned
    retry_at: float = 0.0  # after a failure, not before this (monotonic seconds)


@dataclass
class WitnessClient:
    peers: list[WitnessPeer] = field(default_factory=list)
    timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WitnessClient:
        peers = []
        for entry in filter(None, (e.strip() for e in env.get("REGISTRY_WITNESSES", "")
                                   .split(";"))):
            url, _, vkey = entry.partition(" ")
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"REGISTRY_WITNESSES: {url!r} is not an http(s) URL")
            parse_vkey(vkey.strip())  # a bad key fails at start, not at the first checkpoint
            peers.append(WitnessPeer(url.rstrip("/"), vkey.strip()))
        return cls(peers)

    def behind(self, size: int) -> bool:
        """Whether some witness has not cosigned a tree of ``size`` yet and may be asked."""
        now = time.monotonic()
        return any(p.size != size and p.retry_at <= now for p in self.peers)

    def cosign(self, ledger: Ledger, lock: threading.Lock) -> int:
        """Send the latest checkpoint to every witness and publish what they cosigned;
        returns the number of cosignatures added."""
        with lock:
            note = ledger.latest_checkpoint()
        if note is None or not self.peers:
            return 0
        plain = note.split("\n\n")[0] + "\n\n" + "".join(
            line + "\n" for line in note.split("\n\n", 1)[1].splitlines()[:1])
        size = read_checkpoint_unverified(note).size
        now = time.monotonic()
        lines = []
        for peer in self.peers:
            if peer.size == size or peer.retry_at > now:
                continue
            line = self._ask(peer, ledger, lock, plain, size)
            if line is None:
                peer.retry_at = now + RETRY_SECONDS
            else:
                lines.append(line)
        return len(lines) if lines and ledger.add_cosignatures(note, lines) else 0

    def _ask(self, peer: WitnessPeer, ledger: Ledger, lock: threading.Lock, note: str,
             size: int) -> str | None:
        for _ in range(2):  # once more after a 409 told us the size it holds
            old = min(peer.size, size)
            with lock:
                proof = ledger.consistency_proof(old, size) if 0 < old < size else []
            status, kind, text = self._post(peer.url, add_checkpoint_body(
                old_size=old, proof=proof, note=note))
            if status == 409 and kind.startswith(SIZE_TYPE):
                peer.size = int(text.strip())
                continue
            if status != 200:
                log.error("witness %s refused checkpoint %d: %d %s", peer.url, size, status,
                          text.strip())
                return None
            peer.size = size
            return self._own_line(peer, note, text)
        return None

    def _post(self, url: str, body: str) -> tuple[int, str, str]:
        request = urllib.request.Request(f"{url}/add-checkpoint",  # noqa: S310 (http(s))
                                         data=body.encode(), method="POST")
        try:  # the URL's scheme is checked in from_env: http(s) only
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return (answer.status, answer.headers.get("Content-Type", ""),
                        answer.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()
        except OSError as e:
            log.warning("witness %s unreachable: %s", url, e)
            return 0, "", str(e)

    @staticmethod
    def _own_line(peer: WitnessPeer, note: str, body: str) -> str | None:
        """The answer's line by the configured key (others are ignored)."""
        key = parse_vkey(peer.vkey)
        try:
            _, sigs = parse_note(note + body)
        except Exception:
            return None
        lines = [line for line in body.splitlines() if line]
        for sig, line in zip(sigs[-len(lines):], lines, strict=False):
            if (sig.name, sig.key_hash) == (key.name, key.key_hash):
                return line + "\n"
        return None
