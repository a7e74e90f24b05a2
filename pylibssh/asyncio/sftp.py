"""SFTP from asyncio: :class:`SFTPClient` (``async with conn.start_sftp_client() as sftp``) and
:class:`SFTPClientFile`, every operation a coroutine over the engine's
:class:`~pylibssh.client.sftp_engine.SFTPEngine` (names after asyncssh's).

Each request has its own deadline (the client's ``timeout``) and raises what the blocking client
raises: :class:`~pylibssh.errors.SFTPError` subclasses that are ``FileNotFoundError``,
``PermissionError``... where one fits, :class:`~pylibssh.errors.SSHTimeoutError` for a request
not answered in time. Transfers (:meth:`SFTPClient.get`, :meth:`~SFTPClient.put`,
:meth:`~SFTPClient.mget`, :meth:`~SFTPClient.mput`) are the engine's pipelined ones; many files
without per-file options go through its batch engine (many files in flight at once).

Cancellation: a cancelled request is forgotten (its reply is dropped when it comes); a cancelled
single-file transfer ends at its next reply, closing its remote handle and local file; a
cancelled batch closes the SFTP channel it ran on (a channel of its own). The client and the
connection stay usable.
"""

from __future__ import annotations

import asyncio
import fnmatch
import io
import os
import posixpath
from collections.abc import Callable, Coroutine, Generator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from ..client.sftp import _open_flags
from ..client.sftp_engine import (
    DEFAULT_TIMEOUT,
    IN_FLIGHT,
    MANY_FILES,
    SFTPEngine,
    SFTPLimits,
    SFTPName,
    StatVFS,
    TransferResult,
    start_engine,
)
from ..errors import SFTPError
from ..sftp import SFTPAttributes, SFTPStatus
from ..sftp.constants import os_to_open_flags
from ._loop import wrap

if TYPE_CHECKING:
    from ..client.session import ClientSession
    from .connection import SSHClientConnection

__all__ = ["SFTPClient", "SFTPClientFile", "SFTPName", "StatVFS", "SFTPLimits"]

#: progress_handler(source path, destination path, bytes done, total bytes)
ProgressHandler = Callable[[str, str, int, int], Any]
_T = TypeVar("_T")


class _Cancelled(Exception):
    """Raised from a transfer's progress callback to end a transfer whose await was
    cancelled."""


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


