"""libssh's session calls: callers hold a session as an opaque
:data:`~pylibssh._binding.CData` and go through these functions. The calls made on every poll
pass are libssh's functions themselves: they return libssh's codes and flags."""

from __future__ import annotations

from typing import Callable

from . import CData, lib

# -- used by the client

#: the session's socket flags: SSH_WRITE_PENDING while libssh holds output (asks for POLLOUT)
get_poll_flags: Callable[[CData], int] = lib.ssh_get_poll_flags
#: libssh's poll of ``event`` (which holds only ``session``) with a holding sink
#: (channel.new_holding_sink) that takes the channel's stdout: negative on error, else 1 when
#: output waits for the socket (csrc/pylibssh_glue.c)
sink_poll: Callable[[CData, CData, CData], int] = lib.pylibssh_sink_poll


def set_blocking(session: CData, blocking: bool) -> None:
    """Put the session in blocking or nonblocking mode."""
    lib.ssh_set_blocking(session, int(blocking))


def get_fd(session: CData) -> int:
    """The session's socket (-1 when it has none)."""
    fd: int = lib.ssh_get_fd(session)
    return fd
