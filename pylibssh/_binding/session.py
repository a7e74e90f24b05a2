"""libssh's session calls: callers hold a session as an opaque
:data:`~pylibssh._binding.CData` and go through these functions. The calls made on every poll
pass are libssh's functions themselves: they return libssh's codes and flags."""

from __future__ import annotations

from typing import Callable

from . import HAS, NULL, CData, ffi, lib

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
