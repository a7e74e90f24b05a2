"""The client side of a loop-driven session: options, the nonblocking connect and key exchange,
host-key verification, authentication, keepalive, and the tasks that wait on libssh.

``ClientSession`` is a :class:`~pylibssh._session.LoopSession` whose libssh session stays in
nonblocking mode. Multi-step work (connect, auth, channel requests) runs as :class:`Task`
generators that the session pokes after every poll, so any number of sessions can progress from
one loop thread; the blocking :class:`~pylibssh.client.Client` waits for a task's future.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._binding import HAS, CData
from .._binding import client as client_api
from .._binding import session as session_api
from .._binding.client import set_option
from .._binding.constants import SSH_AGAIN
from .._session import LoopSession
from ..errors import (
    DisconnectedError,
    SSHConnectionError,
    SSHError,
    SSHTimeoutError,
    error_from,
)
from ..loop import Loop, TimerHandle
from ._task import AGAIN, Task, TaskGen
from .incoming import Incoming

if TYPE_CHECKING:
    from ..keys import Key

log = logging.getLogger("pylibssh.client")


def _is_tcp(fd: int) -> bool:
    """Whether ``fd`` is a TCP socket."""
    sock = socket.socket(fileno=fd)  # (a view of the descriptor: detached, never closed)
    try:
        return (sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM)
    finally:
        sock.detach()


class ClientSession(LoopSession):
    """A client session driven by a loop (nonblocking libssh)."""

    _is_client_side = True

    def __init__(self, loop: Loop, ssh_session: CData = None):
        """A session on ``loop``; ``ssh_session``: a libssh session (with its options set) that
        it takes over (default: a new one)."""
        super().__init__(loop, ssh_session)
        session_api.set_blocking(self._s, False)
        set_option(self._s, "process_config", False)  # ssh_config is applied by config.py
        self._tasks: list[Task] = []
        self._keepalive_timer: TimerHandle | None = None
        self._quickack_left = self.quickack_reads
        self._keepalive_seen = 0
        self._keepalive_missed = 0
        self.authenticated = False
        self.host_key: Key | None = None  # the server's, once verified
        # channels the server opens (remote forwarding, agent, X11) and their handlers
        self._incoming = Incoming()
        # requests sent on every new session channel before exec/shell (agent, X11 forwarding)
        self.session_requests: list[tuple[str, Any]] = []
        # one libssh global request at a time (forward.global_request_gen)
        self._global_busy = False
        self._global_replies: CData = None
        # channels whose C receivers are drained after each poll (ClientChannel, SFTPChannel)
        self._staged: set[Any] = set()  # each with a _drain_stage()
        # the socket's byte counts when _process last poked the tasks (see _dispatch)
        self._poked_at: tuple[int, int] | None = None

    # -- tasks ----------------------------------------------------------------------------------

    def start_task(self, gen: TaskGen, name: str, timeout: float | None = None,
                   future: Any = None) -> Task:
        """Run ``gen`` as a task of this session (any thread); ``timeout`` (seconds, None: no
        limit) throws :class:`~pylibssh.errors.SSHTimeoutError` into it. ``future``: what the
        task completes instead of a ``concurrent.futures.Future`` of its own (an asyncio future
        of the loop's thread; see :class:`Task`). Raises
        :class:`~pylibssh.errors.ClosedError` once the session is closed."""
        with self._loop.lock:
            self._check_open()
            read_before = self.bytes_read
            task = Task(self, gen, name, timeout, future)
            # its first step ran here: a pass follows only when it left the loop work (output
            # the socket did not take, input read meanwhile, events to dispatch)
            self._wrote(read_before)
        if not self._loop.in_loop_thread():
            self._loop.wakeup()
        return task

    def _poke_tasks(self) -> bool:
        """Poke every task; whether one moved on."""
        moved = False
        for task in list(self._tasks):
            if not self._closed and task.poke():
                moved = True
        return moved

    #: read events after which received data is acknowledged at once (pylibssh_tcp_quickack):
    #: the key exchange, login and the first channels, where servers send small packets back to
    #: back; bulk transfers later keep the kernel's delayed ACKs
    quickack_reads = 64

    def _on_ready(self) -> None:
        read_before = self._counters[0].in_bytes  # (self.bytes_read, one call less per pass)
        super()._on_ready()
        if self._quickack_left > 0 and self._fd >= 0:
            self._quickack_left -= 1
            client_api.tcp_quickack(self._fd)
        if self._bulk_input:
            self._bulk_input = False
            if (self._counters[0].in_bytes - read_before >= self.bulk_pass and not self._closed
                    and self._loop.runs_unattended()):
                self._bulk_pass()

    _bulk_input = False  # a bulk SFTP download ran during this pass (note_bulk_input)

    def note_bulk_input(self) -> None:
        """Called during a pass by an SFTP engine whose C receiver runs a bulk download (a
        range to a file or into memory): a pass that read ``bulk_pass`` bytes then paces the
        socket as a stream's does (:meth:`_bulk_pass`)."""
        self._bulk_input = True

    #: on a loop that runs unattended (Loop.start: the paramiko layer's transports, a client
    #: with forwards; an asyncio loop), a pass whose channels' stages brought ``bulk_pass``
    #: bytes or more (a stream's output), or that read that much for a bulk SFTP download
    #: (note_bulk_input), makes the socket signal readiness only once ``bulk_lowat`` bytes wait
    #: (SO_RCVLOWAT, libssh's read size), until ``bulk_wait`` seconds pass without such a
    #: pass: the loop, and the thread waiting for the output, wake once per 256 KiB of a
    #: stream rather than once per arriving segment; a stream's last bytes wait at most
    #: ``bulk_wait``. (A blocking Process.read runs its own passes, ClientChannel._read_direct,
    #: which do the same; a loop that a waiting thread drives would keep the mark set while
    #: nobody runs its timer.)
    bulk_pass = 64 << 10
    bulk_lowat = 256 << 10
    bulk_wait = 0.002
    _lowat = 1  # the socket's SO_RCVLOWAT
    _lowat_ok: bool | None = None  # whether the socket is one to set it on (once known)
    _bulk_at = 0.0  # the loop's time at the last pass that brought bulk_pass bytes
    _bulk_timer: TimerHandle | None = None

    def _set_lowat(self, n: int) -> None:
        """Set the socket's SO_RCVLOWAT to ``n`` bytes (a system call only when it changes).
        Only on a TCP socket: a UNIX socket's poll() (a ProxyCommand's, a pumped ``sock=``)
        ignores the mark. libssh reads its blocking socket without waiting (patch 0017), so a
        socket reported readable below the mark is read as it is."""
        if n == self._lowat or self._fd < 0:
            return
        if self._lowat_ok is None:
            self._lowat_ok = _is_tcp(self._fd)
        if self._lowat_ok:
            client_api.tcp_rcvlowat(self._fd, n)
            self._lowat = n

    def _bulk_pass(self) -> None:
        loop = self._loop
        self._bulk_at = loop.time()
        self._set_lowat(self.bulk_lowat)
        if self._bulk_timer is None:
            self._bulk_timer = loop.call_at(self._bulk_at + self.bulk_wait, self._bulk_check)

    def _bulk_check(self) -> None:
        """The loop's timer: ``bulk_wait`` after the last bulk pass, every byte is signalled
        again (Linux signals readiness at once when bytes wait)."""
        self._bulk_timer = None
        if self._closed:
            return
        due = self._bulk_at + self.bulk_wait
        if self._loop.time() < due:
            self._bulk_timer = self._loop.call_at(due, self._bulk_check)
        else:
            self._set_lowat(1)

    def _process(self) -> None:
        # before recorded events are dispatched: a request's reply and the channel's close can
        # arrive in one poll, and the request's poller must see its reply while the channel lives
        staged = 0
        for ch in tuple(self._staged):  # (a data listener may close its channel)
            st = ch._stage
            if st is not None:
                staged += st.len
            ch._drain_stage()
        if staged >= self.bulk_pass and self._loop.runs_unattended():
            self._bulk_pass()
        moved = self._poke_tasks()
        # (a task that moved on may have changed what another, poked before it, polls; held
        # output released before the dispatch can change it too)
        self._poked_at = None if moved or self._output_waiters else self._socket_bytes()
        if self.authenticated:
            self._incoming.take_messages(self)

    def _socket_bytes(self) -> tuple[int, int]:
        counters = self._counters[0]
        return counters.in_bytes, counters.out_bytes

    def _dispatch(self) -> None:
        # after events are delivered, tasks see channel state (exit status, close) current. A
        # pass in which no task moved on, none was delivered, no held output was released and
        # no byte moved on the socket since _process poked the tasks changed nothing they poll:
        # no second poke (each is a libssh call; a connecting task's polls the socket)
        poked_at, self._poked_at = self._poked_at, None
        delivered = bool(self._pending)
        super()._dispatch()
        if delivered or poked_at != self._socket_bytes():
            self._poke_tasks()

    def _teardown(self, send_disconnect: bool) -> None:
        if self._closed or self._closing:
            return
        self._stop_keepalive()
        error = self._error
        super()._teardown(send_disconnect)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.throw(error or DisconnectedError("the connection was closed"))

    def global_replies(self) -> CData:
        """The global-request reply FIFO (C, csrc/pylibssh_client.c), installed on first use
        (before any want-reply global request is sent); None without ``HAS.global_replies``.
        Kept as long as the session object."""
        if self._global_replies is None and HAS.global_replies:
            with self._loop.lock:
                self._check_open()
                self._global_replies = client_api.track_global_replies(self._s)
        return self._global_replies

    def _before_teardown(self) -> None:
        self._incoming.close()  # queued channel opens are freed before the session
        super()._before_teardown()

    def _on_disconnect(self, status: int) -> None:
        if self._error is None:
            msg = error_from(self._s).message
            self._error = DisconnectedError(
                f"the connection was closed{': ' + msg if msg else ''}")
        super()._on_disconnect(status)

    def fail(self, exc: SSHError) -> None:
        """Drop the connection with ``exc`` as the reason every waiting task sees."""
        with self._loop.lock:
            if not self._closed:
                self._error = exc
                self._teardown(send_disconnect=False)

    # -- pollers ----------------------------------------------------------------------------------

    def call(self, fn: Callable[[], int], what: str, default: type[SSHError] = SSHError,
             again: int = SSH_AGAIN) -> Callable[[], Any]:
        """A poller around a nonblocking libssh call returning SSH_OK/SSH_AGAIN/SSH_ERROR."""

        def poll() -> Any:
            self._check_open()
            rc = fn()
            if rc == again:
                return AGAIN
            if rc < 0:
                raise error_from(self._s, what, default)
            return rc

        return poll

    # -- connecting -------------------------------------------------------------------------------

    def connect_gen(self, sock: socket.socket | None, after: Callable[[], TaskGen] | None
                    ) -> TaskGen:
        """Key exchange on a connected socket (the session's from here on), then ``after``."""
        if sock is not None:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP (a socketpair to a proxy)
            self._given_fd = sock.detach()  # ours to close (see LoopSession._given_fd)
            set_option(self._s, "fd", self._given_fd)
        def connect() -> Any:
            self._check_open()
            rc = client_api.connect(self._s)
            if self._fd < 0 and session_api.get_fd(self._s) >= 0:
                self._attach()  # the first call made the socket and its poll context
            if rc == SSH_AGAIN:
                return AGAIN
            if rc < 0:
                raise error_from(self._s, "connecting", SSHConnectionError)
            return rc

        try:
            yield connect
            if after is not None:
                result = yield from after()
                return result
        except BaseException as exc:
            if not self._closed:
                self._error = exc if isinstance(exc, SSHError) else None
                self._teardown(send_disconnect=not isinstance(exc, SSHTimeoutError))
            raise

    # -- keepalive --------------------------------------------------------------------------------

    def start_keepalive(self, interval: float, count_max: int) -> None:
        """Every ``interval`` s send keepalive@openssh.com (the server must answer); after
        ``count_max`` intervals in a row with nothing received, drop the connection with
        :class:`SSHTimeoutError` (OpenSSH's ServerAliveInterval / ServerAliveCountMax)."""
        with self._loop.lock:
            self._stop_keepalive()
            if interval <= 0:
                return
            self._keepalive_seen = self._counters[1].in_bytes
            self._keepalive_missed = 0

            def tick() -> None:
                with self._loop.lock:
                    if self._closed:
                        return
                    received = self._counters[1].in_bytes
                    if received != self._keepalive_seen:
                        self._keepalive_seen = received
                        self._keepalive_missed = 0
                    else:
                        self._keepalive_missed += 1
                        if self._keepalive_missed > count_max:
                            self.fail(SSHTimeoutError(
                                f"the server did not answer {count_max} keepalives "
                                f"({interval:g} s apart): the connection is dead"))
                            return
                    read_before = self.bytes_read
                    client_api.send_keepalive(self._s, self.global_replies())
                    # (libssh's sender polls after sending: what it read waits for a pass)
                    self._wrote(read_before)
                    self._keepalive_timer = self._loop.call_later(interval, tick)

            self._keepalive_timer = self._loop.call_later(interval, tick)

    def _stop_keepalive(self) -> None:
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
            self._keepalive_timer = None

    @property
    def bytes_received(self) -> int:
        """Bytes received on the socket so far."""
        received: int = self._counters[1].in_bytes
        return received

    @property
    def bytes_sent(self) -> int:
        """Bytes sent on the socket so far."""
        sent: int = self._counters[0].out_bytes
        return sent

