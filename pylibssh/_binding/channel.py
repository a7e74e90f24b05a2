"""libssh's channel calls (``ssh_channel_*``): data, control messages, callbacks, lifetime.

The engine (``pylibssh._channel``) and the front ends hold a channel as an opaque
:data:`~pylibssh._binding.CData` and go through these functions. The calls made per packet or
per write (window, read, write) are libssh's functions themselves or the thinnest wrapper that
converts their Python arguments: they return libssh's code (negative: an error the caller reads
with :func:`pylibssh.errors.error_from`, which needs the session).
"""

from __future__ import annotations

from typing import Callable

from . import NULL, CData, ffi, lib
from .constants import SSH_OK

#: the peer's window: what can be sent without waiting (0 once the channel is closed)
window_size: Callable[[CData], int] = lib.ssh_channel_window_size


_buffer = ffi.buffer  # (called per packet: one lookup fewer)


def copy_data(data: CData, length: int) -> bytes:
    """Copy ``length`` bytes that a data callback points at (libssh reuses the buffer)."""
    # cffi's bytes as they come: an annotated local would cost a few ns on every packet
    return _buffer(data, length)[:]  # type: ignore[no-any-return]


def write(channel: CData, data: memoryview, stderr: bool) -> int:
    """Hand ``data`` to libssh as channel data (extended data, stderr, when ``stderr``): returns
    how many bytes it took (bounded by the peer's window), negative on error."""
    if stderr:
        n: int = lib.ssh_channel_write_stderr(channel, ffi.from_buffer(data), len(data))
    else:
        n = lib.ssh_channel_write(channel, ffi.from_buffer(data), len(data))
    return n


def new_read_buffer(size: int) -> CData:
    """A C buffer of ``size`` bytes for :func:`read_nonblocking` (freed with its last reference)."""
    return ffi.new("char[]", size)


def read_nonblocking(channel: CData, buffer: CData, size: int, stderr: bool) -> bytes:
    """What libssh holds of the channel's data (or stderr), at most ``size`` bytes read into
    ``buffer`` (from :func:`new_read_buffer`) and copied out; b"" when it holds nothing, at EOF
    or on an error."""
    n: int = lib.ssh_channel_read_nonblocking(channel, buffer, size, int(stderr))
    return ffi.buffer(buffer, n)[:] if n > 0 else b""


def send_eof(channel: CData) -> int:
    """Send EOF on the channel: libssh's code (SSH_ERROR on failure)."""
    rc: int = lib.ssh_channel_send_eof(channel)
    return rc


def send_exit_status(channel: CData, status: int) -> int:
    """Send the ``exit-status`` request: libssh's code (SSH_ERROR on failure)."""
    rc: int = lib.ssh_channel_request_send_exit_status(channel, status)
    return rc


def send_exit_signal(channel: CData, name: str, core_dumped: bool, message: str,
                     lang: str) -> int:
    """Send the ``exit-signal`` request (``name`` without ``SIG``): libssh's code (SSH_ERROR on
    failure)."""
    rc: int = lib.ssh_channel_request_send_exit_signal(
        channel, name.encode(), int(core_dumped), message.encode(), lang.encode())
    return rc


def close(channel: CData) -> int:
    """Send CHANNEL_CLOSE (libssh flushes what the channel queued first): libssh's code."""
    rc: int = lib.ssh_channel_close(channel)
    return rc


def free(channel: CData) -> None:
    """Free the channel (libssh sends CLOSE first if it is still open). Call it once."""
    lib.ssh_channel_free(channel)


def set_callbacks(channel: CData, callbacks: CData) -> bool:
    """Register a callback struct on the channel, before those already there; False when libssh
    refuses it."""
    return bool(lib.ssh_set_channel_callbacks(channel, callbacks) == SSH_OK)


def remove_callbacks(channel: CData, callbacks: CData) -> None:
    """Unregister a callback struct (nothing when it is not registered)."""
    lib.ssh_remove_channel_callbacks(channel, callbacks)


def is_null(channel: CData) -> bool:
    """Whether ``channel`` is NULL (libssh failed to create it)."""
    return bool(channel == NULL)
