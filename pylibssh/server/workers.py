"""A server on every core: worker processes that each run the server's loop, and the process
that supervises them (``create_server(..., workers=N)``).

::

    server = pylibssh.create_server(host_keys=["/etc/ssh/ssh_host_ed25519_key"], workers=4)
    server.on("connection", on_connection)  # registered here, runs in every worker
    server.listen(2222)                      # the listening socket(s), made in this process
    server.serve_forever()                   # forks the workers; returns once they stopped

**What runs where.** Everything up to ``serve_forever()`` runs once, in the calling process,
which becomes the supervisor: the host keys are read (or created, by ``pylibssh serve``) and the
listening sockets are made before any fork. ``serve_forever()`` forks the workers: each is a copy
of the process at that moment, so every listener registered on the server runs in each worker,
on the worker's own loop; ``ready`` is emitted in each worker once it accepts. The supervisor
runs no listener and owns no libssh session: it starts the workers, starts a new one when one
dies (at once, or after a pause that doubles up to 10 s while workers die within a second of
their start), passes signals on and stops them. A worker never returns to the code that called
``serve_forever()``: it exits when its server closes.

**State is per worker.** Each worker has its own copy of whatever the application held when
``serve_forever()`` was called; what one worker changes, the others never see. State the workers
share must live outside them: in shared memory made before the fork
(:mod:`multiprocessing`'s ``Value``/``Array``, whose locks work across processes), in a file or
database, or in another server (examples/workers.py keeps a shared count). Limits such as
``max_startups`` count per worker.

**Forking safely.** Only the thread that calls ``serve_forever()`` exists in a worker. A lock
another thread held at that moment stays held there forever, and a thread the application
started before is gone: start threads (and client connections, thread pools, a running
:class:`~pylibssh.loop.Loop`) in a ``ready`` listener, which runs in each worker, rather than
before ``serve_forever()``. The server's loop must not run (``start()``) before; each worker
gives it a fresh selector, lock and wakeup socket. :mod:`logging` and :mod:`random` re-arm
themselves after a fork, and OpenSSL reseeds its random generator in each worker.

**Signals** (to the supervisor, which must then run ``serve_forever()`` in the main thread;
an application may block them with :func:`signal.pthread_sigmask` until then, as ``pylibssh
serve`` does, and ``serve_forever()`` unblocks them once it handles them): SIGTERM or SIGINT
drains: the listening sockets are closed (new connections are refused) and
each worker lets its sessions end, disconnecting those left after ``drain_timeout``; a second
SIGTERM or SIGINT disconnects them at once. SIGHUP makes each worker emit ``reload`` (reread
keys, configuration...). Workers ignore SIGINT (a Ctrl-C in a terminal reaches them too: the
supervisor passes it on); they drain on SIGTERM, close at once on SIGQUIT, reload on SIGHUP, and
drain when the supervisor dies.

**Listening.** Where the kernel spreads the connections to one port over several sockets
(``SO_REUSEPORT`` on Linux and DragonFly BSD, ``SO_REUSEPORT_LB`` on FreeBSD), each worker
accepts on a socket of its own; elsewhere (macOS and the other BSDs, whose ``SO_REUSEPORT`` hands
every connection to one socket), or with ``reuse_port=False``, all workers accept on one
inherited socket. The supervisor keeps every listening socket open: a worker's replacement
accepts on the same one, and connections that arrive in between wait in its queue.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Server

__all__ = ["default_workers", "reuse_port_option", "listening_sockets", "Supervisor"]

log = logging.getLogger("pylibssh.server")

_QUICK_DEATH = 1.0  # seconds: a worker that dies sooner is restarted after a growing pause
_MAX_PAUSE = 10.0
_KILL_GRACE = 5.0  # seconds past drain_timeout before a worker still running is killed
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_SUPERVISOR_SIGNALS = (*_STOP_SIGNALS, signal.SIGHUP, signal.SIGCHLD)
_WORKER_SIGNALS = (signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)
_BLOCKED_AT_FORK = (*_WORKER_SIGNALS, signal.SIGINT, signal.SIGCHLD)


def default_workers() -> int:
    """The number of CPUs this process may run on (its affinity mask where the system has
    one, else every CPU)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def reuse_port_option() -> int | None:
    """The socket option with which the kernel spreads connections to one port over several
    listening sockets, or None where there is none."""
    if hasattr(socket, "SO_REUSEPORT_LB"):  # FreeBSD
        option: int = socket.SO_REUSEPORT_LB
        return option
    if hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith(("linux", "dragonfly")):
        return socket.SO_REUSEPORT
    return None


