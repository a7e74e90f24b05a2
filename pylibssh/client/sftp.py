"""The SFTP client (protocol version 3 and OpenSSH's extensions) over libssh's ``sftp_*`` API.

**Blocking sections.** libssh's SFTP client insists on a blocking session (``sftp_new`` refuses a
nonblocking one, and its reads wait for replies with ``ssh_channel_read``). So every SFTP call
runs inside ``session.blocking()``: under the loop's lock, with the session switched to blocking
mode for the call and back afterwards, and with libssh's session timeout set to the call's
timeout, so a dead server ends in :class:`~pylibssh.errors.SSHTimeoutError`, never a hang. Other
channels of the session keep working: libssh runs their callbacks during the call and the events
are dispatched after it. The cost: an SFTP call holds its loop for its duration, which is why
each blocking :class:`Client` has a loop of its own by default.

**Pipelining.** Transfers keep many requests in flight with ``sftp_aio_begin_*`` /
``sftp_aio_wait_*`` (chunks sized by the server's ``limits@openssh.com``), in :meth:`get`,
:meth:`put` and inside :class:`SFTPFile`'s read-ahead and write-behind.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import posixpath
import time
import stat as _stat
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._binding import NULL, ffi, lib, take_string
from ..errors import ClosedError, SFTPError, SSHError, SSHTimeoutError, error_from, sftp_error
from ..sftp import SFTPAttributes

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("pylibssh.client")

__all__ = ["SFTPClient", "SFTPFile", "SFTPName", "StatVFS", "SFTPLimits"]

DEFAULT_TIMEOUT = 60.0
IN_FLIGHT = 32  # requests in flight per transfer
Progress = Callable[[int, int], Any]


@dataclass
class SFTPName:
    """One directory entry: ``filename``, ``longname`` (``ls -l`` line) and ``attrs``."""

    filename: str
    longname: str
    attrs: SFTPAttributes


@dataclass
class StatVFS:
    f_bsize: int
    f_frsize: int
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_files: int
    f_ffree: int
    f_favail: int
    f_fsid: int
    f_flag: int
    f_namemax: int


@dataclass
class SFTPLimits:
    max_packet_length: int
    max_read_length: int
    max_write_length: int
    max_open_handles: int


def _attrs(a) -> SFTPAttributes:
    """Copy an ``sftp_attributes`` (the caller frees it)."""
    f = a.flags
    out = SFTPAttributes()
    if f & lib.SSH_FILEXFER_ATTR_SIZE:
        out.size = a.size
    if f & lib.SSH_FILEXFER_ATTR_UIDGID:
        out.uid, out.gid = a.uid, a.gid
    if f & lib.SSH_FILEXFER_ATTR_PERMISSIONS:
        out.permissions = a.permissions
    if f & lib.SSH_FILEXFER_ATTR_ACMODTIME:
        out.atime, out.mtime = a.atime, a.mtime
    return out


def _c_attrs(attrs: SFTPAttributes):
    """A C ``sftp_attributes`` carrying what is set in ``attrs`` (owned by Python)."""
    a = ffi.new("struct sftp_attributes_struct *")
    flags = 0
    if attrs.size is not None:
        a.size = attrs.size
        flags |= lib.SSH_FILEXFER_ATTR_SIZE
    if attrs.uid is not None or attrs.gid is not None:
        if attrs.uid is None or attrs.gid is None:
            raise ValueError("uid and gid are set together in SFTP v3")
        a.uid, a.gid = attrs.uid, attrs.gid
        flags |= lib.SSH_FILEXFER_ATTR_UIDGID
    if attrs.permissions is not None:
        a.permissions = attrs.permissions
        flags |= lib.SSH_FILEXFER_ATTR_PERMISSIONS
    if attrs.atime is not None or attrs.mtime is not None:
        if attrs.atime is None or attrs.mtime is None:
            raise ValueError("atime and mtime are set together in SFTP v3")
        a.atime, a.mtime = int(attrs.atime), int(attrs.mtime)
        a.atime64, a.mtime64 = int(attrs.atime), int(attrs.mtime)
        flags |= lib.SSH_FILEXFER_ATTR_ACMODTIME
    a.flags = flags
    return a


def _b(path: str | bytes | os.PathLike) -> bytes:
    p = os.fspath(path)
    return p.encode("utf-8") if isinstance(p, str) else p


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

    Every method takes ``timeout`` (seconds; default: the client's ``op_timeout`` or 60 s) and
    raises :class:`~pylibssh.errors.SFTPError` subclasses (``FileNotFoundError``-,
    ``PermissionError``-, ``FileExistsError``-compatible) carrying the server's message.
    """

    def __init__(self, client: Client, timeout: float | None = None):
        self._client = client
        self._session = client.session
        self.timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self._sftp = NULL
        self._files: weakref.WeakSet[SFTPFile] = weakref.WeakSet()
        self._file_engine = None  # read_small / write_small's channel (sftp_batch.FileEngine)
        self._limits: SFTPLimits | None = None
        self._section: tuple[float, float] = (0.0, 0.0)  # (start, timeout) of the current call
        with self._blocking(self.timeout) as s:
            sftp = lib.sftp_new(s)
            if sftp == NULL:
                raise error_from(s, "starting the SFTP subsystem")
            if lib.sftp_init(sftp) != lib.SSH_OK:
                err = self._error_of(sftp, s, "SFTP init")
                lib.sftp_free(sftp)
                raise err
            self._sftp = sftp
            self._session._sftp_clients.add(self)

    # -- plumbing ---------------------------------------------------------------------------------

    def _blocking(self, timeout: Any = ...):
        t = self.timeout if timeout is ... or timeout is None else timeout
        return _Section(self, t)

    @staticmethod
    def _error_of(sftp, s, what: str, path: Any = None) -> SSHError:
        status = lib.sftp_get_error(sftp) if sftp != NULL else 0
        msg = ffi.string(lib.ssh_get_error(s)).decode("utf-8", "replace")
        filename = os.fsdecode(path) if path is not None else None
        if status > 0 and status != lib.SSH_FX_EOF:
            return sftp_error(status, f"{what}: {msg}" if msg else what, filename)
        err = error_from(s, what)
        if filename:
            err.args = (f"{err.message}: {filename!r}",)
        return err

    def _err(self, what: str, path: Any = None) -> SSHError:
        err = self._error_of(self._sftp, self._session._s, what, path)
        started, timeout = self._section
        if (not isinstance(err, SFTPError) or err.status == lib.SSH_FX_FAILURE) and \
                started and time.monotonic() - started >= timeout * 0.9:
            # libssh's blocking read gave up at the session timeout
            return SSHTimeoutError(f"SFTP {what} timed out after {timeout:g} s"
                                   + (f": {os.fsdecode(path)!r}" if path is not None else ""))
        return err

    def _check(self) -> Any:
        if self._sftp == NULL:
            raise ClosedError("the SFTP session is closed")
        return self._sftp

    # -- information --------------------------------------------------------------------------------

    @property
    def server_version(self) -> int:
        return lib.sftp_server_version(self._check())

    @property
    def extensions(self) -> dict[str, str]:
        sftp = self._check()
        out = {}
        for i in range(lib.sftp_extensions_get_count(sftp)):
            name = lib.sftp_extensions_get_name(sftp, i)
            data = lib.sftp_extensions_get_data(sftp, i)
            if name != NULL:
                out[ffi.string(name).decode()] = ffi.string(data).decode() if data != NULL else ""
        return out

    def limits(self, timeout: Any = ...) -> SFTPLimits:
        """The server's limits (``limits@openssh.com``, or libssh's safe defaults)."""
        if self._limits is None:
            with self._blocking(timeout):
                lim = lib.sftp_limits(self._check())
                if lim == NULL:
                    raise self._err("limits")
                try:
                    self._limits = SFTPLimits(lim.max_packet_length, lim.max_read_length,
                                              lim.max_write_length, lim.max_open_handles)
                finally:
                    lib.sftp_limits_free(lim)
        return self._limits

    # -- paths ----------------------------------------------------------------------------------

    def _path_call(self, fn, what: str, path, *args, timeout: Any = ...) -> int:
        with self._blocking(timeout):
            rc = fn(self._check(), _b(path), *args)
            if rc < 0:
                raise self._err(what, path)
            return rc

    def _string_call(self, fn, what: str, path, *args, timeout: Any = ...) -> str:
        with self._blocking(timeout):
            result = take_string(fn(self._check(), *args) if path is None
                                 else fn(self._check(), _b(path), *args))
            if result is None:
                raise self._err(what, path)
            return result

    def realpath(self, path: str = ".", timeout: Any = ...) -> str:
        """The canonical absolute path (``normalize`` in paramiko)."""
        return self._string_call(lib.sftp_canonicalize_path, "realpath", path, timeout=timeout)

    normalize = realpath

    def getcwd(self) -> str:
        return self.realpath(".")

    def expand_path(self, path: str, timeout: Any = ...) -> str:
        """``expand-path@openssh.com``: ``~`` and ``~user`` expanded, made absolute."""
        return self._string_call(lib.sftp_expand_path, "expand-path", path, timeout=timeout)

    def home_directory(self, user: str | None = None, timeout: Any = ...) -> str:
        """``home-directory`` extension: a user's home (the login user's by default)."""
        u = (user or self._client.options.user or "").encode()
        return self._string_call(lib.sftp_home_directory, "home-directory", None, u,
                                 timeout=timeout)

    def readlink(self, path: str, timeout: Any = ...) -> str:
        return self._string_call(lib.sftp_readlink, "readlink", path, timeout=timeout)

    def symlink(self, target: str, link: str, timeout: Any = ...) -> None:
        """Create ``link`` pointing to ``target``."""
        self._path_call(lambda sftp, t, ln: lib.sftp_symlink(sftp, t, ln), "symlink", target,
                        _b(link), timeout=timeout)

    def hardlink(self, existing: str, new: str, timeout: Any = ...) -> None:
        """``hardlink@openssh.com``."""
        self._path_call(lib.sftp_hardlink, "hardlink", existing, _b(new), timeout=timeout)

    def rename(self, old: str, new: str, timeout: Any = ...) -> None:
        """Rename; libssh uses ``posix-rename@openssh.com`` when the server has it (so an
        existing ``new`` is replaced atomically), plain v3 rename otherwise."""
        self._path_call(lib.sftp_rename, "rename", old, _b(new), timeout=timeout)

    posix_rename = rename

    def remove(self, path: str, timeout: Any = ...) -> None:
        self._path_call(lib.sftp_unlink, "remove", path, timeout=timeout)

    unlink = remove

    def mkdir(self, path: str, mode: int = 0o777, timeout: Any = ...) -> None:
        self._path_call(lib.sftp_mkdir, "mkdir", path, mode, timeout=timeout)

    def makedirs(self, path: str, mode: int = 0o777, exist_ok: bool = True) -> None:
        """mkdir -p."""
        parts = []
        p = path.rstrip("/") or "/"
        while p not in ("", "/", "."):
            if self.exists(p):
                if not exist_ok and p == path.rstrip("/"):
                    raise sftp_error(lib.SSH_FX_FILE_ALREADY_EXISTS, "exists", path)
                break
            parts.append(p)
            p = posixpath.dirname(p)
        for q in reversed(parts):
            self.mkdir(q, mode)

    def rmdir(self, path: str, timeout: Any = ...) -> None:
        self._path_call(lib.sftp_rmdir, "rmdir", path, timeout=timeout)

    def _stat(self, fn, what: str, path, timeout: Any) -> SFTPAttributes:
        with self._blocking(timeout):
            a = fn(self._check(), _b(path))
            if a == NULL:
                raise self._err(what, path)
            try:
                return _attrs(a)
            finally:
                lib.sftp_attributes_free(a)

    def stat(self, path: str, timeout: Any = ...) -> SFTPAttributes:
        return self._stat(lib.sftp_stat, "stat", path, timeout)

    def lstat(self, path: str, timeout: Any = ...) -> SFTPAttributes:
        return self._stat(lib.sftp_lstat, "lstat", path, timeout)

    def exists(self, path: str) -> bool:
        try:
            self.lstat(path)
            return True
        except FileNotFoundError:
            return False

    def isdir(self, path: str) -> bool:
        try:
            return self.stat(path).is_dir
        except FileNotFoundError:
            return False

    def setstat(self, path: str, attrs: SFTPAttributes | dict, timeout: Any = ...) -> None:
        a = _c_attrs(SFTPAttributes.from_dict(attrs))
        self._path_call(lib.sftp_setstat, "setstat", path, a, timeout=timeout)

    def lsetstat(self, path: str, attrs: SFTPAttributes | dict, timeout: Any = ...) -> None:
        """``lsetstat@openssh.com``: set attributes of a symlink itself."""
        a = _c_attrs(SFTPAttributes.from_dict(attrs))
        self._path_call(lib.sftp_lsetstat, "lsetstat", path, a, timeout=timeout)

    def chmod(self, path: str, mode: int, timeout: Any = ...) -> None:
        self.setstat(path, SFTPAttributes(permissions=mode), timeout)

    def chown(self, path: str, uid: int, gid: int, timeout: Any = ...) -> None:
        self.setstat(path, SFTPAttributes(uid=uid, gid=gid), timeout)

    def utime(self, path: str, times: tuple[float, float] | None = None,
              timeout: Any = ...) -> None:
        now = time.time()
        atime, mtime = times if times is not None else (now, now)
        self.setstat(path, SFTPAttributes(atime=int(atime), mtime=int(mtime)), timeout)

    def truncate(self, path: str, size: int, timeout: Any = ...) -> None:
        self.setstat(path, SFTPAttributes(size=size), timeout)

    def statvfs(self, path: str = ".", timeout: Any = ...) -> StatVFS:
        """``statvfs@openssh.com``."""
        with self._blocking(timeout):
            v = lib.sftp_statvfs(self._check(), _b(path))
            if v == NULL:
                raise self._err("statvfs", path)
            try:
                return _statvfs(v)
            finally:
                lib.sftp_statvfs_free(v)

    # -- directories --------------------------------------------------------------------------

    def scandir(self, path: str = ".", timeout: Any = ...) -> list[SFTPName]:
        """Entries of a directory with their attributes (``.`` and ``..`` left out)."""
        out: list[SFTPName] = []
        with self._blocking(timeout):
            sftp = self._check()
            d = lib.sftp_opendir(sftp, _b(path))
            if d == NULL:
                raise self._err("opendir", path)
            try:
                while True:
                    a = lib.sftp_readdir(sftp, d)
                    if a == NULL:
                        if not lib.sftp_dir_eof(d):
                            raise self._err("readdir", path)
                        break
                    try:
                        name = ffi.string(a.name).decode("utf-8", "surrogateescape")
                        if name not in (".", ".."):
                            longname = (ffi.string(a.longname).decode("utf-8", "replace")
                                        if a.longname != NULL else "")
                            out.append(SFTPName(name, longname, _attrs(a)))
                    finally:
                        lib.sftp_attributes_free(a)
            finally:
                lib.sftp_closedir(d)
        return out

    listdir_attr = scandir

    def listdir(self, path: str = ".", timeout: Any = ...) -> list[str]:
        return [e.filename for e in self.scandir(path, timeout)]

    def walk(self, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk`` (top-down; symlinks are not followed)."""
        dirs, files = [], []
        for e in self.scandir(top):
            (dirs if e.attrs.is_dir else files).append(e.filename)
        yield top, dirs, files
        for d in dirs:
            yield from self.walk(posixpath.join(top, d))

    # -- files ----------------------------------------------------------------------------------

    def open(self, path: str, mode: str = "r", permissions: int = 0o644,
             timeout: Any = ...) -> SFTPFile:
        """A file object (binary) that pipelines reads and writes internally."""
        flags = _open_flags(mode)
        with self._blocking(timeout):
            f = lib.sftp_open(self._check(), _b(path), flags, permissions)
            if f == NULL:
                raise self._err("open", path)
        fobj = SFTPFile(self, f, path, mode, flags)
        self._files.add(fobj)
        if "a" in mode:
            fobj.seek(0, io.SEEK_END)
        return fobj

    file = open

    def read_bytes(self, path: str) -> bytes:
        with self.open(path, "rb") as f:
            return f.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.open(path, "wb") as f:
            f.write(data)

    # -- transfers ------------------------------------------------------------------------------

    def _chunk(self, write: bool) -> int:
        lim = self.limits()
        n = lim.max_write_length if write else lim.max_read_length
        return int(min(max(n, 4096), 1 << 20))

    def get(self, remote: str, local: str | os.PathLike, *, progress: Progress | None = None,
            preserve: bool = False, resume: bool = False, recursive: bool = False,
            in_flight: int = IN_FLIGHT, timeout: Any = ...) -> int:
        """Download ``remote`` to ``local`` with ``in_flight`` requests pipelined; returns the
        bytes transferred. ``resume``: continue a partial local file after checking that its
        last block matches the remote file. ``preserve``: copy mode and times.
        ``recursive``: ``remote`` is a directory, copied with everything below it."""
        if recursive:
            return self._get_tree(remote, os.fspath(local), progress, preserve, resume,
                                  in_flight, timeout)
        local = os.fspath(local)
        attrs = self.stat(remote, timeout)
        if attrs.is_dir:
            raise sftp_error(lib.SSH_FX_FAILURE, "is a directory (use recursive=True)", remote)
        total = attrs.size or 0
        start = 0
        if resume and os.path.exists(local):
            start = os.path.getsize(local)
            if start > total:
                raise SFTPError(lib.SSH_FX_FAILURE,
                                f"cannot resume: the local file ({start} bytes) is larger "
                                f"than the remote one ({total} bytes)", local)
        fd = os.open(local, os.O_RDWR | os.O_CREAT | (0 if resume else os.O_TRUNC), 0o644)
        done = start
        try:
            with self.open(remote, "rb", timeout=timeout) as rf:
                if start:
                    self._verify_tail(rf, fd, start, local)
                done = start + rf._download_to(fd, start, total, progress, in_flight,
                                                self._chunk(False))
            os.ftruncate(fd, done)
        finally:
            os.close(fd)
        if done != total:
            raise SFTPError(lib.SSH_FX_FAILURE,
                            f"download incomplete: {done} of {total} bytes", remote)
        if preserve:
            if attrs.permissions is not None:
                os.chmod(local, attrs.permissions & 0o7777)
            if attrs.mtime is not None:
                os.utime(local, (attrs.atime or attrs.mtime, attrs.mtime))
        return done - start

    @staticmethod
    def _verify_tail(rf: SFTPFile, fd: int, start: int, local: str) -> None:
        n = min(start, 65536)
        os.lseek(fd, start - n, os.SEEK_SET)
        mine = os.read(fd, n)
        rf.seek(start - n)
        theirs = rf.read(n)
        if mine != theirs:
            raise SFTPError(lib.SSH_FX_FAILURE,
                            "cannot resume: the partial file does not match the remote file "
                            f"in its last {n} bytes", local)

    def put(self, local: str | os.PathLike, remote: str, *, progress: Progress | None = None,
            preserve: bool = False, resume: bool = False, recursive: bool = False,
            in_flight: int = IN_FLIGHT, timeout: Any = ...) -> int:
        """Upload ``local`` to ``remote`` (pipelined); returns the bytes transferred. Same
        options as :meth:`get`."""
        local = os.fspath(local)
        if recursive:
            return self._put_tree(local, remote, progress, preserve, resume, in_flight, timeout)
        st = os.stat(local)
        total = st.st_size
        start = 0
        mode = "wb"
        if resume:
            try:
                start = self.stat(remote, timeout).size or 0
                mode = "r+b"
            except FileNotFoundError:
                start = 0
            if start > total:
                raise SFTPError(lib.SSH_FX_FAILURE,
                                f"cannot resume: the remote file ({start} bytes) is larger "
                                f"than the local one ({total} bytes)", remote)
        fd = os.open(local, os.O_RDONLY)
        try:
            with self.open(remote, mode, permissions=st.st_mode & 0o777, timeout=timeout) as wf:
                if start:
                    self._verify_tail(wf, fd, start, local)
                sent = wf._upload_from(fd, start, total, progress, in_flight,
                                       self._chunk(True))
                if resume:
                    wf.truncate(start + sent)
        finally:
            os.close(fd)
        if preserve:
            self.setstat(remote, SFTPAttributes(permissions=st.st_mode & 0o7777,
                                                atime=int(st.st_atime), mtime=int(st.st_mtime)))
        return sent

    def put_many(self, pairs, *, in_flight: int = 64, timeout: Any = ...) -> int:
        """Upload many (small) files: ``pairs`` of (local, remote). Up to ``in_flight`` files
        are open at once on a second SFTP channel, so the per-file round trips overlap (see
        :mod:`pylibssh.client.sftp_batch`). Each file is read into memory: meant for small
        files. Returns the bytes sent; raises the first error after the others finished."""
        return self._batch(pairs, True, in_flight, timeout)

    def get_many(self, pairs, *, in_flight: int = 64, timeout: Any = ...) -> int:
        """Download many (small) files: ``pairs`` of (remote, local); like :meth:`put_many`."""
        return self._batch(pairs, False, in_flight, timeout)

    def _batch(self, pairs, upload: bool, in_flight: int, timeout: Any) -> int:
        from ._task import wait
        from .sftp_batch import start_batch
        t = self.timeout if timeout is ... or timeout is None else timeout
        task = start_batch(self._session, pairs, upload, in_flight, t)
        return wait(self._session._loop, task.future, t + 5, "SFTP batch")

    def _engine(self):
        if self._file_engine is None:
            from .sftp_batch import FileEngine
            self._file_engine = FileEngine(self._session)
        return self._file_engine

    def read_small(self, remote: str, timeout: Any = ...) -> bytes | None:
        """The bytes of ``remote`` in two round trips (OPEN and STAT together, then the READs and
        the CLOSE together, on a second SFTP channel kept for such calls), or None when the file
        is larger than :data:`~pylibssh.client.sftp_batch.SMALL_FILE` or changed size while
        read (then use :meth:`get`). Raises SFTPError as :meth:`get`."""
        from ._task import wait
        t = self.timeout if timeout is ... or timeout is None else timeout
        task = self._session.start_task(self._engine().get_gen(remote), "SFTP read", t)
        return wait(self._session._loop, task.future, t + 5, "SFTP read")

    def write_small(self, data: bytes, remote: str, permissions: int = 0o644,
                    timeout: Any = ...) -> SFTPAttributes:
        """Create or truncate ``remote`` with ``data`` in two round trips (OPEN, then the WRITEs,
        the CLOSE and a STAT together, on the channel :meth:`read_small` uses); the remote
        attributes afterwards. For small data (everything is sent at once)."""
        from ._task import wait
        t = self.timeout if timeout is ... or timeout is None else timeout
        task = self._session.start_task(self._engine().put_gen(bytes(data), remote, permissions),
                                        "SFTP write", t)
        return wait(self._session._loop, task.future, t + 5, "SFTP write")

    def _get_tree(self, remote, local, progress, preserve, resume, in_flight, timeout) -> int:
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

    def _put_tree(self, local, remote, progress, preserve, resume, in_flight, timeout) -> int:
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

    def _free(self) -> None:
        """Release files and the SFTP session (before the SSH session goes: it owns the
        channel). Called by close() and by the session's teardown."""
        if self._sftp == NULL:
            return
        for f in list(self._files):
            f._free()
        sftp, self._sftp = self._sftp, NULL
        lib.sftp_free(sftp)

    def close(self) -> None:
        """Close the SFTP session (idempotent); the SSH connection stays open."""
        session = self._session
        with session._loop.lock:
            if self._sftp == NULL:
                return
            if session.closed or session._s == NULL:
                self._sftp = NULL  # the session's teardown freed it
                return
            for f in list(self._files):
                try:
                    f.close()
                except SSHError as exc:
                    log.debug("closing %r: %s", f, exc)
            if self._file_engine is not None:
                self._file_engine.close()
            with self._blocking(5.0):
                self._free()
            session._sftp_clients.discard(self)

    @property
    def closed(self) -> bool:
        return self._sftp == NULL

    def __enter__(self) -> SFTPClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _statvfs(v) -> StatVFS:
    return StatVFS(v.f_bsize, v.f_frsize, v.f_blocks, v.f_bfree, v.f_bavail, v.f_files,
                   v.f_ffree, v.f_favail, v.f_fsid, v.f_flag, v.f_namemax)


class _Section:
    """A blocking section with libssh's session timeout set to ``timeout``."""

    __slots__ = ("_sftp", "_timeout", "_inner")

    def __init__(self, sftp: SFTPClient, timeout: float):
        self._sftp = sftp
        self._timeout = timeout
        self._inner = sftp._session.blocking()

    def __enter__(self):
        s = self._inner.__enter__()
        self._sftp._section = (time.monotonic(), self._timeout)
        session = self._sftp._session
        if session._sftp_timeout != self._timeout:
            from .session import set_option
            sec = int(self._timeout)
            set_option(s, "timeout", max(sec, 0))
            set_option(s, "timeout_usec", int((self._timeout - sec) * 1e6) if sec == 0 else 0)
            session._sftp_timeout = self._timeout
        return s

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)


