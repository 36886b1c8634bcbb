"""The PostgreSQL load runs' multi-worker listener: accepted connections get TCP_NODELAY (with
uvicorn's own listener they do not, and each keep-alive request waits ~40 ms on a delayed
ACK; see `loadtests.serve_workers`)."""

from __future__ import annotations

import asyncio
import socket

from loadtests.load_service import free_port
from loadtests.serve_workers import config


def test_accepted_connections_have_nodelay() -> None:
    listener = config("127.0.0.1", free_port(), 2).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP

    async def accept_one() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Probe, sock=listener)
        try:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            flag = await asyncio.wait_for(accepted, 5)
            writer.close()
            return flag
        finally:
            server.close()

    assert asyncio.run(accept_one()) != 0
