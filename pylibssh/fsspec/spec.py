""":class:`SFTPFileSystem`: fsspec's asynchronous file system over pylibssh's SFTP client.

Every call is a coroutine on fsspec's event loop whose requests go out at once on one SFTP
session and are answered in any order: a listing's symbolic links are resolved together, a
``cat_ranges`` opens each file once and sends all its READs before the first answer, a
recursive ``get``/``put`` is one batch of the engine's many-files transfers (64 files in
flight), and ``cp_file`` is done by the server when it offers ``copy-data``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import errno
import os
import posixpath
import threading
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from fsspec.asyn import AsyncFileSystem, sync_wrapper
from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.utils import infer_storage_options, tokenize

from ..errors import SFTPError
from ..sftp import SFTPAttributes, SFTPStatus
from .connection import OpenFlags, SFTPConnection
from .file import SFTPFile
from .options import connect_options

__all__ = ["SFTPFileSystem"]

#: seconds each SFTP request may wait for its reply, unless ``request_timeout`` says otherwise
REQUEST_TIMEOUT = 60.0

_READ = OpenFlags.READ
_FAILURE = SFTPStatus["FAILURE"]
_CREATE = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC
_EXCLUSIVE = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL
_APPEND = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.APPEND
_STREAM_COPY = 16 << 20  # bytes held at once by a copy the server cannot do itself
_SIZE_CHECKED = 64 << 20  # a range longer than this is bounded by the file's size first
#: files from this size on get a transfer of their own in a bulk get/put
LARGE_FILE = 1 << 20
#: large files moved at once in a bulk get/put
LARGE_AT_ONCE = 4


class _Batch:
    """What one bulk operation (get, put, copy) gathers while fsspec walks its paths."""

    def __init__(self, follow: bool = True) -> None:
        self.infos: dict[str, dict[str, Any]] = {}  # every listing's entries, by name
        self.pairs: list[tuple[str, str]] = []  # files to move together
        # False: symbolic links are entries of their own, never walked through (rm)
        self.follow = follow


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("pylibssh_fsspec_batch",
                                                                     default=None)


class _Slot:
    """The file system's connection: made by the first call that needs it, made again by the
    first call after it is lost, closed by :meth:`close` (and when the file system goes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: concurrent.futures.Future[SFTPConnection] | None = None
        self.task: asyncio.Task[None] | None = None  # the connect running (asyncio keeps weak refs)

    def current(self) -> SFTPConnection | None:
        p = self.pending
        if p is not None and p.done() and p.exception() is None and p.result().alive:
            return p.result()
        return None

    def close(self) -> None:
        with self.lock:
            p, self.pending = self.pending, None
        if p is not None and p.done() and p.exception() is None:
            p.result().close()


def _kind(attrs: SFTPAttributes) -> str:
    if attrs.is_dir:
        return "directory"
    if attrs.is_file:
        return "file"
    if attrs.is_symlink:
        return "link"
    return "other"


def _info(name: str, attrs: SFTPAttributes, link: bool = False) -> dict[str, Any]:
    info = {"name": name, "size": attrs.size or 0, "type": _kind(attrs),
            "mode": attrs.permissions, "uid": attrs.uid, "gid": attrs.gid,
            "mtime": attrs.mtime, "atime": attrs.atime}
    if link:
        info["islink"] = True
    return info


def _exists_error(path: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)


def _failure(exc: BaseException) -> bool:
    """SFTP version 3's catch-all status (OpenSSH answers it for EEXIST, EISDIR, ENOTEMPTY...)."""
    return isinstance(exc, SFTPError) and exc.status == _FAILURE


class SFTPFileSystem(AsyncFileSystem):  # type: ignore[misc]  # fsspec has no types
    """SFTP as an fsspec file system, on pylibssh's client: ``libssh://[user@]host[:port]/path``
    URLs (and ``sftp://``, ``ssh://`` after :func:`~pylibssh.fsspec.register_sftp`).

    ``host`` and the connection options are :func:`pylibssh.connect`'s: ``port``, ``user``
    (or ``username``), ``password``, ``keys`` (key paths or :class:`~pylibssh.Key` objects;
    also ``key_filename``, ``client_keys``), ``passphrase``, ``agent``, ``look_for_keys``,
    ``known_hosts`` (default ``~/.ssh/known_hosts``), ``host_key_policy`` (default
    ``"strict"``: an unknown host is refused; ``"accept-new"``, ``"ignore"``...), ``config``
    (or ``ssh_config``; default ``~/.ssh/config``, None for none), ``timeout`` (connect and
    authenticate, 30 s), ``proxy_jump``, ``ciphers``... ``request_timeout`` (default 60 s)
    bounds each SFTP request. Other keywords go to fsspec (``asynchronous``, ``loop``,
    ``skip_instance_cache``...).

    The connection is made at the first call that needs it and made again at the first call
    after it was lost; fsspec's instance cache gives one file system, so one connection, per
    host and options; :meth:`close` (or the end of the program) closes it. Paths are the
    server's: absolute, or relative to the login directory, which a URL names with ``~``
    (``libssh://host/~/data.csv``). Errors are the built-in ones
    (``FileNotFoundError``, ``FileExistsError``, ``PermissionError``, ``IsADirectoryError``,
    ``NotADirectoryError``; other statuses an ``OSError``), connection failures pylibssh's
    :class:`~pylibssh.errors.SSHError` subclasses.
    """

    protocol = ("libssh",)
    root_marker = "/"

    def __init__(self, host: str, *, request_timeout: float | None = REQUEST_TIMEOUT,
                 **options: Any):
        conn_options, fs_options = connect_options(host, options)
        super().__init__(**fs_options)
        self.host = host
        self.request_timeout = request_timeout
        self._options = conn_options
        self._slot = _Slot()
        weakref.finalize(self, self._slot.close)

    # -- URLs --------------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if not isinstance(path, str) else path
        if "://" in path:
            path = infer_storage_options(path)["path"]
        # "~" is the login directory, where the server resolves relative paths
        # (libssh://host/~/data.csv names data.csv there)
        if path in ("~", "/~", "~/", "/~/"):
            return "."
        if path.startswith(("~/", "/~/")):
            path = path.split("~/", 1)[1]
        stripped = path.rstrip("/")
        return stripped or (cls.root_marker if path.startswith("/") else "")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        out: dict[str, Any] = infer_storage_options(path)
        for key in ("path", "protocol", "url_query", "url_fragment"):
            out.pop(key, None)
        return out

    # -- the connection ----------------------------------------------------------------------------

    async def _sftp(self) -> SFTPConnection:
        slot = self._slot
        conn = slot.current()
        if conn is not None:
            return conn
        with slot.lock:
            p = slot.pending
            if p is None or (p.done() and (p.exception() is not None or not p.result().alive)):
                if p is not None and p.done() and p.exception() is None:
                    p.result().close()
                p = slot.pending = concurrent.futures.Future()
                slot.task = asyncio.get_running_loop().create_task(self._connect_into(p))
        return await asyncio.wrap_future(p)

    async def _connect_into(self, out: concurrent.futures.Future[SFTPConnection]) -> None:
        try:
            conn = await SFTPConnection.connect(self._options, self.request_timeout)
        except BaseException as exc:  # noqa: BLE001 - every waiter gets it
            out.set_exception(exc)
        else:
            out.set_result(conn)

    def close(self) -> None:
        """Close the connection (idempotent, any thread); a later call connects again."""
        self._slot.close()

    async def _open_handle(self, path: str, flags: OpenFlags) -> bytes:
        """Open ``path``, creating its parent directories for a new file when they are missing;
        SFTP v3's FAILURE answers become FileExistsError / IsADirectoryError where they mean
        that."""
        sftp = await self._sftp()
        try:
            return await sftp.open(path, flags)
        except FileNotFoundError:
            if not flags & OpenFlags.CREAT or self._parent(path) in (path, "", "/"):
                raise
            await self._makedirs(self._parent(path), exist_ok=True)
            return await sftp.open(path, flags)
        except OSError as exc:
            if not _failure(exc):
                raise
            kind = await self._kind_of(path)
            if kind == "directory":
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path) from exc
            if kind is not None and flags & OpenFlags.EXCL:
                raise _exists_error(path) from exc
            raise

    async def _kind_of(self, path: str, follow: bool = True) -> str | None:
        """``path``'s type (a link's target's, unless ``follow`` is False), None if nothing
        is there."""
        sftp = await self._sftp()
        try:
            return _kind(await (sftp.stat(path) if follow else sftp.lstat(path)))
        except OSError:
            return None

    # -- information -------------------------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        sftp = await self._sftp()
        attrs = await sftp.lstat(path)
        batch = _batch.get()
        if attrs.is_symlink and (batch is None or batch.follow):
            try:
                return _info(path, await sftp.stat(path), link=True)
            except FileNotFoundError:  # a dangling link is itself
                pass
        return _info(path, attrs)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        sftp = await self._sftp()
        batch = _batch.get()
        follow = batch is None or batch.follow
        try:
            if follow:
                entries = await sftp.listdir(path)
            else:  # a link lists as itself: nothing is reached through it
                own, listed = await asyncio.gather(sftp.lstat(path), sftp.listdir(path),
                                                   return_exceptions=True)
                if isinstance(own, SFTPAttributes) and own.is_symlink:
                    info = _info(path, own)
                    return [info] if detail else [path]
                if isinstance(listed, BaseException):
                    raise listed
                entries = listed
        except OSError as exc:  # OpenSSH: NO_SUCH_FILE for a file (ENOTDIR); others FAILURE
            if not (isinstance(exc, FileNotFoundError) or _failure(exc)):
                raise
            try:
                info = await self._info(path)  # a file lists as itself
            except FileNotFoundError:
                raise exc from None
            if info["type"] == "directory":
                raise
            return [info] if detail else [path]
        base = "" if path in ("", ".") else path.rstrip("/") + "/"
        names = [base + e.filename for e in entries]
        infos = [_info(n, e.attrs) for n, e in zip(names, entries)]
        links = [i for i, e in enumerate(entries) if e.attrs.is_symlink] if follow else []
        if links:  # what each link points to, asked at once
            targets = await asyncio.gather(*(sftp.stat(names[i]) for i in links),
                                           return_exceptions=True)
            for i, target in zip(links, targets):
                if isinstance(target, SFTPAttributes):
                    infos[i] = _info(names[i], target, link=True)
        if batch is not None:
            batch.infos.update((i["name"], i) for i in infos)
        return infos if detail else names

    async def _modified(self, path: str) -> datetime:
        """``path``'s modification time (UTC); OSError when the server sends none."""
        mtime = (await self._info(path))["mtime"]
        if mtime is None:
            raise OSError(errno.ENODATA, "the server sent no modification time", path)
        return datetime.fromtimestamp(mtime, tz=timezone.utc)

    modified = sync_wrapper(_modified)

    def ukey(self, path: str) -> str:
        """A key that changes when the file does: its name, size and modification time (no
        checksum is computed: SFTP has none)."""
        info = self.info(path)
        key: str = tokenize(info["name"], info["size"], info["mtime"], info["type"])
        return key

    # -- directories -------------------------------------------------------------------------------

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if create_parents:
            return await self._makedirs(path, exist_ok=False, **kwargs)
        sftp = await self._sftp()
        try:
            await sftp.mkdir(path, kwargs.get("permissions", 0o777))
        except OSError as exc:
            if _failure(exc) and await self._kind_of(path) is not None:
                raise _exists_error(path) from exc
            raise

    async def _makedirs(self, path: str, exist_ok: bool = False, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        sftp = await self._sftp()
        try:
            await sftp.mkdir(path, kwargs.get("permissions", 0o777))
            return
        except FileNotFoundError:
            parent = self._parent(path)
            if parent in (path, "", "/"):
                raise
            await self._makedirs(parent, exist_ok=True)
            try:
                await sftp.mkdir(path, kwargs.get("permissions", 0o777))
                return
            except OSError as exc:
                error: OSError = exc
        except OSError as exc:
            error = exc
        if not _failure(error) and not isinstance(error, PermissionError):
            raise error
        kind = await self._kind_of(path)  # mkdir of what exists fails: is it our directory?
        if kind is None:
            raise error
        if kind != "directory":
            raise _exists_error(path) from error
        if not exist_ok:
            raise _exists_error(path) from error

    async def _rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        await (await self._sftp()).rmdir(self._strip_protocol(path))

    rmdir = sync_wrapper(_rmdir)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        try:
            await (await self._sftp()).remove(path)
        except OSError as exc:
            if _failure(exc) and await self._kind_of(path) == "directory":
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path) from exc
            raise

    async def _rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None,
                  **kwargs: Any) -> None:
        batch = _Batch(follow=False)
        token = _batch.set(batch)
        try:
            paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        finally:
            _batch.reset(token)
        kinds = {p: i["type"] for p, i in batch.infos.items()}
        unknown = [p for p in paths if p not in kinds]
        found = await asyncio.gather(*(self._kind_of(p, follow=False) for p in unknown))
        kinds.update(zip(unknown, found))
        files = [p for p in paths if kinds.get(p) != "directory"]
        dirs = [p for p in paths if kinds.get(p) == "directory"]
        if dirs and not recursive:
            raise IsADirectoryError(errno.EISDIR, "a directory needs recursive=True", dirs[0])
        sftp = await self._sftp()
        await asyncio.gather(*(sftp.remove(p) for p in files))
        for depth in sorted({d.count("/") for d in dirs}, reverse=True):  # deepest first
            await asyncio.gather(*(sftp.rmdir(d) for d in dirs if d.count("/") == depth))
        self.invalidate_cache()

    async def _mv(self, path1: Any, path2: Any, recursive: bool = False,
                  maxdepth: int | None = None, **kwargs: Any) -> None:
        """Move by renaming on the server (``posix-rename@openssh.com`` where offered, which
        replaces an existing file); lists and glob patterns move as copy + delete."""
        if (not isinstance(path1, str) or not isinstance(path2, str) or maxdepth is not None
                or any(c in path1 for c in "*?[")):
            await self._copy(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
            await self._rm(path1, recursive=recursive)
            return
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        if await self._kind_of(dst) == "directory":
            dst = posixpath.join(dst, posixpath.basename(src))
        if await self._kind_of(src) == "directory" and not recursive:
            raise IsADirectoryError(errno.EISDIR, "moving a directory needs recursive=True", src)
        try:
            await (await self._sftp()).rename(src, dst)
        except FileNotFoundError:
            if await self._kind_of(src) is None:
                raise
            await self._makedirs(self._parent(dst), exist_ok=True)
            await (await self._sftp()).rename(src, dst)
        self.invalidate_cache()

    mv = sync_wrapper(_mv)

    async def _mv_file(self, path1: str, path2: str) -> None:
        await (await self._sftp()).rename(self._strip_protocol(path1),
                                          self._strip_protocol(path2))

    # -- contents ----------------------------------------------------------------------------------

    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None,
                        **kwargs: Any) -> bytes:
        path = self._strip_protocol(path)
        sftp = await self._sftp()
        handle = await self._open_handle(path, _READ)
        try:
            return await self._read_range(sftp, handle, path, start, end)
        finally:
            await sftp.close_handle(handle, path)

    async def _read_range(self, sftp: SFTPConnection, handle: bytes, path: str,
                          start: int | None, end: int | None, size: int | None = None) -> bytes:
        # a large range is read into memory set aside up front: bounded by the file's size
        if size is None and (start is None or start < 0 or end is None or end < 0
                             or end - start > _SIZE_CHECKED):
            attrs = await sftp.fstat(handle, path)
            if attrs.is_dir:
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            size = attrs.size or 0
        start = start or 0
        if size is not None:  # (known whenever a bound is missing or counts from the end)
            if start < 0:
                start = max(0, size + start)
            if end is None:
                end = size
            elif end < 0:
                end = max(0, size + end)
        assert end is not None
        if size is not None:
            end = min(end, size)
        if end <= start:
            return b""
        return await sftp.read(handle, start, end, path)

    async def _cat_ranges(self, paths: list[str], starts: Any, ends: Any,
                          max_gap: int | None = None, batch_size: int | None = None,
                          on_error: str = "return", **kwargs: Any) -> list[Any]:
        """Each file opened once, all its ranges read at once, then closed."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        n = len(paths)
        starts = list(starts) if isinstance(starts, Iterable) else [starts] * n
        ends = list(ends) if isinstance(ends, Iterable) else [ends] * n
        if len(starts) != n or len(ends) != n:
            raise ValueError("paths, starts and ends differ in length")
        sftp = await self._sftp()
        by_path: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            by_path.setdefault(self._strip_protocol(p), []).append(i)
        out: list[Any] = [None] * n

        async def one_file(path: str, which: list[int]) -> None:
            try:
                handle = await self._open_handle(path, _READ)
            except Exception as exc:  # noqa: BLE001 - each range's outcome
                for i in which:
                    out[i] = exc
                return
            try:
                size = None
                if any(starts[i] is None or starts[i] < 0 or ends[i] is None or ends[i] < 0
                       for i in which):
                    size = (await sftp.fstat(handle, path)).size or 0
                got = await asyncio.gather(*(self._read_range(
                    sftp, handle, path, starts[i], ends[i], size) for i in which),
                    return_exceptions=True)
                for i, data in zip(which, got):
                    out[i] = data
            finally:
                await sftp.close_handle(handle, path)

        await asyncio.gather(*(one_file(p, w) for p, w in by_path.items()))
        if on_error != "return":
            for item in out:
                if isinstance(item, BaseException):
                    raise item
        return out

    async def _pipe_file(self, path: str, value: bytes, mode: str = "overwrite",
                         **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        sftp = await self._sftp()
        handle = await self._open_handle(path, _EXCLUSIVE if mode == "create" else _CREATE)
        try:
            await sftp.write(handle, 0, value, path)
        finally:
            await sftp.close_handle(handle, path)
        self.invalidate_cache(path)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy on the server with ``copy-data`` when it offers it, else through this process
        (16 MiB at a time). A directory is copied as a new empty directory."""
        src, dst = self._strip_protocol(path1), self._strip_protocol(path2)
        batch = _batch.get()
        known = batch.infos.get(src) if batch is not None else None
        kind = known["type"] if known is not None else await self._kind_of(src)
        if kind is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), src)
        if kind == "directory":
            return await self._makedirs(dst, exist_ok=True)
        sftp = await self._sftp()
        rh = await self._open_handle(src, _READ)
        try:
            wh = await self._open_handle(dst, _CREATE)
            try:
                if sftp.offers("copy-data"):
                    await sftp.copy_data(rh, wh)
                else:
                    offset = 0
                    while True:
                        data = await sftp.read(rh, offset, offset + _STREAM_COPY, src)
                        if not data:
                            break
                        await sftp.write(wh, offset, data, dst)
                        offset += len(data)
            finally:
                await sftp.close_handle(wh, dst)
        finally:
            await sftp.close_handle(rh, src)

    async def _copy(self, path1: Any, path2: Any, **kwargs: Any) -> Any:
        token = _batch.set(_Batch())
        try:
            return await super()._copy(path1, path2, **kwargs)
        finally:
            _batch.reset(token)

    # -- transfers ---------------------------------------------------------------------------------

    async def _get_file(self, rpath: str, lpath: str, callback: Any = DEFAULT_CALLBACK,
                        **kwargs: Any) -> None:
        rpath = self._strip_protocol(rpath)
        batch = _batch.get()
        info = batch.infos.get(rpath) if batch is not None else None
        if info is None and batch is not None:
            info = await self._info(rpath)
        if info is not None and info["type"] == "directory":
            os.makedirs(lpath, exist_ok=True)
            return
        if batch is not None:
            batch.pairs.append((rpath, lpath))
            return
        try:
            await (await self._sftp()).get(rpath, lpath)
        except OSError as exc:
            if _failure(exc) and await self._kind_of(rpath) == "directory":
                os.makedirs(lpath, exist_ok=True)
                return
            raise

    async def _get(self, rpath: Any, lpath: Any, recursive: bool = False,
                   callback: Any = DEFAULT_CALLBACK, maxdepth: int | None = None,
                   **kwargs: Any) -> None:
        """fsspec's ``get`` (its paths, its rules); the files then go in one batch of the
        engine's many-files download."""
        batch = _Batch()
        token = _batch.set(batch)
        try:
            await super()._get(rpath, lpath, recursive=recursive, maxdepth=maxdepth, **kwargs)
        finally:
            _batch.reset(token)
        if batch.pairs:
            callback.set_size(len(batch.pairs))
            sizes = {r: batch.infos[r]["size"] for r, _ in batch.pairs if r in batch.infos}
            await self._transfer(batch.pairs, [sizes.get(r) for r, _ in batch.pairs], False)
            callback.relative_update(len(batch.pairs))

    async def _transfer(self, pairs: list[tuple[str, str]], sizes: list[int | None],
                        upload: bool) -> None:
        """Move ``pairs``: small files (and those of unknown size) together in the engine's
        many-files transfer (64 files, 8 requests each), large ones each with a transfer of its
        own (32 requests in flight), :data:`LARGE_AT_ONCE` of them at a time."""
        sftp = await self._sftp()
        small = [p for p, n in zip(pairs, sizes) if n is None or n < LARGE_FILE]
        large = [p for p, n in zip(pairs, sizes) if n is not None and n >= LARGE_FILE]
        window = asyncio.Semaphore(LARGE_AT_ONCE)

        async def one(src: str, dst: str) -> None:
            async with window:
                await (sftp.put(src, dst) if upload else sftp.get(src, dst))

        many = (sftp.put_many if upload else sftp.get_many)(small) if small else None
        results = await asyncio.gather(*(one(s, d) for s, d in large),
                                       *([many] if many is not None else []),
                                       return_exceptions=True)
        for outcome in results:  # every file had its turn: the first error
            if isinstance(outcome, BaseException):
                raise outcome

    async def _put_file(self, lpath: str, rpath: str, callback: Any = DEFAULT_CALLBACK,
                        mode: str = "overwrite", **kwargs: Any) -> None:
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            return await self._makedirs(rpath, exist_ok=True)
        batch = _batch.get()
        if batch is not None and mode == "overwrite":
            batch.pairs.append((lpath, rpath))
            return
        if mode == "create" and await self._kind_of(rpath) is not None:
            raise _exists_error(rpath)
        sftp = await self._sftp()
        try:
            await sftp.put(lpath, rpath)
        except FileNotFoundError:
            if not os.path.exists(lpath):
                raise
            await self._makedirs(self._parent(rpath), exist_ok=True)
            await sftp.put(lpath, rpath)
        self.invalidate_cache(rpath)

    async def _put(self, lpath: Any, rpath: Any, recursive: bool = False,
                   callback: Any = DEFAULT_CALLBACK, maxdepth: int | None = None,
                   **kwargs: Any) -> None:
        """fsspec's ``put`` (its paths, its rules); the files then go in one batch of the
        engine's many-files upload, after their directories are made."""
        batch = _Batch()
        token = _batch.set(batch)
        try:
            await super()._put(lpath, rpath, recursive=recursive, maxdepth=maxdepth, **kwargs)
        finally:
            _batch.reset(token)
        if not batch.pairs:
            return
        parents = sorted({self._parent(r) for _, r in batch.pairs} - {"", "/"})
        kinds = await asyncio.gather(*(self._kind_of(p) for p in parents))
        for parent, kind in zip(parents, kinds):
            if kind is None:
                await self._makedirs(parent, exist_ok=True)
        callback.set_size(len(batch.pairs))
        await self._transfer(batch.pairs, [os.path.getsize(lo) for lo, _ in batch.pairs], True)
        callback.relative_update(len(batch.pairs))
        self.invalidate_cache()

    # -- files -------------------------------------------------------------------------------------

    def _open(self, path: str, mode: str = "rb", block_size: Any = None,
              autocommit: bool = True, cache_options: Any = None, **kwargs: Any) -> SFTPFile:
        return SFTPFile(self, self._strip_protocol(path), mode, block_size=block_size,
                        autocommit=autocommit, cache_options=cache_options, **kwargs)

    async def _open_for_file(self, path: str, mode: str) -> tuple[SFTPConnection, bytes, int]:
        """A handle for :class:`SFTPFile`, and the size of a file opened to read or append."""
        flags = {"rb": _READ, "wb": _CREATE, "xb": _EXCLUSIVE, "ab": _APPEND}[mode]
        sftp = await self._sftp()
        handle = await self._open_handle(path, flags)
        if mode not in ("rb", "ab"):
            return sftp, handle, 0
        try:
            attrs = await sftp.fstat(handle, path)
            if attrs.is_dir:
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        except BaseException:
            await sftp.close_handle(handle, path)
            raise
        return sftp, handle, attrs.size or 0
