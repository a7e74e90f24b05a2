"""The process's file descriptors, which every connection of a server shares: how many SFTP
handles may hold (the rest is kept for accepting connections, their channels' pipes and the
like)."""

from __future__ import annotations

import resource

__all__ = ["RESERVE", "handle_budget"]

#: descriptors never given to SFTP handles: at least this many, and at least a quarter of the
#: process's limit
RESERVE = 64


def handle_budget() -> int:
    """How many descriptors the SFTP handles of all connections together may hold: the soft
    ``RLIMIT_NOFILE`` (read at each call, so a limit raised at start-up counts) less the larger
    of :data:`RESERVE` and a quarter of it; 0 when the limit is lower than the reserve."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft > 1 << 24:
        soft = 1 << 24
    return max(0, soft - max(RESERVE, soft // 4))