class SFTPClient:
    """An SFTP session on an :class:`~pylibssh.asyncio.SSHClientConnection`; ``async with``
    closes it. :attr:`engine` is the same session with futures."""

    def __init__(self, conn: SSHClientConnection, engine: SFTPEngine, timeout: float | None):
        self._conn = conn
        self._engine = engine
        self.timeout = timeout

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def engine(self) -> SFTPEngine:
        """The engine's SFTP session under this client (every operation a future)."""
        return self._engine

    @property
    def limits(self) -> SFTPLimits:
        """The server's limits (``limits@openssh.com``, or what every server takes)."""
        return self._engine.limits

    @property
    def version(self) -> int:
        """The SFTP protocol version the server speaks (3)."""
        return self._engine.version

    @property
    def extensions(self) -> dict[str, bytes]:
        """The extensions the server offered, with their data."""
        return dict(self._engine.extensions)

    async def _do(self, future: Future[_T]) -> _T:
        return await wrap(future)

    # -- paths ------------------------------------------------------------------------------------

    async def realpath(self, path: str = ".") -> str:
        """The canonical absolute path."""
        return await self._do(self._engine.realpath(path, self.timeout))

    async def getcwd(self) -> str:
        """The server's idea of the current directory (absolute)."""
        return await self.realpath(".")

    async def stat(self, path: str) -> SFTPAttributes:
        """Attributes of ``path``, following symbolic links."""
        return await self._do(self._engine.stat(path, self.timeout))

    async def lstat(self, path: str) -> SFTPAttributes:
        """Attributes of ``path`` itself (a symbolic link is not followed)."""
        return await self._do(self._engine.lstat(path, self.timeout))

    async def setstat(self, path: str, attrs: SFTPAttributes | dict[str, Any]) -> None:
        """Set attributes (mode, owner, times, size) of ``path``."""
        await self._do(self._engine.setstat(path, SFTPAttributes.from_dict(attrs),
                                            self.timeout))

    async def chmod(self, path: str, mode: int) -> None:
        """Change the permissions of ``path``."""
        await self.setstat(path, SFTPAttributes(permissions=mode))

    async def utime(self, path: str, times: tuple[float, float]) -> None:
        """Set (atime, mtime) of ``path``."""
        await self.setstat(path, SFTPAttributes(atime=int(times[0]), mtime=int(times[1])))

    async def truncate(self, path: str, size: int) -> None:
        """Set the size of ``path``."""
        await self.setstat(path, SFTPAttributes(size=size))

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a dangling symbolic link does)."""
        try:
            await self.lstat(path)
            return True
        except FileNotFoundError:
            return False

    async def isdir(self, path: str) -> bool:
        """Whether ``path`` is a directory (following links)."""
        try:
            return (await self.stat(path)).is_dir
        except FileNotFoundError:
            return False

    async def isfile(self, path: str) -> bool:
        """Whether ``path`` is a regular file (following links)."""
        try:
            return (await self.stat(path)).is_file
        except FileNotFoundError:
            return False

    async def remove(self, path: str) -> None:
        """Remove a file (or link)."""
        await self._do(self._engine.remove(path, self.timeout))

    unlink = remove

    async def rename(self, oldpath: str, newpath: str) -> None:
        """Rename; an existing ``newpath`` is replaced atomically where the server has
        ``posix-rename@openssh.com``."""
        await self._do(self._engine.rename(oldpath, newpath, self.timeout))

    posix_rename = rename

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        """Create a directory."""
        await self._do(self._engine.mkdir(path, mode, self.timeout))

    async def makedirs(self, path: str, mode: int = 0o777, exist_ok: bool = False) -> None:
        """Create ``path`` and its missing parents; ``FileExistsError``-compatible
        :class:`~pylibssh.errors.SFTPError` when it exists, unless ``exist_ok``."""
        missing: list[str] = []
        p = path.rstrip("/") or "/"
        while p not in ("", "/", "."):
            if await self.exists(p):
                if p == path.rstrip("/") and not exist_ok:
                    from ..errors import sftp_error
                    raise sftp_error(SFTPStatus.FILE_ALREADY_EXISTS, "exists", path)
                break
            missing.append(p)
            p = posixpath.dirname(p)
        for q in reversed(missing):
            await self.mkdir(q, mode)

    async def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        await self._do(self._engine.rmdir(path, self.timeout))

    async def readlink(self, path: str) -> str:
        """The target of a symbolic link."""
        return await self._do(self._engine.readlink(path, self.timeout))

    async def symlink(self, oldpath: str, newpath: str) -> None:
        """Create ``newpath`` as a symbolic link to ``oldpath``."""
        await self._do(self._engine.symlink(oldpath, newpath, self.timeout))

    async def link(self, oldpath: str, newpath: str) -> None:
        """A hard link (``hardlink@openssh.com``)."""
        await self._do(self._engine.hardlink(oldpath, newpath, self.timeout))

    async def statvfs(self, path: str = ".") -> StatVFS:
        """File system statistics (``statvfs@openssh.com``)."""
        return await self._do(self._engine.statvfs(path, self.timeout))

    # -- directories ------------------------------------------------------------------------------

    async def readdir(self, path: str = ".") -> list[SFTPName]:
        """Entries of a directory with their attributes (``.`` and ``..`` left out)."""
        return await self._do(self._engine.listdir(path, self.timeout))

    scandir = readdir

    async def listdir(self, path: str = ".") -> list[str]:
        """Names in a directory (``.`` and ``..`` left out)."""
        return [e.filename for e in await self.readdir(path)]

    async def glob(self, pattern: str) -> list[str]:
        """Remote paths matching ``pattern`` (``*``, ``?``, ``[...]`` in any component;
        names starting with a dot only when the pattern's component does), sorted."""
        absolute = pattern.startswith("/")
        parts = [p for p in pattern.split("/") if p]
        found = ["/" if absolute else ""]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: list[str] = []
            for base in found:
                if not _has_magic(part):
                    cand = posixpath.join(base, part) if base else part
                    if last and not await self.exists(cand):
                        continue
                    nxt.append(cand)
                    continue
                try:
                    entries = await self.readdir(base or ".")
                except (FileNotFoundError, NotADirectoryError, SFTPError):
                    continue
                for e in entries:
                    if e.filename.startswith(".") and not part.startswith("."):
                        continue
                    if fnmatch.fnmatchcase(e.filename, part) and (last or e.attrs.is_dir):
                        nxt.append(posixpath.join(base, e.filename) if base else e.filename)
            found = nxt
        return sorted(found)

    # -- files ------------------------------------------------------------------------------------

    async def open(self, path: str, mode: str = "r", permissions: int = 0o644
                   ) -> SFTPClientFile:
        """Open a remote file (binary; ``mode`` as Python's: r, w, a, x, with +):
        ``async with await sftp.open(...) as f``."""
        flags = _open_flags(mode)
        attrs = SFTPAttributes(permissions=permissions) if flags & os.O_CREAT else None
        handle = await self._do(self._engine.open(path, os_to_open_flags(flags), attrs,
                                                  self.timeout))
        f = SFTPClientFile(self, handle, path)
        if "a" in mode:
            f._pos = (await f.stat()).size or 0
        return f

    # -- transfers --------------------------------------------------------------------------------

    async def _transfer(self,
                        start: Callable[[Callable[[int, int], None]], Future[TransferResult]],
                        src: str, dst: str, progress: ProgressHandler | None) -> int:
        cancelled = False

        def report(done: int, total: int) -> None:
            if cancelled:
                raise _Cancelled("the transfer was cancelled")
            if progress is not None:
                progress(src, dst, done, total)

        future = start(report)
        try:
            result: TransferResult = await wrap(future)
        except asyncio.CancelledError:
            cancelled = True  # the transfer ends (handle closed, file released) at its next reply
            raise
        return result.transferred

    async def _get_one(self, remote: str, local: str, preserve: bool, resume: bool,
                       progress: ProgressHandler | None, in_flight: int) -> int:
        return await self._transfer(
            lambda report: self._engine.get(remote, local, resume=resume, preserve=preserve,
                                            progress=report, in_flight=in_flight,
                                            timeout=self.timeout),
            remote, local, progress)

    async def _put_one(self, local: str, remote: str, preserve: bool, resume: bool,
                       progress: ProgressHandler | None, in_flight: int) -> int:
        return await self._transfer(
            lambda report: self._engine.put(local, remote, resume=resume, preserve=preserve,
                                            progress=report, in_flight=in_flight,
                                            timeout=self.timeout),
            local, remote, progress)

    async def get(self, remotepaths: str | Sequence[str],
                  localpath: str | os.PathLike[str] | None = None, *,
                  preserve: bool = False, recurse: bool = False,
                  resume: bool = False, progress_handler: ProgressHandler | None = None,
                  max_requests: int = IN_FLIGHT) -> int:
        """Download one or more remote files (directories too with ``recurse``) to
        ``localpath`` (default: the current directory; a directory when several are given, or
        when it is one). ``preserve`` copies mode and times; ``resume`` continues partial local
        files after checking their last block; ``progress_handler(src, dst, done, total)`` is
        called as data arrives. Returns the bytes transferred."""
        sources = [remotepaths] if isinstance(remotepaths, str) else list(remotepaths)
        return await self._get(sources, localpath, preserve, recurse, resume, progress_handler,
                               max_requests)

    async def mget(self, patterns: str | Sequence[str],
                   localpath: str | os.PathLike[str] | None = None, **kwargs: Any) -> int:
        """:meth:`get` with remote glob patterns (``*.log``, ``data/*/part-?``); a pattern
        that matches nothing is an error (``FileNotFoundError``-compatible)."""
        sources: list[str] = []
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            matched = await self.glob(pattern) if _has_magic(pattern) else [pattern]
            if not matched:
                from ..errors import sftp_error
                raise sftp_error(SFTPStatus.NO_SUCH_FILE, "no match", pattern)
            sources += matched
        return await self._get(sources, localpath, kwargs.pop("preserve", False),
                               kwargs.pop("recurse", False), kwargs.pop("resume", False),
                               kwargs.pop("progress_handler", None),
                               kwargs.pop("max_requests", IN_FLIGHT), **kwargs)

    async def _get(self, sources: list[str], localpath: str | os.PathLike[str] | None,
                   preserve: bool, recurse: bool, resume: bool,
                   progress: ProgressHandler | None, max_requests: int) -> int:
        local = os.fspath(localpath) if localpath is not None else "."
        into_dir = len(sources) > 1 or os.path.isdir(local)
        pairs: list[tuple[str, str]] = []
        # only a recursive copy asks what each source is (all STATs in flight at once);
        # otherwise a directory fails in its transfer, as a file the server cannot read does
        stats = (await asyncio.gather(*(self.stat(src) for src in sources)) if recurse
                 else [None] * len(sources))
        for src, attrs in zip(sources, stats):
            dst = os.path.join(local, posixpath.basename(src.rstrip("/"))) if into_dir else local
            if attrs is not None and attrs.is_dir:
                await self._walk_down(src, dst, pairs, preserve)
            else:
                pairs.append((src, dst))
        return await self._run_pairs(pairs, False, preserve, resume, progress, max_requests)

    async def _walk_down(self, remote: str, local: str, pairs: list[tuple[str, str]],
                         preserve: bool) -> None:
        os.makedirs(local, exist_ok=True)
        for e in await self.readdir(remote):
            r, lo = posixpath.join(remote, e.filename), os.path.join(local, e.filename)
            if e.attrs.is_dir:
                await self._walk_down(r, lo, pairs, preserve)
            elif e.attrs.is_symlink:
                target = await self.readlink(r)
                if os.path.lexists(lo):
                    os.unlink(lo)
                os.symlink(target, lo)
            else:
                pairs.append((r, lo))
        if preserve:
            a = await self.stat(remote)
            if a.permissions is not None:
                os.chmod(local, a.permissions & 0o7777)
            if a.mtime is not None:
                os.utime(local, (a.atime or a.mtime, a.mtime))

    async def put(self, localpaths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                  remotepath: str | None = None, *, preserve: bool = False,
                  recurse: bool = False, resume: bool = False,
                  progress_handler: ProgressHandler | None = None,
                  max_requests: int = IN_FLIGHT) -> int:
        """Upload one or more local files (directories too with ``recurse``) to
        ``remotepath`` (default: the remote current directory; a directory when several are
        given, or when it is one). Options as for :meth:`get`. Returns the bytes
        transferred."""
        sources = ([os.fspath(localpaths)] if isinstance(localpaths, (str, os.PathLike))
                   else [os.fspath(p) for p in localpaths])
        return await self._put(sources, remotepath, preserve, recurse, resume,
                               progress_handler, max_requests)

    async def mput(self, patterns: str | Sequence[str], remotepath: str | None = None,
                   **kwargs: Any) -> int:
        """:meth:`put` with local glob patterns; a pattern that matches nothing is
        ``FileNotFoundError``."""
        import glob as _glob
        sources: list[str] = []
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            matched = sorted(_glob.glob(pattern)) if _has_magic(pattern) else [pattern]
            if not matched:
                raise FileNotFoundError(f"no local file matches {pattern!r}")
            sources += matched
        return await self._put(sources, remotepath, kwargs.pop("preserve", False),
                               kwargs.pop("recurse", False), kwargs.pop("resume", False),
                               kwargs.pop("progress_handler", None),
                               kwargs.pop("max_requests", IN_FLIGHT), **kwargs)

    async def _put(self, sources: list[str], remotepath: str | None, preserve: bool,
                   recurse: bool, resume: bool, progress: ProgressHandler | None,
                   max_requests: int) -> int:
        remote = remotepath if remotepath is not None else "."
        into_dir = len(sources) > 1 or await self.isdir(remote)
        pairs: list[tuple[str, str]] = []
        for src in sources:
            dst = posixpath.join(remote, os.path.basename(src.rstrip("/"))) if into_dir \
                else remote
            if os.path.isdir(src):
                if not recurse:
                    raise IsADirectoryError(f"{src} is a directory (recurse=True copies it)")
                await self._walk_up(src, dst, pairs, preserve)
            else:
                pairs.append((src, dst))
        return await self._run_pairs(pairs, True, preserve, resume, progress, max_requests)

    async def _walk_up(self, local: str, remote: str, pairs: list[tuple[str, str]],
                       preserve: bool) -> None:
        if not await self.isdir(remote):
            await self.mkdir(remote)
        for entry in sorted(os.scandir(local), key=lambda e: e.name):
            r = posixpath.join(remote, entry.name)
            if entry.is_symlink():
                if await self.exists(r):
                    await self.remove(r)
                await self.symlink(os.readlink(entry.path), r)
            elif entry.is_dir():
                await self._walk_up(entry.path, r, pairs, preserve)
            else:
                pairs.append((entry.path, r))
        if preserve:
            st = os.stat(local)
            await self.setstat(remote, SFTPAttributes(permissions=st.st_mode & 0o7777,
                                                      atime=int(st.st_atime),
                                                      mtime=int(st.st_mtime)))

    async def _run_pairs(self, pairs: list[tuple[str, str]], upload: bool, preserve: bool,
                         resume: bool, progress: ProgressHandler | None,
                         max_requests: int) -> int:
        if len(pairs) > 1 and not (preserve or resume or progress):
            return await self._batch(pairs, upload)
        one = self._put_one if upload else self._get_one
        total = 0
        for a, b in pairs:
            total += await one(a, b, preserve, resume, progress, max_requests)
        return total

    async def _batch(self, pairs: list[tuple[str, str]], upload: bool,
                     in_flight: int = MANY_FILES) -> int:
        """Many files at once on an SFTP channel of their own (closed at the end, or at once
        when the await is cancelled: that stops every transfer of the batch)."""
        engine = await _start(self._engine.session, self.timeout)
        try:
            many = engine.put_many if upload else engine.get_many
            return await wrap(many(pairs, in_flight=in_flight, timeout=self.timeout))
        finally:
            engine.close()

    # -- lifetime ---------------------------------------------------------------------------------

    def exit(self) -> None:
        """Close the SFTP session (its channel; the connection stays). Idempotent."""
        self._engine.close()

    close = exit

    @property
    def closed(self) -> bool:
        """True once the SFTP session ended (closed, or its channel or connection went)."""
        return self._engine.closed

    async def wait_closed(self) -> None:
        """Return once closed (:meth:`exit` takes effect at once)."""

    async def __aenter__(self) -> SFTPClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.exit()

    def __repr__(self) -> str:
        return f"<pylibssh.asyncio.SFTPClient {'closed' if self.closed else 'open'}>"


class SFTPClientFile:
    """An open remote file: ``read``/``write`` at the file position (or at ``offset``),
    pipelined (a large read or write is many requests in flight at once), ``seek``, ``tell``,
    ``stat``, ``setstat``, ``truncate``, ``fsync``, ``close``; ``async with`` closes it."""

    def __init__(self, sftp: SFTPClient, handle: bytes, path: str):
        self._sftp = sftp
        self._engine = sftp._engine
        self._handle: bytes | None = handle
        self.path = path
        self._pos = 0

    def _h(self) -> bytes:
        if self._handle is None:
            raise ValueError("I/O operation on a closed file")
        return self._handle

    async def read(self, size: int = -1, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes (all to the end when -1) at the position (or ``offset``, which
        leaves the position alone); ``b""`` at the end of the file."""
        h = self._h()
        eng, t = self._engine, self._sftp.timeout
        pos = self._pos if offset is None else offset
        if size < 0:
            end = (await wrap(eng.fstat(h, self.path, t))).size or 0
            size = max(0, end - pos)
            if not size:  # (a file whose size is not known: read until a short reply)
                out = bytearray()
                while True:
                    data = await wrap(eng.read(h, pos + len(out), eng.read_chunk, self.path, t))
                    if not data:
                        break
                    out += data
                data = bytes(out)
                if offset is None:
                    self._pos = pos + len(data)
                return data
        chunk = eng.read_chunk
        out = bytearray()
        done = False
        # IN_FLIGHT requests at a time: a large read does not flood the server
        for start in range(0, size, chunk * IN_FLIGHT):
            futures = [eng.read(h, pos + i, min(chunk, size - i), self.path, t)
                       for i in range(start, min(size, start + chunk * IN_FLIGHT), chunk)]
            for f in futures:
                part = await wrap(f)
                if not done:
                    out += part
                    # the end of the file, or a server that sent less: stop at the gap
                    done = len(part) < chunk and len(out) < size
            if done:
                break
        data = bytes(out)
        if offset is None:
            self._pos = pos + len(data)
        return data

    async def write(self, data: bytes | bytearray | memoryview, offset: int | None = None
                    ) -> int:
        """Write ``data`` at the position (or ``offset``); its length once the server has
        answered every WRITE."""
        h = self._h()
        eng, t = self._engine, self._sftp.timeout
        pos = self._pos if offset is None else offset
        view = memoryview(data).cast("B")
        chunk = eng.write_chunk
        for start in range(0, len(view), chunk * IN_FLIGHT):
            futures = [eng.write(h, pos + i, view[i:i + chunk], self.path, t)
                       for i in range(start, min(len(view), start + chunk * IN_FLIGHT), chunk)]
            for f in futures:
                await wrap(f)
        if offset is None:
            self._pos = pos + len(view)
        return len(view)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position (SEEK_SET, SEEK_CUR; SEEK_END needs :meth:`stat`: use
        ``f.seek((await f.stat()).size + offset)``)."""
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            raise ValueError("SEEK_END needs the size: seek((await f.stat()).size + offset)")
        return self._pos

    def tell(self) -> int:
        """The position."""
        return self._pos

    async def stat(self) -> SFTPAttributes:
        """The open file's attributes."""
        return await wrap(self._engine.fstat(self._h(), self.path, self._sftp.timeout))

    async def setstat(self, attrs: SFTPAttributes | dict[str, Any]) -> None:
        """Set the open file's attributes."""
        await wrap(self._engine.fsetstat(self._h(), SFTPAttributes.from_dict(attrs),
                                         self.path, self._sftp.timeout))

    async def truncate(self, size: int | None = None) -> None:
        """Set the file's size (default: the position)."""
        await self.setstat(SFTPAttributes(size=self._pos if size is None else size))

    async def fsync(self) -> None:
        """Ask the server to flush the file to disk (``fsync@openssh.com``)."""
        await wrap(self._engine.fsync(self._h(), self.path, self._sftp.timeout))

    async def close(self) -> None:
        """Close the remote handle (idempotent)."""
        h, self._handle = self._handle, None
        if h is not None and not self._engine.closed:
            await wrap(self._engine.close_handle(h, self.path, self._sftp.timeout))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._handle is None

    async def __aenter__(self) -> SFTPClientFile:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<pylibssh.asyncio.SFTPClientFile {self.path!r}>"


async def _start(session: ClientSession, timeout: float | None) -> SFTPEngine:
    """An SFTP session on ``session``'s connection. Cancelled, the start goes on and the
    session it makes is closed."""
    future = start_engine(session, timeout)
    try:
        return await wrap(future)
    except asyncio.CancelledError:
        def close_it(f: Future[SFTPEngine]) -> None:
            if f.exception() is None:
                f.result().close()

        future.add_done_callback(close_it)
        raise


class _Starting:
    """What :meth:`SSHClientConnection.start_sftp_client` returns: awaitable (the client)
    and an async context manager (closing it at the end)."""

    def __init__(self, coro: Coroutine[Any, Any, SFTPClient]):
        self._coro = coro
        self._sftp: SFTPClient | None = None

    def __await__(self) -> Generator[Any, None, SFTPClient]:
        return self._coro.__await__()

    async def __aenter__(self) -> SFTPClient:
        self._sftp = await self._coro
        return self._sftp

    async def __aexit__(self, *exc: Any) -> None:
        if self._sftp is not None:
            self._sftp.exit()


def start_sftp_client(conn: SSHClientConnection, timeout: float | None) -> _Starting:
    """Start an SFTP session on ``conn`` (see :meth:`SSHClientConnection.start_sftp_client`)."""
    t = DEFAULT_TIMEOUT if timeout is None else timeout

    async def start() -> SFTPClient:
        return SFTPClient(conn, await _start(conn._session, t), t)
    return _Starting(start())

