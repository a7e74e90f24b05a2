"""Client channels: commands, shells and subsystems.

:class:`ClientChannel` is the shared :class:`~pylibssh._channel.Channel` with its output kept in
two buffers (stdout, stderr) instead of emitted as events. A channel whose reader falls behind is
paused above :attr:`ClientChannel.buffer_limit`, which holds the server back by the SSH window,
so a command's output never has to fit in memory; :meth:`Client.run` collects everything.

:class:`Process` is the blocking face of one channel (read/write/wait with timeouts); the same
channel can be used without blocking through ``open_*_async`` futures and its events.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._binding import CData
from .._binding import channel as channel_api
from .._binding import session as session_api
from .._binding.constants import SSH_AGAIN, SSH_ERROR, SSH_OK, SSH_REQUEST_DENIED, SSH_WRITE_PENDING
from .._bytequeue import ByteQueue
from .._channel import Channel
from ..errors import ChannelError, RequestDeniedError, SSHError, SSHTimeoutError, last_error
from ..loop import locked
from ..timeouts import DEFAULT, Timeout, resolve
from ._task import AGAIN, TaskGen, wait
from .channels import SESSION, open_channel_gen
from .run import run_in_c_gen

if TYPE_CHECKING:
    from .session import ClientSession

log = logging.getLogger("pylibssh.client")

__all__ = ["ClientChannel", "Process", "RunResult", "ProcessError"]

@dataclass
class RunResult:
    """What :meth:`Client.run` returns."""

    command: str
    stdout: bytes
    stderr: bytes
    exit_status: int | None
    exit_signal: str | None = None

    @property
    def returncode(self) -> int | None:
        """subprocess's convention: the exit status, or minus the signal number."""
        if self.exit_signal:
            import signal as _signal
            num = getattr(_signal, "SIG" + self.exit_signal, None)
            return -int(num) if num is not None else -1
        return self.exit_status

    def check(self) -> RunResult:
        """This result when the exit status is 0; raises ProcessError otherwise."""
        if self.exit_status != 0:
            raise ProcessError(self)
        return self


class ProcessError(SSHError):
    """A command ended with a non-zero status (``run(..., check=True)``)."""

    def __init__(self, result: RunResult):
        how = (f"signal {result.exit_signal}" if result.exit_signal
               else f"status {result.exit_status}")
        tail = result.stderr[-500:].decode("utf-8", "replace").strip()
        super().__init__(f"{result.command!r} exited with {how}"
                         + (f": {tail}" if tail else ""))
        self.result = result


