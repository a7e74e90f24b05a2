"""libssh's session calls: callers hold a session as an opaque
:data:`~pylibssh._binding.CData` and go through these functions. The calls made on every poll
pass are libssh's functions themselves: they return libssh's codes and flags."""

from __future__ import annotations

from typing import Callable

from . import CData, lib

# -- used by the server

#: the session's SSH_CLOSED / SSH_CLOSED_ERROR / ... flags
get_status: Callable[[CData], int] = lib.ssh_get_status
#: the session's socket flags: SSH_WRITE_PENDING while libssh holds output (asks for POLLOUT)
get_poll_flags: Callable[[CData], int] = lib.ssh_get_poll_flags
#: bytes libssh holds for the socket; with the second argument 1, counting the packets queued
#: during a key re-exchange too (needs ``HAS.pending_output``)
pending_output: Callable[[CData, int], int] = lib.pylibssh_session_pending_output
