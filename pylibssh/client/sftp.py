"""The blocking SFTP client: :class:`SFTPClient` and :class:`SFTPFile` over the loop's
:class:`~pylibssh.client.sftp_engine.SFTPEngine`.

Every call sends its requests through the engine and waits for their futures
(:func:`~pylibssh.client._task.wait`): the loop's lock is held only while a request is queued,
never across a round trip, so keepalives, forwards and other sessions on the same loop run on
during a transfer. Each request has its own deadline (the call's ``timeout``); a server that
does not answer ends the call with :class:`~pylibssh.errors.SSHTimeoutError` naming the request.

**Pipelining.** :meth:`SFTPClient.get` and :meth:`SFTPClient.put` keep many requests of the
server's maximum length in flight (``limits@openssh.com``), a small file costing two round trips;
:meth:`SFTPClient.get_many` / :meth:`SFTPClient.put_many` move many files at once; an
:class:`SFTPFile` reads ahead and writes behind.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import posixpath
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ClosedError, SFTPError, SSHError, sftp_error
from ..sftp import SFTPAttributes, SFTPStatus
from ..sftp.constants import os_to_open_flags
from ..timeouts import DEFAULT, Timeout
from ._task import wait
from .sftp_engine import (
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

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

    from .client import Client

log = logging.getLogger("pylibssh.client")

__all__ = ["SFTPClient", "SFTPFile", "SFTPName", "StatVFS", "SFTPLimits", "SFTPEngine",
           "TransferResult"]

#: seconds a blocking call waits past its requests' deadline (which ends it first)
_GRACE = 5.0
#: a read of at least this much that nothing in flight serves is one bulk read of the engine's
#: C receiver (into the bytes returned, or the caller's buffer for readinto)
BULK_READ = 1 << 20
#: a bulk read of more than this is bounded by the file's size first (its bytes are set aside
#: up front)
BULK_SIZE_CHECKED = 64 << 20
Progress = Callable[[int, int], Any]
_T = TypeVar("_T")

_MODES = {
    "r": os.O_RDONLY, "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
}


def _open_flags(mode: str) -> int:
    base = mode.replace("b", "").replace("t", "")
    plus = "+" in base
    base = base.replace("+", "")
    if base not in _MODES or len(base) != 1:
        raise ValueError(f"invalid mode {mode!r}")
    flags = _MODES[base]
    if plus:
        flags = (flags & ~(os.O_RDONLY | os.O_WRONLY)) | os.O_RDWR
    return flags


class SFTPClient:
    """An SFTP session on a :class:`~pylibssh.client.Client`'s connection.

    Every method takes ``timeout`` (seconds each request may wait for its reply; default: the
    client's ``op_timeout`` or 60 s) and raises :class:`~pylibssh.errors.SFTPError` subclasses
    (``FileNotFoundError``-, ``PermissionError``-, ``FileExistsError``-compatible) carrying the
    server's message, :class:`~pylibssh.errors.SSHTimeoutError` for a request not answered in
    time, and :class:`~pylibssh.errors.ClosedError` once closed. :attr:`engine` is the same
    session without blocking (every operation a future).
    """

    def __init__(self, client: Client, timeout: float | None = None):
        self._client = client
        self._session = client.session
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self._files: weakref.WeakSet[SFTPFile] = weakref.WeakSet()
        t: float = self.timeout
        self._engine: SFTPEngine = wait(self._session._loop, start_engine(self._session, t),
                                        t + _GRACE, "starting SFTP")

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def engine(self) -> SFTPEngine:
        """The nonblocking client under this one (its operations return futures)."""
        return self._engine

    def _t(self, timeout: Any) -> float | None:
        return self.timeout if timeout is DEFAULT or timeout is None else timeout

    def wait(self, future: Future[_T], timeout: Timeout = DEFAULT, what: str = "SFTP") -> _T:
        """The result of one of :attr:`engine`'s futures, waiting for it (the loop runs
        meanwhile). ``timeout`` bounds the wait past the requests' own deadlines."""
        t = self._t(timeout)
        return wait(self._session._loop, future, None if t is None else t + _GRACE, what)

    def _wait_long(self, future: Future[_T], what: str) -> _T:
        """For operations of many requests (each has its deadline): no bound of its own."""
        return wait(self._session._loop, future, None, what)

    # -- information --------------------------------------------------------------------------------

    @property
    def server_version(self) -> int:
        """The SFTP version the server answered with (3 for every server in use)."""
        self._check()
        return self._engine.version

    @property
    def extensions(self) -> dict[str, str]:
        """The extensions the server offered, with their data as text."""
        self._check()
        return {k: v.decode("utf-8", "replace") for k, v in self._engine.extensions.items()}

    def limits(self, timeout: Timeout = DEFAULT) -> SFTPLimits:
        """The server's limits (``limits@openssh.com``, or what every server takes)."""
        self._check()
        return self._engine.limits

    def _check(self) -> None:
        if self._engine.closed:
            self._engine._check()

    # -- paths ----------------------------------------------------------------------------------

    def realpath(self, path: str = ".", timeout: Timeout = DEFAULT) -> str:
        """The canonical absolute path (``normalize`` in paramiko)."""
        return self.wait(self._engine.realpath(path, self._t(timeout)), timeout)

    normalize = realpath

    def getcwd(self) -> str:
        """The server's idea of the current directory: ``realpath(".")``."""
        return self.realpath(".")

    def expand_path(self, path: str, timeout: Timeout = DEFAULT) -> str:
        """``expand-path@openssh.com``: ``~`` and ``~user`` expanded, made absolute."""
        return self.wait(self._engine.expand_path(path, self._t(timeout)), timeout)

    def home_directory(self, user: str | None = None, timeout: Timeout = DEFAULT) -> str:
        """``home-directory`` extension: a user's home (the login user's by default)."""
        u = user or self._client.options.user or ""
        return self.wait(self._engine.home_directory(u, self._t(timeout)), timeout)

    def readlink(self, path: str, timeout: Timeout = DEFAULT) -> str:
        """The target of the symbolic link ``path``."""
        return self.wait(self._engine.readlink(path, self._t(timeout)), timeout)

    def symlink(self, target: str, link: str, timeout: Timeout = DEFAULT) -> None:
        """Create ``link`` pointing to ``target``."""
        self.wait(self._engine.symlink(target, link, self._t(timeout)), timeout)

    def hardlink(self, existing: str, new: str, timeout: Timeout = DEFAULT) -> None:
        """``hardlink@openssh.com``."""
        self.wait(self._engine.hardlink(existing, new, self._t(timeout)), timeout)

    def rename(self, old: str, new: str, timeout: Timeout = DEFAULT) -> None:
        """Rename; ``posix-rename@openssh.com`` when the server has it (so an existing ``new``
        is replaced atomically), plain v3 rename otherwise."""
        self.wait(self._engine.rename(old, new, self._t(timeout)), timeout)

    posix_rename = rename

    def remove(self, path: str, timeout: Timeout = DEFAULT) -> None:
        """Remove the file ``path`` (``FileNotFoundError`` when it is missing)."""
        self.wait(self._engine.remove(path, self._t(timeout)), timeout)

    unlink = remove

    def mkdir(self, path: str, mode: int = 0o777, timeout: Timeout = DEFAULT) -> None:
        """Create the directory ``path`` with permissions ``mode`` (less the server's umask;
        ``FileExistsError`` when it exists)."""
        self.wait(self._engine.mkdir(path, mode, self._t(timeout)), timeout)

    def makedirs(self, path: str, mode: int = 0o777, exist_ok: bool = True) -> None:
        """mkdir -p."""
        parts = []
        p = path.rstrip("/") or "/"
        while p not in ("", "/", "."):
            if self.exists(p):
                if not exist_ok and p == path.rstrip("/"):
                    raise sftp_error(SFTPStatus.FILE_ALREADY_EXISTS, "exists", path)
                break
            parts.append(p)
            p = posixpath.dirname(p)
        for q in reversed(parts):
            self.mkdir(q, mode)

    def rmdir(self, path: str, timeout: Timeout = DEFAULT) -> None:
        """Remove the empty directory ``path``."""
        self.wait(self._engine.rmdir(path, self._t(timeout)), timeout)

    def stat(self, path: str, timeout: Timeout = DEFAULT) -> SFTPAttributes:
        """Attributes of ``path``, symbolic links followed."""
        return self.wait(self._engine.stat(path, self._t(timeout)), timeout)

    def lstat(self, path: str, timeout: Timeout = DEFAULT) -> SFTPAttributes:
        """Attributes of ``path`` itself (a symbolic link is not followed)."""
        return self.wait(self._engine.lstat(path, self._t(timeout)), timeout)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a dangling symbolic link does); other errors raise."""
        try:
            self.lstat(path)
            return True
        except FileNotFoundError:
            return False

    def isdir(self, path: str) -> bool:
        """Whether ``path`` is a directory (following symbolic links); False when missing."""
        try:
            return self.stat(path).is_dir
        except FileNotFoundError:
            return False

    def setstat(self, path: str, attrs: SFTPAttributes | dict[str, Any],
                timeout: Timeout = DEFAULT) -> None:
        """Set what ``attrs`` carries (size, uid+gid, permissions, atime+mtime) on ``path``."""
        self.wait(self._engine.setstat(path, SFTPAttributes.from_dict(attrs), self._t(timeout)),
                  timeout)

    def lsetstat(self, path: str, attrs: SFTPAttributes | dict[str, Any],
                 timeout: Timeout = DEFAULT) -> None:
        """``lsetstat@openssh.com``: set attributes of a symlink itself."""
        self.wait(self._engine.lsetstat(path, SFTPAttributes.from_dict(attrs),
                                        self._t(timeout)), timeout)

    def chmod(self, path: str, mode: int, timeout: Timeout = DEFAULT) -> None:
        """Set the permissions of ``path``."""
        self.setstat(path, SFTPAttributes(permissions=mode), timeout)

    def chown(self, path: str, uid: int, gid: int, timeout: Timeout = DEFAULT) -> None:
        """Set the owner and group of ``path`` (numeric ids)."""
        self.setstat(path, SFTPAttributes(uid=uid, gid=gid), timeout)

    def utime(self, path: str, times: tuple[float, float] | None = None,
              timeout: Timeout = DEFAULT) -> None:
        """Set the access and modification times of ``path`` (default: now; whole seconds)."""
        now = time.time()
        atime, mtime = times if times is not None else (now, now)
        self.setstat(path, SFTPAttributes(atime=int(atime), mtime=int(mtime)), timeout)

    def truncate(self, path: str, size: int, timeout: Timeout = DEFAULT) -> None:
        """Set the size of the file ``path``."""
        self.setstat(path, SFTPAttributes(size=size), timeout)

    def statvfs(self, path: str = ".", timeout: Timeout = DEFAULT) -> StatVFS:
        """``statvfs@openssh.com``."""
        return self.wait(self._engine.statvfs(path, self._t(timeout)), timeout)

    # -- directories --------------------------------------------------------------------------

    def scandir(self, path: str = ".", timeout: Timeout = DEFAULT) -> list[SFTPName]:
        """Entries of a directory with their attributes (``.`` and ``..`` left out)."""
        return self._wait_long(self._engine.listdir(path, self._t(timeout)), "listing")

    listdir_attr = scandir

    def listdir(self, path: str = ".", timeout: Timeout = DEFAULT) -> list[str]:
        """The names in the directory ``path`` (``.`` and ``..`` left out)."""
        return [e.filename for e in self.scandir(path, timeout)]

    def walk(self, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk`` (top-down; symlinks are not followed)."""
        dirs: list[str] = []
        files: list[str] = []
        for e in self.scandir(top):
            (dirs if e.attrs.is_dir else files).append(e.filename)
        yield top, dirs, files
        for d in dirs:
            yield from self.walk(posixpath.join(top, d))

    # -- files ----------------------------------------------------------------------------------

    def open(self, path: str, mode: str = "r", permissions: int = 0o644,
             timeout: Timeout = DEFAULT) -> SFTPFile:
        """A file object (binary) that pipelines reads and writes internally."""
        flags = _open_flags(mode)
        handle = self.wait(self._engine.open(path, os_to_open_flags(flags),
                                             SFTPAttributes(permissions=permissions)
                                             if flags & os.O_CREAT else None,
                                             self._t(timeout)), timeout)
        fobj = SFTPFile(self, handle, os.fspath(path), mode, flags)
        self._files.add(fobj)
        if "a" in mode:
            fobj.seek(0, io.SEEK_END)
        return fobj

    file = open

    def read_bytes(self, path: str) -> bytes:
        """The whole content of the remote file ``path``."""
        with self.open(path, "rb") as f:
            return f.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        """Replace the remote file ``path`` with ``data`` (created when missing)."""
        with self.open(path, "wb") as f:
            f.write(data)

    # -- transfers ------------------------------------------------------------------------------

    def _chunk(self, write: bool) -> int:
        return self._engine.write_chunk if write else self._engine.read_chunk

    def get(self, remote: str, local: str | os.PathLike[str], *, progress: Progress | None = None,
            preserve: bool = False, resume: bool = False, recursive: bool = False,
            in_flight: int = IN_FLIGHT, timeout: Timeout = DEFAULT) -> int:
        """Download ``remote`` to ``local`` with ``in_flight`` requests pipelined; returns the
        bytes transferred. ``resume``: continue a partial local file after checking that its
        last block matches the remote file. ``preserve``: copy mode and times.
        ``recursive``: ``remote`` is a directory, copied with everything below it.
        ``progress(done, total)`` is called as data arrives, on the loop's thread (it must not
        block); an exception it raises ends the transfer and is raised here."""
        if recursive:
            return self._get_tree(remote, os.fspath(local), progress, preserve, resume,
                                  in_flight, timeout)
        result: TransferResult = self._wait_long(self._engine.get(
            remote, local, resume=resume, preserve=preserve, progress=progress,
            in_flight=in_flight, timeout=self._t(timeout)), "download")
        return result.transferred

    def put(self, local: str | os.PathLike[str], remote: str, *, progress: Progress | None = None,
            preserve: bool = False, resume: bool = False, recursive: bool = False,
            in_flight: int = IN_FLIGHT, timeout: Timeout = DEFAULT) -> int:
        """Upload ``local`` to ``remote`` (pipelined); returns the bytes transferred. Same
        options as :meth:`get`."""
        local = os.fspath(local)
        if recursive:
            return self._put_tree(local, remote, progress, preserve, resume, in_flight, timeout)
        result: TransferResult = self._wait_long(self._engine.put(
            local, remote, resume=resume, preserve=preserve, progress=progress,
            in_flight=in_flight, timeout=self._t(timeout)), "upload")
        return result.transferred

    def put_many(self, pairs: Iterable[tuple[str | os.PathLike[str], str]], *,
                 in_flight: int = MANY_FILES, timeout: Timeout = DEFAULT) -> int:
        """Upload many files: ``pairs`` of (local, remote), up to ``in_flight`` files open at
        once so their round trips overlap. Returns the bytes sent; raises the first error after
        the others finished."""
        return self._wait_long(self._engine.put_many(pairs, in_flight=in_flight,
                                                     timeout=self._t(timeout)), "upload")

    def get_many(self, pairs: Iterable[tuple[str, str | os.PathLike[str]]], *,
                 in_flight: int = MANY_FILES, timeout: Timeout = DEFAULT) -> int:
        """Download many files: ``pairs`` of (remote, local); like :meth:`put_many`."""
        return self._wait_long(self._engine.get_many(pairs, in_flight=in_flight,
                                                     timeout=self._t(timeout)), "download")

    def _get_tree(self, remote: str, local: str, progress: Progress | None, preserve: bool,
                  resume: bool, in_flight: int, timeout: Timeout) -> int:
        total = 0
        os.makedirs(local, exist_ok=True)
        for e in self.scandir(remote, timeout):
            r = posixpath.join(remote, e.filename)
            loc = os.path.join(local, e.filename)
            if e.attrs.is_dir:
                total += self._get_tree(r, loc, progress, preserve, resume, in_flight, timeout)
            elif e.attrs.is_symlink:
                target = self.readlink(r)
                if os.path.lexists(loc):
                    os.unlink(loc)
                os.symlink(target, loc)
            else:
                total += self.get(r, loc, progress=progress, preserve=preserve, resume=resume,
                                  in_flight=in_flight, timeout=timeout)
        if preserve:
            a = self.stat(remote)
            if a.permissions is not None:
                os.chmod(local, a.permissions & 0o7777)
            if a.mtime is not None:
                os.utime(local, (a.atime or a.mtime, a.mtime))
        return total

    def _put_tree(self, local: str, remote: str, progress: Progress | None, preserve: bool,
                  resume: bool, in_flight: int, timeout: Timeout) -> int:
        total = 0
        if not self.isdir(remote):
            self.mkdir(remote)
        for entry in os.scandir(local):
            r = posixpath.join(remote, entry.name)
            if entry.is_symlink():
                target = os.readlink(entry.path)
                if self.exists(r):
                    self.remove(r)
                self.symlink(target, r)
            elif entry.is_dir():
                total += self._put_tree(entry.path, r, progress, preserve, resume, in_flight,
                                        timeout)
            else:
                total += self.put(entry.path, r, progress=progress, preserve=preserve,
                                  resume=resume, in_flight=in_flight, timeout=timeout)
        if preserve:
            st = os.stat(local)
            self.setstat(remote, SFTPAttributes(permissions=st.st_mode & 0o7777,
                                                atime=int(st.st_atime), mtime=int(st.st_mtime)))
        return total

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the open files and the SFTP session (idempotent); the SSH connection stays
        open."""
        if self._engine.closed:
            return
        for f in list(self._files):
            try:
                f.close()
            except SSHError as exc:
                log.debug("closing %r: %s", f, exc)
        self._engine.close()

    @property
    def closed(self) -> bool:
        """The session ended (closed, or failed)."""
        return self._engine.closed

    def __enter__(self) -> SFTPClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SFTPClient {'closed' if self.closed else 'open'}>"


class SFTPFile(io.RawIOBase):
    """A remote file. Reads pipeline ``read_ahead`` requests; a read of :data:`BULK_READ` bytes
    or more with nothing read ahead is one bulk read of the engine's C receiver, written
    straight into the ``bytes`` returned (``readinto``: into the caller's buffer). Writes are
    sent without waiting for each reply (up to ``write_behind`` in flight; all are confirmed by
    ``flush``, ``seek`` and ``close``, which raise the first write error)."""

    read_ahead = 16
    write_behind = 32

    def __init__(self, sftp: SFTPClient, handle: bytes, path: str, mode: str, flags: int):
        super().__init__()
        self._sftp = sftp
        self._eng = sftp._engine
        self._h: bytes | None = handle
        self.name = path
        self.mode = mode
        self._readable = (flags & 3) in (os.O_RDONLY, os.O_RDWR)
        self._writable = (flags & 3) in (os.O_WRONLY, os.O_RDWR)
        self._pos = 0
        self._rbuf = bytearray()
        self._reads: deque[tuple[int, int, Future[bytes]]] = deque()  # (offset, length, reply)
        self._next_read = 0
        self._writes: deque[tuple[int, Future[None]]] = deque()  # (length, reply)
        self._write_error: BaseException | None = None
        self._eof = False
        self._eof_seen = False  # an end of file was met: read again, but one request first
        self._chunk_r = sftp._chunk(False)
        self._chunk_w = sftp._chunk(True)

    # -- plumbing --------------------------------------------------------------------------------

    def _check(self) -> bytes:
        if self._h is None:
            raise ValueError("I/O operation on closed file")
        if self._eng.closed:
            self._eng._check()
        return self._h

    def _wait(self, future: Future[_T], timeout: Timeout = DEFAULT) -> _T:
        return self._sftp.wait(future, timeout, f"SFTP on {self.name!r}")

    def _begin_read(self, length: int) -> None:
        offset = self._next_read
        self._reads.append((offset, length, self._eng.read(self._check(), offset, length,
                                                           self.name, self._sftp.timeout)))
        self._next_read = offset + length

    def _cancel_reads(self) -> None:
        """Forget the reads in flight (their replies are dropped when they come)."""
        self._reads.clear()
        self._next_read = self._pos + len(self._rbuf)

    def _flush_writes(self, keep: int = 0) -> None:
        while len(self._writes) > keep:
            length, reply = self._writes.popleft()
            try:
                self._wait(reply)
            except SFTPError as exc:
                if self._write_error is None:
                    self._write_error = exc
            except SSHError as exc:
                self._writes.clear()
                raise exc
        if not keep and self._write_error is not None:
            err, self._write_error = self._write_error, None
            raise err

    # -- reading --------------------------------------------------------------------------------

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    def _fill(self, want: int, timeout: Timeout = DEFAULT) -> None:
        """Read until ``want`` bytes are buffered or EOF, keeping read-ahead going."""
        self._check()
        self._flush_writes()
        if self._next_read < self._pos + len(self._rbuf):
            self._next_read = self._pos + len(self._rbuf)
        # after an end of file, one request first: the file may have grown, likely not
        ahead = 1 if self._eof_seen else self.read_ahead
        while len(self._rbuf) < want and not self._eof:
            while len(self._reads) < ahead:
                self._begin_read(self._chunk_r)
            offset, length, reply = self._reads.popleft()
            try:
                data = self._wait(reply, timeout)
            except BaseException:
                self._cancel_reads()
                raise
            n = len(data)
            if offset != self._pos + len(self._rbuf):  # pragma: no cover - replies in order
                raise SFTPError(SFTPStatus.FAILURE, "out-of-order read", self.name)
            self._rbuf += data
            if n < length:
                # EOF, or a short read: drop what was asked after it and go on from here
                self._cancel_reads()
                if n == 0:
                    self._eof = self._eof_seen = True
            elif self._eof_seen:
                self._eof_seen = False
                ahead = self.read_ahead

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all until the end when negative). At the end of the file it
        returns b"", and a later read asks the server again (the file may have grown), as
        Python's files do."""
        if not self._readable:
            raise io.UnsupportedOperation("not readable")
        if not self._rbuf:
            self._eof = False
        if size is None or size < 0:
            while not self._eof:
                self._fill(len(self._rbuf) + (8 << 20))
            size = len(self._rbuf)
        elif len(self._rbuf) < size:
            if size - len(self._rbuf) >= BULK_READ and not self._reads and not self._eof_seen:
                bulk = self._read_bulk(size)
                if bulk is not None:
                    return bulk
            self._fill(size)
        data = bytes(self._rbuf[:size])
        del self._rbuf[:size]
        self._pos += len(data)
        return data

    def readinto(self, b: WriteableBuffer) -> int:
        """Read into the writable buffer ``b`` (bytes-like, of any item size): the number of
        bytes read (0 at the end)."""
        with memoryview(b) as view, view.cast("B") as target:
            if (self._readable and not self._rbuf and not self._reads and not self._eof_seen
                    and target.nbytes >= BULK_READ):
                n: int = self._bulk(lambda handle: self._eng.read_into(
                    handle, self._pos, target, self.name, timeout=self._sftp.timeout),
                    target.nbytes)
                return n
            data = self.read(target.nbytes)
            target[:len(data)] = data
        return len(data)

    def _read_bulk(self, size: int) -> bytes | None:
        """read(size) past what is buffered, nothing being read ahead: one bulk read (None:
        the file ends too soon for one)."""
        head = bytes(self._rbuf)
        want = size - len(head)
        at = self._pos + len(head)
        if want > BULK_SIZE_CHECKED:
            want = min(want, (self.stat().size or 0) - at)
            if want < BULK_READ:
                return None
        data: bytes = self._bulk(lambda handle: self._eng.read_bytes(
            handle, at, want, self.name, timeout=self._sftp.timeout), want, len(head))
        self._rbuf.clear()
        return head + data if head else data

    def _bulk(self, start: Callable[[bytes], Future[Any]], want: int, skip: int = 0) -> Any:
        """Run a bulk read that ``start(handle)`` begins at ``pos + skip`` for ``want`` bytes;
        its outcome (a count or the bytes), the position moved past what it read. Interrupted
        (KeyboardInterrupt...), it is cancelled: no READ of it is left running."""
        handle = self._check()
        self._flush_writes()
        future = start(handle)
        try:
            got = self._sftp._wait_long(future, f"SFTP read of {self.name!r}")
        except BaseException:
            future.cancel()
            raise
        n = got if isinstance(got, int) else len(got)
        self._pos += skip + n
        self._next_read = self._pos
        if n < want:  # the end of the file
            self._eof = self._eof_seen = True
        return got

    def readline(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        while b"\n" not in self._rbuf and not self._eof and (size < 0 or len(self._rbuf) < size):
            self._fill(len(self._rbuf) + 1)
        i = self._rbuf.find(b"\n")
        n = len(self._rbuf) if i < 0 else i + 1
        if size >= 0:
            n = min(n, size)
        return self.read(n)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: ReadableBuffer) -> int:
        """Write ``data`` at the current position (pipelined: a failed WRITE raises at a
        later write, flush or close): its length."""
        if not self._writable:
            raise io.UnsupportedOperation("not writable")
        view = memoryview(data).cast("B")
        total = len(view)
        handle = self._check()
        if self._rbuf or self._reads:
            self._cancel_reads()
            self._rbuf.clear()
            self._eof = False
        pos = self._pos
        for i in range(0, total, self._chunk_w):
            piece = bytes(view[i:i + self._chunk_w])  # kept by the channel until sent
            self._writes.append((len(piece), self._eng.write(handle, pos + i, piece, self.name,
                                                             self._sftp.timeout)))
            if len(self._writes) >= self.write_behind:
                self._flush_writes(keep=self.write_behind // 2)
        self._pos += total
        return total

    def flush(self) -> None:
        if self._h is not None and self._writes:
            self._flush_writes()

    # -- positioning ------------------------------------------------------------------------

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self.stat().size or 0
        if offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        if offset != self._pos:
            self._check()
            self._flush_writes()
            self._rbuf.clear()
            self._eof = False
            self._pos = offset
            self._cancel_reads()
        return self._pos

    def stat(self, timeout: Timeout = DEFAULT) -> SFTPAttributes:
        """Attributes of the open file (FSTAT), after the writes still in flight."""
        handle = self._check()
        self._flush_writes()
        return self._wait(self._eng.fstat(handle, self.name, self._sftp._t(timeout)), timeout)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        self.flush()
        self._sftp.setstat(self.name, SFTPAttributes(size=size))
        return size

    def fsync(self, timeout: Timeout = DEFAULT) -> None:
        """``fsync@openssh.com``: the server flushes the file to disk."""
        handle = self._check()
        self._flush_writes()
        self._wait(self._eng.fsync(handle, self.name, self._sftp._t(timeout)), timeout)

    def statvfs(self, timeout: Timeout = DEFAULT) -> StatVFS:
        """``fstatvfs@openssh.com``: the file system holding the open file."""
        handle = self._check()
        return self._wait(self._eng.fstatvfs(handle, self.name, self._sftp._t(timeout)), timeout)

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        if self._h is None:
            return
        err: BaseException | None = None
        if self._eng.closed:  # the session went: its handles with it
            self._h = None
            self._writes.clear()
        else:
            try:
                self._flush_writes()
            except SSHError as exc:
                err = exc
            self._reads.clear()
            h, self._h = self._h, None
            try:
                self._wait(self._eng.close_handle(h, self.name, self._sftp.timeout))
            except ClosedError:
                pass
            except SSHError as exc:
                if err is None:
                    err = exc
        self._sftp._files.discard(self)
        super().close()
        if err is not None:
            raise err

    @property
    def closed(self) -> bool:
        """The file is closed (or its SFTP session ended)."""
        return self._h is None or self._eng.closed

    def __enter__(self) -> SFTPFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        pass  # no implicit I/O from the garbage collector; the SFTP session frees handles

    def __repr__(self) -> str:
        return f"<SFTPFile {self.name!r} mode={self.mode!r}{' closed' if self.closed else ''}>"
