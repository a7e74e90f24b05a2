"""The process's file descriptors, which every connection of a server shares: how many SFTP
handles may hold (the rest is kept for accepting connections, their channels' pipes and the
like), and a spare descriptor that lets a server out of descriptors close a new connection at
once instead of leaving it unanswered in the listen queue."""

from __future__ import annotations

import os
import resource
import socket
import threading

__all__ = ["RESERVE", "handle_budget", "take_spare", "shed_connection"]

#: descriptors never given to SFTP handles: at least this many, and at least a quarter of the
#: process's limit
RESERVE = 64

_lock = threading.Lock()
_spare = -1


def handle_budget() -> int:
    """How many descriptors the SFTP handles of all connections together may hold: the soft
    ``RLIMIT_NOFILE`` (read at each call, so a limit raised at start-up counts) less the larger
    of :data:`RESERVE` and a quarter of it; 0 when the limit is lower than the reserve."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft > 1 << 24:
        soft = 1 << 24
    return max(0, soft - max(RESERVE, soft // 4))


def take_spare() -> None:
    """Hold the spare descriptor, if it is not held yet and a descriptor is free (any thread)."""
    global _spare
    if _spare >= 0:
        return
    with _lock:
        if _spare < 0:
            try:
                _spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass  # none free now: taken again at the next accept


def shed_connection(listener: socket.socket) -> bool:
    """The process is out of descriptors: give up the spare, accept one pending connection of
    ``listener`` and close it at once (the client sees the connection closed), then take the
    spare again. False when there was no spare or no pending connection."""
    global _spare
    with _lock:
        if _spare < 0:
            return False
        os.close(_spare)
        _spare = -1
        try:
            conn, _addr = listener.accept()
        except OSError:
            conn = None
        if conn is not None:
            conn.close()
        try:
            _spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            pass  # a descriptor freed meanwhile went to another thread
        return conn is not None
