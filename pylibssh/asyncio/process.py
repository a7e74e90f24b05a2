"""Commands as asyncio objects: :class:`SSHClientProcess` with ``stdin``/``stdout``/``stderr``
streams (names after asyncssh's), over the engine's :class:`~pylibssh.client.process.ClientChannel`.

The channel buffers what arrives (stdout is gathered in C during libssh's poll) and wakes the
coroutines waiting on it; a reader that falls behind pauses the channel, which holds the server
back by the SSH window. A read or wait that is cancelled (``asyncio.timeout``, ``wait_for``, task
cancellation) closes the channel: the connection and its other channels go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._binding import channel as channel_api
from ..client._task import TaskGen
from ..client.process import (
    ClientChannel,
    ProcessError,
    RunResult,
    command_line,
    open_session_gen,
    setup_requests,
)
from ..errors import ChannelError
from ._loop import within

if TYPE_CHECKING:
    from .._binding import CData
    from ..client.session import ClientSession

__all__ = ["SSHClientProcess", "SSHReader", "SSHWriter", "ProcessError", "RunResult"]


class AsyncChannel(ClientChannel):
    """A :class:`ClientChannel` that wakes the coroutines waiting for it whenever its state
    changes (bytes in, EOF, close, output drained)."""

    def __init__(self, session: ClientSession, c_channel: CData):
        super().__init__(session, c_channel)
        self._waiters: list[asyncio.Future[None]] = []

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)  # (schedules the waiter: safe inside libssh's poll)

    async def changed(self) -> None:
        """Wait until something about the channel changes."""
        w = asyncio.get_running_loop().create_future()
        self._waiters.append(w)
        try:
            await w
        finally:
            if not w.done():
                w.cancel()

    def _c_data(self, data: CData, length: int, is_stderr: bool) -> int:
        n = super()._c_data(data, length, is_stderr)
        if n and self._waiters:
            self._wake()
        return n

    def _on_data(self, chunk: bytes, is_stderr: bool) -> None:
        super()._on_data(chunk, is_stderr)
        self._wake()

    def _on_eof(self) -> None:
        super()._on_eof()
        self._wake()

    def _flush(self) -> None:
        super()._flush()
        if self._waiters and self._out_bytes < self.high_water:
            self._wake()

    def _free(self, session_gone: bool) -> None:
        super()._free(session_gone)
        self._wake()


def _check_connection(ch: ClientChannel) -> None:
    """At the end of the output: a connection that failed under the command (keepalive, a
    broken socket) is that error, not the command's end."""
    error = ch._session._error
    if error is not None and ch.exit_status is None and ch.exit_signal is None:
        raise error


class SSHReader:
    """A process's stdout or stderr as an asyncio stream (``read``, ``readline``,
    ``readexactly``, ``readuntil``, ``async for line in ...``). Bytes, never decoded."""

    def __init__(self, process: SSHClientProcess, is_stderr: bool):
        self._process = process
        self._ch: AsyncChannel = process.channel
        self._stderr = is_stderr
        self._buf = self._ch._bufs[1 if is_stderr else 0]

    def _ended(self) -> bool:
        ch = self._ch
        return ch.eof_received or ch.finished

    def at_eof(self) -> bool:
        """True once the stream has ended and everything was read."""
        return self._ended() and not self._buf and not (
            not self._stderr and self._ch._stage is not None and self._ch._stage.len)

    async def _wait(self) -> None:
        ch = self._ch
        if ch._paused:
            # paused because the *other* stream is not read: let it grow rather than deadlock
            ch.resume()
        try:
            await ch.changed()
        except asyncio.CancelledError:
            self._process.channel.close()
            raise

    def _take(self, n: int) -> bytes:
        with self._ch._loop.lock:
            return self._ch._take(self._stderr, n)

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (waiting for at least one); with ``n`` = -1, everything until the
        stream ends. ``b""`` at the end. A cancelled read closes the channel."""
        if n < 0:
            out = bytearray()
            while True:
                out += self._take(-1)
                if self._ended() and not self._buf:
                    break
                await self._wait()
            out += self._take(-1)
            if not out:
                _check_connection(self._ch)
            return bytes(out)
        if n == 0:
            return b""
        while True:
            data = self._take(n)
            if data:
                return data
            if self._ended():
                _check_connection(self._ch)
                return b""
            await self._wait()

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Bytes up to and including ``separator``; :class:`asyncio.IncompleteReadError` (with
        what was read) when the stream ends first."""
        sep = bytes(separator)
        while True:
            if not self._stderr:
                self._take(0)  # (moves what the C stage holds into the buffer)
            i = self._buf.find(sep)
            if i >= 0:
                return self._take(i + len(sep))
            if self._ended():
                rest = self._take(-1)
                raise asyncio.IncompleteReadError(rest, None)
            await self._wait()

    async def readline(self) -> bytes:
        """One line with its ``\\n`` (the last one may lack it); ``b""`` at the end."""
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                _check_connection(self._ch)
            return exc.partial

    async def readexactly(self, n: int) -> bytes:
        """Exactly ``n`` bytes; :class:`asyncio.IncompleteReadError` when the stream ends
        first."""
        out = bytearray()
        while len(out) < n:
            data = self._take(n - len(out))
            if data:
                out += data
                continue
            if self._ended():
                raise asyncio.IncompleteReadError(bytes(out), n)
            await self._wait()
        return bytes(out)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line


