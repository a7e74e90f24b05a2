"""paramiko.Channel over a pylibssh client channel.

The pylibssh channel buffers what arrives (stdout and stderr apart; paused above its buffer limit
so the SSH window holds the server back); this class gives it paramiko's socket-like face:
``recv``/``send`` with ``settimeout`` (``socket.timeout``), ``fileno()`` for ``select`` (a pipe
made readable while stdout or stderr data, or EOF, waits, as in paramiko), requests, and file objects.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from ..._binding import channel as channel_api
from ..._channel import Channel as Channel_
from ...client import channels
from ...client.process import ClientChannel
from ...errors import (
    ChannelError,
    ChannelOpenFailure,
    RequestDeniedError,
    SSHError,
)
from ...timeouts import DEFAULT, resolve
from .common import asbytes
from .file import BufferedFile
from .ssh_exception import ChannelException, SSHException

__all__ = ["Channel", "ChannelFile", "ChannelStderrFile", "ChannelStdinFile"]


class _Chan(ClientChannel):
    """The pylibssh channel under a compat Channel: stderr may merge into stdout, and a pipe
    signals readiness to ``select``. On a client session stdout is gathered in C during each
    poll (ClientChannel's stage: one Python call per poll, not per packet) until a mode that
    must see each packet in order is set (:meth:`set_mode`)."""

    combine_stderr = False
    pipe = None  # (read fd, write fd) once fileno() was asked for
    pipe_set = False
    bridged = False

    def _stage_wanted(self):
        return self._session._is_client_side  # (a server session drains no stage)

    def _stage_blocked(self):
        return (super()._stage_blocked() or self.combine_stderr or self.bridged
                or self.pipe is not None)

    def set_mode(self, name, value):
        """Set ``combine_stderr``, ``pipe`` or ``bridged`` (loop lock held), after moving what
        the stage gathered into the buffer: bytes keep their order across the change."""
        if self._stage is not None:
            self._drain_stage()
        setattr(self, name, value)
        self._restage()

    def _c_data(self, data, length, is_stderr):
        if self.combine_stderr or self.bridged or self.pipe is not None:
            # the plain channel's path: recorded, then delivered through _on_data below
            return Channel_._c_data(self, data, length, is_stderr)
        return super()._c_data(data, length, is_stderr)  # appended to the buffer at once

    def _on_data(self, chunk, is_stderr):
        if self.bridged:  # the socket of another connection: passed on, not kept
            Channel_._on_data(self, chunk, is_stderr)
            return
        super()._on_data(chunk, False if self.combine_stderr else is_stderr)
        self.set_event()  # as paramiko's: select() wakes for stdout and stderr data

    def _on_eof(self):
        super()._on_eof()
        self.set_event()

    def _on_remote_close(self):
        super()._on_remote_close()
        self.set_event()

    def set_event(self):
        if self.pipe is not None and not self.pipe_set:
            self.pipe_set = True
            os.write(self.pipe[1], b"*")

    def clear_event(self):
        if self.pipe is not None and self.pipe_set:
            self.pipe_set = False
            os.read(self.pipe[0], 1)

    def close_pipe(self):
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


def _env_bytes(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


def channel_exception(exc: SSHError) -> ChannelException:
    """paramiko's ChannelException for a refused channel open: the server's reason code and
    text (``ChannelOpenError.reason``/``description``); "connect failed" for another failure."""
    reason = getattr(exc, "reason", None)
    if reason is None:
        return ChannelException(int(ChannelOpenFailure.CONNECT_FAILED), str(exc))
    return ChannelException(int(reason), getattr(exc, "description", None) or str(exc))


class _StateEvent:
    """paramiko's ``Channel.event`` / ``status_event``: a ``threading.Event`` look-alike whose
    state follows the channel (``wait`` waits on the transport's loop)."""

    def __init__(self, channel, predicate):
        self._channel = channel
        self._predicate = predicate
        self._forced = False

    def is_set(self):
        return self._forced or self._predicate()

    isSet = is_set

    def set(self):
        self._forced = True

    def clear(self):
        self._forced = False

    def wait(self, timeout=None):
        try:
            self._channel._wait(self.is_set, timeout, "wait")
        except socket.timeout:
            return False
        return True


class Channel:
    """A channel of a :class:`~.transport.Transport` (a session, direct-tcpip or forwarded
    connection), used like a socket."""

    def __init__(self, chanid, transport=None, chan=None):
        self.chanid = chanid
        self.transport = transport
        self._chan: _Chan | None = chan
        self._name = str(chanid)
        self.timeout = None
        self.lock = threading.Lock()
        self._closed_by_us = False
        self.combine_stderr = False
        self.origin_addr = None
        #: set once a request this side made was answered, and when the channel closes
        self.event = _StateEvent(self, lambda: self.closed)
        #: set once the exit status arrived or the channel closed
        self.status_event = _StateEvent(self, self.exit_status_ready)

    # -- helpers --------------------------------------------------------------------------------

    @property
    def _loop(self):
        return self.transport._loop

    def _wait(self, predicate, timeout=DEFAULT, what="operation"):
        t = resolve(timeout, self.timeout)
        loop = self._loop
        if loop.closed:
            ok = predicate()
        elif t == 0:
            with loop.lock:
                ok = predicate()
        else:
            ok = loop.wait_for(predicate, t)
        if not ok:
            raise socket.timeout(f"{what} timed out")

    def _request(self, what, fn, wait_reply=True):
        ch = self._chan
        if ch is None or ch.closed:
            raise SSHException("Channel is not open")
        session = self.transport._session
        self.event.clear()
        task = session.start_task(self._request_gen(ch, what, fn), what, None)
        self._wait(task.future.done, None, what)
        self.event.set()  # as paramiko: the request was answered (either way)
        try:
            return task.future.result()
        except RequestDeniedError as exc:
            raise SSHException(f"{what} request failed") from exc
        except (ChannelError, SSHError) as exc:
            raise SSHException(str(exc)) from exc

    @staticmethod
    def _request_gen(ch, what, fn):
        result = yield ch.request(what, fn)
        return result

    def _log(self, level, msg):
        self.transport.logger.log(level, f"[chan {self._name}] {msg}")

    # -- naming ---------------------------------------------------------------------------------

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<paramiko.Channel {self.chanid} ({state}) (pylibssh)>"

    def get_id(self):
        """The channel's number (its local SSH channel id)."""
        return self.chanid

    def get_name(self):
        """The name given with :meth:`set_name`."""
        return self._name

    def set_name(self, name):
        """Name the channel (for logs and :meth:`get_name`)."""
        self._name = name

    def get_transport(self):
        """The :class:`~pylibssh.compat.paramiko.transport.Transport` the channel belongs to."""
        return self.transport

    def getpeername(self):
        """The server's address (the transport's socket peer)."""
        return self.transport.getpeername()

    # -- state ----------------------------------------------------------------------------------

    @property
    def closed(self):
        """True once the channel is closed."""
        ch = self._chan
        return ch is None or ch.closed or self._closed_by_us

    @property
    def active(self):
        """True while the channel is open."""
        return not self.closed

    @property
    def eof_received(self):
        """True once the peer sent EOF."""
        ch = self._chan
        return ch is None or ch.eof_received or ch.finished

    @property
    def eof_sent(self):
        """True once EOF was sent (:meth:`shutdown_write`)."""
        ch = self._chan
        return ch is None or ch.eof_sent

    @property
    def exit_status(self):
        """The exit status received (``-1`` until then)."""
        ch = self._chan
        if ch is None or ch.exit_status is None:
            return -1
        return ch.exit_status

    def exit_status_ready(self):
        """True once the command's exit status has arrived."""
        ch = self._chan
        return ch is None or ch.exit_status is not None or ch.finished or self._closed_by_us

    def recv_exit_status(self):
        """Wait for the command's exit status and return it (``-1`` when the channel ended without
        one); output nobody reads no longer holds the window meanwhile."""
        ch = self._chan
        if ch is None:
            return -1
        ch.collect = True  # nobody may read the rest of the output: never stall on the window
        if ch.paused:
            ch.resume()
        self._wait(lambda: ch.exit_status is not None or ch.finished, None, "exit status")
        return self.exit_status

    # -- requests -------------------------------------------------------------------------------

    def get_pty(self, term="vt100", width=80, height=24, width_pixels=0, height_pixels=0):
        """Ask for a pseudo-terminal (``term``, default ``vt100``, 80x24 characters). Raises
        ``SSHException`` when the server refuses."""
        t = term.encode() if isinstance(term, str) else term
        self._request("pty", lambda c: channel_api.request_pty_size(c, t, width, height))

    def invoke_shell(self):
        """Start a shell on the channel. Raises ``SSHException`` when the server refuses."""
        self._request("shell", channel_api.request_shell)

    def exec_command(self, command):
        """Run ``command`` on the channel. Raises ``SSHException`` when the server refuses."""
        cmd = command.encode() if isinstance(command, str) else bytes(command)
        self._request("exec", lambda c: channel_api.request_exec(c, cmd))

    def invoke_subsystem(self, subsystem):
        """Start subsystem ``subsystem`` (e.g. ``sftp``). Raises ``SSHException`` when the server
        refuses."""
        sub = subsystem.encode()
        self._request("subsystem", lambda c: channel_api.request_subsystem(c, sub))

    def resize_pty(self, width=80, height=24, width_pixels=0, height_pixels=0):
        """Tell the server the terminal's new size (a ``window-change`` request). Raises
        ``SSHException`` on a closed channel."""
        ch = self._chan
        if self.closed:
            raise SSHException("Channel is not open")
        with self._loop.lock:
            channel_api.change_pty_size(ch._ch, width, height)
            ch._session.kick()
        self._loop.wakeup()

    def update_environment(self, environment):
        """Send each variable of ``environment`` as an ``env`` request (before the command). Raises
        ``SSHException`` naming the first one the server refuses."""
        for name, value in environment.items():
            try:
                self.set_environment_variable(name, value)
            except SSHException as e:
                raise SSHException(f'Failed to set environment variable "{name}".') from e

    def set_environment_variable(self, name, value):
        """Ask the server to set ``name`` to ``value`` (str or bytes) for the command; raises
        SSHException when it refuses."""
        n, v = _env_bytes(name), _env_bytes(value)
        self._request("env", lambda c: channel_api.request_env(c, n, v))

    def request_x11(self, *args, **kwargs):
        """Not supported by this layer: raises
        :class:`~pylibssh.compat.paramiko.ssh_exception.SSHException` (pylibssh's own client has
        ``forward_x11``)."""
        raise SSHException("X11 forwarding is not supported by pylibssh.compat.paramiko")

    def request_forward_agent(self, handler):
        """Not supported by this layer: raises ``SSHException`` (pylibssh's own client has
        ``forward_agent``)."""
        raise SSHException("agent forwarding is not supported by pylibssh.compat.paramiko")

    def send_exit_status(self, status):
        """Send the exit status ``status`` to the client (server side)."""
        self._chan.send_exit_status(status)

    def set_combine_stderr(self, combine):
        """With True, stderr is delivered through :meth:`recv` too, in arrival order; returns the
        previous setting."""
        old = self.combine_stderr
        self.combine_stderr = bool(combine)
        ch = self._chan
        if ch is not None:
            with self._loop.lock:
                ch.set_mode("combine_stderr", self.combine_stderr)
                if combine and ch._bufs[1]:
                    ch._bufs[0].extend(ch._bufs[1])
                    ch._bufs[1].clear()
        return old

    # -- timeouts -------------------------------------------------------------------------------

    def settimeout(self, timeout):
        """The time limit of later blocking calls in seconds (None: wait forever, 0.0: non-
        blocking)."""
        self.timeout = timeout

    def gettimeout(self):
        """The time limit set by :meth:`settimeout` (None by default)."""
        return self.timeout

    def setblocking(self, blocking):
        """``setblocking(False)`` is ``settimeout(0.0)``, ``setblocking(True)``
        ``settimeout(None)``."""
        self.settimeout(None if blocking else 0.0)

    # -- reading --------------------------------------------------------------------------------

    def _ended(self, ch, is_stderr):
        return ch.finished or (ch.eof_received and not ch.paused)

    def _recv(self, nbytes, is_stderr):
        ch = self._chan
        if ch is None:
            return b""
        buf = ch._bufs[1 if is_stderr else 0]

        def ready():
            if buf or ch.eof_received or ch.finished:
                return True
            if ch.paused:
                ch.resume()  # paused for the other stream's unread output: let it grow
            return False

        if not buf:  # data already waiting is taken without a round through the condition
            self._wait(ready, DEFAULT, "recv")
        with self._loop.lock:
            data = ch._take(is_stderr, nbytes)
            if not ch._bufs[0] and not ch._bufs[1] and not (ch.eof_received or ch.finished):
                ch.clear_event()
        return data

    def recv(self, nbytes):
        """Up to ``nbytes`` bytes of output, waiting within the timeout until some arrive; ``b''``
        at EOF. Raises :class:`socket.timeout` when none came in time."""
        return self._recv(nbytes, False)

    def recv_stderr(self, nbytes):
        """As :meth:`recv`, for stderr."""
        return self._recv(nbytes, True)

    def recv_ready(self):
        """True when :meth:`recv` would return data without waiting."""
        ch = self._chan
        return bool(ch is not None and ch._bufs[0])

    def recv_stderr_ready(self):
        """True when :meth:`recv_stderr` would return data without waiting."""
        ch = self._chan
        return bool(ch is not None and ch._bufs[1])

    # -- writing --------------------------------------------------------------------------------

    def _window(self, ch) -> int:
        """What the peer's window takes now beyond what waits in our queue (loop lock held)."""
        if ch.closed or ch._ch is None:
            return 0
        return max(0, channel_api.window_size(ch._ch) - ch.buffered)

    def send_ready(self):
        """True when :meth:`send` would not wait: the peer's window has room (or the channel
        is closed, where send fails at once)."""
        ch = self._chan
        if self.closed:
            return True
        with self._loop.lock:
            return self._window(ch) > 0

    def _send(self, data, stderr=False):
        """sendall: everything is queued; waits while more than the channel's limit waits."""
        ch = self._chan
        if self.closed or ch.eof_sent:
            raise OSError("Socket is closed")
        data = asbytes(data)
        try:
            ch.write(data, stderr=stderr)
        except (ChannelError, SSHError) as exc:
            raise OSError(str(exc)) from exc
        self._wait(lambda: ch.buffered < ch.high_water or ch.closed, DEFAULT, "send")
        return len(data)

    def _send_some(self, data, stderr=False):
        """paramiko's send: waits (within the timeout) until the peer's window has room, then
        sends what it takes; the number of bytes sent."""
        ch = self._chan
        if self.closed or ch.eof_sent:
            raise OSError("Socket is closed")
        data = asbytes(data)
        room = []

        def ready():
            if ch.closed:
                return True
            n = self._window(ch)
            if n:
                room.append(n)
            return bool(n)

        self._wait(ready, DEFAULT, "send")
        with self._loop.lock:
            if ch.closed or not room:
                raise OSError("Socket is closed")
            part = data[:max(1, min(len(data), self._window(ch)))]
            try:
                ch.write(part, stderr=stderr)
            except (ChannelError, SSHError) as exc:
                raise OSError(str(exc)) from exc
        self._loop.wakeup()
        return len(part)

    def send(self, s):
        """Wait (within the timeout) until the peer's window has room, then send what it takes of
        ``s``; returns the number of bytes sent. Raises :class:`OSError` on a closed channel or
        after EOF."""
        return self._send_some(s)

    def send_stderr(self, s):
        """As :meth:`send`, on the stderr stream (server side)."""
        return self._send_some(s, stderr=True)

    def sendall(self, s):
        """Send all of ``s``: queued at once, waiting (within the timeout) while more than the
        channel's limit waits. Raises :class:`OSError` on a closed channel or after EOF."""
        self._send(s)

    def sendall_stderr(self, s):
        """As :meth:`sendall`, on the stderr stream (server side)."""
        self._send(s, stderr=True)

    # -- files ----------------------------------------------------------------------------------

    def makefile(self, *params):
        """A :class:`ChannelFile` over the channel (read its output, write its input); arguments as
        ``open``'s mode and buffering."""
        return ChannelFile(*([self] + list(params)))

    def makefile_stderr(self, *params):
        """A :class:`ChannelStderrFile` over the channel's stderr."""
        return ChannelStderrFile(*([self] + list(params)))

    def makefile_stdin(self, *params):
        """A :class:`ChannelStdinFile`: writes go to the channel's input, closing it sends EOF."""
        return ChannelStdinFile(*([self] + list(params)))

    def fileno(self):
        """A descriptor (a pipe's read end) readable while output or EOF waits, for ``select``."""
        ch = self._chan
        with self._loop.lock:
            if ch.pipe is None:
                ch.set_mode("pipe", os.pipe())
                if ch._bufs[0] or ch._bufs[1] or ch.eof_received or ch.finished:
                    ch.set_event()
            return ch.pipe[0]

    # -- ending ---------------------------------------------------------------------------------

    def shutdown(self, how):
        """``how`` 1 or 2 sends EOF (as :meth:`shutdown_write`); 0 (stop reading) changes nothing
        here."""
        if how in (1, 2):
            self.shutdown_write()

    def shutdown_read(self):
        """``shutdown(0)``: changes nothing here (output keeps arriving in the buffers)."""
        self.shutdown(0)

    def shutdown_write(self):
        """Send EOF: the peer sees the end of its input."""
        ch = self._chan
        if ch is not None and not ch.closed and not ch.eof_sent:
            ch.send_eof()
            self._loop.wakeup()
            self._log(logging.DEBUG, f"EOF sent ({self._name})")

    def close(self):
        """Close the channel (idempotent)."""
        ch = self._chan
        if ch is None or self._closed_by_us:
            return
        self._closed_by_us = True
        if not ch.closed:
            ch.close()
            self._loop.wakeup()
        # the channel's pipe closes with it (select callers may still hold the fd)
        self.transport._forget(self)

    def __del__(self):
        ch = self._chan
        if ch is not None:
            try:
                ch.close_pipe()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ChannelFile(BufferedFile):
    """A file object over a channel's stdout (``Channel.makefile``)."""

    def __init__(self, channel, mode="r", bufsize=-1):
        super().__init__()
        self.channel = channel
        self._set_mode(mode, bufsize)

    def __repr__(self):
        return "<paramiko.ChannelFile from " + repr(self.channel) + ">"

    def _read(self, size):
        return self.channel.recv(size)

    def _write(self, data):
        self.channel.sendall(data)
        return len(data)


class ChannelStderrFile(ChannelFile):
    """A file object over a channel's stderr."""

    def _read(self, size):
        return self.channel.recv_stderr(size)

    def _write(self, data):
        self.channel.sendall_stderr(data)
        return len(data)


class ChannelStdinFile(ChannelFile):
    """A file object over a channel's stdin: closing it sends EOF."""

    def close(self):
        """Send EOF on the channel, then close the file."""
        super().close()
        self.channel.shutdown_write()


def open_channel_gen(session, kind, dest_addr=None, src_addr=None):
    """Open a channel of ``kind`` ("session" or "direct-tcpip" to ``dest_addr`` from
    ``src_addr``); the pylibssh channel. Another kind raises ChannelException (unknown
    channel type), as paramiko's server would answer it."""
    if kind == "session":
        dest = None
    elif kind == "direct-tcpip":
        host, port = dest_addr
        dest = (host, int(port))
    else:
        raise ChannelException(3, f"channel type {kind!r} is not supported")
    src_host, src_port = src_addr or ("127.0.0.1", 0)
    ch = yield from channels.open_channel_gen(session, kind, dest, (src_host, int(src_port)),
                                              channel_class=_Chan)
    return ch
