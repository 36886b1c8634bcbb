"""The leaf process's child (`registry.leaf_process`): ``python -m registry.leaf_child``, started
by the serving process, never by hand. It opens the store its first frame names and answers each
page asked for until its standard input closes."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import IO, Any

from registry.bootstrap import open_store_reader
from registry.leaf_process import read_frame, write_frame
from registry.leaves import SealKey
from registry.ledger_follower import LeafEncoder, encoded_leaves


def serve(source: IO[bytes], out: IO[bytes]) -> None:
    """The child: open the store named by the first frame, then answer each page asked for
    until the input closes."""
    env, secret = read_frame(source)
    app = open_store_reader(env)
    encoder = LeafEncoder(app, SealKey(secret))
    write_frame(out, "ready")
    while True:
        try:
            position, first, format_2_from, limit = read_frame(source)
        except EOFError:
            return  # the serving process closed its end, or ended
        try:
            encoder.format_2_from = format_2_from
            answer: Any = encoded_leaves(app, encoder, position, first, limit)
        except Exception as exc:  # told to the follower, which then encodes itself
            answer = f"{type(exc).__name__}: {exc}"
        write_frame(out, answer)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the serving process's
    # the frames go out on the standard output this process was given; anything printed goes
    # to the standard error, the serving process's log
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING)
    # the serving process may end while a page is on its way
    with contextlib.suppress(BrokenPipeError):
        serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
