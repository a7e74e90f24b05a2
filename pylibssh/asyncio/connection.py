"""The asyncio client: ``async with pylibssh.asyncio.connect(host, ...) as conn`` and
:class:`SSHClientConnection` (names after asyncssh's).

A connection is the engine's :class:`~pylibssh.client.Client` on the running asyncio loop
(:class:`~pylibssh.asyncio._loop.AsyncioLoop`): its socket is one reader of that loop, its work is
the same nonblocking tasks, and every coroutine here awaits one of the engine's futures. A
cancelled coroutine stops its work on the engine (closes its channel, gives up its request) and
leaves the connection usable.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine, Generator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..client._task import Task, TaskGen
from ..client.client import Client, ConnectOptions, _begin, _finish_options, jump_hops
from ..client.forward import (
    DEFAULT_TIMEOUT,
    LocalForwarder,
    RemoteForwarder,
    _bridge,
    open_direct_gen,
    start_remote_async,
)
from ..client.process import RunResult, command_line, run_gen
from ..client.socks import SOCKSForwarder
from ..keys import Key
from ..timeouts import DEFAULT, Timeout, resolve
from ._loop import asyncio_loop_of, engine_loop, wrap
from .process import SSHClientProcess, process_gen

if TYPE_CHECKING:
    from .._channel import Channel
    from ..client.session import ClientSession
    from .sftp import _Starting

__all__ = ["connect", "SSHClientConnection"]


async def _await_task(session: ClientSession, gen: TaskGen, what: str, timeout: float | None) -> Any:
    """Run ``gen`` as a task of ``session``; its result. Cancelling the await throws
    :class:`asyncio.CancelledError` into the task, whose cleanup closes what it opened."""
    # the task completes an asyncio future of this loop itself (it runs on the loop's thread):
    # no concurrent.futures.Future (its condition and lock) and no copy of its outcome
    out = asyncio_loop_of(session._loop).aio.create_future()
    task = session.start_task(gen, what, timeout, out)
    try:
        return await out
    except asyncio.CancelledError:
        _cancelled(session, task, out)
        raise


def _cancelled(session: ClientSession, task: Task, out: asyncio.Future[Any]) -> None:
    """The await of ``task``'s future ``out`` was cancelled: stop the task (its cleanup closes
    what it opened); an outcome it had already is taken, so that asyncio does not report an
    exception nobody retrieved."""
    if not task.done:
        with session._loop.lock:
            task.throw(asyncio.CancelledError())
    elif out.done() and not out.cancelled():
        out.exception()


class SSHClientConnection:
    """An authenticated connection on the running asyncio loop. Make it with :func:`connect`;
    ``async with`` closes it. Every coroutine takes ``timeout`` (seconds; default the
    connection's ``op_timeout``, None: none) and raises what the blocking client raises
    (:class:`~pylibssh.errors.SSHError` subclasses)."""

    def __init__(self, client: Client):
        self._client = client
        self._session = client._session
        self._loop = asyncio_loop_of(client.loop)
        self._lingering: list[asyncio.Future[None]] = []
        # what wait_closed waits for while the session is open (made by the first that waits)
        self._closed_event: asyncio.Event | None = None

    # -- state ------------------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The engine's :class:`~pylibssh.client.Client` under this connection (its nonblocking
        ``*_async`` methods return futures; its blocking ones cannot be used on the loop)."""
        return self._client

    @property
    def host_key(self) -> Key | None:
        """The server's host key."""
        return self._client.host_key

    @property
    def closed(self) -> bool:
        """True once the connection is closed (by :meth:`close`, the server or a failure)."""
        return self._client.closed

    @property
    def timeout(self) -> float | None:
        """The default ``timeout`` of later calls (``op_timeout``)."""
        return self._client.timeout

    def _t(self, timeout: Timeout) -> float | None:
        return resolve(timeout, self._client.timeout)

    def close(self) -> None:
        """Disconnect (idempotent): forwards first, then the session. The socket lingers
        until the server has read the DISCONNECT (at most 2 s): :meth:`wait_closed`."""
        self._lingering += self._loop.close_lingering(self._client.close)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (by :meth:`close`, the server, or a failure)
        and its socket released."""
        if not self._session.closed:
            if self._closed_event is None:
                self._closed_event = asyncio.Event()
                self._session.on("close", self._closed_event.set)
            await self._closed_event.wait()
        lingering, self._lingering = self._lingering, []
        for released in lingering:
            await released

    async def __aenter__(self) -> SSHClientConnection:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()

    def __repr__(self) -> str:
        o = self._client.options
        return (f"<pylibssh.asyncio.SSHClientConnection {o.user}@{o.host}:{o.port} "
                f"{'closed' if self.closed else 'open'}>")

    # -- commands ---------------------------------------------------------------------------------

    async def run(self, command: str | list[str], *, input: bytes | str | None = None,
                  env: Mapping[str, str] | None = None, pty: bool = False,
                  check: bool = False, timeout: Timeout = DEFAULT) -> RunResult:
        """Run ``command`` to completion: a :class:`~pylibssh.client.RunResult` (stdout,
        stderr, exit status and signal). ``input`` is sent to its stdin, then EOF. ``check``:
        raise :class:`~pylibssh.client.ProcessError` for a non-zero status. ``timeout``: the
        whole run, then :class:`~pylibssh.errors.SSHTimeoutError`. Cancelled, it closes its
        channel."""
        cmd = command_line(command)
        data = input.encode() if isinstance(input, str) else input
        result: RunResult = await _await_task(
            self._session, run_gen(self._session, cmd, data, env, pty), f"running {cmd!r}",
            self._t(timeout))
        return result.check() if check else result

    async def create_process(self, command: str | list[str] | None = None, *,
                             env: Mapping[str, str] | None = None,
                             term_type: str | None = None,
                             term_size: tuple[int, int] = (80, 24),
                             subsystem: str | None = None,
                             timeout: Timeout = DEFAULT) -> SSHClientProcess:
        """Start ``command`` (a shell when None, or ``subsystem``) and return its
        :class:`SSHClientProcess` with its streams. ``term_type`` ("xterm"...) asks for a
        pseudo-terminal of ``term_size`` (columns, rows). ``timeout`` bounds opening the
        channel."""
        cmd = None if command is None else command_line(command)
        gen = process_gen(self._session, cmd, env=env, pty=term_type is not None,
                          term=term_type or "xterm", cols=term_size[0], rows=term_size[1],
                          subsystem=subsystem)
        channel = await _await_task(self._session, gen, f"opening {cmd or 'a channel'}",
                                    self._t(timeout))
        return SSHClientProcess(channel, cmd)

    # -- SFTP -------------------------------------------------------------------------------------

    def start_sftp_client(self, *, timeout: Timeout = DEFAULT) -> _Starting:
        """An SFTP session: ``async with conn.start_sftp_client() as sftp`` (or ``await``);
        see :class:`~pylibssh.asyncio.sftp.SFTPClient`. ``timeout``: seconds each request may
        wait for its reply (default the connection's ``op_timeout``, else 60 s)."""
        from .sftp import start_sftp_client
        return start_sftp_client(self, self._t(timeout))

    # -- forwarding -------------------------------------------------------------------------------

    async def open_connection(self, host: str, port: int, *, timeout: Timeout = DEFAULT
                              ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``host:port`` from the server (``direct-tcpip``) as an asyncio
        ``(StreamReader, StreamWriter)`` pair. Raises
        :class:`~pylibssh.errors.ChannelOpenError` with the server's reason."""
        sock = await self._tunnel((host, int(port)), timeout)
        return await asyncio.open_connection(sock=sock)

    async def open_unix_connection(self, path: str, *, timeout: Timeout = DEFAULT
                                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Like :meth:`open_connection`, to a UNIX socket on the server."""
        sock = await self._tunnel(path, timeout)
        return await asyncio.open_connection(sock=sock)

    async def _tunnel(self, dest: str | tuple[str, int], timeout: Timeout) -> socket.socket:
        t = self._t(timeout) or DEFAULT_TIMEOUT
        channel = await _await_task(self._session, open_direct_gen(self._session, dest),
                                    f"tunnel to {dest}", t)
        ours, theirs = socket.socketpair()
        with self._session._loop.lock:
            _bridge(channel, ours)
        return theirs

    async def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                                 dest_port: int) -> LocalForwarder:
        """Listen on ``listen_host:listen_port`` (0: any free port, see ``.port``) and carry
        each connection to ``dest_host:dest_port`` from the server (``ssh -L``). ``close()``
        stops it."""
        return LocalForwarder(self._client, (listen_host, listen_port),
                              (dest_host, int(dest_port)))

    async def forward_local_path(self, listen_path: str, dest_path: str) -> LocalForwarder:
        """Listen on a local UNIX socket; carry each connection to the server's UNIX socket
        ``dest_path``."""
        return LocalForwarder(self._client, listen_path, dest_path)

    async def forward_local_port_to_path(self, listen_host: str, listen_port: int,
                                         dest_path: str) -> LocalForwarder:
        """Listen on a local port; carry each connection to the server's UNIX socket."""
        return LocalForwarder(self._client, (listen_host, listen_port), dest_path)

    async def forward_socks(self, listen_host: str = "127.0.0.1", listen_port: int = 0
                            ) -> SOCKSForwarder:
        """A local SOCKS5/SOCKS4a proxy whose connections leave from the server
        (``ssh -D``)."""
        return SOCKSForwarder(self._client, (listen_host, listen_port))

    async def forward_remote_port(self, listen_host: str, listen_port: int, dest_host: str,
                                  dest_port: int, *, timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Ask the server to listen on ``listen_host:listen_port`` (0: it picks, see
        ``.port``) and carry each connection to ``dest_host:dest_port`` on this side
        (``ssh -R``). Raises :class:`~pylibssh.errors.RequestDeniedError` when refused."""
        fwd = RemoteForwarder(self._client, (listen_host, int(listen_port)),
                              (dest_host, int(dest_port)), None)
        return await wrap(start_remote_async(self._client, fwd, self._t(timeout)))

    async def forward_remote_path(self, listen_path: str, dest_path: str, *,
                                  timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Ask the server to listen on its UNIX socket ``listen_path``; carry each connection
        to the local UNIX socket ``dest_path``."""
        fwd = RemoteForwarder(self._client, listen_path, dest_path, None)
        return await wrap(start_remote_async(self._client, fwd, self._t(timeout)))


class _Connecting:
    """What :func:`connect` returns: awaitable (the connection) and an async context manager
    (closing it at the end)."""

    def __init__(self, coro: Coroutine[Any, Any, SSHClientConnection]):
        self._coro = coro
        self._conn: SSHClientConnection | None = None

    def __await__(self) -> Generator[Any, None, SSHClientConnection]:
        return self._coro.__await__()

    async def __aenter__(self) -> SSHClientConnection:
        self._conn = await self._coro
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()


def connect(host: str | None = None, port: int | None = None, user: str | None = None, *,
            options: ConnectOptions | None = None, **kwargs: Any) -> _Connecting:
    """Connect, verify the host key and authenticate, on the running asyncio loop:
    ``conn = await connect(...)`` or ``async with connect(...) as conn``. Takes the options of
    :func:`pylibssh.connect` (keys, agent, password, known_hosts and ``host_key_policy``,
    ``config`` for ssh_config, ``proxy_jump``, ``proxy_command``, ``timeout`` for connect and
    login, ``op_timeout`` for later calls, ``keepalive_interval``...). Raises what it raises
    (:class:`~pylibssh.errors.HostNotFoundError`,
    :class:`~pylibssh.errors.SSHConnectionRefusedError`,
    :class:`~pylibssh.errors.SSHTimeoutError`, :class:`~pylibssh.errors.HostKeyError`,
    :class:`~pylibssh.errors.AuthenticationError`...). Cancelled, it drops the connection
    attempt."""
    if options is None:
        if host is None:
            raise TypeError("connect() needs a host")
        options = ConnectOptions(host, port, user, **kwargs)
    return _Connecting(_connect(options))


async def _connect(options: ConnectOptions) -> SSHClientConnection:
    loop = engine_loop()
    if options.config:
        # ssh_config may run `Match exec` commands: not on the loop's thread
        o = await asyncio.get_running_loop().run_in_executor(None, _finish_options, options)
    else:
        o = _finish_options(options)
    o.config = None  # applied (o is _finish_options's own copy)
    helpers: list[Any] = []
    if o.proxy_jump and o.sock is None and not o.proxy_command:
        jump, channel = await _open_jump(options, o)
        helpers.append(jump._client)
        o = replace(o, sock=channel, proxy_jump=None)
    out = loop.aio.create_future()
    try:
        task, o, session, more, own = _begin(o, o, loop, out)
    except BaseException:
        for h in helpers:
            h.close()
        raise
    helpers.extend(more)
    try:
        # (the task's own timer, on this loop, bounds the connection attempt by o.timeout)
        await out
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):
            _cancelled(session, task, out)
        session.close()
        for h in helpers:
            h.close()
        raise
    return SSHClientConnection(Client(session, o, own, helpers))


async def _open_jump(given: ConnectOptions, o: ConnectOptions
                     ) -> tuple[SSHClientConnection, Channel]:
    """Connect through the ProxyJump hosts (``[user@]host[:port]``, comma separated) hop by
    hop; the last hop's connection and a paused direct-tcpip channel from it to the target."""
    conn: SSHClientConnection | None = None
    try:
        for hop_opts in jump_hops(given, o.proxy_jump):
            if conn is not None:
                hop_opts = replace(hop_opts, sock=await _open_channel(
                    conn, hop_opts.host, hop_opts.port or 22))
            nxt = await _connect(hop_opts)
            if conn is not None:
                nxt._client._helpers.append(conn._client)
            conn = nxt
        assert conn is not None
        return conn, await _open_channel(conn, o.host, o.port or 22)
    except BaseException:
        if conn is not None:
            conn.close()
        raise


async def _open_channel(conn: SSHClientConnection, host: str, port: int) -> Channel:
    session = conn._session
    t = conn.timeout or DEFAULT_TIMEOUT
    channel: Channel = await _await_task(session, open_direct_gen(session, (host, port)),
                                         f"channel to {host}:{port}", t)
    return channel

