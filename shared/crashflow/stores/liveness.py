"""Whether an idle pooled connection was closed by the server meanwhile.

A store restarted (or killed) while a function kept connections to it leaves those
connections dead; the first request to use one would fail and be answered with an error.
An idle connection that the server closed has its socket readable at once (an EOF, or
PostgreSQL's "terminating connection" message: nothing else arrives unasked on an idle
connection), which one poll() without waiting tells, before the connection is used.
"""

from __future__ import annotations

import select
import socket


def closed_by_peer(sock: socket.socket | None) -> bool:
    """True when ``sock`` (idle: no request outstanding) was closed by the other end, or is
    closed already; False when it looks usable, or when there is no socket to look at."""
    if sock is None:
        return False
    try:
        fileno = sock.fileno()
    except OSError:
        return True
    if fileno < 0:
        return True
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))
