"""The SFTP calls the fsspec file system makes, as coroutines over one connection.

This is the only module of :mod:`pylibssh.fsspec` that talks to pylibssh's client: a blocking
:func:`pylibssh.connect` run in a worker thread (so the event loop is not held while connecting),
whose loop then runs in its own thread, and an :class:`~pylibssh.client.sftp_engine.SFTPEngine`
on it. Every engine operation returns a :class:`concurrent.futures.Future` with its own
deadline; here each one is awaited with :func:`asyncio.wrap_future`, so many requests from many
coroutines are in flight at once on the one SFTP channel.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from ..client import Client, ConnectOptions, connect
from ..client.sftp_engine import SFTPEngine, SFTPName, start_engine
from ..sftp import SFTPAttributes
from ..sftp.constants import OpenFlags

__all__ = ["SFTPConnection", "OpenFlags", "PendingRead"]

#: READs in flight for one range read (each of the server's maximum read length)
READS_IN_FLIGHT = 64
#: WRITEs in flight for one buffer written
WRITES_IN_FLIGHT = 64


_T = TypeVar("_T")
_R = TypeVar("_R")


def _aw(future: Future[_T]) -> asyncio.Future[_T]:
    return asyncio.wrap_future(future)


class SFTPConnection:
    """One SSH connection and one SFTP session on it. Create with :meth:`connect`. Every
    coroutine raises what the engine raises: :class:`~pylibssh.errors.SFTPError` subclasses
    (``FileNotFoundError``, ``PermissionError``...) for the server's status,
    :class:`~pylibssh.errors.SSHTimeoutError` for a request not answered within
    ``request_timeout``, :class:`~pylibssh.errors.SSHError` when the connection is gone."""

    def __init__(self, client: Client, engine: SFTPEngine):
        self._client = client
        self._engine = engine

    @classmethod
    async def connect(cls, options: ConnectOptions, request_timeout: float | None) -> SFTPConnection:
        """Connect with ``options`` (in a worker thread), run the connection's loop in a thread
        of its own and start SFTP; ``request_timeout`` bounds each later request (None: no
        bound). Raises what :func:`pylibssh.connect` raises."""
        loop = asyncio.get_running_loop()
        client = await loop.run_in_executor(None, lambda: connect(options=options))
        try:
            client.loop.start()
            engine = await _aw(start_engine(client.session, request_timeout))
        except BaseException:
            await loop.run_in_executor(None, client.close)
            raise
        return cls(client, engine)

    # -- state ------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """The connection and its SFTP session still run."""
        return not self._engine.closed and not self._client.closed

    @property
    def read_chunk(self) -> int:
        """The longest READ the server answers in full."""
        return self._engine.read_chunk

    @property
    def write_chunk(self) -> int:
        """The longest WRITE the server takes."""
        return self._engine.write_chunk

    def offers(self, extension: str) -> bool:
        """Whether the server offered the SFTP extension ``extension`` (``copy-data``...)."""
        return extension in self._engine.extensions

    def close(self) -> None:
        """Close the SFTP session and the connection (idempotent, any thread; waits up to 2 s
        for the connection's close to be answered)."""
        self._engine.close()
        self._client.close()

    # -- paths ------------------------------------------------------------------------------------

    async def stat(self, path: str) -> SFTPAttributes:
        """``path``'s attributes, symbolic links followed."""
        return await _aw(self._engine.stat(path))

    async def lstat(self, path: str) -> SFTPAttributes:
        """``path``'s own attributes."""
        return await _aw(self._engine.lstat(path))

    async def listdir(self, path: str) -> list[SFTPName]:
        """Every entry of the directory ``path`` but ``.`` and ``..``."""
        return await _aw(self._engine.listdir(path))

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        """Create the directory ``path``."""
        await _aw(self._engine.mkdir(path, mode))

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        await _aw(self._engine.rmdir(path))

    async def remove(self, path: str) -> None:
        """Remove the file ``path``."""
        await _aw(self._engine.remove(path))

    async def rename(self, old: str, new: str) -> None:
        """Rename ``old`` to ``new`` (replacing ``new`` where the server has
        ``posix-rename@openssh.com``)."""
        await _aw(self._engine.rename(old, new))

    # -- open files -------------------------------------------------------------------------------

    async def open(self, path: str, flags: OpenFlags, mode: int | None = None) -> bytes:
        """Open ``path`` with SFTP open ``flags`` (created with ``mode``): its handle."""
        attrs = None if mode is None else SFTPAttributes(permissions=mode)
        return await _aw(self._engine.open(path, int(flags), attrs))

    async def close_handle(self, handle: bytes, path: str | None = None) -> None:
        """Close an open file's ``handle`` (``path`` names it in errors)."""
        await _aw(self._engine.close_handle(handle, path))

    def close_handle_soon(self, handle: bytes, path: str | None = None) -> None:
        """Send the CLOSE of ``handle`` at the connection loop's next pass, without waiting for
        its answer: for a file dropped without being closed, whose ``__del__`` may run in any
        thread at any allocation, the loop's own thread too, in the middle of a write."""
        try:
            self._client.loop.call_soon(self._engine.close_handle, handle, path)
        except (OSError, RuntimeError):  # the loop is closed: so is the connection
            pass

    def in_loop_thread(self) -> bool:
        """Whether the caller is the connection loop's thread (which must never wait for it)."""
        return self._client.loop.in_loop_thread()

    async def fstat(self, handle: bytes, path: str | None = None) -> SFTPAttributes:
        """An open file's attributes."""
        return await _aw(self._engine.fstat(handle, path))

    async def read(self, handle: bytes, start: int, end: int, path: str | None = None) -> bytes:
        """The bytes from ``start`` to ``end`` (or to the end of the file, if it comes first):
        READs of the server's maximum length, :data:`READS_IN_FLIGHT` at once, a short answer
        followed by a READ of what it left out. A range longer than one READ is read by the
        engine's C receiver straight into the ``bytes`` returned (:meth:`SFTPEngine.read_bytes
        <pylibssh.client.sftp_engine.SFTPEngine.read_bytes>`: ``end - start`` bytes are set
        aside up front); cancelling the call stops it."""
        pending = self.start_read(handle, start, end, path)
        await asyncio.wrap_future(pending.future)
        return pending.result()

    def start_read(self, handle: bytes, start: int, end: int,
                   path: str | None = None) -> PendingRead:
        """:meth:`read`, started from any thread without an event loop."""
        if end - start > self._engine.read_chunk:
            return PendingRead(self._engine.read_bytes(handle, start, end - start, path,
                                                       READS_IN_FLIGHT))
        return PendingRead(_RangeRead(self._client.loop.lock, self._engine, handle, start, end,
                                      path).start())

    async def write(self, handle: bytes, offset: int, data: bytes | bytearray | memoryview,
                    path: str | None = None) -> None:
        """Write ``data`` at ``offset``: WRITEs of the server's maximum length,
        :data:`WRITES_IN_FLIGHT` at once; raises the first error once all are answered (the
        caller keeps ``data`` unchanged until then)."""
        await _aw(_RangeWrite(self._client.loop.lock, self._engine, handle, offset, data,
                              path).start())

    async def copy_data(self, src: bytes, dst: bytes, length: int = 0) -> None:
        """The server copies ``length`` bytes (0: all) of the open file ``src`` into ``dst``
        (the ``copy-data`` extension; see :meth:`offers`)."""
        await _aw(self._engine.copy_data(src, 0, length, dst, 0))

    # -- transfers --------------------------------------------------------------------------------

    async def get(self, remote: str, local: str) -> int:
        """Download ``remote`` into the local file ``local``: the bytes written."""
        return (await _aw(self._engine.get(remote, local))).transferred

    async def put(self, local: str, remote: str) -> int:
        """Upload the local file ``local`` as ``remote``: the bytes sent."""
        return (await _aw(self._engine.put(local, remote))).transferred

    async def get_many(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Download (remote, local) ``pairs``, many files at once: the bytes written (the first
        error once every file has had its turn)."""
        return await _aw(self._engine.get_many(pairs))

    async def put_many(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Upload (local, remote) ``pairs``, many files at once: the bytes sent."""
        return await _aw(self._engine.put_many([(os.fspath(lo), r) for lo, r in pairs]))


def _joined(parts: list[bytes]) -> bytes:
    return parts[0] if len(parts) == 1 else b"".join(parts)


class PendingRead:
    """A range read under way (:meth:`SFTPConnection.start_read`). A bulk read's bytes are
    written into one ``bytes`` as they arrive; a shorter range's replies are gathered on the
    connection's thread and joined into one ``bytes`` by the thread that asks for them (the
    connection's thread goes on reading the socket meanwhile)."""

    __slots__ = ("future",)

    def __init__(self, future: Future[bytes] | Future[list[bytes]]):
        #: the read's future: its bytes, or its parts
        self.future: Future[Any] = future

    def done(self) -> bool:
        """Whether every READ has been answered (or one failed, or the read was cancelled)."""
        return self.future.done()

    def cancel(self) -> bool:
        """Stop the read (a bulk read sends no more READs and drops the replies in flight):
        whether it was still under way."""
        return self.future.cancel()

    def result(self, timeout: float | None = None) -> bytes:
        """The bytes, waiting up to ``timeout`` seconds (None: until the READs' own deadlines
        end them); raises what a READ raised, ``TimeoutError`` once ``timeout`` passed, or
        ``CancelledError`` after :meth:`cancel`."""
        got = self.future.result(timeout)
        return got if isinstance(got, bytes) else _joined(got)


class _Window(Generic[_R, _T]):
    """Requests of one range kept ``limit`` in flight, the next sent from the reply of the
    last, so a range costs the event loop one wake-up, not one per request; :attr:`future` is
    done when all are answered (each request's reply an ``_R``, the range's result a ``_T``).
    Everything runs under the connection loop's lock: replies come on its thread with the lock
    held, and the first requests go out holding it too."""

    def __init__(self, lock: threading.RLock, limit: int):
        self.future: Future[_T] = Future()
        self.future.set_running_or_notify_cancel()  # its requests go on: not to be cancelled
        self._lock = lock
        self._limit = limit
        self._busy = 0
        self._error: BaseException | None = None

    def start(self) -> Future[_T]:
        with self._lock:
            self._pump()
        return self.future

    def _more(self) -> tuple[int, int] | None:
        """The next request's (offset, length), None when all are sent."""
        raise NotImplementedError

    def _send(self, offset: int, length: int) -> Future[_R]:
        raise NotImplementedError

    def _answered(self, f: Future[_R], offset: int, length: int) -> None:
        """A reply that succeeded."""

    def _result(self) -> _T:
        raise NotImplementedError

    def _issue(self, offset: int, length: int) -> None:
        self._busy += 1
        try:
            f = self._send(offset, length)
        except BaseException as exc:  # noqa: BLE001 - the range's outcome
            f = Future()
            f.set_exception(exc)
        f.add_done_callback(lambda f: self._reply(f, offset, length))

    def _reply(self, f: Future[_R], offset: int, length: int) -> None:
        with self._lock:  # held already on the loop's thread; taken for a failure elsewhere
            self._busy -= 1
            exc = f.exception()
            if exc is not None:
                self._error = self._error or exc
            elif self._error is None:
                self._answered(f, offset, length)
            self._pump()

    def _pump(self) -> None:
        while self._error is None and self._busy < self._limit:
            nxt = self._more()
            if nxt is None:
                break
            self._issue(*nxt)
        if self._busy == 0 and not self.future.done():
            if self._error is not None:
                self.future.set_exception(self._error)
            else:
                self.future.set_result(self._result())


class _RangeRead(_Window[bytes, list[bytes]]):
    def __init__(self, lock: threading.RLock, engine: SFTPEngine, handle: bytes, start: int, end: int,
                 path: str | None):
        super().__init__(lock, READS_IN_FLIGHT)
        self._engine, self._handle, self._path = engine, handle, path
        self._chunk = engine.read_chunk
        self._next, self._end, self._start = start, end, start
        self._parts: dict[int, bytes] = {}
        self._retry: list[tuple[int, int]] = []  # what short answers left out

    def _more(self) -> tuple[int, int] | None:
        if self._retry:
            return self._retry.pop()
        if self._next >= self._end:
            return None
        offset, self._next = self._next, min(self._next + self._chunk, self._end)
        return offset, self._next - offset

    def _send(self, offset: int, length: int) -> Future[bytes]:
        return self._engine.read(self._handle, offset, length, self._path)

    def _answered(self, f: Future[bytes], offset: int, length: int) -> None:
        data = f.result()
        if data:
            self._parts[offset] = data
        if not data:  # the end of the file
            self._end = min(self._end, offset)
            self._retry = [r for r in self._retry if r[0] < offset]
        elif len(data) < length and offset + len(data) < self._end:
            self._retry.append((offset + len(data), length - len(data)))

    def _result(self) -> list[bytes]:
        # the parts in order, not joined: a copy of the whole range on this thread would hold
        # up the connection (PendingRead joins them on the reader's)
        out, at = [], self._start
        for offset in sorted(self._parts):
            if offset != at or at >= self._end:
                break
            part = self._parts[offset]
            out.append(part if at + len(part) <= self._end else part[:self._end - at])
            at += len(part)
        return out or [b""]


class _RangeWrite(_Window[None, None]):
    def __init__(self, lock: threading.RLock, engine: SFTPEngine, handle: bytes, offset: int,
                 data: bytes | bytearray | memoryview, path: str | None):
        super().__init__(lock, WRITES_IN_FLIGHT)
        self._engine, self._handle, self._path = engine, handle, path
        self._view = memoryview(data).cast("B")
        self._chunk = engine.write_chunk
        self._offset = offset
        self._at = 0

    def _more(self) -> tuple[int, int] | None:
        if self._at >= len(self._view):
            return None
        at, self._at = self._at, min(self._at + self._chunk, len(self._view))
        return at, self._at - at

    def _send(self, at: int, length: int) -> Future[None]:
        return self._engine.write(self._handle, self._offset + at, self._view[at:at + length],
                                  self._path)

    def _result(self) -> None:
        return None
