"""The server on asyncio: ``server = await pylibssh.asyncio.create_server(...)``, then
``await server.serve_forever()`` or ``async with server:``.

It is the event-driven :class:`~pylibssh.server.Server` (node-libssh's events and ``reply_*``
methods, its limits and options) on the running asyncio loop, and its listeners may be
``async def``: each call runs as a task, so an ``auth`` listener can await a database before it
replies and an ``sftp:*`` listener can await storage, while the loop serves every other session.
An exception an async listener raises is logged and its request, when still unanswered, gets
the default reply (an SFTP request: the status matching the exception), as for a plain listener.

Register a session's or channel's listeners from a plain (not ``async``) listener, such as the
``connection`` one: an async listener runs as a task, later, and requests that arrive meanwhile
find no listener and get the default reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, overload

from .. import events
from ..events import Listener, ListenerT
from ..server import Server, ServerSession
from ..server.server import HostKey
from ._loop import asyncio_loop_of, engine_loop

__all__ = ["create_server", "SSHServer"]

log = logging.getLogger("pylibssh.server")

if TYPE_CHECKING:
    from typing_extensions import Self

_tasks: set[asyncio.Task[Any]] = set()  # listener tasks, kept referenced until they end


def _default_reply(args: tuple[Any, ...], exc: BaseException) -> None:
    """What a plain listener's exception gets: the default reply for a request left
    unanswered (an SFTP request: the status matching ``exc``)."""
    for arg in args:
        if getattr(arg, "replied", True):
            continue
        try:
            if hasattr(arg, "reply_error"):
                arg.reply_error(exc)
            elif hasattr(arg, "reply_default"):
                arg.reply_default()
        except Exception:
            log.debug("default reply after a failed listener", exc_info=True)


def _coroutine_listener(event: str, fn: Callable[..., Coroutine[Any, Any, Any]]
                        ) -> Callable[..., Any]:
    """Wrap an ``async def`` listener: each call runs it as a task of the running loop."""

    def listener(*args: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(f"the async {event!r} listener {fn!r} needs a running asyncio "
                               "loop (pylibssh.asyncio.create_server)") from None
        task = loop.create_task(fn(*args))
        _tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            _tasks.discard(t)
            if t.cancelled():
                _default_reply(args, asyncio.CancelledError())
                return
            exc = t.exception()
            if exc is None:
                return
            if isinstance(exc, OSError) and event.startswith("sftp"):
                log.debug("an async %r listener: %s", event, exc)
            else:
                log.error("an async %r listener raised; the request gets the default reply",
                          event, exc_info=exc)
            _default_reply(args, exc)
        task.add_done_callback(done)

    return listener


events.coroutine_listener = _coroutine_listener


class SSHServer:
    """A listening :class:`~pylibssh.server.Server` on the running asyncio loop. Listen to its
    events (``connection``, ``close``) with :meth:`on`; ``async with`` closes it at the end;
    :meth:`serve_forever` returns once it is closed."""

    def __init__(self, server: Server):
        self._server = server
        self._closed = asyncio.Event()
        self._loop = asyncio_loop_of(server.loop)
        self._lingering: list[asyncio.Future[None]] = []
        server.on("close", self._closed.set)

    @property
    def server(self) -> Server:
        """The engine's :class:`~pylibssh.server.Server` (its sessions, options)."""
        return self._server

    @property
    def port(self) -> int | None:
        """The port listened on (the one picked for port 0)."""
        return self._server.port

    @property
    def address(self) -> tuple[Any, ...] | None:
        """The listening socket's address."""
        return self._server.address

    @property
    def sessions(self) -> list[ServerSession]:
        """The connections being served."""
        return self._server.sessions

    @overload
    def on(self, event: str) -> Callable[[ListenerT], ListenerT]: ...
    @overload
    def on(self, event: str, listener: Listener) -> Self: ...

    def on(self, event: str, listener: Listener | None = None
           ) -> Callable[[ListenerT], ListenerT] | Self:
        """Add a listener (``async def`` or plain) for the server's ``connection`` or
        ``close`` event; without one, a decorator."""
        if listener is None:
            return self._server.on(event)
        self._server.on(event, listener)
        return self

    @overload
    def once(self, event: str) -> Callable[[ListenerT], ListenerT]: ...
    @overload
    def once(self, event: str, listener: Listener) -> Self: ...

    def once(self, event: str, listener: Listener | None = None
             ) -> Callable[[ListenerT], ListenerT] | Self:
        """Like :meth:`on`, removed after its first call."""
        if listener is None:
            return self._server.once(event)
        self._server.once(event, listener)
        return self

    def off(self, event: str, listener: Callable[..., Any]) -> SSHServer:
        """Remove a listener."""
        self._server.off(event, listener)
        return self

    def close(self) -> None:
        """Stop listening and disconnect every session (idempotent); :meth:`wait_closed`
        waits until their sockets are released too."""
        self._lingering += self._loop.close_lingering(self._server.close)

    @property
    def closed(self) -> bool:
        """True once the server is closed."""
        return self._server.closed

    async def wait_closed(self) -> None:
        """Wait until the server is closed and its sessions' sockets are released."""
        await self._closed.wait()
        lingering, self._lingering = self._lingering, []
        if lingering:
            await asyncio.gather(*lingering)

    async def serve_forever(self) -> None:
        """Serve until :meth:`close` (from a listener or another task); cancelled, it closes
        the server."""
        try:
            await self._closed.wait()
        except asyncio.CancelledError:
            self.close()
            raise

    async def __aenter__(self) -> SSHServer:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()

    def __repr__(self) -> str:
        return f"<pylibssh.asyncio.SSHServer {self._server!r}>"


async def create_server(host: str = "", port: int = 0, *,
                        host_keys: Iterable[HostKey] | HostKey | None = None,
                        backlog: int | None = None, **options: Any) -> SSHServer:
    """A server listening on ``host`` (all IPv4 interfaces when empty) and ``port`` (0: a free
    one, see :attr:`SSHServer.port`) on the running asyncio loop. ``host_keys`` and the other
    options are :class:`pylibssh.server.Server`'s (``auth_methods``, algorithms, limits,
    ``banner``...); bad ones raise at once (TypeError, ValueError), and so does a port in use
    (OSError). Listeners may be ``async def``."""
    server = Server(host_keys=host_keys, loop=engine_loop(), **options)
    try:
        server.listen(port, host, backlog=backlog)
    except BaseException:
        server.close()
        raise
    return SSHServer(server)
