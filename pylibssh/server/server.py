"""The listening server: node-libssh's ``createServer`` in Python.

::

    server = pylibssh.create_server(host_keys=["/etc/ssh/ssh_host_ed25519_key"])

    @server.on("connection")
    def on_connection(session):
        session.on("auth", on_auth)
        session.on("channel", on_channel)

    server.listen(2222, "127.0.0.1")
    server.serve_forever()

Python owns the listening socket: it accepts on the loop, hands each connection's fd to
``ssh_bind_accept_fd`` (the session closes it when it ends) and drives the session
nonblocking. The ``ssh_bind`` only carries the host keys and algorithm settings every session
copies.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, Union

from .._binding import NULL
from .._binding import server as _c
from ..errors import ClosedError, SSHConnectionError, SSHError, UnsupportedKeyTypeError
from ..events import EventEmitter
from ..keys import Key, KeyType
from ..loop import Loop, locked, reap_unclosed
from ..timeouts import DEFAULT, Timeout
from . import descriptors
from . import workers as _workers
from .fdlimit import exhausted_message, raise_open_files_limit
from .limits import FailureDelay, limit_options, parse_time
from .messages import auth_method_mask
from .session import ServerSession

__all__ = ["Server", "create_server"]

log = logging.getLogger("pylibssh.server")

HostKey = Union[str, "os.PathLike[str]", Key]

_ACCEPT_BATCH = 64  # connections taken per readiness event, so one burst cannot starve the loop

# node-libssh's option spellings for host key files -> the key type they name
_NODE_KEY_OPTIONS = {
    "host_rsa_key_file": "rsa", "hostRsaKeyFile": "rsa",
    "host_ecdsa_key_file": "ecdsa", "hostEcdsaKeyFile": "ecdsa",
    "host_ed25519_key_file": "ed25519", "hostEd25519KeyFile": "ed25519",
    "host_dsa_key_file": "dsa", "hostDsaKeyFile": "dsa",
}

_DEFAULTS: dict[str, Any] = {
    "auth_methods": ("publickey", "password"),
    "backlog": 511,
    "workers": None,
    "reuse_port": None,
    "drain_timeout": 30.0,
}

_REFUSED_LINE = b"Exceeded MaxStartups\r\n"  # what sshd writes to a connection it drops


def create_server(host_keys: Iterable[HostKey] | HostKey | None = None, **options: Any) -> Server:
    """A new :class:`Server`; see there for the options. Bad options raise at once."""
    return Server(host_keys=host_keys, **options)


class Server(EventEmitter):
    """An SSH server on a :class:`~pylibssh.loop.Loop`.

    Options (keyword-only):

    - ``host_keys``: host key file paths and/or private :class:`~pylibssh.Key` objects, at most
      one per type (Ed25519, ECDSA, RSA). node-libssh's ``host_rsa_key_file`` (also
      ``hostRsaKeyFile``), ``host_ecdsa_key_file`` and ``host_ed25519_key_file`` are accepted too.
    - ``banner``: the software version in the server's identification line
      (``SSH-2.0-<banner>``); libssh's own by default.
    - ``loop``: the :class:`~pylibssh.loop.Loop` to run on (share one between servers and
      clients); a new one by default.
    - ``auth_methods``: methods offered to clients (default ``["publickey", "password"]``; also
      ``"keyboard-interactive"``, ``"none"``).
    - ``key_exchange``, ``ciphers``, ``hmacs``, ``hostkey_algorithms``,
      ``pubkey_accepted_types``: algorithm lists (comma-separated text or a list).
    - ``backlog``: the listening socket's backlog (default 511).
    - ``workers``: serve from this many worker processes, supervised by this process (one
      per CPU: ``workers=default_workers()``, from :mod:`pylibssh.server.workers`); None (the
      default) serves from this process alone. See :mod:`pylibssh.server.workers`
      for what runs where and the signals; in short, ``listen()`` makes the listening sockets
      here, ``serve_forever()`` forks the workers (every listener runs in each of them) and
      returns once they have stopped.
    - ``reuse_port``: with workers, False makes them all accept on one inherited socket even
      where the system could give each its own (``SO_REUSEPORT``); None (default) picks.
    - ``drain_timeout`` (30 s; sshd's time format too): how long :meth:`drain` (and SIGTERM to
      a server with workers) lets sessions run before disconnecting them; None: no limit.
    - ``debug``: log connections, authentication and requests (logger ``pylibssh.server``) to
      stderr when logging is not configured otherwise. Nothing is ever printed on stdout.

    Limits, with OpenSSH's names, meanings and defaults (times in seconds or in sshd's format,
    ``"2m"``, ``"1h30m"``; None turns a limit off; see :mod:`pylibssh.server.limits`):

    - ``login_grace_time`` (120 s; sshd's LoginGraceTime, 0 also means none): a connection not
      authenticated by then is dropped.
    - ``max_auth_tries`` (6; MaxAuthTries): authentication failures after which the client is
      disconnected. Each refused request counts (a refused public-key probe too), except the
      first request of a connection when it is ``none`` (clients ask it to learn the methods).
      Failures are logged at INFO from half the limit on (and for passwords), DEBUG before.
      The older name ``max_auth_attempts`` means the same.
    - ``max_startups`` (``"10:30:100"``; MaxStartups ``start:rate:full``): once ``start``
      connections are unauthenticated (key exchange included), a new connection is refused
      with probability ``rate`` %, rising linearly to 100 % at ``full``; a refused connection
      gets sshd's ``Exceeded MaxStartups`` line and is closed. The older
      ``max_unauthenticated=N`` is ``max_startups=N``: every new connection refused from N on.
    - ``max_sessions`` (10; MaxSessions): session channels a client may have open at once on a
      connection (shells, commands, subsystems such as SFTP; 0 refuses them all); the 11th is
      refused as sshd does (``administratively prohibited``). Forwarding channels do not
      count.
    - ``max_forward_channels`` (128): forwarding channels (``direct-tcpip``,
      ``direct-streamlocal@openssh.com``) a client may have open at once on a connection,
      refused the same way beyond it. sshd has no such setting (its only bound is 16384
      channels of any kind); each open channel may hold its SSH window (2 MiB) of data.
    - ``idle_timeout`` (off): disconnect a connection after this long with no traffic in either
      direction: nothing received from the client (keepalives included) and nothing sent.
    - ``auth_failure_delay`` (0.005 s): sshd's minimum time for an authentication failure,
      plus 0-4.3 ms that depend on the user name; the failure is sent from a timer (the loop
      serves everyone else meanwhile) and the connection's next request is taken after it.
      Successes are not delayed, nor failures of ``none``. 0 or None answers at once.

    An unknown option (or one given under both its names) raises TypeError, a bad value
    ValueError, at once.

    Events: ``ready`` (listening; with workers, in each worker once it accepts),
    ``connection`` (a :class:`ServerSession` whose key exchange is done), ``reload``
    (:meth:`reload`, or SIGHUP to a server with workers: reread keys or configuration),
    ``close``.

    Creating a server raises the process's soft limit on open descriptors to its hard limit
    (:mod:`pylibssh.server.fdlimit`): every connection costs one.
    """

    events = frozenset({"connection", "ready", "close", "reload"})

    def __init__(self, *, host_keys: Iterable[HostKey] | HostKey | None = None,
                 banner: str | None = None, loop: Loop | None = None, debug: bool = False,
                 **options: Any):
        super().__init__()
        keys = _collect_host_keys(host_keys, options)
        opts = dict(_DEFAULTS)
        opts.update(limit_options(options))
        algorithms: dict[str, str] = {}
        for name, value in options.items():
            if name in _c.ALGORITHM_OPTIONS:
                algorithms[name] = _algorithm_list(name, value)
            elif name in _DEFAULTS:
                opts[name] = value
            else:
                raise TypeError(f"create_server() got an unknown option {name!r}")
        _validate(opts)
        self._options = opts
        self._auth_mask = auth_method_mask(opts["auth_methods"])
        self._failure_delay = (FailureDelay(opts["auth_failure_delay"])
                               if opts["auth_failure_delay"] else None)
        if banner is not None and (not isinstance(banner, str) or not banner
                                   or any(c in banner for c in "\r\n\0")):
            raise ValueError("banner must be one line of text (the software version)")
        if loop is not None and not isinstance(loop, Loop):
            raise TypeError("loop must be a pylibssh.Loop")
        if debug:
            _enable_debug_logging()

        raise_open_files_limit()
        self._loop = loop or Loop("pylibssh-server")
        self._loop._owned = loop is None  # (its collection is the server's: see __del__)
        self._bind = _c.bind_new()
        try:
            for key in keys:
                _c.bind_import_key(self._bind, key._dup(), key.type_name)
            if banner is not None:
                _c.bind_set_banner(self._bind, banner)
            for name, value in algorithms.items():
                for option in _c.ALGORITHM_OPTIONS[name]:
                    _c.bind_set_option(self._bind, option, value, name)
        except BaseException:
            _c.bind_free(self._bind)
            self._bind = NULL
            raise
        self.host_keys = [k.public_key() for k in keys]
        self._sock: socket.socket | None = None
        self._fd = -1
        self._closed = False
        self._sessions: set[ServerSession] = set()
        self._unauthenticated: set[ServerSession] = set()
        self._dropped = 0  # connections refused since max_startups throttling began
        self.address: tuple[Any, ...] | None = None
        #: with workers: the worker's index (0 to workers - 1) in a worker, None in the
        #: supervisor (and in a server without workers)
        self.worker: int | None = None
        self._worker_sockets: list[socket.socket] = []  # made by listen(), for the workers
        self._ready_callback: Callable[..., Any] | None = None
        self._supervisor: _workers.Supervisor | None = None
        self._draining = False
        self._drain_timer: Any = None
        self._accept_batch = _ACCEPT_BATCH
        self._close_callbacks: list[Callable[[], Any]] = []  # the supervisor's close(callback)

    # -- listening -------------------------------------------------------------------------------

    @locked
    def listen(self, port: int, host: str | Callable[..., Any] = "",
               callback: Callable[..., Any] | None = None, *, backlog: int | None = None
               ) -> Server:
        """Listen on ``host`` (all IPv4 interfaces when empty; ``"::"`` for IPv6) and ``port``
        (0 picks a free port: read it from :attr:`port` afterwards). ``ready`` is emitted, and
        ``callback(server)`` called, once the loop runs (node's ``listen(port, cb)`` works too).
        Returns the server."""
        if callable(host):
            callback = host
            host = ""
        address = str(host)
        if self._closed:
            raise ClosedError("the server is closed")
        if self._sock is not None:
            raise RuntimeError(f"the server already listens on {self.address}")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"invalid port {port!r}")
        if self._worker_sockets:
            raise RuntimeError(f"the server already listens on {self.address}")
        infos = socket.getaddrinfo(address or "0.0.0.0", port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        count = self._options["workers"]
        socks = _workers.listening_sockets(infos[0], backlog or self._options["backlog"],
                                           count or 1, self._options["reuse_port"] if count
                                           else False)
        self.address = socks[0].getsockname()
        if count:
            # the workers accept (serve_forever forks them); this process only keeps these
            self._worker_sockets = socks
            self._ready_callback = callback
            log.info("listening on %s:%d with %d worker(s) (%s)", self.address[0],
                     self.address[1], count, "a socket each" if len(socks) > 1
                     else "one shared socket")
            return self
        self._adopt_listener(socks[0])
        log.info("listening on %s:%d", self.address[0], self.address[1])
        self._loop.call_soon(self._ready, callback)
        return self

    def _adopt_listener(self, sock: socket.socket) -> None:
        self._sock = sock
        self._fd = sock.fileno()
        self._loop.add_reader(self._fd, self._on_acceptable)

    def _serve_as_worker(self, index: int, sock: socket.socket, shared: bool) -> None:
        """In a new worker process (workers.py): accept on ``sock`` from this process's loop.
        A worker that ``shared`` its socket with others takes one connection per wakeup (they
        all wake for each), so that they share the connections arriving together."""
        self.worker = index
        if shared:
            self._accept_batch = 1
        self._worker_sockets = []
        self._supervisor = None
        with self._loop.lock:
            self._adopt_listener(sock)
            self._loop.call_soon(self._ready, self._ready_callback)

    def _ready(self, callback: Callable[..., Any] | None) -> None:
        if self._closed:
            return
        self._emit_safely("ready")
        if callback is not None:
            try:
                callback(self)
            except Exception:
                log.exception("the listen() callback raised")

    @property
    def port(self) -> int | None:
        """The port listened on (the one picked when listening on port 0)."""
        return self.address[1] if self.address else None

    @property
    def loop(self) -> Loop:
        """The loop that drives the server."""
        return self._loop

    @property
    def listening(self) -> bool:
        """Whether the server is listening (open and bound)."""
        return self._sock is not None and not self._closed

    @property
    def closed(self) -> bool:
        """Whether the server is closed."""
        return self._closed

    @property
    def sessions(self) -> list[ServerSession]:
        """The connections being served now."""
        with self._loop.lock:
            return list(self._sessions)

    def _on_acceptable(self) -> None:
        descriptors.take_spare()
        for _ in range(self._accept_batch):
            if self._sock is None:
                return
            try:
                conn, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if (exc.errno in (errno.EMFILE, errno.ENFILE)
                        and descriptors.shed_connection(self._sock)):
                    # the client learns it now, rather than waiting in the listen queue
                    log.warning("out of file descriptors: a new connection was closed (%s)",
                                exhausted_message(exc) or exc)
                    continue
                # nothing to shed it with: pause accepting instead of spinning on it
                log.warning("accept failed (%s); pausing new connections for 0.5 s: %s", exc,
                            exhausted_message(exc) or "")
                self._loop.remove_reader(self._fd)
                self._loop.call_later(0.5, self._resume_accepting)
                return
            self._accept(conn, addr)

    def _resume_accepting(self) -> None:
        if self._sock is not None and not self._closed:
            self._loop.add_reader(self._fd, self._on_acceptable)

    @locked
    def accept_socket(self, sock: socket.socket, address: Any = None) -> ServerSession:
        """Serve a connection the application accepted itself (a connected TCP or UNIX stream
        socket): the socket is detached (the session closes its descriptor when it ends; the
        socket object is closed). ``address`` is the client's address (``sock.getpeername()`` by
        default). Returns the :class:`ServerSession`; ``connection`` is emitted once its key
        exchange is done, like for connections accepted by :meth:`listen`. The server need not
        listen; its loop must run (:meth:`start`, or a thread that waits on it).
        ``max_startups`` applies: a refused socket gets sshd's ``Exceeded MaxStartups`` line, is
        closed, and :class:`~pylibssh.errors.SSHConnectionError` is raised."""
        if self._closed or self._draining:
            raise ClosedError("the server is " + ("closed" if self._closed else "draining"))
        if self._options["workers"] and self.worker is None:
            raise RuntimeError("a server with workers accepts connections in its workers")
        if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
            raise TypeError("accept_socket() takes a connected stream socket")
        if address is None:
            try:
                address = sock.getpeername()
            except OSError:
                address = None
        session = self._accept(sock, address)
        if session is None:
            raise SSHConnectionError(f"connection from {_where(address)} refused (see the "
                                     "pylibssh.server log)")
        if not self._loop.in_loop_thread():
            self._loop.wakeup()
        return session

    def _accept(self, conn: socket.socket, addr: Any) -> ServerSession | None:
        if self._over_max_startups(addr):
            try:
                conn.setblocking(False)
                conn.send(_REFUSED_LINE)  # best effort, as sshd: the socket buffer takes it
            except OSError:
                pass
            conn.close()
            return None
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn.setblocking(False)
        fd = conn.detach()
        try:
            c_session = _c.accept_fd(self._bind, fd)
        except MemoryError as exc:
            log.error("%s", exc)
            return None
        except SSHError as exc:
            log.error("accepting %s failed: %s", _where(addr), exc)
            return None
        session = ServerSession(self, c_session, addr)
        self._sessions.add(session)
        self._unauthenticated.add(session)
        log.info("connection from %s", _where(addr))
        try:
            session._start()
        except Exception:
            log.exception("could not start serving %s", _where(addr))
            session._teardown(send_disconnect=False)
            return None
        return session

    def _over_max_startups(self, addr: Any) -> bool:
        """max_startups' decision for a new connection, logged as sshd does: once when the
        throttling begins, once when it ends, each refusal at DEBUG."""
        limit = self._options["max_startups"]
        if limit is None:
            return False
        count = len(self._unauthenticated)
        if not limit.should_drop(count):
            if self._dropped and count < limit.start:
                log.info("exited max_startups throttling: %d connections refused", self._dropped)
                self._dropped = 0
            return False
        if not self._dropped:
            log.warning("beginning max_startups throttling (%s): %d connections are not "
                        "authenticated yet", limit, count)
        self._dropped += 1
        log.debug("refused connection #%d from %s past max_startups", self._dropped,
                  _where(addr))
        return True

    # -- sessions --------------------------------------------------------------------------------

    def _emit_connection(self, session: ServerSession) -> None:
        try:
            self.emit("connection", session)
        except Exception:
            log.exception("a 'connection' listener raised; closing that connection")
            session._teardown(send_disconnect=True)

    def _authenticated(self, session: ServerSession) -> None:
        self._unauthenticated.discard(session)

    def _session_closed(self, session: ServerSession) -> None:
        self._sessions.discard(session)
        self._unauthenticated.discard(session)
        if self._draining and not self._sessions:
            self._loop.call_soon(self.close)  # not inside the session's teardown

    # -- running ---------------------------------------------------------------------------------

    def serve_forever(self, timeout: float | None = None) -> bool:
        """Serve until :meth:`close` (from a listener, a timer or another thread) or
        ``loop.stop()``; with ``timeout``, at most that many seconds. Runs the loop in this
        thread, or waits for the thread that runs it. True when the server was closed.

        With ``workers``: forks the workers (the first time) and supervises them until they
        have all stopped (True: SIGTERM/SIGINT, :meth:`drain` or :meth:`close`) or ``timeout``
        passed (False; they keep running). Signals are taken only when this runs in the main
        thread. RuntimeError if the server's loop runs (it must not before the fork)."""
        if self._options["workers"] and self.worker is None:
            return self._supervise(timeout)
        if not self._closed and self._sock is None:
            raise RuntimeError("call listen() before serve_forever()")
        return self._loop.wait_for(lambda: self._closed, timeout)

    def _supervise(self, timeout: float | None) -> bool:
        if self._supervisor is None:
            if self._closed:
                return True
            if not self._worker_sockets:
                raise RuntimeError("call listen() before serve_forever()")
            if self._loop.running:
                raise RuntimeError("the server's loop runs in a thread: workers cannot be "
                                   "forked from it (do not start() a server with workers)")
            self._supervisor = _workers.Supervisor(self, self._worker_sockets,
                                                   self._options["workers"],
                                                   self._options["drain_timeout"])
        done = self._supervisor.run(timeout)
        if done and not self._closed:
            with self._loop.lock:
                self._closed = True
                self._worker_sockets = []
                _c.bind_free(self._bind)
                self._bind = NULL
            for callback in self._close_callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("a close() callback raised")
            self._close_callbacks.clear()
        return done

    @property
    def worker_pids(self) -> list[int]:
        """In the supervisor of a server with workers: the workers' process ids, by index
        (empty before ``serve_forever()`` and once they stopped)."""
        return self._supervisor.pids if self._supervisor is not None else []

    def start(self) -> threading.Thread | None:
        """Run the server's loop in a background thread (returns the thread; None on an
        asyncio loop, which runs already); stop with
        :meth:`close` or ``server.loop.stop()`` from any thread. RuntimeError for a server
        with workers, which serves from ``serve_forever()``."""
        if self._options["workers"] and self.worker is None:
            raise RuntimeError("a server with workers runs them from serve_forever()")
        return self._loop.start()

    def reload(self) -> None:
        """Emit ``reload`` on the loop thread (from any thread): listeners reread what they
        loaded at start (authorized keys, configuration). With workers, from the supervisor:
        every worker does (as SIGHUP does)."""
        if self._supervisor is not None:
            self._supervisor.reload()
            return
        if not self._closed:
            self._loop.call_soon(self._emit_safely, "reload")

    def drain(self, timeout: Timeout = DEFAULT, callback: Callable[[], Any] | None = None) -> None:
        """Stop accepting (the listening socket is closed: new connections are refused) and
        :meth:`close` once every session has ended, or after ``timeout`` seconds (default: the
        server's ``drain_timeout``; None: no limit), disconnecting the sessions left then.
        ``callback()`` is called at the close. Idempotent; safe from any thread. With workers,
        from the supervisor: every worker drains (as SIGTERM does), and ``serve_forever()``
        returns once they have stopped."""
        seconds: float | None = (self._options["drain_timeout"] if timeout is DEFAULT
                                 else None if timeout is None else parse_time(timeout))
        if self._supervisor is not None:
            if callback is not None:
                raise TypeError("drain() takes no callback in the supervisor of a server "
                                "with workers: serve_forever() returns once they stopped")
            self._supervisor.stop(graceful=True)
            return
        with self._loop.lock:
            if self._closed:
                if callback is not None:
                    callback()
                return
            if callback is not None:
                self.once("close", callback)
            if self._draining:
                return
            self._draining = True
            self._stop_listening()
            log.info("draining: %d session(s) left%s", len(self._sessions),
                     f", disconnected in {seconds:g} s" if seconds is not None and self._sessions
                     else "")
            if not self._sessions:
                self._loop.call_soon(self.close)
            elif seconds is not None:
                self._drain_timer = self._loop.call_later(seconds, self.close)
        if not self._loop.in_loop_thread():
            self._loop.wakeup()

    def _stop_listening(self) -> None:
        if self._sock is not None:
            self._loop.remove_fd(self._fd)
            self._sock.close()
            self._sock = None
        for sock in self._worker_sockets:
            sock.close()
        self._worker_sockets = []

    def close(self, callback: Callable[[], Any] | None = None) -> None:
        """Stop accepting, disconnect every session (their channels close first) and free the
        host keys; ``close`` is emitted (and ``callback()`` called) before this returns.
        Idempotent; safe from any thread and from listeners. With workers, from the
        supervisor: every worker does so at once, and ``serve_forever()`` returns once they
        have stopped (``callback()`` is called then, in its thread; no event is emitted in the
        supervisor: its listeners run in the workers)."""
        if self._supervisor is not None and not self._supervisor.done:
            if callback is not None:
                self._close_callbacks.append(callback)
            self._supervisor.stop(graceful=False)
            return
        with self._loop.lock:
            if self._closed:
                if callback is not None:
                    callback()
                return
            if callback is not None:
                self.once("close", callback)
            self._closed = True
            if self._drain_timer is not None:
                self._drain_timer.cancel()
                self._drain_timer = None
            self._stop_listening()
            for session in list(self._sessions):
                session.close(timeout=None)  # at once: the loop may stop right after this
            self._sessions.clear()
            self._unauthenticated.clear()
            if self._bind != NULL:
                _c.bind_free(self._bind)
                self._bind = NULL
            log.info("server closed")
            self._emit_safely("close")
            self.remove_all_listeners()
            self._loop.cond.notify_all()
        if not self._loop.in_loop_thread():
            self._loop.wakeup()

    def _emit_safely(self, event: str, *args: Any) -> None:
        try:
            self.emit(event, *args)
        except Exception:
            log.exception("a server %r listener raised", event)

    def __del__(self) -> None:
        # collected without close(): say so, and let the loop close it (sessions and their
        # channels, the listening socket, the bind), never from here (see Loop._reap)
        if not getattr(self, "_closed", True):
            reap_unclosed(self, self._loop, self.close)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"listening on {self.address}" if self._sock \
            else "not listening"
        return f"<pylibssh.Server {state} sessions={len(self._sessions)}>"


# -- option handling -------------------------------------------------------------------------------

_KIND_OF = {
    KeyType.ED25519: "ed25519",
    KeyType.RSA: "rsa",
    KeyType.ECDSA_P256: "ecdsa",
    KeyType.ECDSA_P384: "ecdsa",
    KeyType.ECDSA_P521: "ecdsa",
}


def _collect_host_keys(host_keys: Any, options: dict[str, Any]) -> list[Key]:
    items: list[tuple[Any, str | None]] = []
    if host_keys is not None:
        if isinstance(host_keys, (str, bytes, os.PathLike, Key)):
            host_keys = [host_keys]
        items += [(k, None) for k in host_keys]
    for name in list(options):
        if name in _NODE_KEY_OPTIONS:
            value = options.pop(name)
            if value is not None:
                items.append((value, _NODE_KEY_OPTIONS[name]))
    keys: list[Key] = []
    seen: dict[str, Key] = {}
    for item, expected in items:
        if expected == "dsa":
            raise UnsupportedKeyTypeError("DSA host keys are not supported (libssh 0.12 dropped "
                                          "DSA); use an Ed25519, ECDSA or RSA key")
        if isinstance(item, Key):
            key = item
            where = repr(key)
        elif isinstance(item, (str, os.PathLike)):
            key = Key.from_private_file(item)  # OSError / KeyFormatError name the file
            where = os.fspath(item)
        else:
            raise TypeError(f"a host key is a file path or a pylibssh.Key, not "
                            f"{type(item).__name__}")
        if not key.is_private:
            raise ValueError(f"host key {where} is a public key; the server needs the private key")
        kind = _KIND_OF.get(key.type)  # type: ignore[call-overload]
        if kind is None:
            raise UnsupportedKeyTypeError(f"host key {where}: {key.type_name} keys cannot be "
                                          "host keys")
        if expected is not None and kind != expected:
            raise ValueError(f"host key {where} is a {key.type_name} key, not {expected}")
        if kind in seen:
            raise ValueError(f"two {kind} host keys: a server has at most one key per type")
        seen[kind] = key
        keys.append(key)
    if not keys:
        raise ValueError("a server needs at least one host key (host_keys=[path or Key])")
    return keys


def _algorithm_list(name: str, value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, Iterable):
        text = ",".join(str(v) for v in value)
    else:
        raise TypeError(f"{name} must be a comma-separated string or a list of names")
    text = text.replace(" ", "")
    if not text:
        raise ValueError(f"{name} must name at least one algorithm")
    return text


def _validate(opts: dict[str, Any]) -> None:
    backlog = opts["backlog"]
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
        raise ValueError(f"backlog must be an integer >= 1, not {backlog!r}")
    auth_method_mask(opts["auth_methods"])
    workers = opts["workers"]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be an integer >= 1 or None, not {workers!r}")
    if opts["reuse_port"] not in (None, True, False):
        raise ValueError(f"reuse_port must be True, False or None, not {opts['reuse_port']!r}")
    if opts["drain_timeout"] is not None:
        try:
            opts["drain_timeout"] = parse_time(opts["drain_timeout"])
        except ValueError as exc:
            raise ValueError(f"drain_timeout: {exc}") from None


_debug_handler: logging.Handler | None = None


def _enable_debug_logging() -> None:
    """debug=True: the server's log at DEBUG, on stderr unless the app configured logging."""
    global _debug_handler
    logger = logging.getLogger("pylibssh.server")
    logger.setLevel(logging.DEBUG)
    if _debug_handler is None and not logging.getLogger().handlers:
        _debug_handler = logging.StreamHandler(sys.stderr)
        _debug_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        logger.addHandler(_debug_handler)


def _where(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
