"""Client port forwarding: local (``direct-tcpip`` / ``direct-streamlocal@openssh.com``, from a
local port or UNIX socket), remote (``tcpip-forward``) and single tunnels.

Remote UNIX-socket forwarding (``streamlocal-forward@openssh.com`` and its cancel, which libssh
0.12 cannot send) uses pylibssh's own global-request sender (csrc/pylibssh_client.c); the
server's ``forwarded-streamlocal@openssh.com`` channels arrive like ``forwarded-tcpip`` ones.

Every forwarded connection is a socket bridged to a channel by :class:`~pylibssh.bridge.Bridge`
on the client's loop, so the loop must run while forwards exist: a client with its own loop
starts it in a background thread at the first forward (see :func:`ensure_running`).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .._binding import HAS, unsupported
from .._binding import client as client_api
from .._binding.constants import SSH_AGAIN, SSH_REQUEST_DENIED
from ..bridge import Bridge
from .._channel import Channel
from ..errors import (
    RequestDeniedError,
    SSHError,
    UnsupportedError,
    error_from,
    last_error,
)
from ..events import EventEmitter
from ._task import AGAIN, TaskGen, wait
from .channels import DIRECT_STREAMLOCAL, DIRECT_TCPIP, open_channel_gen
from .incoming import FORWARDED_STREAMLOCAL, FORWARDED_TCPIP, ChannelOpenRequest

if TYPE_CHECKING:
    from ..loop import Loop
    from .client import Client
    from .session import ClientSession

log = logging.getLogger("pylibssh.client")

DEFAULT_TIMEOUT = 30.0

def ensure_running(client: Client) -> None:
    """Forwarding needs the loop to run when no call waits: start a client's own loop in a
    background thread (a shared loop is run by its owner)."""
    loop = client._loop
    if client._own_loop and not loop.running and not loop.closed:
        loop.start()


def _bridge(channel: Channel, sock: socket.socket,
            on_close: Callable[[Bridge], Any] | None = None) -> Bridge:
    """Bridge ``sock`` and a channel opened paused (so that nothing arrived unheard)."""
    bridge = Bridge(channel, sock, on_close)
    if channel.paused and not channel.closed:
        channel.resume()
    return bridge


# -- opening channels to the server's side -----------------------------------------------------

def open_direct_gen(session: ClientSession, dest: str | tuple[str, int],
                    orig: tuple[str, int] = ("127.0.0.1", 0)) -> TaskGen:
    """Open a ``direct-tcpip`` channel to ``(host, port)`` or a ``direct-streamlocal`` one to a
    socket path; the channel, paused (it holds what arrives until the bridge attaches). A
    refusal raises :class:`~pylibssh.errors.ChannelOpenError` with the server's reason (``reason``:
    "administratively prohibited"...) and text (``description``: "Connection refused"...)."""
    kind = DIRECT_STREAMLOCAL if isinstance(dest, str) else DIRECT_TCPIP
    return open_channel_gen(session, kind, dest, orig, paused=True)


def open_tunnel(client: Client, dest: str | tuple[str, int], timeout: float | None) -> socket.socket:
    """A connected socket whose other end is ``dest`` on the server's side (see
    :meth:`Client.open_tunnel`)."""
    ensure_running(client)
    session = client._session
    t = timeout or DEFAULT_TIMEOUT
    task = session.start_task(open_direct_gen(session, dest), f"tunnel to {dest}", t)
    channel: Channel = wait(client._loop, task.future, t + 5, "opening the tunnel")
    ours, theirs = socket.socketpair()
    _bridge(channel, ours)
    client._loop.wakeup()
    return theirs


# -- global requests ----------------------------------------------------------------------------
#
# Replies to global requests carry no id; they come in the order of the requests. The session's
# reply FIFO (csrc/pylibssh_client.c, ClientSession.global_replies) gives each reply to its own
# request: libssh's senders (tcpip-forward and its cancel) share one reply state in libssh, so
# they go one at a time and only while no other libssh request waits; pylibssh's own requests
# (streamlocal-forward@openssh.com and its cancel) and keepalives need no turn.

def _forget(session: ClientSession, replies: Any, seq: int | None) -> None:
    """A request given up (timeout, error): its reply, when it comes, goes to nobody."""
    if replies is not None and seq is not None and seq >= 0:
        if client_api.global_result(replies, seq) == -1:
            client_api.global_forget(session._s, replies, seq)


def global_request_gen(session: ClientSession, call: Callable[[], int], what: str) -> TaskGen:
    """Send one of libssh's global requests (``call``); its reply's leading uint32 (the port a
    tcpip-forward got), -1 when it had none or is unknown."""
    replies = session.global_replies()
    seq: int | None = None

    def acquire() -> Any:
        session._check_open()
        if session._global_busy or (replies is not None
                                    and not client_api.global_idle(session._s)):
            return AGAIN  # libssh waits for another reply
        session._global_busy = True
        return True

    def poll() -> Any:
        session._check_open()
        rc = call()
        if rc == SSH_AGAIN:
            return AGAIN
        if rc < 0:
            msg, code = last_error(session._s)
            if code == SSH_REQUEST_DENIED:
                raise RequestDeniedError(f"the server refused {what}")
            raise SSHError(f"{what}: {msg}")
        return rc

    yield acquire
    try:
        if replies is not None:
            seq = client_api.global_expect(replies, own=False)
            if seq < 0:
                raise SSHError(f"{what}: too many global requests wait for their replies")
        yield poll
        port = client_api.new_reply_port()
        if seq is not None:
            client_api.global_result(replies, seq, port)
        result: int = port[0]
        return result
    except BaseException:
        _forget(session, replies, seq)
        raise
    finally:
        session._global_busy = False
        session.kick()  # a task waiting for its turn


def own_global_request_gen(session: ClientSession, name: str, arg: str, what: str) -> TaskGen:
    """Send a want-reply global request with one string argument that libssh has no sender for
    (``streamlocal-forward@openssh.com``, its cancel) and wait for its reply. Raises
    :class:`UnsupportedError` in a build without ``HAS.streamlocal``."""
    if not HAS.streamlocal:
        raise UnsupportedError(unsupported("streamlocal", what))
    replies = session.global_replies()
    if replies is None:
        raise UnsupportedError(unsupported("global_replies", what))
    seq: int | None = None
    c_name, c_arg = name.encode(), arg.encode()
    if b"\0" in c_arg:
        raise SSHError(f"{what}: the path contains a NUL byte")

    def send() -> Any:
        nonlocal seq
        session._check_open()
        if not session._global_busy and not client_api.global_idle(session._s):
            # libssh waits for the reply to a request sent without the FIFO (straight through
            # libssh, e.g. by the paramiko layer): it comes first, so send after it
            return AGAIN
        seq = client_api.global_expect(replies, own=True)
        if seq < 0:
            seq = None
            return AGAIN  # many replies outstanding: wait for some
        if not client_api.global_request_path(session._s, c_name, c_arg):
            client_api.global_unexpect(replies, seq)
            seq = None
            raise error_from(session._s, f"{what}: sending the request")
        session.kick()
        return True

    def poll() -> Any:
        session._check_open()
        assert seq is not None  # (reserved by send)
        rc = client_api.global_result(replies, seq)
        if rc == -1:
            return AGAIN
        if rc == 0:
            raise RequestDeniedError(f"the server refused {what}")
        if rc < 0:
            raise SSHError(f"{what}: the reply was lost")
        return rc

    try:
        yield send
        result = yield poll
    except BaseException:
        _forget(session, replies, seq)
        raise
    return result


def raw_global_request_gen(session: ClientSession, name: str, payload: bytes, want_reply: bool,
                           what: str) -> TaskGen:
    """Send any global request (``payload``: its fields after the want-reply flag,
    SSH-encoded). With ``want_reply``, wait for the reply: its leading uint32 (-1 when it had
    none); raises RequestDeniedError when the server refused. Without, returns None once sent.
    Raises :class:`UnsupportedError` in a build without ``HAS.global_replies``."""
    replies = session.global_replies()
    if replies is None:
        raise UnsupportedError(unsupported("global_replies", what))
    seq: int | None = None
    c_name = name.encode()

    def send() -> Any:
        nonlocal seq
        session._check_open()
        if not session._global_busy and not client_api.global_idle(session._s):
            return AGAIN  # a request sent straight through libssh waits for its reply first
        if want_reply:
            seq = client_api.global_expect(replies, own=True)
            if seq < 0:
                seq = None
                return AGAIN  # many replies outstanding: wait for some
        if not client_api.global_request_raw(session._s, c_name, payload, want_reply):
            if seq is not None:
                client_api.global_unexpect(replies, seq)
                seq = None
            raise error_from(session._s, f"{what}: sending the request")
        session.kick()
        return True

    def poll() -> Any:
        session._check_open()
        assert seq is not None  # (reserved by send)
        rc = client_api.global_result(replies, seq, port)
        if rc == -1:
            return AGAIN
        if rc == 0:
            raise RequestDeniedError(f"the server refused {what}")
        if rc < 0:
            raise SSHError(f"{what}: the reply was lost")
        return port[0]

    port = client_api.new_reply_port()
    try:
        yield send
        if not want_reply:
            return None
        return (yield poll)
    except BaseException:
        _forget(session, replies, seq)
        raise


# -- local forwarding ----------------------------------------------------------------------------

def _listen(listen: str | tuple[str, int], backlog: int = 128) -> socket.socket:
    if isinstance(listen, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(listen)
        except OSError as exc:
            sock.close()
            raise SSHError(f"cannot listen on {listen}: {exc.strerror}") from exc
    else:
        host, port = listen
        infos = socket.getaddrinfo(host or "127.0.0.1", port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise SSHError(f"cannot listen on {host}:{port}: the address is already in "
                               "use") from exc
            raise SSHError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class _Forward(EventEmitter):
    """What forwarders share: the ``closed`` state, safe event emission, ``with`` support
    (closing at the end)."""

    events = frozenset({"connection", "error", "close"})

    _closed: bool

    def _emit(self, event: str, *args: Any) -> None:
        try:
            self.emit(event, *args)
        except Exception:
            log.exception("unhandled exception in a forwarder %r listener", event)

    def close(self) -> None:
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Listener(_Forward):
    """A local listening socket on the client's loop whose connections are forwarded.
    Events: ``connection`` (Bridge), ``error`` (exception, for a connection that could not be
    forwarded: its socket is closed), ``close``."""

    def __init__(self, client: Client, listen: str | tuple[str, int]):
        super().__init__()
        self._client = client
        self._loop: Loop = client._loop
        self._sock = _listen(listen)
        self.bridges: set[Bridge] = set()
        self._closed = False
        if isinstance(listen, str):
            self.path: str | None = listen
            self.host, self.port = "", 0
        else:
            self.path = None
            self.host, self.port = self._sock.getsockname()[:2]
        client._forwards.append(self)
        ensure_running(client)
        with self._loop.lock:
            session = client._session
            if session.closed:
                self.close()
                raise SSHError("the connection is closed")
            session.on("close", self.close)  # a dead connection stops its listeners
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, _addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("accept: %s", exc)
                return
            conn.setblocking(False)
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._handle(conn)
            except Exception as exc:  # noqa: BLE001 - one connection's failure
                conn.close()
                self._error(exc)

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _forward(self, conn: socket.socket, dest: str | tuple[str, int],
                 on_open: Callable[[Channel | None, BaseException | None], Any] | None = None
                 ) -> None:
        """Open a channel to ``dest`` for ``conn`` and bridge them (or close ``conn``)."""
        session = self._client._session
        try:
            peer = conn.getpeername()
            orig = (peer[0], peer[1]) if isinstance(peer, tuple) else ("127.0.0.1", 0)
        except OSError:
            orig = ("127.0.0.1", 0)
        task = session.start_task(open_direct_gen(session, dest, orig), f"forward to {dest}",
                                  self._client.timeout or DEFAULT_TIMEOUT)

        def done(f: Future[Any]) -> None:
            exc = f.exception()
            if on_open is not None:
                try:
                    on_open(None if exc else f.result(), exc)
                except Exception:
                    log.exception("forwarding callback")
            if exc is not None or self._closed:
                if exc is not None:
                    self._error(exc)  # before the close the connection's peer sees
                elif not f.result().closed:
                    f.result().close()
                conn.close()
                return
            bridge = _bridge(f.result(), conn, self.bridges.discard)
            if not bridge.closed:
                self.bridges.add(bridge)
            self._emit("connection", bridge)

        task.future.add_done_callback(done)

    def _error(self, exc: BaseException) -> None:
        log.debug("%r: %s", self, exc)
        self._emit("error", exc)

    def close(self) -> None:
        """Stop listening and close every forwarded connection. Idempotent."""
        with self._loop.lock:
            if self._closed:
                return
            self._closed = True
            self._loop.remove_fd(self._sock.fileno())
            self._sock.close()
            if self.path:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            for bridge in list(self.bridges):
                bridge.close()
            try:
                self._client._forwards.remove(self)
            except ValueError:
                pass
            self._emit("close")
        self._loop.wakeup()


class LocalForwarder(_Listener):
    """Listens on a local address (``host``/``port``, the port chosen when 0) or UNIX socket
    (``path``) and carries each connection to ``dest`` on the server's side."""

    def __init__(self, client: Client, listen: str | tuple[str, int],
                 dest: str | tuple[str, int]):
        self.dest = dest
        super().__init__(client, listen)

    def _handle(self, conn: socket.socket) -> None:
        self._forward(conn, self.dest)

    def __repr__(self) -> str:
        where = self.path or f"{self.host}:{self.port}"
        return f"<LocalForwarder {where} -> {self.dest} {len(self.bridges)} open>"


