"""paramiko.SFTPClient over libssh's SFTP client.

libssh's SFTP calls need a blocking session, so each call runs inside
``ClientSession.blocking()`` (which holds the loop lock). Transfers (``get``/``put``, file
reads and pipelined writes) keep many requests in flight with ``sftp_aio_*``: that, not the
per-call overhead, decides throughput (see /work/shared/LIBSSH-NOTES.md).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

from ..._binding import NULL, ffi, lib
from ...errors import error_from
from .sftp import BaseSFTP, SFTPError, sftp_ioerror
from .sftp_attr import SFTPAttributes
from .ssh_exception import SSHException

__all__ = ["SFTPClient", "SFTP"]

#: requests in flight for transfers
PIPELINE_DEPTH = 32


def _take_cstring(ptr) -> str | None:
    if ptr == NULL:
        return None
    try:
        return ffi.string(ptr).decode("utf-8", "surrogateescape")
    finally:
        lib.ssh_string_free_char(ptr)


def _attrs(a, filename=None) -> SFTPAttributes:
    """An SFTPAttributes from libssh's struct (which the caller frees)."""
    out = SFTPAttributes()
    flags = a.flags
    if flags & lib.SSH_FILEXFER_ATTR_SIZE:
        out.st_size = a.size
    if flags & lib.SSH_FILEXFER_ATTR_UIDGID:
        out.st_uid, out.st_gid = a.uid, a.gid
    if flags & lib.SSH_FILEXFER_ATTR_PERMISSIONS:
        out.st_mode = a.permissions
    if flags & lib.SSH_FILEXFER_ATTR_ACMODTIME:
        out.st_atime, out.st_mtime = a.atime, a.mtime
    out._flags = flags & 0xF
    name = filename
    if name is None and a.name != NULL:
        name = ffi.string(a.name).decode("utf-8", "surrogateescape")
    if name is not None:
        out.filename = name
    if a.longname != NULL:
        out.longname = ffi.string(a.longname).decode("utf-8", "surrogateescape")
    return out


class _SFTPChannel:
    """What ``SFTPClient.get_channel()`` returns: the timeout of the SFTP calls (libssh's
    session timeout for blocking operations) and the transport."""

    def __init__(self, client):
        self._client = client
        self.timeout = None

    def settimeout(self, timeout):
        from ...client.session import set_option

        self.timeout = timeout
        session = self._client._session
        with session.blocking() as s:
            t = 0 if timeout is None else float(timeout)
            set_option(s, "timeout", int(t))
            set_option(s, "timeout_usec", int((t - int(t)) * 1e6))

    def gettimeout(self):
        return self.timeout

    def get_transport(self):
        return self._client._transport

    @property
    def closed(self):
        return self._client._sftp is None

    def close(self):
        self._client.close()