def listening_sockets(info: tuple[Any, ...], backlog: int, count: int, reuse_port: bool | None
                      ) -> list[socket.socket]:
    """Listening sockets for ``info`` (a ``getaddrinfo`` entry): ``count`` sockets bound to
    the same address with :func:`reuse_port_option` when ``reuse_port`` is not False and the
    system has it (the first binds the port, the others that port), else one. Nonblocking,
    ``SO_REUSEADDR`` set; raises OSError (nothing left open) when binding fails."""
    family, kind, proto, _, addr = info
    option = reuse_port_option() if reuse_port is not False else None
    if reuse_port and option is None:
        raise ValueError("reuse_port=True: this system does not spread connections over "
                         "sockets sharing a port")
    made: list[socket.socket] = []
    try:
        for _ in range(count if option is not None else 1):
            sock = socket.socket(family, kind, proto)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if option is not None:
                sock.setsockopt(socket.SOL_SOCKET, option, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(addr)
            addr = sock.getsockname()  # port 0: the others take the port the first got
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in made:
            sock.close()
        raise
    return made


class Supervisor:
    """Starts ``count`` workers for ``server`` and keeps them running until stopped (see the
    module's documentation). Created by :meth:`Server.serve_forever`."""

    def __init__(self, server: Server, sockets: list[socket.socket], count: int,
                 drain_timeout: float | None):
        self._server = server
        self._sockets = sockets  # one per worker, or one that they share
        self._count = count
        self._drain_timeout = drain_timeout
        self._pids: dict[int, int] = {}  # pid -> worker index
        self._started_at: dict[int, float] = {}  # index -> when its current process started
        self._pauses: dict[int, float] = {}  # index -> the pause before its next restart
        self._restart_at: dict[int, float] = {}  # index -> when a dead worker is started again
        self._stop_deadline: float | None = None  # stopping: kill what still runs by then
        self._stopped_quickly = False
        self._requests: deque[Callable[[], None]] = deque()  # from other threads and signals
        self._lifeline_r, self._lifeline_w = os.pipe()  # a worker reads EOF once we are gone
        self._wake_r, self._wake_w = socket.socketpair()
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        self._started = False
        self._done = False
        self._previous_handlers: dict[int, Any] = {}  # the application's, given back to workers

    # -- requests, from any thread or a signal handler -------------------------------------------

    def stop(self, graceful: bool = True) -> None:
        """Stop the workers: drain them (``graceful``), or disconnect their sessions at once."""
        self._request(lambda: self._begin_stop(graceful))

    def reload(self) -> None:
        """Make every worker emit ``reload`` (SIGHUP)."""
        self._request(lambda: self._signal_workers(signal.SIGHUP))

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers running now, by worker index."""
        return [pid for pid, _ in sorted(self._pids.items(), key=lambda item: item[1])]

    @property
    def done(self) -> bool:
        """True once every worker has stopped and the supervisor is finished."""
        return self._done

    def _request(self, action: Callable[[], None]) -> None:
        self._requests.append(action)
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full: the supervisor wakes anyway

    def _on_signal(self, signum: int, frame: Any) -> None:
        if signum in _STOP_SIGNALS:
            # a second stop signal does not wait for the sessions
            self._requests.append(lambda: self._begin_stop(self._stop_deadline is None))
        elif signum == signal.SIGHUP:
            self._requests.append(lambda: self._signal_workers(signal.SIGHUP))
        # SIGCHLD only wakes the loop (through the wakeup descriptor): it reaps every pass

    # -- running ---------------------------------------------------------------------------------

    def run(self, timeout: float | None = None) -> bool:
        """Start the workers (the first time) and supervise them until they have all stopped
        (True) or ``timeout`` seconds have passed (False: they keep running; call again to go
        on supervising)."""
        if self._done:
            return True
        in_main = threading.current_thread() is threading.main_thread()
        previous = self._previous_handlers = {}
        previous_wakeup = None
        previous_mask = None
        if in_main:
            for signum in _SUPERVISOR_SIGNALS:
                previous[signum] = signal.signal(signum, self._on_signal)
            previous_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(),
                                                   warn_on_full_buffer=False)
            # an application that blocked them until now (so that none arrives before these
            # handlers: pylibssh serve) gets what arrived meanwhile handled here
            previous_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, _SUPERVISOR_SIGNALS)
        elif not self._started:
            log.info("serve_forever() is not running in the main thread: the supervisor "
                     "takes no signal (stop it with server.close() or server.drain())")
        if threading.active_count() > 1 and not self._started:
            log.warning("forking workers while %d other threads run: they do not exist in "
                        "the workers, and locks they hold stay held there (see "
                        "pylibssh.server.workers)", threading.active_count() - 1)
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if not self._started:
                self._started = True
                for index in range(self._count):
                    self._start_worker(index)
            while True:
                self._run_requests()
                self._reap()
                now = time.monotonic()
                if self._stop_deadline is not None:
                    if not self._pids:
                        self._finish()
                        return True
                    if now >= self._stop_deadline:
                        self._signal_workers(signal.SIGKILL)
                        self._stop_deadline = now + _KILL_GRACE
                else:
                    for index, when in list(self._restart_at.items()):
                        if when <= now:
                            del self._restart_at[index]
                            self._start_worker(index)
                if deadline is not None and now >= deadline:
                    return False
                if selector.select(self._next_wait(now, deadline, in_main)):
                    self._drain_wake()
        finally:
            selector.close()
            if in_main:
                signal.set_wakeup_fd(previous_wakeup if previous_wakeup is not None else -1)
                for number, handler in previous.items():
                    signal.signal(number, handler if handler is not None else signal.SIG_DFL)
                if previous_mask is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)

    def _next_wait(self, now: float, deadline: float | None, in_main: bool) -> float | None:
        times = list(self._restart_at.values())
        if self._stop_deadline is not None:
            times.append(self._stop_deadline)
        if deadline is not None:
            times.append(deadline)
        if not in_main:
            times.append(now + 0.2)  # no SIGCHLD outside the main thread: look again soon
        return max(0.0, min(times) - now) if times else None

    def _run_requests(self) -> None:
        while self._requests:
            action = self._requests.popleft()
            try:
                action()
            except Exception:
                log.exception("supervisor: handling a request")

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    # -- workers ---------------------------------------------------------------------------------

    def _start_worker(self, index: int) -> None:
        sock = self._sockets[index % len(self._sockets)]
        _flush_standard_streams()  # or each worker would write what is buffered again
        # a signal for the worker waits until it handles them itself (it unblocks them then)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED_AT_FORK)
        pid = os.fork()
        if pid:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        else:  # the worker; it never returns from here
            code = 1
            try:
                code = self._become_worker(index, sock)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", index)
            finally:
                _flush_standard_streams()
                logging.shutdown()
                os._exit(code)
        self._pids[pid] = index
        self._started_at[index] = time.monotonic()
        log.info("worker %d started (pid %d)", index, pid)

    def _become_worker(self, index: int, sock: socket.socket) -> int:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        # the supervisor passes Ctrl-C on; a handler that does nothing rather than SIG_IGN,
        # which the commands the worker starts would inherit
        signal.signal(signal.SIGINT, _ignore)
        signal.set_wakeup_fd(-1)
        os.close(self._lifeline_w)
        self._wake_r.close()
        self._wake_w.close()
        for other in self._sockets:
            if other is not sock:
                other.close()
        shared = len(self._sockets) < self._count
        return _Worker(self._server, index, sock, shared, self._lifeline_r,
                       self._drain_timeout).run()

    def _reap(self) -> None:
        for pid, index in list(self._pids.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): it is gone
                done, status = pid, 0
            if done != pid:
                continue
            del self._pids[pid]
            code = os.waitstatus_to_exitcode(status)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            if self._stop_deadline is not None:
                log.info("worker %d (pid %d) stopped (%s)", index, pid, how)
                continue
            lived = time.monotonic() - self._started_at.get(index, 0.0)
            pause = 0.0
            if lived < _QUICK_DEATH:
                pause = min(_MAX_PAUSE, max(0.1, self._pauses.get(index, 0.0) * 2))
            self._pauses[index] = pause
            log.warning("worker %d (pid %d) died (%s) after %.1f s; starting a new one%s",
                        index, pid, how, lived, f" in {pause:.1f} s" if pause else "")
            self._restart_at[index] = time.monotonic() + pause

    def _signal_workers(self, signum: int) -> None:
        for pid in list(self._pids):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _begin_stop(self, graceful: bool) -> None:
        first = self._stop_deadline is None
        if not first and (not graceful) == self._stopped_quickly:
            return
        if first:
            # the kernel refuses new connections once no process holds a listening socket
            # open: ours go first, then each worker's
            for sock in self._sockets:
                sock.close()
            self._restart_at.clear()
        wait = self._drain_timeout if graceful and self._drain_timeout is not None else 0.0
        self._stop_deadline = time.monotonic() + wait + _KILL_GRACE
        self._stopped_quickly = not graceful
        log.info("stopping %d worker(s)%s", len(self._pids),
                 f", letting sessions end for up to {wait:g} s" if graceful else " now")
        self._signal_workers(signal.SIGTERM if graceful else signal.SIGQUIT)

    def _finish(self) -> None:
        self._done = True
        for sock in self._sockets:
            sock.close()
        os.close(self._lifeline_w)
        os.close(self._lifeline_r)
        self._wake_r.close()
        self._wake_w.close()
        log.info("all workers stopped")


class _Worker:
    """The worker side: the server's loop on the worker's socket, with signals and the
    supervisor's lifeline as loop events."""

    def __init__(self, server: Server, index: int, sock: socket.socket, shared: bool,
                 lifeline: int, drain_timeout: float | None):
        self._server = server
        self._index = index
        self._sock = sock
        self._shared = shared
        self._lifeline = lifeline
        self._drain_timeout = drain_timeout
        self._signals: deque[int] = deque()
        self._draining = False

    def run(self) -> int:
        server = self._server
        loop = server.loop
        loop._after_fork()
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        for signum in _WORKER_SIGNALS:
            signal.signal(signum, lambda signum, frame: self._signals.append(signum))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED_AT_FORK)
        loop.add_reader(wake_r.fileno(), lambda: self._on_wake(wake_r))
        loop.add_reader(self._lifeline, self._on_lifeline)
        server._serve_as_worker(self._index, self._sock, self._shared)
        loop.run_until(lambda: server.closed)
        loop.close()
        return 0

    def _on_wake(self, wake_r: socket.socket) -> None:
        try:
            while wake_r.recv(4096):
                pass
        except OSError:
            pass
        while self._signals:
            signum = self._signals.popleft()
            if signum == signal.SIGHUP:
                self._server.reload()
            elif signum == signal.SIGTERM and not self._draining:
                self._draining = True
                self._server.drain(self._drain_timeout)
            else:  # SIGQUIT, or SIGTERM while draining
                self._server.close()

    def _on_lifeline(self) -> None:
        try:
            data = os.read(self._lifeline, 1)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return
            data = b""
        if data:
            return
        self._server.loop.remove_fd(self._lifeline)
        if not self._draining:
            log.warning("worker %d: the supervisor is gone; draining", self._index)
            self._draining = True
            self._server.drain(self._drain_timeout)


def _ignore(signum: int, frame: Any) -> None:
    pass


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
