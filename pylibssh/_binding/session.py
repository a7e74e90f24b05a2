"""libssh's session calls: creation, the nonblocking poll through an ``ssh_event``, the state
and output of the session's socket, the negotiated algorithms, disconnect and free.

The engine (``pylibssh._session``) and the front ends hold a session as an opaque
:data:`~pylibssh._binding.CData`. The calls made on every poll pass (poll, status, poll flags,
pending output) are libssh's functions themselves: they return libssh's codes and flags, which
the poll cycle reads directly.
"""

from __future__ import annotations

from typing import Callable

from . import HAS, NULL, CData, ffi, lib
from .constants import SSH_OK

# -- the poll cycle (per pass: libssh's functions as they are) ---------------------------------

#: process what the event's sessions can read or write, waiting at most ``timeout`` ms: SSH_OK,
#: SSH_AGAIN when nothing was ready, SSH_ERROR when the poll failed
event_dopoll: Callable[[CData, int], int] = lib.ssh_event_dopoll
#: the session's SSH_CLOSED / SSH_CLOSED_ERROR / ... flags
get_status: Callable[[CData], int] = lib.ssh_get_status
#: the session's socket flags: SSH_WRITE_PENDING while libssh holds output (asks for POLLOUT)
get_poll_flags: Callable[[CData], int] = lib.ssh_get_poll_flags


#: bytes libssh holds for the socket; with the second argument 1, counting the packets queued
#: during a key re-exchange too (needs ``HAS.pending_output``)
pending_output: Callable[[CData, int], int] = lib.pylibssh_session_pending_output
#: write what libssh holds for the socket without polling its input; returns what is left
#: (needs ``HAS.pending_output``)
flush_output: Callable[[CData], int] = lib.pylibssh_session_flush_output


# -- creation and set-up -----------------------------------------------------------------------

def new() -> CData:
    """A new ``ssh_session``; raises MemoryError when libssh cannot allocate one."""
    session = lib.ssh_new()
    if session == NULL:
        raise MemoryError("ssh_new failed")
    return session


def new_counters(session: CData) -> CData:
    """Byte and packet counters libssh keeps for ``session``: ``[0]`` the socket's bytes,
    ``[1]`` the SSH payload (``.in_bytes``, ``.out_bytes``...). The caller keeps the result for
    as long as the session lives."""
    counters = ffi.new("struct ssh_counter_struct[2]")
    lib.ssh_set_counters(session, counters + 0, counters + 1)
    return counters


def set_blocking(session: CData, blocking: bool) -> None:
    """Put the session in blocking or nonblocking mode."""
    lib.ssh_set_blocking(session, int(blocking))


def get_fd(session: CData) -> int:
    """The session's socket (-1 when it has none)."""
    fd: int = lib.ssh_get_fd(session)
    return fd


def enforce_windows(session: CData) -> None:
    """End the session when the peer sends beyond a channel's window (``HAS.window_guard``)."""
    lib.pylibssh_enforce_windows(session)


def event_new() -> CData:
    """A new ``ssh_event``; raises MemoryError when libssh cannot allocate one."""
    event = lib.ssh_event_new()
    if event == NULL:
        raise MemoryError("ssh_event_new failed")
    return event


def event_add_session(event: CData, session: CData) -> bool:
    """Put the session into the event; False until libssh has created the session's poll
    context (once the session polled: ssh_connect, ssh_handle_key_exchange)."""
    return bool(lib.ssh_event_add_session(event, session) == SSH_OK)


def event_remove_session(event: CData, session: CData) -> None:
    """Take the session out of the event."""
    lib.ssh_event_remove_session(event, session)


def event_free(event: CData) -> None:
    """Free the event. Call it once."""
    lib.ssh_event_free(event)


# -- the end -----------------------------------------------------------------------------------

def disconnect(session: CData) -> None:
    """Send DISCONNECT and close the socket."""
    lib.ssh_disconnect(session)


def silent_disconnect(session: CData) -> None:
    """Close the socket without a DISCONNECT."""
    lib.ssh_silent_disconnect(session)


def free(session: CData) -> None:
    """Free the session (its channels first: see ``LoopSession._teardown``). Call it once."""
    lib.ssh_free(session)


# -- the negotiated algorithms -----------------------------------------------------------------

def ascii_text(ptr: CData) -> str | None:
    """A C string of libssh's (an algorithm's name, a banner) as ``str``, None for NULL."""
    return ffi.string(ptr).decode("ascii", "replace") if ptr != NULL else None


def kex_algorithm(session: CData) -> str | None:
    """The key exchange method, None before it."""
    return ascii_text(lib.ssh_get_kex_algo(session))


def cipher_in(session: CData) -> str | None:
    """The cipher of what this side receives, None before the key exchange."""
    return ascii_text(lib.ssh_get_cipher_in(session))


def cipher_out(session: CData) -> str | None:
    """The cipher of what this side sends, None before the key exchange."""
    return ascii_text(lib.ssh_get_cipher_out(session))


def hmac_in(session: CData) -> str | None:
    """The MAC of what this side receives, None before the key exchange."""
    return ascii_text(lib.ssh_get_hmac_in(session))


def hmac_out(session: CData) -> str | None:
    """The MAC of what this side sends, None before the key exchange."""
    return ascii_text(lib.ssh_get_hmac_out(session))


def hostkey_algorithm(session: CData) -> str | None:
    """The negotiated host-key algorithm; None before the key exchange or without
    ``HAS.hostkey_algo``."""
    return ascii_text(lib.pylibssh_session_hostkey_algo(session)) if HAS.hostkey_algo else None


def kex_method(session: CData, which: int) -> str | None:
    """The negotiated method of one of the key exchange's lists (``which``: SSH_COMP_C_S...);
    None before the key exchange or without ``HAS.hostkey_algo``."""
    if not HAS.hostkey_algo:
        return None
    return ascii_text(lib.pylibssh_session_kex_method(session, which))


# -- used by the client

#: libssh's poll of ``event`` (which holds only ``session``) with a holding sink
#: (channel.new_holding_sink) that takes the channel's stdout: negative on error, else 1 when
#: output waits for the socket (csrc/pylibssh_glue.c)
sink_poll: Callable[[CData, CData, CData], int] = lib.pylibssh_sink_poll
