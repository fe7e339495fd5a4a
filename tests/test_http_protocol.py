"""`tasklette serve` answers keep-alive requests at once, however its listener was bound."""

from __future__ import annotations

import asyncio
import socket

from tasklette.http_protocol import set_nodelay
from tests.conftest import run_sync


async def _nodelay_of_accepted(fix: bool) -> int:
    """TCP_NODELAY of a connection accepted from a listener bound as uvicorn's
    `--workers N` binds it (proto 0), with or without `set_nodelay`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if fix:
                set_nodelay(transport)
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        result = await asyncio.wait_for(seen, 5)
        writer.close()
        return result
    finally:
        server.close()


def test_connections_from_a_listener_bound_for_workers_get_nodelay() -> None:
    assert run_sync(_nodelay_of_accepted(fix=False)) == 0  # asyncio alone leaves Nagle on
    assert run_sync(_nodelay_of_accepted(fix=True)) == 1
