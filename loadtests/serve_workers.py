"""uvicorn with ``--workers N`` for the PostgreSQL load runs, with TCP_NODELAY on every connection.

uvicorn's multi-process supervisor binds the listening socket itself (``Config.bind_socket``,
0.54) with ``proto`` left at 0. Accepted sockets inherit it, and asyncio turns on TCP_NODELAY
only for sockets that report ``IPPROTO_TCP``; so Nagle's algorithm stays on and, on a keep-alive
connection, a response's second segment waits for the client's delayed ACK: about 40 ms on
every request after the first (uvicorn issue #3149, open in 0.54; measured here: back-to-back
GET /health 44 ms with ``uvicorn --workers 2``, 0.7 ms with one process). ``registry serve``
is not affected: with one process asyncio binds from ``getaddrinfo``, which gives proto 6.

This binds the listener with ``IPPROTO_TCP`` (`cli.workers.TcpConfig`, which
``registry serve --workers N`` uses too) and hands it to the same supervisor, so the workers are
uvicorn's own. Run: ``python -m loadtests.serve_workers --port P --workers N``
(the app is `loadtests.asgi:create`).
"""

from __future__ import annotations

import argparse

from uvicorn.supervisors import Multiprocess

from cli.workers import TcpConfig  # the listener `registry serve --workers` binds

APP = "loadtests.asgi:create"


def config(host: str, port: int, workers: int) -> TcpConfig:
    return TcpConfig(APP, factory=True, host=host, port=port, workers=workers,
                     log_level="warning")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    c = config(args.host, args.port, args.workers)
    Multiprocess(c, sockets=[c.bind_socket()]).run()


if __name__ == "__main__":
    main()