# -- remote forwarding ---------------------------------------------------------------------------

def _connect_local(loop: Loop, dest: str | tuple[str, int],
                   done: Callable[[socket.socket | None, BaseException | None], Any]) -> None:
    """A nonblocking connect on the loop; ``done(sock, None)`` or ``done(None, exc)``."""
    try:
        if isinstance(dest, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr: Any = dest
        else:
            family, type_, proto, _, addr = socket.getaddrinfo(
                dest[0], dest[1], type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        err = sock.connect_ex(addr)
    except OSError as exc:
        done(None, exc)
        return
    if err == 0:
        done(sock, None)
        return
    if err not in (errno.EINPROGRESS, errno.EAGAIN):
        sock.close()
        done(None, OSError(err, os.strerror(err)))
        return
    fd = sock.fileno()

    def writable() -> None:
        loop.remove_fd(fd)
        e = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            sock.close()
            done(None, OSError(e, os.strerror(e)))
        else:
            done(sock, None)

    loop.add_writer(fd, writable)


class RemoteForwarder(_Forward):
    """A listener on the server: a TCP port (``tcpip-forward``; ``host``/``port``) or a UNIX
    socket (``streamlocal-forward@openssh.com``; ``path``). Each connection the server accepts
    arrives as a :class:`ChannelOpenRequest`: given to ``handler`` when there is one (it accepts
    or rejects), else connected to ``dest`` on this side. Events: ``connection`` (request,
    before the handler), ``error``, ``close``."""

    def __init__(self, client: Client, listen: tuple[str, int] | str,
                 dest: str | tuple[str, int] | None,
                 handler: Callable[[ChannelOpenRequest], Any] | None):
        super().__init__()
        self._client = client
        self._loop = client._loop
        self.listen = listen
        self.dest = dest
        self.handler = handler
        self.bridges: set[Bridge] = set()
        self._closed = True
        if isinstance(listen, str):
            self.path: str | None = listen
            self.host, self.port = "", 0
            self._kind = FORWARDED_STREAMLOCAL
        else:
            self.path = None
            self.host, self.port = listen
            self._kind = FORWARDED_TCPIP

    def _start_gen(self) -> TaskGen:
        session = self._client._session
        if self.path is not None:
            yield from own_global_request_gen(
                session, "streamlocal-forward@openssh.com", self.path,
                f"remote forwarding on the socket {self.path}")
        else:
            yield from self._start_tcp_gen(session)
        self._closed = False
        session._incoming.add_handler(self._kind, self._on_request)
        session.on("close", lambda: self.close(cancel=False))
        return self

    def _start_tcp_gen(self, session: ClientSession) -> TaskGen:
        addr = self.host.encode() if self.host else None
        tracked = session.global_replies() is not None
        # with the reply FIFO the port comes from the reply itself; libssh reads it from the
        # last packet it processed (its FIXME) and fails when that one is shorter
        bound = None if tracked else client_api.new_bound_port()
        port = yield from global_request_gen(
            session, lambda: client_api.listen_forward(session._s, addr, self.port, bound),
            f"remote forwarding on {self.host or '*'}:{self.port}")
        if self.port == 0:
            if bound is not None:  # (not tracked)
                port = bound[0]
            if not 0 < port < 65536:
                raise SSHError("the server did not say which port it listens on")
            self.port = port

    def _on_request(self, request: ChannelOpenRequest) -> Any:
        if self._closed:
            return False
        if self.path is not None:
            if request.socket_path and request.socket_path != self.path:
                return False  # another forward's
        elif request.dest_port != self.port:
            return False  # another forward's
        self._emit("connection", request)
        if request.answered:
            return None
        if self.handler is not None:
            self.handler(request)
            return None
        if self.dest is None:
            request.reject()
            return None

        def connected(sock: socket.socket | None, exc: BaseException | None) -> None:
            with self._loop.lock:
                if sock is None or self._closed or request.answered:
                    if sock is not None:
                        sock.close()
                    if not request.answered:
                        request.reject()
                    if exc is not None:
                        self._emit("error", SSHError(
                            f"forwarded connection to {self.dest}: {exc}"))
                    return
                try:
                    channel = request.accept()
                except SSHError as err:
                    sock.close()
                    self._emit("error", err)
                    return
                bridge = _bridge(channel, sock, self.bridges.discard)
                if not bridge.closed:
                    self.bridges.add(bridge)

        _connect_local(self._loop, self.dest, connected)
        return None

    def close(self, timeout: float | None = None, cancel: bool = True) -> None:
        """Ask the server to stop listening (``cancel-tcpip-forward`` or
        ``cancel-streamlocal-forward@openssh.com``; waits for its answer unless called on the
        loop thread) and close the forwarded connections. Idempotent."""
        session = self._client._session
        with self._loop.lock:
            if self._closed:
                return
            self._closed = True
            session._incoming.remove_handler(self._kind, self._on_request)
            for bridge in list(self.bridges):
                bridge.close()
            try:
                self._client._forwards.remove(self)
            except ValueError:
                pass
            self._emit("close")
            if session.closed or not cancel:
                return
        t = timeout or self._client.timeout or DEFAULT_TIMEOUT
        if self.path is not None:
            gen = own_global_request_gen(session, "cancel-streamlocal-forward@openssh.com",
                                         self.path, "cancelling a forward")
        else:
            addr = self.host.encode() if self.host else b""
            gen = global_request_gen(
                session, lambda: client_api.cancel_forward(session._s, addr, self.port),
                "cancelling a forward")
        task = session.start_task(gen, "cancelling a forward", t)
        if self._loop.in_loop_thread():
            return  # cannot wait here; it completes on its own
        wait(self._loop, task.future, t + 5, "cancelling the forward")

    def __repr__(self) -> str:
        where = self.path or f"{self.host}:{self.port}"
        return f"<RemoteForwarder {where} -> {self.dest or self.handler} {len(self.bridges)} open>"


def start_remote_async(client: Client, fwd: RemoteForwarder, timeout: float | None) -> Future[Any]:
    """Send the forward's request; the future's result is ``fwd`` once the server agreed."""
    ensure_running(client)
    t = timeout or DEFAULT_TIMEOUT
    task = client._session.start_task(fwd._start_gen(), f"remote forward {fwd.listen}", t)

    def done(f: Future[Any]) -> None:
        if f.exception() is None:
            client._forwards.append(fwd)

    task.future.add_done_callback(done)
    return task.future


def start_remote(client: Client, fwd: RemoteForwarder, timeout: float | None) -> RemoteForwarder:
    """Ask the server to listen for ``fwd`` and wait for its answer (``timeout`` seconds, a default
    when None); returns ``fwd``. Raises RequestDeniedError when the server refuses."""
    t = timeout or DEFAULT_TIMEOUT
    future = start_remote_async(client, fwd, t)
    started: RemoteForwarder = wait(client._loop, future, t + 5, "requesting the remote forward")
    return started