class ClientChannel(Channel):
    """A session channel opened by the client; output is buffered for reading."""

    #: pause the channel (hold the server back) when this much output waits unread
    buffer_limit = 4 << 20

    #: stdout is gathered in C (a holding ``pylibssh_sock_sink``) during a poll and handed to
    #: Python once per pass, not once per packet; and it lets :meth:`Process.read` run passes
    #: from C (:meth:`_read_direct`). A poll gathers at most libssh's read size (256 KiB).
    stage_size = 1 << 20

    # a stream that brings at least the session's ``bulk_pass`` bytes to a pass of
    # _read_direct is read in bulk: the next wait lasts until ``bulk_lowat`` bytes are in the
    # socket or ``bulk_wait`` seconds pass (ClientSession.bulk_pass; two thirds fewer wakeups
    # on a fast stream)
    _session: ClientSession

    def __init__(self, session: ClientSession, c_channel: CData):
        super().__init__(session, c_channel)
        self._bufs: tuple[ByteQueue, ByteQueue] = (ByteQueue(), ByteQueue())
        self.collect = False  # run(): keep everything, never pause
        self.denied: list[str] = []  # forwarding requests the server refused
        self._stage: Any = None
        self._stage_buf: Any = None
        self._bulk = False  # the last pass of _read_direct brought bulk_pass bytes or more
        if self._stage_wanted():
            st, buf, callbacks = channel_api.new_holding_sink(self.stage_size)
            # put before the channel's own callbacks: it takes stdout while not blocked, and
            # what it does not take goes on to _c_data (which first drains it: order kept)
            if self._add_c_callbacks(callbacks, (st, buf)):
                self._stage, self._stage_buf = st, buf
                session._staged.add(self)

    def _stage_wanted(self) -> bool:
        """Subclasses that must see every packet in order with stderr say no."""
        return True

    def _drain_stage(self, inside_libssh: bool = False) -> None:
        """Move what the stage gathered into the stdout buffer (after each poll, and before
        anything newer), and let it take more only while nothing else must see the data."""
        st = self._stage
        n = st.len
        if n:
            st.len = 0
            chunk = channel_api.copy_data(self._stage_buf, n)
            if inside_libssh and self._listeners.get("data"):
                self._undelivered += 1
                self._session.defer(self._deliver, chunk, False)
            else:
                self._on_data(chunk, False)
        st.blocked = 1 if self._stage_blocked() else 0

    def _stage_blocked(self) -> bool:
        """Whether the stage must let stdout through to :meth:`_c_data`: while paused or
        closed, and while someone listens to each packet (subclasses add their modes)."""
        return bool(self._paused or self._closed or self._listeners.get("data"))

    def _restage(self) -> None:
        """After a change of what :meth:`_stage_blocked` looks at (loop lock held): let the
        stage take stdout again, or stop it (call :meth:`_drain_stage` first for the bytes it
        holds to keep their order)."""
        if self._stage is not None:
            self._stage.blocked = 1 if self._stage_blocked() else 0

    def _free(self, session_gone: bool) -> None:
        if self._stage is not None:
            if not self._closed:
                self._drain_stage()
            self._session._staged.discard(self)
        super()._free(session_gone)

    def _c_data(self, data: CData, length: int, is_stderr: bool) -> int:
        # inside libssh: appending to our own buffer is only recording (no libssh call), and
        # it saves a copy and a deferred call per packet on the hot path of large outputs
        if self._stage is not None and self._stage.len:
            self._drain_stage(True)  # the stage's bytes come first (it is full, or blocked)
        if self._paused or self._closed or not length:
            return 0  # libssh keeps the bytes and does not grow the window
        if self._listeners.get("data"):
            return super()._c_data(data, length, is_stderr)
        buffered = self._bufs[1 if is_stderr else 0].push(channel_api.copy_data(data, length))
        if buffered > self.buffer_limit and not self.collect:
            self._paused = True  # resumed by read()
        return length

    # output that was held while paused (and all output when someone listens to "data")
    def _on_data(self, chunk: bytes, is_stderr: bool) -> None:
        buf = self._bufs[1 if is_stderr else 0]
        buf.append(chunk)
        if self.listener_count("data"):
            self._emit_data(chunk, is_stderr)
        if not self.collect and len(buf) > self.buffer_limit and not self._paused:
            self._paused = True  # resumed by read()

    def _take(self, is_stderr: bool, n: int) -> bytes:
        if not is_stderr and self._stage is not None and self._stage.len:
            self._drain_stage()  # gathered by a poll made outside a pass (a blocking call)
        buf = self._bufs[1 if is_stderr else 0]
        data = buf.take(n)
        if self._paused and len(buf) <= self.buffer_limit // 2 and not self._closed:
            self.resume()
        return data

    @property
    def finished(self) -> bool:
        """The server closed the channel (all output and the exit status are in)."""
        return self._closed or self._remote_closed

    def _read_direct(self, n: int, deadline: float | None) -> bytes | None:
        """Process.read's way when one thread reads the only session its loop drives: each pass
        is a wait for the socket and libssh's poll into the stage, and the gathered bytes are
        returned as they are. None when that does not apply (bytes already buffered, a paused
        or ending channel, other work on the loop, the deadline): the caller waits through the
        loop as usual. One pass per call on a busy stream: kept lean."""
        st, session, loop = self._stage, self._session, self._loop
        if st is None:
            return None
        with loop.lock:
            if (st.len or st.blocked or self._bufs[0] or self._paused or self.eof_received
                    or self._remote_closed or self._closed or session._closed
                    or session._input_held
                    or not (session._in_event or session._join_event())
                    or not loop.claim_solo(session._fd)):
                return None  # (a loop callback, too: the loop runs there)
            s, fd, event = session._s, session._fd, session._event
            write = bool(session_api.get_poll_flags(s) & SSH_WRITE_PENDING)
            lowat = session._lowat > 1  # (a pass of the loop's may have set it)
            try:
                while True:
                    until = deadline
                    if self._bulk != lowat:  # (and reset at the end: the loop's own waits,
                        # and a slow stream's, need every byte signalled)
                        session._set_lowat(session.bulk_lowat if self._bulk else 1)
                        lowat = self._bulk
                    if lowat:
                        until = loop.time() + session.bulk_wait
                        if deadline is not None and deadline < until:
                            until = deadline
                    ready = loop.solo_wait(fd, write, until)
                    if not ready and (ready is None or until == deadline):
                        return None  # other work for the loop, or the deadline
                    rc = session_api.sink_poll(event, s, st)
                    write = rc > 0
                    if rc < 0 or not st.len or session._pending or session._tasks \
                            or len(session._staged) > 1 or session._output_waiters:
                        session._service()  # anything but this channel's bytes came (or
                        # channels wait for the socket to take libssh's output)
                        loop._notify()  # (threads waiting for what it brought)
                        if session._closed or session._input_held:
                            return None
                        write = bool(session_api.get_poll_flags(s) & SSH_WRITE_PENDING)
                    got = st.len
                    self._bulk = got >= session.bulk_pass
                    if got and 0 <= n < got or self._bufs[0]:
                        return self._take(False, n)
                    if got:
                        st.len = 0
                        taken = channel_api.copy_data(self._stage_buf, got)
                        return taken
                    if self.eof_received or self._remote_closed or self._closed:
                        return None  # the general path returns what is left, then b""
                    if self._paused or st.blocked:
                        return None  # (stderr filled up) the general path resumes it
            finally:
                if lowat:
                    session._set_lowat(1)  # (Linux signals readiness if bytes wait)
                if not session._closed and session._writer_registered != write:
                    session._update_interest()  # the selector's view, for the next pass
                loop.release_solo()

    # -- requests (pollers for tasks) -------------------------------------------------------------

    def request(self, what: str, fn: Callable[[CData], int]) -> Any:
        """A task that sends the channel request made by ``fn(channel)`` (``what`` names it in
        errors) and ends with libssh's answer; raises the error that closed the channel, or
        ChannelError when the server refused."""
        session = self._session
        sent = False

        def poll() -> Any:
            nonlocal sent
            if self._closed:
                if self.error is not None:
                    raise self.error  # what closed it
                if sent and self._remote_closed:
                    # a quick command's whole answer (reply, output, exit status, close) can
                    # arrive in one poll, driven by another thread, before this task looks again
                    return SSH_OK
                raise ChannelError(f"{what}: the channel is closed")
            rc = fn(self._ch)
            sent = True
            if rc == SSH_AGAIN:
                return AGAIN
            if rc == SSH_ERROR:
                msg, code = last_error(session._s)
                if code == SSH_REQUEST_DENIED:
                    raise RequestDeniedError(f"the server refused {what}: {msg}")
                raise ChannelError(f"{what}: {msg}")
            return rc

        return poll


