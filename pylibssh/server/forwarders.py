"""Ready-made forwarding handlers for a server session.

::

    from pylibssh.server import connect_handler, listen_handler

    @server.on("connection")
    def on_connection(session):
        ...
        # ssh -L / -D / -W: connect to allowed destinations (UNIX sockets too)
        session.on("tcpip", connect_handler(allow=["127.0.0.1:*", "localhost:8080"]))
        session.on("openssh.streamlocal", connect_handler(allow=["/run/app/*.sock"]))
        # ssh -R: listen on allowed loopback ports and forward what arrives
        session.on("request", listen_handler(allow=["localhost:*", "127.0.0.1:*"]))

Allow-lists: each entry is ``"host:port"`` (``*`` and ``?`` globs in either part, ``[v6]:port``
for IPv6), a ``(host, port)`` pair (port ``None`` or ``"*"`` for any), a UNIX socket path glob
(starting with ``/``), ``"*"`` for everything, or a callable ``(host, port) -> bool`` (``port`` is
None for a socket path). Hosts are matched as the client wrote them (no resolution).

Connections and listening sockets are nonblocking sockets on the session's loop; each
connection is copied by a :class:`~pylibssh.bridge.Bridge` (back-pressure, half-close, close
propagated).
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Union

from ..bridge import Bridge
from .forwarding import ChannelOpenMessage, ForwardChannel, GlobalRequestMessage

if TYPE_CHECKING:
    from ..loop import TimerHandle
    from .session import ServerSession

__all__ = ["connect_handler", "listen_handler", "Allow"]

log = logging.getLogger("pylibssh.server")

Allow = Union[str, tuple[Any, ...], Callable[[str, Any], bool], Iterable[Any]]

CONNECT_TIMEOUT = 10.0


# -- allow-lists ---------------------------------------------------------------------------------

def _split_hostport(entry: str) -> tuple[str, str]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest.lstrip(":") or "*"
    host, sep, port = entry.rpartition(":")
    if not sep:
        return entry, "*"
    return host, port or "*"


def _matcher(allow: Allow) -> Callable[[str, Any], bool]:
    if callable(allow):
        return allow
    entries = [allow] if isinstance(allow, (str, tuple)) else list(allow)
    rules: list[Callable[[str, Any], bool]] = []
    for entry in entries:
        if callable(entry):
            rules.append(entry)
        elif isinstance(entry, tuple):
            host, port = entry
            rules.append(_rule(str(host), "*" if port in (None, "*") else str(int(port))))
        elif isinstance(entry, str):
            if entry == "*":
                rules.append(lambda host, port: True)
            elif entry.startswith("/"):
                rules.append(_path_rule(entry))
            else:
                rules.append(_rule(*_split_hostport(entry)))
        else:
            raise TypeError(f"bad allow-list entry {entry!r}")
    return lambda host, port: any(rule(host, port) for rule in rules)


def _rule(host_pat: str, port_pat: str) -> Callable[[str, Any], bool]:
    host_pat = host_pat.lower()

    def rule(host: str, port: Any) -> bool:
        return (port is not None and fnmatch.fnmatchcase((host or "").lower(), host_pat)
                and fnmatch.fnmatchcase(str(port), port_pat))
    return rule


def _path_rule(path_pat: str) -> Callable[[str, Any], bool]:
    def rule(host: str, port: Any) -> bool:
        return port is None and fnmatch.fnmatchcase(host, path_pat)
    return rule


# -- connecting (direct-tcpip, direct-streamlocal) ----------------------------------------------

def connect_handler(allow: Allow, *, timeout: float = CONNECT_TIMEOUT,
                    on_bridge: Callable[[Bridge], Any] | None = None
                    ) -> Callable[[ChannelOpenMessage], None]:
    """A ``tcpip`` / ``openssh.streamlocal`` listener: destinations on the allow-list are
    connected to (nonblocking, on the loop) and the channel is accepted once the connection is
    up, as OpenSSH's sshd does; others are refused as ``prohibited``, failed connections as
    ``connect-failed`` with the system's reason. ``on_bridge`` sees each new bridge."""
    allowed = _matcher(allow)

    def on_open(msg: ChannelOpenMessage) -> None:
        if msg.subtype == "tcpip":
            host, port = msg.dest_ip or "", msg.dest_port
        else:
            host, port = msg.socket_path or "", None
        if not allowed(host, port):
            log.info("%r: forwarding to %s refused (not allowed)", msg.session,
                     host if port is None else f"{host}:{port}")
            msg.reject("prohibited", "forwarding to this destination is not allowed")
            return
        _Connector(msg, host, port, timeout, on_bridge).start()

    return on_open


