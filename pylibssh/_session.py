"""A libssh session driven by a :class:`~pylibssh.loop.Loop` (L2, shared by server and client).

The session runs libssh in nonblocking mode. When its socket is readable (or writable while libssh
has output pending) the loop calls ``ssh_event_dopoll``; libssh's callbacks fire inside that call
and only *record* events (``defer``); :meth:`LoopSession._service` then dispatches them outside
libssh, where listeners may freely write, reply and close.

Output is bounded at the socket too: libssh appends every packet it sends to its own output
buffer and empties it as the socket takes it, so a peer that opens large SSH windows, or asks for
replies, but does not read its socket would make that buffer grow without bound. While it holds
:attr:`LoopSession.output_high_water` bytes or more, channels keep their output in their own
queues (so their ``write()`` returns False) and the session hands it over again once the socket
took the buffer below half that. Replies are not channel output: while the buffer holds
:attr:`LoopSession.input_hold_water` bytes or more, the peer's input is not read at all (its
requests wait in its own socket) until the socket took the buffer below half that.

Ownership: the session owns its ``ssh_session``, its ``ssh_event`` and every channel opened on it.
:meth:`LoopSession.close` tears them down in the order libssh needs (see ``_teardown``), exactly
once; ``ffi.gc`` is not used for sessions because the order matters. A session collected without
``close()`` says so with a ``ResourceWarning`` and hands the same teardown to its loop
(``Loop._reap``: run with the loop's lock, never inside a libssh call), which frees its channels
first, then the session and its socket.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from . import _log
from .algorithms import Algorithms
from ._binding import HAS, NULL, CData
from ._binding import session as c_session
from ._binding.constants import (
    SSH_CLOSED, SSH_CLOSED_ERROR, SSH_COMP_C_S, SSH_COMP_S_C, SSH_ERROR, SSH_OK, SSH_WRITE_PENDING)
from .errors import ClosedError, SSHError, error_from
from .events import EventEmitter
from .loop import Loop, reap_unclosed

if TYPE_CHECKING:
    from ._channel import Channel

log = logging.getLogger("pylibssh")

_CLOSED_MASK: int = SSH_CLOSED | SSH_CLOSED_ERROR
_LINGER_SECONDS = 2.0


def _dup(fd: int) -> int:
    if fd < 0:
        return -1
    try:
        return os.dup(fd)
    except OSError:
        return -1


def _linger(loop: Loop, fd: int) -> None:
    """A lingering close for a socket we disconnect: send FIN after the DISCONNECT and read (and
    drop) what the peer still sends until it closes too, at most _LINGER_SECONDS.

    Closing a TCP socket whose receive queue holds unread bytes (a packet the peer sent just
    before our DISCONNECT) makes the kernel send RST instead of FIN, and an RST makes the peer's
    kernel discard what the peer has not read yet: the output and the DISCONNECT we just sent."""
    # (the socket object only shuts the descriptor down, reads it and closes it, for which its
    # family, type and protocol do not matter: naming them spares the calls that would ask for
    # two of them; reads pass MSG_DONTWAIT instead of a call making the descriptor nonblocking)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fd)
    except OSError:
        os.close(fd)
        return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        sock.close()
        return
    if loop.closed:
        sock.close()  # nobody would read: best effort was the shutdown
        return
    timer = None

    def done() -> None:
        loop.remove_fd(fd)
        if timer is not None:
            timer.cancel()
        sock.close()

    def readable() -> None:
        try:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            done()

    loop.add_reader(fd, readable)
    timer = loop.call_later(_LINGER_SECONDS, done)


class LoopSession(EventEmitter):
    """Base of server sessions and loop-driven client sessions.

    Subclasses call :meth:`_attach` once the session has a socket, implement :meth:`_process`
    (what to do after each poll: key exchange, messages...) and may override
    :meth:`_on_disconnect`.
    """

    events: ClassVar[frozenset[str]] = frozenset({"error", "close"})

    #: channels stop handing output to libssh while it holds this many bytes for the socket
    #: (see :attr:`pending_output`), and start again below half of it
    output_high_water = 1 << 20
    #: the peer's input is not read while libssh's socket buffer holds this many bytes (more
    #: than channels leave there: what the peer's requests made), and is read again below half
    input_hold_water = 4 << 20
    # State set late in a session's life has a class-level default, set on the instance only
    # when it changes: CPython shares the attribute names of instances with fewer than 30
    # attributes, and a server session past that carried a dict of its own (1.6 KiB, against
    # 0.3 KiB shared; a server holds thousands of sessions)
    #: what ended the session when it was not closed: raised to whoever waits on it
    _error: BaseException | None = None
    _input_held = False  # see input_hold_water
    # channels whose output waits for libssh's buffer to drain (by id, in arrival order); the
    # empty mapping is shared, each session gets its own dict when a channel first waits
    _output_waiters: Mapping[int, Channel] = MappingProxyType({})
    # channels whose write libssh refused during a key re-exchange (by id): written again
    # after each pass, which the exchange's packets from the peer bring (no kick: nothing else
    # ends it); the same shared empty mapping until one waits
    _blocked_writers: Mapping[int, Channel] = MappingProxyType({})

    #: owned by an object whose own ResourceWarning covers it (a Client's session)
    _owned = False
    #: a client's socket, given to libssh with SSH_OPTIONS_FD, which libssh never closes
    #: (patch 0018: it closed one on a failed write, freeing the number while the loop still
    #: had it): closed after ssh_free (see _given_descriptor; a class default: server
    #: sessions never set it and keep one attribute fewer)
    _given_fd = -1

    def __init__(self, loop: Loop, ssh_session: CData = None):
        super().__init__()
        self._loop = loop
        _log.sync_verbosity()
        if ssh_session is None:
            ssh_session = c_session.new()
        self._s = ssh_session
        # libssh's byte and packet counts: [0] socket bytes, [1] SSH payload
        self._counters = c_session.new_counters(ssh_session)
        self._event = NULL
        self._in_event = False
        self._fd = -1
        # a list, not a deque (0.06 KiB, not 0.75): a few events per poll
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._channels: dict[int, Channel] = {}
        self._closed = False
        self._closing = False
        self._service_scheduled = False
        self._dispatching = False
        self._writer_registered = False
        self._in_service = False

    # -- attaching to the loop ------------------------------------------------------------------

    def _attach(self) -> None:
        """Register the session's socket with the loop (the fd must exist by now)."""
        c_session.set_blocking(self._s, False)
        self._fd = c_session.get_fd(self._s)
        if self._fd < 0:
            raise error_from(self._s, "the session has no socket")
        self._event = c_session.event_new()
        # a peer sending beyond a channel's window is disconnected (libssh would drop the data,
        # log a warning per packet and go on)
        if HAS.window_guard:
            c_session.enforce_windows(self._s)
        self._loop.add_reader(self._fd, self._on_ready)
        self._update_interest()

    def _join_event(self) -> bool:
        """Put the session into its ssh_event. libssh creates the session's poll context only
        once the session has polled (ssh_connect / ssh_handle_key_exchange do); until then the
        subclass's own nonblocking calls drive the socket."""
        if not self._in_event:
            self._in_event = c_session.event_add_session(self._event, self._s)
        return self._in_event

    # -- the poll cycle -------------------------------------------------------------------------

    def _on_ready(self) -> None:
        """The socket is readable or writable: let libssh process it, then dispatch."""
        if self._closed:
            return
        _log.ensure_thread()
        if self._in_event or self._join_event():
            rc = c_session.event_dopoll(self._event, 0)
            if rc == SSH_ERROR and not (c_session.get_status(self._s) & _CLOSED_MASK):
                # dopoll reports poll errors; the session's own state tells whether it is dead
                log.debug("ssh_event_dopoll: %s", error_from(self._s))
        self._service(True)

    def _service(self, thread_ready: bool = False) -> None:
        """Everything that follows libssh activity: subclass processing, recorded events,
        pending writes, the write interest, and the end of the connection. ``thread_ready``:
        the caller has just made this thread ready to drive libssh (``_log.ensure_thread``)."""
        self._service_scheduled = False
        if self._closed:
            return
        if not thread_ready:
            _log.ensure_thread()
        self._in_service = True
        try:
            if not self._input_held:  # (its calls may read the peer's input)
                self._process()
        except Exception as exc:
            self._in_service = False
            self._fail(exc)
            return
        processed = self._counters[0].in_bytes
        try:
            if self._blocked_writers:
                self._write_blocked()
            if self._output_waiters:
                self._release_output()  # (its 'drain' events are dispatched next)
            self._dispatch()
        finally:
            self._in_service = False
        if self._closed:
            return
        status = c_session.get_status(self._s)
        if status & _CLOSED_MASK and not self._closing:
            self._on_disconnect(status)
            return
        if self._counters[0].in_bytes != processed:
            # a libssh call made while dispatching read input (ssh_channel_close flushes and polls):
            # what it brought waits in libssh's queues for another pass, not for the socket
            self.kick()
        self._update_interest()

    def _process(self) -> None:
        """Subclass hook, called after each poll (and each kick) before recorded events are
        dispatched."""

    def kick(self) -> None:
        """Schedule a service pass on the loop thread (after work done outside a poll)."""
        if not self._service_scheduled and not self._closed:
            self._service_scheduled = True
            self._loop.call_soon(self._service)

    def _wrote(self, read_before: int | None = None) -> None:
        """A channel queued output: a pass must send what the socket did not take, update the
        write interest and dispatch what libssh read meanwhile. One that is running does that
        at its end; otherwise schedule one, unless the socket took it all and libssh read
        nothing since ``read_before`` (:attr:`bytes_read` before the write; None: not known):
        a request written by a caller's thread then costs the loop no pass."""
        if self._in_service:
            return
        if (read_before is not None and not self._pending and not self._output_waiters
                and self._counters[0].in_bytes == read_before
                and self.pending_output == 0
                and not c_session.get_status(self._s) & _CLOSED_MASK):
            return
        self.kick()

    @property
    def bytes_read(self) -> int:
        """Bytes libssh has read from the socket so far."""
        read: int = self._counters[0].in_bytes
        return read

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Record an event from inside a libssh callback; it runs after libssh returns."""
        self._pending.append((fn, args))

    def _dispatch(self) -> None:
        if self._dispatching:
            return  # the running dispatch picks up what was added meanwhile
        self._dispatching = True
        try:
            while self._pending and not self._closed:
                fn, args = self._pending.pop(0)
                try:
                    fn(*args)
                except Exception as exc:
                    self._dispatch_failed(fn, exc)
        finally:
            self._dispatching = False

    def _dispatch_failed(self, fn: Callable[..., Any], exc: Exception) -> None:
        """A recorded event's handler raised (listeners are called safely: this is pylibssh's
        own code). One of a channel's closes that channel with the exception (its data path
        failed: going on could lose or reorder data); anything else is logged."""
        from ._channel import Channel

        owner = getattr(fn, "__self__", None)
        if isinstance(owner, Channel) and not owner.closed:
            log.exception("%r: internal error in its data path; closing it", owner)
            owner._fail(exc)
        else:
            log.exception("unhandled exception in a %s event handler", type(self).__name__)

    #: when libssh holds output the socket did not take, try again with a poll(0) in the pass
    #: (below) before a trip through the selector: the server's request/reply traffic (SFTP).
    #: Client sessions go through the selector
    _poll_after_send = False

    def _update_interest(self) -> None:
        if self._closed or self._fd < 0 or self._input_held:
            return  # (held: _flush_held watches the socket)
        want = bool(c_session.get_poll_flags(self._s) & SSH_WRITE_PENDING)
        tries = 3 if self._poll_after_send else 0
        while want and not self._writer_registered and self._in_event and tries:
            # a poll(0) sends what the socket takes by now, instead of a pass through the
            # selector and two epoll_ctl calls. Input it reads is serviced in the next pass.
            tries -= 1
            received = self._counters[0].in_bytes
            rc = c_session.event_dopoll(self._event, 0)
            status = c_session.get_status(self._s)
            if status & _CLOSED_MASK:
                # the peer left and libssh closed the socket: end now, as the pass would, before
                # the loop can accept a connection that reuses the fd number
                self._dispatch()
                if not (self._closed or self._closing):
                    self._on_disconnect(status)
                return
            if rc != SSH_OK:
                break  # nothing ready: the socket's buffer is full
            if self._pending or self._counters[0].in_bytes != received:
                self.kick()  # it read input too: a pass takes it (messages, buffered data)
            want = bool(c_session.get_poll_flags(self._s) & SSH_WRITE_PENDING)
        if (want and self._in_event and HAS.pending_output
                and c_session.pending_output(self._s, 0) >= self.input_hold_water):
            self._hold_input()
            return
        if want != self._writer_registered:
            if want:
                self._loop.add_writer(self._fd, self._on_ready)
            else:
                self._loop.remove_writer(self._fd)
            self._writer_registered = want
        if self._output_waiters and not want:
            self.kick()  # the polls above emptied libssh's buffer: the waiting channels go on

    def _hold_input(self) -> None:
        """The peer does not read what it made us send: stop reading its input (libssh's poll
        would), and only write to the socket when it is writable (see :meth:`_flush_held`)."""
        self._input_held = True
        log.debug("%r: the peer does not read its socket (%d bytes wait): its input is not "
                  "read until it does", self, c_session.pending_output(self._s, 0))
        self._loop.remove_reader(self._fd)
        self._loop.add_writer(self._fd, self._flush_held)
        self._writer_registered = True

    def _flush_held(self) -> None:
        """The socket is writable while input is held: write libssh's buffer without a poll;
        below half of :attr:`input_hold_water` (or on an error, which libssh's poll then
        reports) read and serve the peer again."""
        if self._closed:
            return
        if c_session.flush_output(self._s) * 2 >= self.input_hold_water:
            return
        log.debug("%r: the peer reads again: its input is read again", self)
        self._input_held = False
        self._loop.add_reader(self._fd, self._on_ready)
        self._loop.add_writer(self._fd, self._on_ready)  # _update_interest corrects it
        self._on_ready()

    # -- output held at the socket --------------------------------------------------------------

    @property
    def pending_output(self) -> int:
        """Bytes of SSH packets libssh holds for the socket: written by channels and requests
        but not yet taken by the socket (packets held during a key re-exchange included). 0 once
        closed; -1 when this build cannot tell (a system libssh: no bound is applied then)."""
        if self._closed or self._s == NULL:
            return 0
        if not HAS.pending_output:
            return -1
        return c_session.pending_output(self._s, 1)

    def _output_full(self) -> bool:
        """Whether channels must keep their output for now (loop lock held)."""
        return (not self._closed and HAS.pending_output
                and c_session.pending_output(self._s, 1) >= self.output_high_water)

    def _wait_output(self, channel: Channel) -> None:
        """``channel`` keeps its output until libssh's buffer drained (loop lock held)."""
        if not isinstance(self._output_waiters, dict):
            self._output_waiters = {}
        self._output_waiters[id(channel)] = channel

    def _write_after_pass(self, channel: Channel) -> None:
        """``channel``'s write was refused while the session is blocked (a key re-exchange):
        it writes again after the next pass (loop lock held)."""
        if not isinstance(self._blocked_writers, dict):
            self._blocked_writers = {}
        self._blocked_writers[id(channel)] = channel

    def _write_blocked(self) -> None:
        blocked = list(self._blocked_writers.values())
        self._blocked_writers.clear()  # type: ignore[attr-defined]
        for channel in blocked:
            if not channel.closed:
                channel._flush()

    def _forget_output_waiter(self, channel: Channel) -> None:
        if id(channel) in self._output_waiters:
            del self._output_waiters[id(channel)]  # type: ignore[attr-defined]

    def _release_output(self) -> None:
        """Let the waiting channels write again once libssh's buffer is below half the mark;
        each goes to the back of the line if it fills the buffer again (fair to the others)."""
        if c_session.pending_output(self._s, 1) * 2 >= self.output_high_water:
            return
        waiters = list(self._output_waiters.values())
        if waiters:
            self._output_waiters.clear()  # type: ignore[attr-defined]
        for channel in waiters:
            channel._flush()

    # -- channels -------------------------------------------------------------------------------

    def _add_channel(self, channel: Channel) -> None:
        self._channels[id(channel)] = channel

    def _forget_channel(self, channel: Channel) -> None:
        self._channels.pop(id(channel), None)

    @property
    def channels(self) -> list[Channel]:
        """The session's open channels (a copy)."""
        return list(self._channels.values())

    # -- ending ---------------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """An unexpected error in session processing: log it, report it, drop the session
        (whoever waits on it gets ``exc``)."""
        self._error = exc
        if isinstance(exc, SSHError):
            log.debug("%r failed: %s", self, exc)
        else:
            log.exception("internal error in %r", self)
        if self.listener_count("error"):
            try:
                self.emit("error", exc)
            except Exception:
                log.exception("unhandled exception in an 'error' listener")
        self._teardown(send_disconnect=False)

    def _on_disconnect(self, status: int) -> None:
        """The peer went away (or the connection broke). Subclasses may extend."""
        if status & SSH_CLOSED_ERROR:
            msg = error_from(self._s).message
            if msg:
                log.debug("%r closed: %s", self, msg)
        self._teardown(send_disconnect=False)

    def close(self) -> None:
        """Disconnect and free everything. Idempotent; safe from any thread."""
        with self._loop.lock:
            self._teardown(send_disconnect=True)
        if not self._loop.in_loop_thread():
            self._loop.wakeup()

    def _teardown(self, send_disconnect: bool) -> None:
        if self._closed or self._closing:
            return
        self._closing = True
        try:
            self._before_teardown()
        except Exception:
            log.exception("error while closing %r", self)
        # unregister first: the fd number is reused by the next accept once libssh closes it
        if self._fd >= 0:
            self._loop.remove_fd(self._fd)
        if self._output_waiters:
            self._output_waiters.clear()  # type: ignore[attr-defined]
        if self._blocked_writers:
            self._blocked_writers.clear()  # type: ignore[attr-defined]
        for channel in list(self._channels.values()):
            channel._free(session_gone=True)
        self._channels.clear()
        if send_disconnect:
            self._flush_nowait()
        if self._event != NULL:
            if self._in_event:
                c_session.event_remove_session(self._event, self._s)
            c_session.event_free(self._event)
            self._event = NULL
        if send_disconnect:
            # a second descriptor keeps the socket open past ssh_disconnect's close(): see _linger
            linger_fd = _dup(self._fd)
            c_session.disconnect(self._s)
            if linger_fd >= 0:
                _linger(self._loop, linger_fd)
        else:
            c_session.silent_disconnect(self._s)
        given = self._given_descriptor()
        c_session.free(self._s)
        self._s = NULL
        if given >= 0:
            try:
                os.close(given)
            except OSError:
                pass
            self._given_fd = -1
        self._closed = True
        self._pending.clear()
        try:
            self.emit("close")
        except Exception:
            log.exception("unhandled exception in a 'close' listener")
        self.remove_all_listeners()

    def _given_descriptor(self) -> int:
        """The socket given to libssh with SSH_OPTIONS_FD, closed after ssh_free; -1: none."""
        return self._given_fd

    def _flush_nowait(self) -> None:
        """Best effort, without blocking: write what libssh buffered, and get the socket back
        to "writable" so that ssh_disconnect's DISCONNECT goes out at once (libssh buffers a
        packet while earlier output waits for POLLOUT, and ssh_disconnect closes the socket
        without polling). What the kernel does not take now is lost."""
        if not self._in_event:
            return
        for _ in range(3):
            if not c_session.get_poll_flags(self._s) & SSH_WRITE_PENDING:
                return
            if c_session.event_dopoll(self._event, 0) == SSH_ERROR:
                return

    def _before_teardown(self) -> None:
        """Subclass hook: free what the subclass owns (queued messages...) before the session."""

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._closed

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and not self._closing:
            reap_unclosed(self, self._loop, self._collected, warn=not self._owned)

    def _collected(self) -> None:
        """Free what a session collected without close() holds (the loop's reaper runs it)."""
        self._teardown(send_disconnect=False)

    def _check_open(self) -> None:
        if self._closed or self._closing:
            raise ClosedError("the session is closed")

    @property
    def loop(self) -> Loop:
        """The loop that drives the session."""
        return self._loop

    # -- information ----------------------------------------------------------------------------

    def _info(self, fn: Callable[[CData], CData]) -> str | None:
        """What ``fn`` reads from the open session: a ``str`` (or None), or a C string that is
        copied at once; None once the session is closed."""
        if self._closed:
            return None
        value = fn(self._s)
        return value if value is None or isinstance(value, str) else c_session.ascii_text(value)

    @property
    def kex_algorithm(self) -> str | None:
        """The key exchange method (None before it or once closed); see :attr:`algorithms`."""
        return self._info(c_session.kex_algorithm)

    @property
    def cipher_in(self) -> str | None:
        """The cipher of what this side receives (None before the key exchange or once closed); see
        :attr:`algorithms`."""
        return self._info(c_session.cipher_in)

    @property
    def cipher_out(self) -> str | None:
        """The cipher of what this side sends (None before the key exchange or once closed); see
        :attr:`algorithms`."""
        return self._info(c_session.cipher_out)

    @property
    def algorithms(self) -> Algorithms | None:
        """The algorithms the key exchange agreed on (see :class:`~pylibssh.algorithms.
        Algorithms`), after a re-exchange its latest; None before the first key exchange ends
        or once the session is closed."""
        cipher_out = self._info(c_session.cipher_out)
        if cipher_out is None:
            return None
        client = self._is_client_side
        send_comp, recv_comp = ((SSH_COMP_C_S, SSH_COMP_S_C) if client
                                else (SSH_COMP_S_C, SSH_COMP_C_S))
        return Algorithms(
            kex=self._info(c_session.kex_algorithm),
            host_key=self._info(c_session.hostkey_algorithm),
            send_cipher=cipher_out,
            recv_cipher=self._info(c_session.cipher_in),
            send_mac=self._info(c_session.hmac_out),
            recv_mac=self._info(c_session.hmac_in),
            send_compression=self._kex_method(send_comp),
            recv_compression=self._kex_method(recv_comp),
        )

    #: whether this side is the client (the directions of :attr:`algorithms`)
    _is_client_side = False

    def _kex_method(self, which: int) -> str | None:
        return None if self._closed else c_session.kex_method(self._s, which)