def open_session_gen(session: ClientSession, setup: list[tuple[str, Any]],
                     collect: bool = False,
                     channel_class: type[ClientChannel] | None = None) -> TaskGen:
    """Open a session channel (a ``channel_class``, by default :class:`ClientChannel`) and
    send ``setup`` requests (name, callable(ch) -> rc)."""
    channel = yield from open_channel_gen(session, SESSION,
                                          channel_class=channel_class or ClientChannel)
    channel.collect = collect
    try:
        for what, fn in session.session_requests:
            # agent / X11 forwarding: a server that refuses it still runs the command (as ssh)
            try:
                yield channel.request(what, fn)
            except RequestDeniedError as exc:
                log.warning("%s", exc)
                channel.denied.append(what)
        for what, fn in setup:
            yield channel.request(what, fn)
    except BaseException:
        if not channel._closed:
            channel._free(session_gone=False)
        raise
    return channel


def setup_requests(command: str | None = None, *, env: Mapping[str, str] | None = None,
                   pty: bool = False, term: str = "xterm", cols: int = 80, rows: int = 24,
                   shell: bool = False, subsystem: str | None = None) -> list[tuple[str, Any]]:
    """The channel requests that set a session channel up, in order: ``env`` variables, a pty of
    ``term`` ``cols`` x ``rows`` when ``pty``, then ``command`` (exec), a ``shell`` or a
    ``subsystem``; each as (name, ``fn(channel)``)."""
    out: list[tuple[str, Any]] = []
    for name, value in (env or {}).items():
        n, v = str(name).encode(), str(value).encode()
        out.append((f"env {name}", lambda ch, n=n, v=v: channel_api.request_env(ch, n, v)))
    if pty:
        t = term.encode()
        out.append(("a pty", lambda ch: channel_api.request_pty_size(ch, t, cols, rows)))
    if command is not None:
        c = command.encode()
        out.append((f"exec {command!r}", lambda ch: channel_api.request_exec(ch, c)))
    elif subsystem is not None:
        sub = subsystem.encode()
        out.append((f"subsystem {subsystem!r}",
                    lambda ch: channel_api.request_subsystem(ch, sub)))
    elif shell:
        out.append(("a shell", channel_api.request_shell))
    return out


