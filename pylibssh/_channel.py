"""A duplex SSH channel on a loop-driven session (L2, shared by server and client).

Events (node-libssh's names): ``data`` (bytes, is_stderr), ``end`` (the peer sent EOF),
``close``, ``drain`` (buffered output went out), ``signal`` (name), ``exit-status`` (code),
``exit-signal`` (name, core_dumped, message, lang), ``error`` (the exception that closed the
channel: see :attr:`Channel.error`).

Errors in the data path: an exception raised inside one of the channel's libssh callbacks, or
by a ``data`` listener (the bytes would be lost), closes the channel with that exception: what
is queued is dropped, the peer gets CHANNEL_CLOSE, ``error`` and ``close`` are emitted, and
:attr:`Channel.error` holds it for whoever waits on the channel (a client's ``Process`` raises
it). A listener of another event that raises is only logged.

Flow control, both ways:

* Output: :meth:`Channel.write` queues and sends what the peer's window allows; it returns False
  once more than :attr:`Channel.high_water` bytes wait, and ``drain`` is emitted when the queue is
  below that again. EOF, exit status/signal and close are queued behind the data, in order. The
  queue is also held while libssh's output buffer for the session's socket is full (the peer
  does not read its socket: see :attr:`LoopSession.output_high_water
  <pylibssh._session.LoopSession.output_high_water>`), so a large window cannot make the
  session buffer without bound.
* Input: :meth:`Channel.pause` stops taking data from libssh; libssh then keeps it and does not
  grow the window, so the peer is held back. :meth:`Channel.resume` delivers what was held.

Every method takes the loop's lock (callable from any thread); ``data`` and other events are
emitted on the loop thread.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from ._binding import NULL, CData
from ._binding import channel as c_channel
from ._binding.constants import SSH_ERROR
from ._binding.callbacks import new_channel_callbacks
from .errors import ChannelError, ClosedError, error_from
from .events import EventEmitter
from .loop import locked

if TYPE_CHECKING:
    from ._session import LoopSession

log = logging.getLogger("pylibssh")

_MAX_CHUNK = 1 << 20  # libssh splits writes into packets itself; bound one call's work
_READ_CHUNK = 64 * 1024

# control items in the output queue (data items are (memoryview, is_stderr))
_EOF = "eof"
_EXIT_STATUS = "exit-status"
_EXIT_SIGNAL = "exit-signal"
_CLOSE = "close"


class Channel(EventEmitter):
    """One channel of a :class:`~pylibssh._session.LoopSession`."""

    events: ClassVar[frozenset[str]] = frozenset({
        "data", "end", "close", "error", "drain", "signal", "exit-status", "exit-signal"})

    #: write() returns False once this many bytes wait for the peer's window
    high_water = 1 << 20

    def __init__(self, session: LoopSession, ssh_channel: CData):
        super().__init__()
        if ssh_channel == NULL:
            raise ChannelError("no channel")
        self._session = session
        self._loop = session._loop
        self._ch = ssh_channel
        self._cb, self._handle = new_channel_callbacks(self)
        if not c_channel.set_callbacks(ssh_channel, self._cb):
            raise error_from(session._s, "ssh_set_channel_callbacks")
        self._c_callbacks: list[tuple[Any, Any]] = []  # (struct pointer, what keeps it alive)
        self._undelivered = 0  # data chunks taken from libssh, not yet delivered
        self._out: deque[tuple[Any, Any]] = deque()
        self._out_bytes = 0
        self._need_drain = False
        self._flushing = False  # see _flush
        self._flush_again = False
        self._paused = False
        self._resume_scheduled = False
        self._eof_held = False
        self._close_held = False
        self.eof_received = False
        self.eof_sent = False
        self._close_queued = False
        self._closed = False
        self._remote_closed = False
        self.exit_status: int | None = None
        self.exit_signal: tuple[str, bool, str, str] | None = None
        #: the exception that closed the channel (raised in its data path), else None
        self.error: BaseException | None = None
        session._add_channel(self)

    # -- libssh callbacks (inside libssh: record only) -------------------------------------------

    def _c_data(self, data: CData, length: int, is_stderr: bool) -> int:
        if self._paused or self._closed or not length:
            # libssh keeps the bytes and does not grow the window (none are left when a data
            # callback before this one took them all: pylibssh/bridge.py's socket sink)
            return 0
        chunk = c_channel.copy_data(data, length)
        self._undelivered += 1
        self._session.defer(self._deliver, chunk, is_stderr)
        return length

    def _c_eof(self) -> None:
        self._session.defer(self._on_eof)

    def _c_close(self) -> None:
        self._session.defer(self._on_remote_close)

    def _c_signal(self, name: str) -> None:
        self._session.defer(self._emit_safely, "signal", name)

    def _c_exit_status(self, status: int) -> None:
        self.exit_status = status
        self._session.defer(self._emit_safely, "exit-status", status)

    def _c_exit_signal(self, name: str, core: bool, message: str, lang: str) -> None:
        self.exit_signal = (name, core, message, lang)
        self._session.defer(self._emit_safely, "exit-signal", name, core, message, lang)

    def _c_write_wontblock(self, nbytes: int) -> None:
        if self._out:
            self._session.defer(self._flush)

    def _c_open_response(self, ok: bool) -> None:
        self._session.defer(self._on_open_response, ok)

    def _c_auth_agent_req(self) -> None:
        self._session.defer(self._on_auth_agent_req)
        self._agent_requested()

    def _agent_requested(self) -> None:
        """Inside libssh: record only (the request's state must be visible to the requests
        queued in the same poll, which are dispatched before recorded events)."""

    def _c_failed(self, exc: BaseException) -> None:
        """Inside libssh: one of this channel's callbacks raised ``exc``. Record it; the channel
        is closed with it once libssh has returned (never from inside a callback)."""
        if self.error is None and not self._closed:
            self.error = exc
            self._session.defer(self._fail, exc)

    def _fail(self, exc: BaseException) -> None:
        """Close the channel because of ``exc`` (outside libssh): the queued output is dropped,
        the peer gets CHANNEL_CLOSE, ``error`` then ``close`` are emitted; :attr:`error` keeps
        ``exc`` for the code that waits on the channel."""
        if self._closed:
            return
        if self.error is None:
            self.error = exc
        log.debug("%r: closed by %r", self, exc)
        self._out.clear()
        self._out_bytes = 0
        self._eof_held = self._close_held = False
        if self.listener_count("error"):
            self._emit_safely("error", exc)
        if not self._closed:
            self._control(_CLOSE, None)  # ssh_channel_close, then the channel is freed

    # -- dispatched events (outside libssh) ------------------------------------------------------

    def _deliver(self, chunk: bytes, is_stderr: bool) -> None:
        self._undelivered -= 1
        self._on_data(chunk, is_stderr)

    def _on_data(self, chunk: bytes, is_stderr: bool) -> None:
        """Where incoming bytes go; the default emits ``data``. Subclasses may buffer instead."""
        self._emit_data(chunk, is_stderr)

    def _emit_data(self, chunk: bytes, is_stderr: bool) -> None:
        """``data`` to its listeners; one that raises closes the channel with its exception
        (the bytes it did not take would be lost without a word)."""
        try:
            self.emit("data", chunk, is_stderr)
        except Exception as exc:
            log.exception("a channel 'data' listener raised; the channel is closed")
            self._fail(exc)

    def _on_eof(self) -> None:
        if self._paused or self._resume_scheduled:
            # libssh may still hold data (also after resume(), until _deliver_held has read
            # it): EOF comes after that data
            self._eof_held = True
            return
        self.eof_received = True
        self._emit_safely("end")

    def _on_remote_close(self) -> None:
        if (self._paused or self._resume_scheduled) and not self._closed:
            self._close_held = True  # deliver the held data before letting the channel go
            return
        self._remote_closed = True
        self._out.clear()
        self._out_bytes = 0
        if not self.eof_received:
            self._on_eof()
        self._free(session_gone=False)

    def _on_open_response(self, ok: bool) -> None:
        """The peer confirmed (or refused) a channel this side opened; subclasses that open
        channels handle it."""

    def _on_auth_agent_req(self) -> None:
        """The peer asked for agent forwarding (server channels that accept it handle it)."""

    def _emit_safely(self, event: str, *args: Any) -> None:
        try:
            self.emit(event, *args)
        except Exception:
            log.exception("unhandled exception in a channel %r listener", event)

    # -- output ---------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview | str, stderr: bool = False) -> bool:
        """Queue ``data`` (stdout, or stderr when ``stderr`` is true) and send what the peer's
        window allows now (any thread). Returns False when the caller should wait for
        ``drain``; raises ChannelError when the channel is closed or at EOF."""
        # (not @locked: the session wakes the loop when the write left it work, see _wrote)
        with self._loop.lock:
            self._check_writable()
            if isinstance(data, str):
                data = data.encode("utf-8")
            view = memoryview(data).cast("B")
            if len(view):
                session = self._session
                read_before = session.bytes_read
                self._out.append((view, stderr))
                self._out_bytes += len(view)
                self._flush()
                session._wrote(read_before)
            ok = self._out_bytes < self.high_water
            if not ok:
                self._need_drain = True
            return ok

    def write_stderr(self, data: bytes | bytearray | memoryview | str) -> bool:
        """Write ``data`` as extended data (stderr); as :meth:`write`."""
        return self.write(data, stderr=True)

    @locked
    def send_eof(self) -> None:
        """Send EOF after the queued output (no more data from this side)."""
        if self.eof_sent or self._close_queued or self._closed:
            return
        self.eof_sent = True
        self._queue_control(_EOF)

    @locked
    def end(self, data: bytes | str | None = None) -> None:
        """Write ``data`` (if any), then EOF."""
        if data:
            self.write(data)
        self.send_eof()

    @locked
    def send_exit_status(self, status: int) -> None:
        """Tell the peer the command's exit status. Queued behind the data already written; raises
        ChannelError when the channel is closed."""
        self._check_writable(allow_eof=True)
        self._queue_control(_EXIT_STATUS, int(status))

    @locked
    def send_exit_signal(self, name: str, core_dumped: bool = False, message: str = "",
                         lang: str = "") -> None:
        """Tell the peer the command ended by signal ``name`` (``TERM``, without ``SIG``), with
        ``core_dumped``, ``message`` and ``lang``. Queued behind the data already written;
        raises ChannelError when the channel is closed."""
        self._check_writable(allow_eof=True)
        self._queue_control(_EXIT_SIGNAL, (name, core_dumped, message, lang))

    @locked
    def close(self) -> None:
        """Close after the queued output has gone out. Idempotent."""
        if self._closed or self._close_queued:
            return
        self._close_queued = True
        self._queue_control(_CLOSE)

    def _own_queued(self) -> None:
        """Copy queued output that still refers to the writer's buffer (which it reuses)."""
        self._out = deque((bytes(item), arg) if isinstance(item, memoryview) else (item, arg)
                          for item, arg in self._out)

    def _queue_control(self, kind: str, arg: Any = None) -> None:
        session = self._session
        read_before = session.bytes_read
        self._out.append((kind, arg))
        self._flush()
        session._wrote(read_before)

    def _flush(self) -> None:
        """Send queued output as far as the peer's window and libssh's output buffer allow
        (loop lock held). A call made while one runs (from code that runs in its middle: a
        finalizer the garbage collector or a released buffer runs on the loop's thread may
        write to this channel) leaves the work to the running one, which goes on once its
        pass ends: the queue's head stays the running pass's, nothing is sent twice or lost."""
        if self._flushing:
            self._flush_again = True
            return
        self._flushing = True
        try:
            self._flush_again = True
            while self._flush_again:
                self._flush_again = False
                self._flush_pass()
        finally:
            self._flushing = False

    def _flush_pass(self) -> None:
        session = self._session
        while self._out and not self._closed:
            item, arg = self._out[0]
            if isinstance(item, str):
                self._out.popleft()
                self._control(item, arg)
                continue
            if session._output_full():
                session._wait_output(self)  # the session calls again once the socket took it
                break
            view: memoryview = item
            chunk = view[:_MAX_CHUNK]
            n = c_channel.write(self._ch, chunk, arg)
            if n < 0:
                err = error_from(self._session._s, "channel write", ChannelError)
                self._out.clear()
                self._out_bytes = 0
                log.debug("%r: %s", self, err)
                if self.listener_count("error"):
                    self._emit_safely("error", err)
                return
            self._out_bytes -= n
            if n < len(view):
                self._out[0] = (view[n:], arg)
                if n < len(chunk):
                    if c_channel.window_size(self._ch) > 0:
                        # not the window: libssh takes no channel data during a key
                        # re-exchange; the pass that reads its end writes again
                        session._write_after_pass(self)
                    return  # the peer's window is full: write_wontblock resumes
            else:
                self._out.popleft()
        if self._need_drain and self._out_bytes < self.high_water and not self._closed:
            self._need_drain = False
            self._session.defer(self._emit_safely, "drain")

    def _control(self, kind: str, arg: Any) -> None:
        if kind == _EOF:
            rc = c_channel.send_eof(self._ch)
        elif kind == _EXIT_STATUS:
            rc = c_channel.send_exit_status(self._ch, arg)
        elif kind == _EXIT_SIGNAL:
            rc = c_channel.send_exit_signal(self._ch, *arg)
        else:  # _CLOSE
            c_channel.close(self._ch)
            self._free(session_gone=False)
            return
        if rc == SSH_ERROR:
            log.debug("%r: %s failed: %s", self, kind, error_from(self._session._s))

    def _check_writable(self, allow_eof: bool = False) -> None:
        if self._closed or self._close_queued:
            raise ClosedError("the channel is closed")
        if self.eof_sent and not allow_eof:
            raise ChannelError("cannot write after EOF was sent")

    @property
    def buffered(self) -> int:
        """Bytes queued for the peer and not yet accepted by its window."""
        return self._out_bytes

    @property
    def window(self) -> int:
        """The peer's current window: what can be sent without waiting."""
        return 0 if self._closed else c_channel.window_size(self._ch)

    def _sendable(self) -> int:
        """What a write would hand to libssh at once, past no queue: the peer's window, or 0
        while output is queued or libssh's buffer for the socket is full (loop lock held)."""
        if self._out or self._closed or self._session._output_full():
            return 0
        return c_channel.window_size(self._ch)

    # -- input flow control -------------------------------------------------------------------

    @locked
    def pause(self) -> None:
        """Stop taking input: the peer is held back by the SSH window."""
        self._paused = True

    @locked
    def resume(self) -> None:
        """Take input again, first delivering what libssh held while paused."""
        if not self._paused:
            return
        self._paused = False
        if not self._resume_scheduled and not self._closed:
            self._resume_scheduled = True
            self._loop.call_soon(self._deliver_held)

    @property
    def paused(self) -> bool:
        """Whether reading from the peer is paused (the window is not reopened until
        :meth:`resume`)."""
        return self._paused

    def _deliver_held(self) -> None:
        with self._loop.lock:
            self._resume_scheduled = False
            buf = c_channel.new_read_buffer(_READ_CHUNK)
            for is_stderr in (False, True):
                while not self._paused and not self._closed:
                    chunk = c_channel.read_nonblocking(self._ch, buf, _READ_CHUNK, is_stderr)
                    if not chunk:
                        break
                    self._on_data(chunk, is_stderr)
            if not self._paused:
                if self._eof_held:
                    self._eof_held = False
                    self._on_eof()
                if self._close_held:
                    self._close_held = False
                    self._on_remote_close()
            self._session._service()

    # -- C callbacks of others -----------------------------------------------------------------

    def _add_c_callbacks(self, cb: Any, keep: Any) -> bool:
        """Register a C callback struct before the channel's own (it sees data first); it is
        removed at the latest when the channel is freed (libssh may keep a channel freed
        locally until the peer's close). ``keep`` owns the struct's memory. Loop lock held."""
        if self._closed or not c_channel.set_callbacks(self._ch, cb):
            return False
        self._c_callbacks.append((cb, keep))
        return True

    def _remove_c_callbacks(self, cb: Any) -> None:
        for i, (other, _keep) in enumerate(self._c_callbacks):
            if other == cb:
                del self._c_callbacks[i]
                if not self._closed:
                    c_channel.remove_callbacks(self._ch, cb)
                return

    # -- lifetime -------------------------------------------------------------------------------

    def _free(self, session_gone: bool) -> None:
        """Release the libssh channel, exactly once (never from inside a libssh callback)."""
        if self._closed:
            return
        self._closed = True
        self._session._forget_output_waiter(self)
        ch, self._ch = self._ch, NULL
        if ch != NULL:
            if not session_gone or self._session._s != NULL:
                c_channel.remove_callbacks(ch, self._cb)
                for cb, _keep in self._c_callbacks:
                    c_channel.remove_callbacks(ch, cb)
            self._c_callbacks.clear()
            c_channel.free(ch)  # sends CLOSE if the channel is still open
        self._out.clear()
        self._out_bytes = 0
        self._session._forget_channel(self)
        self._emit_safely("close")
        self.remove_all_listeners()
        self._cb = self._handle = None

    @property
    def closed(self) -> bool:
        """Whether the channel is closed (by either side, or by an error)."""
        return self._closed

    @property
    def session(self) -> LoopSession:
        """The session the channel belongs to."""
        return self._session

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state}>"
