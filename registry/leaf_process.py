"""Leaves encoded in a process of their own: the ledger signer's encoding off the serving
process's interpreter lock.

Why: the signer encodes every committed event as its leaf (the event decoded, its record in
canonical JSON, a salted commitment for each part of its sealed fields). In ``registry serve``
that was a fifth of the interpreter's time under bulk order entry and a sixth under single
orders (py-spy ``--gil``), time the event loop and the order gateway's writer waited for, on a
machine whose other core had room. `LeafProcess` runs the same `LeafEncoder` over the same
store in a child process (`registry.leaf_child`, spoken to over its standard input and
output) and hands the follower a page at a time: each new event's `StoredKey` and
its leaf. The follower appends them as it appends its own, and checks every leaf before it
signs exactly as before: nothing the child says is signed unchecked (the check re-reads each
event from the store in the serving process; with ``kept_leaves`` it compares that event with
the one the child encoded, by id, aggregate, version, topic and the SHA-256 of its stored bytes,
and the leaf read back from the file with the hash of the leaf the child gave; without, it
encodes the event again).

The child is a `registry.child_process.ChildProcess`: until it has opened the store, and for
good once it fails (it died, it answered with an error, it did not answer within ``TIMEOUT``
seconds), the follower encodes in its own thread as before, which is logged once. The child
reads nothing but the store and holds no lock; it ends with the serving process however that
ends.

``registry serve`` encodes in a child unless ``REGISTRY_LEAF_PROCESS=0``; an app built
otherwise (the tests' apps) only with ``REGISTRY_LEAF_PROCESS=1``; never over the memory store,
which another process cannot see. `tests/integration/test_leaf_process.py` requires the same
ledger both ways, the fallback, and the child's end with its parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.child_process import ChildProcess, NoAnswer, NotSent
from registry.child_process import wanted as child_wanted

#: seconds a page may take the child before it is given up (and the thread encodes)
TIMEOUT = 60.0


def wanted(env: Mapping[str, str]) -> bool:
    """Whether leaves are encoded in a child process: ``REGISTRY_LEAF_PROCESS=1`` (which
    ``registry serve`` sets unless it is set), never over the memory store."""
    return child_wanted(env, "REGISTRY_LEAF_PROCESS")


class LeafProcess(ChildProcess):
    """The child that encodes pages of leaves for one follower (module docstring)."""

    def __init__(self, env: Mapping[str, str], seal_secret: bytes) -> None:
        super().__init__("registry.leaf_child", (dict(env), seal_secret),
                         what="leaf process",
                         instead="the ledger follower encodes leaves itself",
                         start_timeout=TIMEOUT, timeout=TIMEOUT)

    def page(self, position: int, first: int, format_2_from: int, limit: int) -> list[Any] | None:
        """`registry.ledger_follower.encoded_leaves` of at most ``limit`` events after log
        ``position``, the first the ledger's leaf ``first``, as the child encodes them; None
        when the child cannot answer (the caller encodes)."""
        try:
            answer = self.ask((position, first, format_2_from, limit))
        except (NotSent, NoAnswer):
            return None
        if isinstance(answer, str):  # the child's error
            self.fail(answer)
            return None
        encoded: list[Any] = answer
        return encoded