def run_gen(session: ClientSession, command: str, input: bytes | None,
            env: Mapping[str, str] | None, pty: bool) -> TaskGen:
    """A task that runs ``command`` (with ``input`` on stdin, ``env``, a ``pty`` when asked) to its
    end and returns its :class:`RunResult`. Given up (cancelled, timed out), it closes its
    channel."""
    if not (input or env or pty or session.session_requests):
        out, err, status, signal = yield from run_in_c_gen(session, command)
        return RunResult(command, out, err, status, signal)
    channel = yield from open_session_gen(session, setup_requests(command, env=env, pty=pty),
                                          collect=True)
    try:
        if input and not channel.finished:  # a command that ended already takes no input
            channel.write(input)
        channel.send_eof()
        yield lambda: True if channel.finished else AGAIN
    except BaseException:
        channel.close()
        raise
    if channel.error is not None:
        raise channel.error  # an error in its data path closed it
    return RunResult(command, bytes(channel._bufs[0]), bytes(channel._bufs[1]),
                     channel.exit_status, channel.exit_signal[0] if channel.exit_signal else None)


def command_line(command: str | list[str]) -> str:
    """``command`` as one command line (a list is quoted with :func:`shlex.join`)."""
    return command if isinstance(command, str) else shlex.join(command)