class SFTPClient(BaseSFTP):
    """SFTP client on an authenticated :class:`~.transport.Transport` (use
    :meth:`from_transport` or ``SSHClient.open_sftp()``)."""

    def __init__(self, sock):
        # paramiko takes a channel; here the transport it belongs to is what matters
        transport = sock.get_transport() if hasattr(sock, "get_transport") else sock
        self._transport = transport
        self._session = transport._session
        self._cwd = None
        self._channel = _SFTPChannel(self)
        with self._session.blocking() as s:
            sftp = lib.sftp_new(s)
            if sftp == NULL:
                raise SSHException(f"cannot start SFTP: {error_from(s).message}")
            if lib.sftp_init(sftp) != lib.SSH_OK:
                msg = error_from(s).message
                lib.sftp_free(sftp)
                raise SSHException(f"cannot start SFTP: {msg}")
            self._sftp = sftp
            limits = lib.sftp_limits(sftp)
            if limits != NULL:
                self._max_read = int(min(limits.max_read_length, 1 << 20)) or 32768
                self._max_write = int(min(limits.max_write_length, 1 << 20)) or 32768
                lib.sftp_limits_free(limits)
            else:
                self._max_read = self._max_write = 32768

    @classmethod
    def from_transport(cls, t, window_size=None, max_packet_size=None):
        if not t.is_authenticated():
            raise SSHException("the transport is not authenticated")
        return cls(t)

    # -- plumbing -------------------------------------------------------------------------------

    def _blocking(self):
        if self._sftp is None:
            raise OSError("Socket is closed")
        return self._session.blocking()

    def _raise(self, path=None):
        """Raise what paramiko raises for the failed call (SFTP status or session error)."""
        status = lib.sftp_get_error(self._sftp) if self._sftp is not None else 0
        if status == 0:
            msg = error_from(self._session._s).message if self._session._s != NULL else ""
            raise SSHException(msg or "SFTP connection failed")
        raise sftp_ioerror(status, None, path)

    def _adjust_cwd(self, path):
        path = os.fsdecode(path)
        if self._cwd is None:
            return path
        if path.startswith("/"):
            return path
        if self._cwd == "/":
            return self._cwd + path
        return self._cwd + "/" + path

    @staticmethod
    def _b(path):
        return path.encode("utf-8", "surrogateescape")

    # -- session --------------------------------------------------------------------------------

    def close(self):
        if self._sftp is None:
            return
        with self._session.blocking():
            lib.sftp_free(self._sftp)
        self._sftp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._sftp is not None and not self._session.closed:
                self.close()
        except Exception:
            pass

    def get_channel(self):
        return self._channel

    # -- directories ----------------------------------------------------------------------------

    def listdir(self, path="."):
        return [f.filename for f in self.listdir_attr(path)]

    def listdir_attr(self, path="."):
        return list(self.listdir_iter(path))

    def listdir_iter(self, path=".", read_aheads=50):
        path = self._adjust_cwd(path)
        out = []
        with self._blocking():
            d = lib.sftp_opendir(self._sftp, self._b(path))
            if d == NULL:
                self._raise(path)
            try:
                while True:
                    a = lib.sftp_readdir(self._sftp, d)
                    if a == NULL:
                        if not lib.sftp_dir_eof(d):
                            self._raise(path)
                        break
                    try:
                        attr = _attrs(a)
                    finally:
                        lib.sftp_attributes_free(a)
                    if attr.filename not in (".", ".."):
                        out.append(attr)
            finally:
                lib.sftp_closedir(d)
        return iter(out)

    def mkdir(self, path, mode=0o777):
        path = self._adjust_cwd(path)
        with self._blocking():
            if lib.sftp_mkdir(self._sftp, self._b(path), mode) < 0:
                self._raise(path)

    def rmdir(self, path):
        path = self._adjust_cwd(path)
        with self._blocking():
            if lib.sftp_rmdir(self._sftp, self._b(path)) < 0:
                self._raise(path)

    def chdir(self, path=None):
        if path is None:
            self._cwd = None
            return
        if not stat.S_ISDIR(self.stat(path).st_mode):
            code = errno.ENOTDIR
            raise sftp_ioerror(4, f"{os.strerror(code)}: {path}") from None
        self._cwd = self.normalize(path)

    def getcwd(self):
        return self._cwd

    def normalize(self, path):
        path = self._adjust_cwd(path)
        with self._blocking():
            out = _take_cstring(lib.sftp_canonicalize_path(self._sftp, self._b(path)))
            if out is None:
                self._raise(path)
        return out

    # -- files ----------------------------------------------------------------------------------

    def open(self, filename, mode="r", bufsize=-1):
        from .sftp_file import SFTPFile

        filename = self._adjust_cwd(filename)
        flags = 0
        if "r" in mode or "+" in mode:
            flags = lib.O_RDWR if ("+" in mode or "w" in mode or "a" in mode) else lib.O_RDONLY
        if "w" in mode or "a" in mode or "x" in mode:
            flags = lib.O_RDWR if "+" in mode else lib.O_WRONLY
            flags |= lib.O_CREAT
        if "w" in mode:
            flags |= lib.O_TRUNC
        if "a" in mode:
            flags |= lib.O_APPEND
        if "x" in mode:
            flags |= lib.O_EXCL
        with self._blocking():
            handle = lib.sftp_open(self._sftp, self._b(filename), flags, 0o666)
            if handle == NULL:
                self._raise(filename)
        return SFTPFile(self, handle, mode, bufsize, filename)

    file = open

    def remove(self, path):
        path = self._adjust_cwd(path)
        with self._blocking():
            if lib.sftp_unlink(self._sftp, self._b(path)) < 0:
                self._raise(path)

    unlink = remove

    def rename(self, oldpath, newpath):
        """Plain SFTP rename, which refuses to replace an existing file. libssh always uses
        posix-rename when the server has it, so the refusal is checked here first."""
        oldpath, newpath = self._adjust_cwd(oldpath), self._adjust_cwd(newpath)
        try:
            self.lstat(newpath)
        except OSError:
            pass
        else:
            raise sftp_ioerror(4, "Failure", oldpath)
        self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath, newpath):
        oldpath, newpath = self._adjust_cwd(oldpath), self._adjust_cwd(newpath)
        with self._blocking():
            if lib.sftp_rename(self._sftp, self._b(oldpath), self._b(newpath)) < 0:
                self._raise(oldpath)

    def _stat(self, fn, path):
        path = self._adjust_cwd(path)
        with self._blocking():
            a = fn(self._sftp, self._b(path))
            if a == NULL:
                self._raise(path)
            try:
                return _attrs(a, filename=None)
            finally:
                lib.sftp_attributes_free(a)

    def stat(self, path):
        return self._stat(lib.sftp_stat, path)

    def lstat(self, path):
        return self._stat(lib.sftp_lstat, path)

    def symlink(self, source, dest):
        dest = self._adjust_cwd(dest)
        with self._blocking():
            if lib.sftp_symlink(self._sftp, self._b(source), self._b(dest)) < 0:
                self._raise(dest)

    def readlink(self, path):
        path = self._adjust_cwd(path)
        with self._blocking():
            out = _take_cstring(lib.sftp_readlink(self._sftp, self._b(path)))
            if out is None:
                self._raise(path)
        return out

    def chmod(self, path, mode):
        path = self._adjust_cwd(path)
        with self._blocking():
            if lib.sftp_chmod(self._sftp, self._b(path), mode) < 0:
                self._raise(path)

    def chown(self, path, uid, gid):
        path = self._adjust_cwd(path)
        with self._blocking():
            if lib.sftp_chown(self._sftp, self._b(path), uid, gid) < 0:
                self._raise(path)

    def utime(self, path, times):
        import time as _time

        path = self._adjust_cwd(path)
        if times is None:
            now = _time.time()
            times = (now, now)
        tv = ffi.new("struct timeval[2]")
        for i, t in enumerate(times):
            tv[i].tv_sec = int(t)
            tv[i].tv_usec = int((t - int(t)) * 1e6)
        with self._blocking():
            if lib.sftp_utimes(self._sftp, self._b(path), tv) < 0:
                self._raise(path)

    def truncate(self, path, size):
        path = self._adjust_cwd(path)
        a = ffi.new("struct sftp_attributes_struct *")
        a.flags = lib.SSH_FILEXFER_ATTR_SIZE
        a.size = size
        with self._blocking():
            if lib.sftp_setstat(self._sftp, self._b(path), a) < 0:
                self._raise(path)

    # -- transfers ------------------------------------------------------------------------------

    def putfo(self, fl, remotepath, file_size=0, callback=None, confirm=True):
        """Upload the file object ``fl`` to ``remotepath``; the remote SFTPAttributes (checked
        against the bytes sent when ``confirm``)."""
        with self.file(remotepath, "wb") as fr:
            size = fr._write_stream(fl, file_size, callback)
        if confirm:
            s = self.stat(remotepath)
            if s.st_size != size:
                raise OSError(f"size mismatch in put!  {s.st_size} != {size}")
        else:
            s = SFTPAttributes()
        return s

    def put(self, localpath, remotepath, callback=None, confirm=True):
        file_size = os.stat(localpath).st_size
        with open(localpath, "rb") as fl:
            return self.putfo(fl, remotepath, file_size, callback, confirm)

    def getfo(self, remotepath, fl, callback=None, prefetch=True,
              max_concurrent_prefetch_requests=None):
        """Download ``remotepath`` into the file object ``fl``; the number of bytes."""
        file_size = self.stat(remotepath).st_size
        with self.open(remotepath, "rb") as fr:
            size = 0
            for chunk in fr._read_stream(max_concurrent_prefetch_requests):
                fl.write(chunk)
                size += len(chunk)
                if callback is not None:
                    callback(size, file_size)
        return size

    def get(self, remotepath, localpath, callback=None, prefetch=True,
            max_concurrent_prefetch_requests=None):
        with open(localpath, "wb") as fl:
            size = self.getfo(remotepath, fl, callback, prefetch,
                              max_concurrent_prefetch_requests)
        s = os.stat(localpath)
        if s.st_size != size:
            raise OSError(f"size mismatch in get!  {s.st_size} != {size}")


class SFTP(SFTPClient):
    """An alias for :class:`SFTPClient` for backwards compatibility."""


_ = (deque, SFTPError)
