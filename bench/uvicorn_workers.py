"""Run a uvicorn-served program with fixes for uvicorn's multi-worker mode (bench only).

    python bench/uvicorn_workers.py --nodelay PROGRAM [ARGS...]
    python bench/uvicorn_workers.py --reuseport .venv/bin/tasklette serve --workers 2 ...
    python bench/uvicorn_workers.py --nodelay -m MODULE [ARGS...]

The API benchmark serves `--workers N` runs through this wrapper (api_bench.py
`--worker-fix`), to measure the app rather than two properties of uvicorn's (0.54)
multi-worker mode, in which the supervisor binds one listening socket and every
worker process accepts from it:

--nodelay: that socket is made as `socket.socket(family)`, so its `proto` is 0; the
  connections the workers accept inherit it, and asyncio only sets TCP_NODELAY on
  sockets whose `proto` is IPPROTO_TCP. Nagle's algorithm then holds the body of each
  keep-alive response until the client's delayed ACK: ~40 ms per request on Linux
  (Kludex/uvicorn#3149, open). The fix re-wraps the socket with IPPROTO_TCP (same
  file descriptor and address). One worker is not affected: asyncio makes that
  listener from getaddrinfo (proto 6).
--reuseport: the workers share one accept queue, the kernel wakes the most recently
  waiting worker first, and asyncio accepts every pending connection at once, so a
  burst of keep-alive connections (wrk's, or a reverse proxy's upstream pool) mostly
  lands on one worker while the others idle. The fix gives every worker its own
  listening socket in one SO_REUSEPORT group (the kernel spreads connections over
  them by address hash); implies --nodelay. uvicorn has a pending PR for this
  (Kludex/uvicorn#2472).

Then PROGRAM runs as `__main__`. The same fixes belong in `tasklette serve` or uvicorn.
"""

from __future__ import annotations

import runpy
import socket
import sys
from typing import Any

import uvicorn.config
from uvicorn.supervisors import multiprocess

_bind_socket = uvicorn.config.Config.bind_socket
_process_init = multiprocess.Process.__init__
_process_start = multiprocess.Process.start
_INET = (socket.AF_INET, socket.AF_INET6)


def _listener(family: int, address: Any, reuseport: bool) -> socket.socket:
    """A TCP socket (proto IPPROTO_TCP) bound to `address`, as bind_socket binds."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def patch(reuseport: bool) -> None:
    def bind_socket(self: uvicorn.config.Config) -> socket.socket:
        sock = _bind_socket(self)  # logs "Uvicorn running on ..." as usual
        if sock.family not in _INET:
            return sock
        if not reuseport:  # same descriptor, now known to be TCP
            fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())
            fixed.set_inheritable(True)
            return fixed
        family, address = sock.family, sock.getsockname()
        sock.close()  # bound again at once, in the SO_REUSEPORT group this time
        return _listener(family, address, reuseport=True)

    def process_init(self: multiprocess.Process, config: uvicorn.config.Config,
                     sockets: list[socket.socket]) -> None:
        # A listener of its own for every worker (restarted ones too), in the group.
        own = [_listener(s.family, s.getsockname(), reuseport=True) for s in sockets
               if s.family in _INET]
        self._bench_sockets = own  # type: ignore[attr-defined]
        _process_init(self, config, own + [s for s in sockets if s.family not in _INET])

    def process_start(self: multiprocess.Process) -> None:
        _process_start(self)
        # The child has its duplicate: close ours, so that a listener whose worker
        # died is closed too instead of queueing connections nobody accepts.
        for sock in getattr(self, "_bench_sockets", ()):
            sock.close()

    uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]
    if reuseport:
        multiprocess.Process.__init__ = process_init  # type: ignore[method-assign]
        multiprocess.Process.start = process_start  # type: ignore[method-assign]


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] not in ("--nodelay", "--reuseport") or len(args) < 2:
        sys.exit(__doc__)
    patch(reuseport=args[0] == "--reuseport")
    if args[1] == "-m" and len(args) > 2:
        sys.argv = args[2:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
