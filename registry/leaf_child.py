"""The leaf process's child (`registry.leaf_process`): ``python -m registry.leaf_child``, started
by the serving process, never by hand. It opens the store its first frame names and answers each
page asked for until its standard input closes."""

from __future__ import annotations

from typing import IO, Any

from registry.bootstrap import open_store_reader
from registry.child_process import read_frame, run_child, write_frame
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
    run_child(serve)


if __name__ == "__main__":
    main()
