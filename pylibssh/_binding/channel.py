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


# -- used by the client
#
# Opens and requests are nonblocking: each returns libssh's code, SSH_AGAIN until the peer has
# answered, and the client's pollers call them again until it has (a negative code: the
# session's error says why, read with pylibssh.errors.error_from).


def new(session: CData) -> CData | None:
    """A new channel on ``session``, not open yet; None when libssh cannot create one (the
    session's error says why)."""
    channel = lib.ssh_channel_new(session)
    return None if channel == NULL else channel


def open_session(channel: CData) -> int:
    """Open ``channel`` as a ``session`` channel: libssh's code."""
    rc: int = lib.ssh_channel_open_session(channel)
    return rc


def open_forward(channel: CData, host: bytes, port: int, orig_host: bytes,
                 orig_port: int) -> int:
    """Open ``channel`` as ``direct-tcpip`` to ``host:port``, for a connection from
    ``orig_host:orig_port``: libssh's code."""
    rc: int = lib.ssh_channel_open_forward(channel, host, port, orig_host, orig_port)
    return rc


def open_forward_unix(channel: CData, path: bytes, orig_host: bytes, orig_port: int) -> int:
    """Open ``channel`` as ``direct-streamlocal@openssh.com`` to the socket ``path``, for a
    connection from ``orig_host:orig_port``: libssh's code."""
    rc: int = lib.ssh_channel_open_forward_unix(channel, path, orig_host, orig_port)
    return rc


def request_env(channel: CData, name: bytes, value: bytes) -> int:
    """Ask the server to set the environment variable ``name``: libssh's code."""
    rc: int = lib.ssh_channel_request_env(channel, name, value)
    return rc


def request_pty_size(channel: CData, term: bytes, cols: int, rows: int) -> int:
    """Ask for a pseudo-terminal of type ``term``, ``cols`` x ``rows``: libssh's code."""
    rc: int = lib.ssh_channel_request_pty_size(channel, term, cols, rows)
    return rc


def request_exec(channel: CData, command: bytes) -> int:
    """Ask the server to run ``command``: libssh's code."""
    rc: int = lib.ssh_channel_request_exec(channel, command)
    return rc


def request_subsystem(channel: CData, name: bytes) -> int:
    """Ask the server to start the subsystem ``name``: libssh's code."""
    rc: int = lib.ssh_channel_request_subsystem(channel, name)
    return rc


def request_shell(channel: CData) -> int:
    """Ask the server for a shell: libssh's code."""
    rc: int = lib.ssh_channel_request_shell(channel)
    return rc


def request_auth_agent(channel: CData) -> int:
    """Ask the server to forward its agent connections to this side
    (``auth-agent-req@openssh.com``): libssh's code."""
    rc: int = lib.ssh_channel_request_auth_agent(channel)
    return rc


def request_x11(channel: CData, single_connection: bool, protocol: bytes, cookie: bytes,
                screen: int) -> int:
    """Ask the server to forward X11 connections to this side: libssh's code."""
    rc: int = lib.ssh_channel_request_x11(channel, int(single_connection), protocol, cookie,
                                          screen)
    return rc


def change_pty_size(channel: CData, cols: int, rows: int) -> int:
    """Tell the server the terminal's new size (``window-change``): libssh's code."""
    rc: int = lib.ssh_channel_change_pty_size(channel, cols, rows)
    return rc


def send_signal(channel: CData, name: str) -> int:
    """Send the ``signal`` request (``name`` without ``SIG``: "TERM"...): libssh's code."""
    rc: int = lib.ssh_channel_request_send_signal(channel, name.encode())
    return rc


# a command run to completion in C (csrc/pylibssh_run.c): its steps' results
RUN_AGAIN: int = lib.PYLIBSSH_RUN_AGAIN
RUN_DONE: int = lib.PYLIBSSH_RUN_DONE
RUN_OPEN_FAILED: int = lib.PYLIBSSH_RUN_OPEN_FAILED
RUN_DENIED: int = lib.PYLIBSSH_RUN_DENIED
RUN_NOMEM: int = lib.PYLIBSSH_RUN_NOMEM

#: move a run on after a poll: RUN_AGAIN, RUN_DONE, or a negative failure
run_step: Callable[[CData], int] = lib.pylibssh_run_step
#: free a run's channel (CLOSE is sent when needed); its output stays readable
run_release: Callable[[CData], None] = lib.pylibssh_run_release
#: free a run and what it holds; once
run_free: Callable[[CData], None] = lib.pylibssh_run_free


def run_new(session: CData, command: bytes) -> CData | None:
    """A command run on a new session channel of ``session`` (not opened yet: the first
    :data:`run_step` sends the open); None when libssh cannot make the channel."""
    run = lib.pylibssh_run_new(session, command)
    return None if run == NULL else run


def run_output(run: CData) -> tuple[bytes, bytes]:
    """A run's stdout and stderr so far (copies)."""
    out = ffi.buffer(run.out, run.out_len)[:] if run.out_len else b""
    err = ffi.buffer(run.err, run.err_len)[:] if run.err_len else b""
    return out, err


def run_exit(run: CData) -> tuple[int | None, str | None]:
    """A run's exit status and exit signal (without "SIG"), each None when not received."""
    status = run.exit_status if run.has_exit_status else None
    signal = ffi.string(run.exit_signal).decode("utf-8", "replace") \
        if run.has_exit_signal else None
    return status, signal


# pages of a holding sink's buffer are touched only when used
_uncleared = ffi.new_allocator(should_clear_after_alloc=False)


def new_holding_sink(size: int) -> tuple[CData, CData, CData]:
    """A ``pylibssh_sock_sink`` without a socket (csrc/pylibssh_glue.c) that gathers a channel's
    stdout during libssh's poll into its own ``size``-byte buffer: (the sink, its buffer, its
    callback struct). Its ``len`` is what it holds, ``blocked`` stops it taking more. The caller
    keeps all three alive while the callbacks are registered."""
    sink = ffi.new("struct pylibssh_sock_sink *")
    buf = _uncleared("char[]", size)
    lib.pylibssh_sock_sink_init(sink, -1, buf, size, NULL, NULL)
    sink.hold = 1
    return sink, buf, lib.pylibssh_sock_sink_callbacks(sink)


# -- used by the server


def add_callbacks(channel: CData, callbacks: CData) -> bool:
    """Register a callback struct on the channel, after those already there (libssh keeps the
    pointer: the caller keeps the struct alive until the channel is freed); False when libssh
    refuses it."""
    return bool(lib.ssh_add_channel_callbacks(channel, callbacks) == SSH_OK)


def address(channel: CData) -> int:
    """The channel's address: a key for it that stays unique while it lives."""
    return int(ffi.cast("uintptr_t", channel))


def drop_data_callback(callbacks: CData) -> None:
    """Stop a callback struct's data callback (the other callbacks stay)."""
    callbacks.channel_data_function = NULL