class Process:
    """A running command, shell or subsystem on one channel, used with blocking calls.

    ``read``/``read_stderr`` return what has arrived (waiting up to ``timeout`` for at least one
    byte; ``b""`` at end of output), ``write``/``close_stdin`` feed its input, ``wait`` waits for
    its exit. Each blocking call takes a ``timeout`` (default: the client's) and raises
    :class:`~pylibssh.errors.SSHTimeoutError`. When the connection fails under the command
    (a keepalive gets no answer, the socket breaks), or an error in the channel's data path
    closed it (:attr:`ClientChannel.error <pylibssh._channel.Channel.error>`), the end of the
    output raises that error rather than looking like the command's end.
    """

    def __init__(self, channel: ClientChannel, command: str | None, timeout: float | None):
        self.channel = channel
        self.command = command
        self.timeout = timeout
        self._loop = channel._loop

    def _t(self, timeout: Any) -> float | None:
        return resolve(timeout, self.timeout)

    def _wait(self, predicate: Callable[[], Any], timeout: Any, what: str, deadline: float | None = None) -> None:
        t = self._t(timeout)
        wait = t if deadline is None else max(0.0, deadline - self._loop.time())
        if not self._loop.wait_for(predicate, wait):
            raise SSHTimeoutError(f"{what} timed out after {t:g} s")

    def _read(self, is_stderr: bool, n: int, timeout: Any) -> bytes:
        ch = self.channel
        t = self._t(timeout)
        deadline = None if t is None else self._loop.time() + t
        if not is_stderr:
            data = ch._read_direct(n, deadline)
            if data is not None:
                return data
        buf = ch._bufs[1 if is_stderr else 0]

        def ready() -> bool:
            if buf or ch.eof_received or ch.finished:
                return True
            if ch._paused:
                # paused because the *other* stream is not being read: let it grow rather than
                # deadlock (the server blocks on one stream while we wait for the other)
                ch.resume()
            return False
        self._wait(ready, timeout, "read", deadline)
        with self._loop.lock:
            data = ch._take(is_stderr, n)
        if not data and n:
            self._check_connection()
        return data

    def _check_connection(self) -> None:
        """At the end of the output (read, readline, read_until_eof, wait): if an error in the
        channel's data path closed it, or the connection failed under the command (keepalive,
        a broken socket) rather than the command ending, raise that error instead of looking
        like a normal end."""
        ch = self.channel
        if ch.error is not None:
            raise ch.error
        error = ch._session._error
        if error is not None and ch.exit_status is None and ch.exit_signal is None:
            raise error

    def read(self, n: int = -1, timeout: Timeout = DEFAULT) -> bytes:
        """Up to ``n`` bytes of stdout (all buffered when -1); ``b""`` once it has ended."""
        return self._read(False, n, timeout)

    def read_stderr(self, n: int = -1, timeout: Timeout = DEFAULT) -> bytes:
        """Read up to ``n`` bytes of stderr (-1: until EOF); as :meth:`read`."""
        return self._read(True, n, timeout)

    def read_until_eof(self, timeout: Timeout = DEFAULT) -> tuple[bytes, bytes]:
        """Everything the command writes until it closes (stdout, stderr), without deadlock
        however large either one is."""
        ch = self.channel
        out, err = bytearray(), bytearray()

        def done() -> bool:
            out.extend(ch._take(False, -1))
            err.extend(ch._take(True, -1))
            return ch.finished
        self._wait(done, timeout, "reading the output")
        done()
        self._check_connection()
        return bytes(out), bytes(err)

    def readline(self, timeout: Timeout = DEFAULT) -> bytes:
        """One line of stdout with its newline (the rest at EOF, b"" after it). Raises
        SSHTimeoutError after ``timeout`` (default: the process's)."""
        ch = self.channel
        buf = ch._bufs[0]
        self._wait(lambda: b"\n" in buf or ch.eof_received or ch.finished, timeout, "readline")
        with self._loop.lock:
            i = buf.find(b"\n")
            line = ch._take(False, i + 1 if i >= 0 else -1)
        if not line:
            self._check_connection()
        return line

    def write(self, data: bytes | str, timeout: Timeout = DEFAULT) -> None:
        """Send ``data`` to stdin; waits while more than the channel's high-water mark is
        queued for the server's window."""
        ch = self.channel
        if ch.error is not None:
            raise ch.error
        ch.write(data)
        self._wait(lambda: ch.buffered < ch.high_water or ch.closed, timeout, "write")
        if ch.error is not None:
            raise ch.error
        if ch.closed and ch.buffered:
            raise ChannelError("the channel closed before the input was sent")

    def close_stdin(self) -> None:
        """Send EOF: the command reads no more input."""
        self.channel.send_eof()

    def wait(self, timeout: Timeout = DEFAULT) -> int | None:
        """Wait until the command has exited and the channel is closed; its exit status (None
        when it was killed by a signal: see :attr:`exit_signal`). Output still unread stays
        readable."""
        ch = self.channel
        ch.collect = True
        if ch._paused:
            ch.resume()
        self._wait(lambda: ch.finished, timeout, "waiting for the command")
        self._check_connection()
        return ch.exit_status

    @property
    def exit_status(self) -> int | None:
        """The command's exit status (None until it arrives, or when it ended by signal)."""
        return self.channel.exit_status

    @property
    def exit_signal(self) -> str | None:
        """The signal that ended the command (``TERM``...), or None."""
        sig = self.channel.exit_signal
        return sig[0] if sig else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the channel finished, None before (as :mod:`subprocess`)."""
        return self.exit_status if self.channel.finished else None

    @locked
    def _change_size(self, cols: int, rows: int) -> None:
        channel_api.change_pty_size(self.channel._ch, cols, rows)
        self.channel._session.kick()

    def resize(self, cols: int, rows: int) -> None:
        """Tell the server the terminal's new size (window-change)."""
        if self.channel.closed:
            raise ChannelError("the channel is closed")
        self._change_size(cols, rows)

    def send_signal(self, name: str) -> None:
        """Send a signal ("TERM", "INT", "KILL", ...). OpenSSH delivers it to the command."""
        if self.channel.closed:
            raise ChannelError("the channel is closed")
        name = name.upper().removeprefix("SIG")
        self._signal(name)

    @locked
    def _signal(self, name: str) -> None:
        channel_api.send_signal(self.channel._ch, name)
        self.channel._session.kick()

    def close(self) -> None:
        """Close the channel (the command gets SIGHUP from the server, as with ``ssh``)."""
        self.channel.close()

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Process {self.command!r} {'finished' if self.channel.finished else 'running'}>"


def open_process(session: ClientSession, gen: TaskGen, command: str | None,
                 timeout: float | None) -> Process:
    """Run the task ``gen`` that opens a channel for ``command`` and wait for it (``timeout``
    seconds, None: no limit); returns the :class:`Process`."""
    task = session.start_task(gen, f"opening {command or 'a channel'}", timeout)
    channel = wait(session._loop, task.future, None if timeout is None else timeout + 5,
                   "opening the channel")
    return Process(channel, command, timeout)