class SSHWriter:
    """A process's stdin: ``write`` queues (never blocks), ``drain`` waits while more than
    the channel's high-water mark waits for the server's window, ``write_eof`` ends it."""

    def __init__(self, process: SSHClientProcess):
        self._process = process
        self._ch: AsyncChannel = process.channel

    def write(self, data: bytes | bytearray | memoryview | str) -> None:
        """Queue ``data`` (str is sent as UTF-8). Raises
        :class:`~pylibssh.errors.ClosedError` once the channel is closed."""
        self._ch.write(data)

    def writelines(self, lines: Iterable[bytes | bytearray | memoryview | str]) -> None:
        """:meth:`write` each of ``lines``."""
        for line in lines:
            self.write(line)

    async def drain(self) -> None:
        """Wait until the queued input is below the high-water mark. Raises
        :class:`~pylibssh.errors.ChannelError` when the channel closed with input unsent; a
        cancelled drain closes the channel."""
        ch = self._ch
        while ch.buffered >= ch.high_water and not ch.closed:
            try:
                await ch.changed()
            except asyncio.CancelledError:
                ch.close()
                raise
        if ch.closed and ch.buffered:
            raise ChannelError("the channel closed before the input was sent")

    def write_eof(self) -> None:
        """Send EOF after the queued input."""
        self._ch.send_eof()

    def can_write_eof(self) -> bool:
        """True: a channel can always send EOF."""
        return True

    def is_closing(self) -> bool:
        """True once EOF was sent or the channel closed."""
        return self._ch.closed or self._ch.eof_sent

    def close(self) -> None:
        """Same as :meth:`write_eof`."""
        self.write_eof()


class SSHClientProcess:
    """A command, shell or subsystem running on a channel (``conn.create_process``).

    ``stdin``/``stdout``/``stderr`` are its streams; :meth:`wait` waits for its exit;
    :attr:`exit_status` / :attr:`exit_signal` / :attr:`returncode` tell how it ended;
    :meth:`change_terminal_size`, :meth:`send_signal`, :meth:`terminate`, :meth:`kill` act on
    it. ``async with`` closes its channel at the end.
    """

    def __init__(self, channel: AsyncChannel, command: str | None):
        self.channel = channel
        self.command = command
        self.stdin = SSHWriter(self)
        self.stdout = SSHReader(self, False)
        self.stderr = SSHReader(self, True)

    @property
    def exit_status(self) -> int | None:
        """The command's exit status (None while it runs, or when a signal ended it)."""
        return self.channel.exit_status

    @property
    def exit_signal(self) -> str | None:
        """The signal that ended the command ("TERM", "KILL"...), or None."""
        sig = self.channel.exit_signal
        return sig[0] if sig else None

    @property
    def returncode(self) -> int | None:
        """subprocess's convention once the channel closed: the exit status, or minus the
        signal's number; None before."""
        if not self.channel.finished:
            return None
        return RunResult("", b"", b"", self.exit_status, self.exit_signal).returncode

    async def wait(self, check: bool = False, timeout: float | None = None) -> RunResult:
        """Wait until the command exits and its channel closes (without limit on the output:
        what is not read is kept); a :class:`RunResult` with the output still unread.
        ``check``: raise :class:`ProcessError` for a non-zero status. ``timeout``: seconds,
        then :class:`TimeoutError` (the channel is closed, as for a cancelled wait)."""
        ch = self.channel
        ch.collect = True
        if ch._paused:
            ch.resume()

        async def finished() -> None:
            while not ch.finished:
                await ch.changed()

        try:
            await within(finished(), timeout)
        except BaseException:
            ch.close()
            raise
        _check_connection(ch)
        with ch._loop.lock:
            out, err = ch._take(False, -1), ch._take(True, -1)
        result = RunResult(self.command or "", out, err, ch.exit_status, self.exit_signal)
        return result.check() if check else result

    def change_terminal_size(self, width: int, height: int, pixwidth: int = 0,
                             pixheight: int = 0) -> None:
        """Tell the server the terminal's new size (window-change). Raises
        :class:`~pylibssh.errors.ChannelError` once the channel is closed."""
        ch = self.channel
        if ch.closed:
            raise ChannelError("the channel is closed")
        with ch._loop.lock:
            channel_api.change_pty_size(ch._ch, width, height)
            ch._session.kick()

    def send_signal(self, signal: str | int) -> None:
        """Send a signal ("TERM", "INT", "KILL"..., or its number). OpenSSH delivers it to
        the command."""
        ch = self.channel
        if ch.closed:
            raise ChannelError("the channel is closed")
        if isinstance(signal, int):
            import signal as _signal
            signal = _signal.Signals(signal).name
        name = signal.upper().removeprefix("SIG")
        with ch._loop.lock:
            channel_api.send_signal(ch._ch, name)
            ch._session.kick()

    def terminate(self) -> None:
        """Send SIGTERM."""
        self.send_signal("TERM")

    def kill(self) -> None:
        """Send SIGKILL."""
        self.send_signal("KILL")

    def close(self) -> None:
        """Close the channel (idempotent)."""
        self.channel.close()

    async def wait_closed(self) -> None:
        """Wait until the channel is closed."""
        while not self.channel.closed:
            await self.channel.changed()

    async def __aenter__(self) -> SSHClientProcess:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "finished" if self.channel.finished else "running"
        return f"<pylibssh.asyncio.SSHClientProcess {self.command!r} {state}>"


def process_gen(session: ClientSession, command: str | None, *, env: Mapping[str, str] | None,
                pty: bool, term: str, cols: int, rows: int, subsystem: str | None) -> TaskGen:
    """Open an :class:`AsyncChannel` running ``command`` (a shell when None, or
    ``subsystem``)."""
    setup = setup_requests(command, env=env, pty=pty, term=term, cols=cols, rows=rows,
                           shell=command is None and subsystem is None, subsystem=subsystem)
    channel = yield from open_session_gen(session, setup, channel_class=AsyncChannel)
    return channel

