"""The order process's child (`registry.order_process`): ``python -m registry.order_child``,
started by the serving process, never by hand. It opens a registry over the store its first
frame names, loads every market, and writes each batch it is given, as the order gateway's
act, and each command as its actor, until its standard input closes."""

from __future__ import annotations

import pickle
from typing import IO

from registry.bootstrap import open_order_writer
from registry.child_process import read_frame, run_child, write_frame
from registry.gc_pause import settle_heap
from registry.order_process import answer, untravelled


def serve(source: IO[bytes], out: IO[bytes]) -> None:
    """The child: open the store named by the first frame, then write each batch until the
    input closes."""
    registry = open_order_writer(read_frame(source))
    try:
        registry.exchange.warm_exchange()  # the first batch then re-matches no history
        settle_heap()  # as the serving process: fewer, shorter full collections
        write_frame(out, "ready")
        while True:
            try:
                frame = read_frame(source)
            except EOFError:
                return  # the serving process closed its end, or ended
            result = answer(registry, frame)
            try:
                write_frame(out, result)  # pickled whole before a byte is written
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                write_frame(out, untravelled(exc))
    finally:
        registry.close()


def main() -> None:
    run_child(serve)


if __name__ == "__main__":
    main()