class SFTPFile(io.RawIOBase):
    """A remote file. Reads pipeline ``read_ahead`` requests; writes are sent without waiting
    for each reply (up to ``write_behind`` in flight; all are confirmed by ``flush``, ``seek``
    and ``close``, which raise the first write error)."""

    read_ahead = 16
    write_behind = 32

    def __init__(self, sftp: SFTPClient, handle, path: str, mode: str, flags: int):
        super().__init__()
        self._sftp = sftp
        self._h = handle
        self.name = path
        self.mode = mode
        self._readable = (flags & 3) in (os.O_RDONLY, os.O_RDWR)
        self._writable = (flags & 3) in (os.O_WRONLY, os.O_RDWR)
        self._pos = 0
        self._rbuf = bytearray()
        self._reads: deque[tuple[Any, int, int]] = deque()  # (aio ptr, offset, length)
        self._next_read = 0
        self._writes: deque[tuple[Any, Any, int]] = deque()  # (aio ptr, keep-alive buf, len)
        self._write_error: SSHError | None = None
        self._eof = False
        self._eof_seen = False  # an end of file was met: read again, but one request first
        self._chunk_r = sftp._chunk(False)
        self._chunk_w = sftp._chunk(True)

    # -- plumbing (inside blocking sections) --------------------------------------------------------

    def _check(self):
        if self._h == NULL:
            raise ValueError("I/O operation on closed file")
        return self._h

    def _set_offset(self, offset: int) -> None:
        lib.sftp_seek64(self._h, offset)

    def _begin_read(self, length: int) -> None:
        aio = ffi.new("sftp_aio *")
        offset = self._next_read
        self._set_offset(offset)
        if lib.sftp_aio_begin_read(self._h, length, aio) < 0:
            raise self._sftp._err("read", self.name)
        self._reads.append((aio, offset, length))
        self._next_read = offset + length

    def _wait_read(self, buf, size: int) -> tuple[int, int]:
        aio, offset, length = self._reads.popleft()
        n = lib.sftp_aio_wait_read(aio, buf, size)
        if n < 0:
            self._cancel_reads()
            raise self._sftp._err("read", self.name)
        return offset, n

    def _cancel_reads(self) -> None:
        """Collect (and drop) the replies of reads still in flight."""
        buf = ffi.new("char[]", self._chunk_r) if self._reads else None
        while self._reads:
            aio, _, _ = self._reads.popleft()
            lib.sftp_aio_wait_read(aio, buf, self._chunk_r)  # frees the aio, even on error
        self._next_read = self._pos

    def _flush_writes(self, keep: int = 0) -> None:
        while len(self._writes) > keep:
            aio, _, length = self._writes.popleft()
            n = lib.sftp_aio_wait_write(aio)
            if n < 0 and self._write_error is None:
                self._write_error = self._sftp._err("write", self.name)
            elif 0 <= n != length and self._write_error is None:
                self._write_error = SFTPError(lib.SSH_FX_FAILURE, "short write", self.name)
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

    def _fill(self, want: int, timeout: Any = ...) -> None:
        """Read until ``want`` bytes are buffered or EOF, keeping read-ahead going."""
        with self._sftp._blocking(timeout):
            self._check()
            self._flush_writes()
            if self._next_read < self._pos + len(self._rbuf):
                self._next_read = self._pos + len(self._rbuf)
            buf = ffi.new("char[]", self._chunk_r)
            # after an end of file, one request first: the file may have grown, likely not
            ahead = 1 if self._eof_seen else self.read_ahead
            while len(self._rbuf) < want and not self._eof:
                while len(self._reads) < ahead:
                    self._begin_read(self._chunk_r)
                offset, n = self._wait_read(buf, self._chunk_r)
                expected = self._pos + len(self._rbuf)
                if offset != expected:  # pragma: no cover - replies come in order
                    raise SFTPError(lib.SSH_FX_FAILURE, "out-of-order read", self.name)
                self._rbuf += ffi.buffer(buf, n)
                if n < self._chunk_r:
                    # EOF, or a short read: drop what was asked after it and go on from here
                    self._cancel_reads()
                    self._next_read = self._pos + len(self._rbuf)
                    if n == 0:
                        self._eof = self._eof_seen = True
                elif self._eof_seen:
                    self._eof_seen = False
                    ahead = self.read_ahead

    def read(self, size: int = -1) -> bytes:
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
            self._fill(size)
        data = bytes(self._rbuf[:size])
        del self._rbuf[:size]
        self._pos += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
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

    def write(self, data) -> int:
        if not self._writable:
            raise io.UnsupportedOperation("not writable")
        view = memoryview(data).cast("B")
        total = len(view)
        with self._sftp._blocking():
            self._check()
            if self._rbuf or self._reads:
                self._cancel_reads()
                self._rbuf.clear()
                self._eof = False
            self._set_offset(self._pos)
            for i in range(0, total, self._chunk_w):
                piece = bytes(view[i:i + self._chunk_w])
                keep = ffi.from_buffer(piece)
                aio = ffi.new("sftp_aio *")
                if lib.sftp_aio_begin_write(self._h, keep, len(piece), aio) < 0:
                    raise self._sftp._err("write", self.name)
                self._writes.append((aio, (keep, piece), len(piece)))
                if len(self._writes) >= self.write_behind:
                    self._flush_writes(keep=self.write_behind // 2)
            self._pos += total
        return total

    def flush(self) -> None:
        if self._h != NULL and self._writes:
            with self._sftp._blocking():
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
            with self._sftp._blocking():
                self._check()
                self._flush_writes()
                self._cancel_reads()
            self._rbuf.clear()
            self._eof = False
            self._pos = offset
            self._next_read = offset
        return self._pos

    def stat(self, timeout: Any = ...) -> SFTPAttributes:
        with self._sftp._blocking(timeout):
            self._check()
            self._flush_writes()
            a = lib.sftp_fstat(self._h)
            if a == NULL:
                raise self._sftp._err("fstat", self.name)
            try:
                return _attrs(a)
            finally:
                lib.sftp_attributes_free(a)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        self.flush()
        self._sftp.setstat(self.name, SFTPAttributes(size=size))
        return size

    def fsync(self, timeout: Any = ...) -> None:
        """``fsync@openssh.com``: the server flushes the file to disk."""
        with self._sftp._blocking(timeout):
            self._check()
            self._flush_writes()
            if lib.sftp_fsync(self._h) < 0:
                raise self._sftp._err("fsync", self.name)

    def statvfs(self, timeout: Any = ...) -> StatVFS:
        with self._sftp._blocking(timeout):
            v = lib.sftp_fstatvfs(self._check())
            if v == NULL:
                raise self._sftp._err("fstatvfs", self.name)
            try:
                return _statvfs(v)
            finally:
                lib.sftp_statvfs_free(v)

    # -- whole-file transfers (get/put) -------------------------------------------------------

    def _download_to(self, fd: int, start: int, total: int, progress: Progress | None,
                     in_flight: int, chunk: int) -> int:
        """Pipelined copy from ``start`` to EOF into ``fd``; bytes copied."""
        self._rbuf.clear()
        done = 0
        buf = ffi.new("char[]", chunk)
        mv = ffi.buffer(buf)
        os.lseek(fd, start, os.SEEK_SET)
        with self._sftp._blocking():
            self._check()
            self._cancel_reads()
            self._next_read = start
            eof = False
            while not eof:
                while len(self._reads) < in_flight and self._next_read < max(total, 1) + chunk:
                    self._begin_read(chunk)
                if not self._reads:
                    break
                offset, n = self._wait_read(buf, chunk)
                if offset != start + done:  # a short read earlier: restart from here
                    continue
                if n:
                    os.write(fd, mv[:n])
                    done += n
                    if progress is not None:
                        progress(start + done, total)
                if n < chunk:
                    self._cancel_reads()
                    self._next_read = start + done
                    eof = n == 0
        self._pos = start + done
        self._next_read = self._pos
        return done

    def _upload_from(self, fd: int, start: int, total: int, progress: Progress | None,
                     in_flight: int, chunk: int) -> int:
        os.lseek(fd, start, os.SEEK_SET)
        sent = 0
        with self._sftp._blocking():
            self._check()
            self._cancel_reads()
            self._set_offset(start)
            while True:
                piece = os.read(fd, chunk)
                if not piece:
                    break
                keep = ffi.from_buffer(piece)
                aio = ffi.new("sftp_aio *")
                if lib.sftp_aio_begin_write(self._h, keep, len(piece), aio) < 0:
                    raise self._sftp._err("write", self.name)
                self._writes.append((aio, (keep, piece), len(piece)))
                sent += len(piece)
                if len(self._writes) >= in_flight:
                    self._flush_writes(keep=in_flight - 1)
                    if self._write_error is not None:
                        self._flush_writes()
                    if progress is not None:
                        progress(start + sent - sum(w[2] for w in self._writes), total)
            self._flush_writes()
        if progress is not None:
            progress(start + sent, total)
        self._pos = start + sent
        return sent

    # -- closing ----------------------------------------------------------------------------

    def _free(self) -> None:
        """Drop the handle without waiting for anything (the session is going away)."""
        if self._h == NULL:
            return
        for aio, _, _ in self._reads:
            lib.sftp_aio_free(aio[0])
        for aio, _, _ in self._writes:
            lib.sftp_aio_free(aio[0])
        self._reads.clear()
        self._writes.clear()
        h, self._h = self._h, NULL
        lib.sftp_close(h)

    def close(self) -> None:
        if self._h == NULL:
            return
        err = None
        try:
            with self._sftp._blocking():
                try:
                    self._flush_writes()
                except SSHError as exc:
                    err = exc
                self._cancel_reads()
                h, self._h = self._h, NULL
                rc = lib.sftp_close(h)
                if rc < 0 and err is None:
                    err = self._sftp._err("close", self.name)
        except ClosedError:
            self._h = NULL
        self._sftp._files.discard(self)
        super().close()
        if err is not None:
            raise err

    @property
    def closed(self) -> bool:
        return self._h == NULL

    def __enter__(self) -> SFTPFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        pass  # no implicit I/O from the garbage collector; the SFTP session frees handles

    def __repr__(self) -> str:
        return f"<SFTPFile {self.name!r} mode={self.mode!r}{' closed' if self.closed else ''}>"


_ = _stat