class _Connector:
    """Connects a socket for one channel-open message without blocking the loop."""

    def __init__(self, msg: ChannelOpenMessage, host: str, port: int | None, timeout: float,
                 on_bridge: Callable[[Bridge], Any] | None):
        self.msg = msg
        self.session = msg.session
        self.loop = msg.session.loop
        self.host, self.port = host, port
        self.timeout = timeout
        self.on_bridge = on_bridge
        self.sock: socket.socket | None = None
        self.timer: TimerHandle | None = None
        self.addresses: list[tuple[Any, ...]] = []
        self.last_error: OSError | None = None

    def start(self) -> None:
        self.timer = self.loop.call_later(self.timeout, self._timed_out)
        if self.port is None:
            self.addresses = [(socket.AF_UNIX, self.host)]
            self._next()
            return
        try:  # numeric addresses resolve at once
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            # a name: resolve in a thread, not on the loop
            threading.Thread(target=self._resolve, daemon=True,
                             name="pylibssh-resolve").start()
            return
        self._resolved(infos, None)

    def _resolve(self) -> None:
        try:
            infos, err = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM), None
        except OSError as exc:
            infos, err = [], exc
        self.loop.call_soon(self._resolved, infos, err)

    def _resolved(self, infos: list[Any], err: OSError | None) -> None:
        with self.loop.lock:
            if self.msg.replied:
                return
            self.addresses = [(family, sockaddr) for family, _, _, _, sockaddr in infos]
            if err is not None:
                self.last_error = err
            self._next()

    def _next(self) -> None:
        """Try the next address (the loop lock is held)."""
        if not self.addresses:
            err = self.last_error
            self._fail(str(err.strerror if isinstance(err, OSError) and err.strerror else err
                           or "no address"))
            return
        family, sockaddr = self.addresses.pop(0)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.last_error = exc
            self._next()
            return
        sock.setblocking(False)
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        rc = sock.connect_ex(sockaddr)
        if rc == 0:
            self._connected()
        elif rc in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            self.loop.add_writer(sock.fileno(), self._writable)
        else:
            self.last_error = OSError(rc, os.strerror(rc))
            self._drop_socket()
            self._next()

    def _writable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        self.loop.remove_writer(sock.fileno())
        rc = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if rc:
            self.last_error = OSError(rc, os.strerror(rc))
            self._drop_socket()
            self._next()
        else:
            self._connected()

    def _connected(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        self._cancel_timer()
        if self.msg.replied or self.session.closed:
            self.loop.remove_fd(sock.fileno())
            sock.close()
            return
        try:
            channel = self.msg.accept()
        except Exception as exc:
            log.debug("%r: accepting the forwarded channel failed: %s", self.session, exc)
            self.loop.remove_fd(sock.fileno())
            sock.close()
            return
        log.debug("%r: forwarding to %s", self.session,
                  self.host if self.port is None else f"{self.host}:{self.port}")
        bridge = Bridge(channel, sock)
        if self.on_bridge is not None:
            self.on_bridge(bridge)

    def _drop_socket(self) -> None:
        if self.sock is not None:
            self.loop.remove_fd(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def _timed_out(self) -> None:
        self.timer = None
        self.addresses = []
        self._drop_socket()
        self._fail("connection timed out")

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, reason: str) -> None:
        self._cancel_timer()
        where = self.host if self.port is None else f"{self.host}:{self.port}"
        log.info("%r: forwarding to %s failed: %s", self.session, where, reason)
        if not self.msg.replied and not self.session.closed:
            try:
                self.msg.reject("connect-failed", f"connect to {where} failed: {reason}")
            except Exception:
                log.debug("rejecting", exc_info=True)


# -- listening (tcpip-forward, streamlocal-forward) ---------------------------------------------

_ANY_ADDRESS = ("", "0.0.0.0", "*", "::")
_LOOPBACK_NAMES = ("localhost",)


class _Listener:
    """A listening socket for one remote forward of one session."""

    def __init__(self, session: ServerSession, request: GlobalRequestMessage, sock: socket.socket,
                 forwarders: _Forwards):
        self.session = session
        self.loop = session.loop
        self.sock = sock
        self.forwards = forwarders
        self.unix = request.socket_path is not None
        self.path = request.socket_path
        self.bind_addr = request.bind_addr or ""
        self.port = 0 if self.unix else sock.getsockname()[1]
        self.bridges: set[Bridge] = set()
        self.closed = False
        self.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(64):  # a burst must not starve the loop
            try:
                conn, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("%r: accept failed: %s", self.session, exc)
                return
            conn.setblocking(False)
            try:
                if self.path is not None:
                    self.session.forward_out_streamlocal(self.path, self._opener(conn))
                else:
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.session.forward_out(
                        self.bind_addr, self.port, peer[0], peer[1], self._opener(conn))
            except Exception as exc:  # the session is closing
                log.debug("%r: cannot forward a connection: %s", self.session, exc)
                conn.close()
                self.close()
                return

    def _opener(self, conn: socket.socket
                ) -> Callable[[BaseException | None, ForwardChannel | None], None]:
        return lambda err, channel: self._opened(err, channel, conn)

    def _opened(self, err: BaseException | None, channel: ForwardChannel | None,
                conn: socket.socket) -> None:
        if err is not None or channel is None or self.closed:
            log.debug("%r: the client refused a forwarded connection: %s", self.session, err)
            conn.close()
            if channel is not None:
                channel.close()
            return
        bridge = Bridge(channel, conn, on_close=self.bridges.discard)
        self.bridges.add(bridge)

    def close(self) -> None:
        """Stop listening (connections already forwarded go on)."""
        if self.closed:
            return
        self.closed = True
        self.loop.remove_fd(self.sock.fileno())
        self.sock.close()
        if self.unix and self.path:
            try:
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            except OSError:
                pass


class _Forwards:
    """The remote forwards of one session, closed with it."""

    def __init__(self, session: ServerSession):
        self.session = session
        self.listeners: dict[Any, _Listener] = {}
        session.on("close", self.close)

    def close(self) -> None:
        for listener in list(self.listeners.values()):
            listener.close()
        self.listeners.clear()


def _bind_host(addr: str, gateway_ports: bool) -> list[str]:
    if addr in _ANY_ADDRESS:
        return ["0.0.0.0"] if gateway_ports else ["127.0.0.1"]
    if addr.lower() in _LOOPBACK_NAMES:
        return ["127.0.0.1"]
    return [addr]


def listen_handler(allow: Allow, *, gateway_ports: bool = False, backlog: int = 128
                   ) -> Callable[[GlobalRequestMessage], None]:
    """A ``request`` listener for ``ssh -R``: ``tcpip-forward`` on an allowed address binds a
    listening socket (port 0: the system picks one and the client is told which) and each
    connection to it is forwarded to the client over a ``forwarded-tcpip`` channel;
    ``streamlocal-forward@openssh.com`` does the same for a UNIX socket path;
    ``cancel-*`` stops listening. Binding to all interfaces (address ``""``, ``0.0.0.0``, ``*``)
    binds loopback only unless ``gateway_ports`` (as sshd's ``GatewayPorts no``). A bind that
    fails (a port already in use) refuses the request. Listeners close with the session."""
    allowed = _matcher(allow)
    sessions: dict[int, _Forwards] = {}

    def forwards_of(session: ServerSession) -> _Forwards:
        entry = sessions.get(id(session))
        if entry is None or entry.session is not session:
            entry = sessions[id(session)] = _Forwards(session)
            session.on("close", lambda: sessions.pop(id(session), None))
        return entry

    def on_request(msg: GlobalRequestMessage) -> None:
        name = msg.name
        forwards = forwards_of(msg.session)
        if name == "tcpip-forward":
            _listen_tcp(msg, forwards, allowed, gateway_ports, backlog)
        elif name == "streamlocal-forward@openssh.com":
            _listen_unix(msg, forwards, allowed, backlog)
        elif name in ("cancel-tcpip-forward", "cancel-streamlocal-forward@openssh.com"):
            key = msg.socket_path if msg.socket_path is not None else \
                (msg.bind_addr or "", msg.bind_port)
            listener = forwards.listeners.pop(key, None)
            if listener is None:
                msg.reject()
            else:
                listener.close()
                msg.accept()
        else:
            msg.reject()

    return on_request


def _listen_tcp(msg: GlobalRequestMessage, forwards: _Forwards, allowed: Callable[[str, Any], bool],
                gateway_ports: bool,
                backlog: int) -> None:
    addr, port = msg.bind_addr or "", msg.bind_port or 0
    if not allowed(addr, port):
        log.info("%r: remote forward %s:%s refused (not allowed)", msg.session, addr, port)
        msg.reject()
        return
    last: OSError | None = None
    for host in _bind_host(addr, gateway_ports):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        listener = _Listener(msg.session, msg, sock, forwards)
        # the client cancels with the address and the port it asked for... and port 0 means
        # the one it was told
        forwards.listeners[(addr, listener.port)] = listener
        log.info("%r: remote forward listening on %s:%d", msg.session, host, listener.port)
        msg.accept(listener.port)
        return
    log.info("%r: remote forward %s:%s failed: %s", msg.session, addr, port, last)
    msg.reject()


def _listen_unix(msg: GlobalRequestMessage, forwards: _Forwards,
                 allowed: Callable[[str, Any], bool], backlog: int) -> None:
    path = msg.socket_path or ""
    if not path or not allowed(path, None):
        log.info("%r: remote forward to %s refused (not allowed)", msg.session, path)
        msg.reject()
        return
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        log.info("%r: remote forward to %s failed: %s", msg.session, path, exc)
        msg.reject()
        return
    forwards.listeners[path] = _Listener(msg.session, msg, sock, forwards)
    msg.accept()
