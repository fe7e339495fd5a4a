"""The HTTP protocol `tasklette serve` runs: uvicorn's, with TCP_NODELAY on every connection.

asyncio turns Nagle's algorithm off only on sockets that say they are TCP
(`proto == IPPROTO_TCP`). With `--workers N`, uvicorn binds the listening socket
itself, with `proto` 0, and every connection accepted from it inherits that
(Kludex/uvicorn#3149): each keep-alive response after the first then waited for the
client's delayed ACK, about 40 ms on Linux. Setting the option when a connection is
made holds whoever bound the listener.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol

IMPORT_STRING = "tasklette.http_protocol:NoDelayHTTPProtocol"


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once on a TCP connection (no-op for other transports)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol (httptools, else h11) with TCP_NODELAY set."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        set_nodelay(transport)
        super().connection_made(transport)
