"""paramiko.SFTPClient over pylibssh's own SFTP client (:mod:`pylibssh.client.sftp`).

pylibssh's client does the work (requests on the transport's loop, pipelined transfers, a small
file in two round trips); this class gives it paramiko's names, path handling (``chdir`` is emulated on the
client, as in paramiko), return types (:class:`SFTPAttributes` with ``st_*`` fields) and errors:
SFTP status errors are ``IOError``\\ s with paramiko's errno values (``FileNotFoundError``,
``PermissionError``) that are also paramiko's ``SFTPError`` and pylibssh's own SFTP error
classes; connection failures become :class:`SSHException`, timeouts ``socket.timeout``.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import stat

from ..._binding import client as client_api
from ...client import sftp as native
from ...errors import SFTPError as _SFTPError
from ...errors import SSHConnectionError, SSHError, SSHTimeoutError
from ...sftp import SFTPAttributes as _NativeAttributes
from .sftp import BaseSFTP, SFTPError, from_native, sftp_ioerror
from .sftp_attr import SFTPAttributes
from .ssh_exception import SSHException
from .util import get_logger

__all__ = ["SFTPClient", "SFTP"]


def converted(fn):
    """Run ``fn`` with pylibssh's non-SFTP errors turned into what paramiko raises."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _SFTPError as exc:
            raise from_native(exc) from None
        except SSHTimeoutError as exc:
            raise socket.timeout(str(exc)) from exc
        except SSHError as exc:
            if isinstance(exc, ValueError) and "closed" in str(exc):
                raise OSError("Socket is closed") from exc
            if isinstance(exc, SSHConnectionError):
                raise SSHException(f"Server connection dropped: {exc}") from exc
            raise SFTPError(str(exc)) from exc  # a reply that breaks the protocol

    return wrapper


def attributes(a: _NativeAttributes, filename=None, longname=None) -> SFTPAttributes:
    """paramiko's :class:`~pylibssh.compat.paramiko.sftp_attr.SFTPAttributes` for attributes of
    pylibssh's SFTP client, with the entry's ``filename`` and ``longname`` when given."""
    return SFTPAttributes._from_native(a, filename, longname)


class _ClientShim:
    """What pylibssh's SFTP client needs of its Client: the session and the user name."""

    def __init__(self, transport):
        self.session = transport._session

        class _Options:
            user = transport.get_username()
        self.options = _Options


class _SFTPChannel:
    """``SFTPClient.get_channel()``: the timeout of SFTP calls, and the transport."""

    def __init__(self, client):
        self._client = client

    def settimeout(self, timeout):
        self._client._native.timeout = native.DEFAULT_TIMEOUT if timeout is None else timeout
        self._timeout = timeout

    def gettimeout(self):
        return getattr(self, "_timeout", None)

    def get_transport(self):
        return self._client._transport

    @property
    def closed(self):
        return self._client._native.closed

    def close(self):
        self._client.close()



def _copy(src, dst, callback, total: int) -> int:
    """getfo/putfo: ``src`` to ``dst`` in 1 MiB pieces, ``callback(done, total)`` after each."""
    size = 0
    while True:
        data = src.read(1 << 20)
        if not data:
            return size
        dst.write(data)
        size += len(data)
        if callback is not None:
            callback(size, total)

class SFTPClient(BaseSFTP):
    """SFTP client on an authenticated transport (``SSHClient.open_sftp()`` or
    :meth:`from_transport`)."""

    @converted
    def __init__(self, sock):
        transport = sock.get_transport() if hasattr(sock, "get_transport") else sock
        self._transport = transport
        self._cwd = None
        self._native = native.SFTPClient(_ClientShim(transport))
        self._channel = _SFTPChannel(self)
        self.logger = get_logger(transport.get_log_channel() + ".sftp")
        self.logger.info("[chan sftp] Opened sftp connection (server version %d)",
                         self._native.server_version)

    @classmethod
    def from_transport(cls, t, window_size=None, max_packet_size=None):
        """An SFTP client on a new channel of the authenticated transport ``t`` (the window and
        packet sizes are libssh's). Raises ``SSHException`` when ``t`` is not authenticated."""
        if not t.is_authenticated():
            raise SSHException("the transport is not authenticated")
        return cls(t)

    def _adjust_cwd(self, path):
        path = os.fsdecode(path)
        if self._cwd is None or path.startswith("/"):
            return path
        if self._cwd == "/":
            return self._cwd + path
        return self._cwd + "/" + path

    # -- session --------------------------------------------------------------------------------

    def close(self):
        """Close the SFTP session and its channel."""
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get_channel(self):
        """The channel object the session runs on (``settimeout``, ``get_transport``, ``closed``,
        ``close``)."""
        return self._channel

    # -- directories ----------------------------------------------------------------------------

    @converted
    def listdir_attr(self, path="."):
        """The entries of directory ``path`` (default the current one) as ``SFTPAttributes`` with
        ``filename`` and ``longname``, without ``.`` and ``..``. Raises the :class:`IOError`
        subclass of the server's status (e.g. ``FileNotFoundError``), as paramiko."""
        return [attributes(e.attrs, e.filename, e.longname)
                for e in self._native.scandir(self._adjust_cwd(path))]

    def listdir(self, path="."):
        """The names in directory ``path`` (default the current one), without ``.`` and ``..``.
        Raises the :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``),
        as paramiko."""
        return [a.filename for a in self.listdir_attr(path)]

    def listdir_iter(self, path=".", read_aheads=50):
        """An iterator over :meth:`listdir_attr`'s entries (``read_aheads`` is accepted; the listing
        is read at once)."""
        return iter(self.listdir_attr(path))

    @converted
    def mkdir(self, path, mode=0o777):
        """Create directory ``path`` with ``mode`` (default 0o777, less the server's umask). Raises
        the :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``), as
        paramiko."""
        self._native.mkdir(self._adjust_cwd(path), mode)

    @converted
    def rmdir(self, path):
        """Remove the empty directory ``path``. Raises the :class:`IOError` subclass of the server's
        status (e.g. ``FileNotFoundError``), as paramiko."""
        self._native.rmdir(self._adjust_cwd(path))

    def chdir(self, path=None):
        """Make ``path`` the current directory for relative paths (None: no current directory).
        Raises ``SFTPError(ENOTDIR)`` when it is not a directory, and the status errors of
        ``stat``."""
        if path is None:
            self._cwd = None
            return
        if not stat.S_ISDIR(self.stat(path).st_mode):
            raise sftp_ioerror(4, f"{os.strerror(errno.ENOTDIR)}: {path}", errno=errno.ENOTDIR)
        self._cwd = self.normalize(path)

    def getcwd(self):
        """The current directory set by :meth:`chdir` (None when none is)."""
        return self._cwd

    @converted
    def normalize(self, path):
        """The server's canonical absolute form of ``path`` (SSH_FXP_REALPATH). Raises the
        :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``), as
        paramiko."""
        return self._native.realpath(self._adjust_cwd(path))

    # -- files ----------------------------------------------------------------------------------

    @converted
    def open(self, filename, mode="r", bufsize=-1):
        """Open remote file ``filename``; ``mode`` as Python's (``r``, ``w``, ``a``, ``x``, ``+``,
        ``b``), new files created with 0o666 less the server's umask. Returns an
        :class:`~pylibssh.compat.paramiko.sftp_file.SFTPFile`. Raises the :class:`IOError`
        subclass of the server's status (e.g. ``FileNotFoundError``), as paramiko."""
        from .sftp_file import SFTPFile

        path = self._adjust_cwd(filename)
        return SFTPFile(self, self._native.open(path, _native_mode(mode), permissions=0o666),
                        mode, bufsize, path)

    file = open

    @converted
    def remove(self, path):
        """Remove the file ``path`` (not a directory). Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self._native.remove(self._adjust_cwd(path))

    unlink = remove

    @converted
    def rename(self, oldpath, newpath):
        """Plain SFTP rename, which refuses to replace an existing file (libssh always uses
        posix-rename when the server has it, so the refusal is checked here first)."""
        oldpath, newpath = self._adjust_cwd(oldpath), self._adjust_cwd(newpath)
        if self._native.exists(newpath) or self._is_link(newpath):
            raise sftp_ioerror(4, "Failure", oldpath)
        self._native.rename(oldpath, newpath)

    def _is_link(self, path):
        try:
            self._native.lstat(path)
            return True
        except OSError:
            return False

    @converted
    def posix_rename(self, oldpath, newpath):
        """Rename, replacing an existing target (``posix-rename@openssh.com``). Raises the
        :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``), as
        paramiko."""
        self._native.posix_rename(self._adjust_cwd(oldpath), self._adjust_cwd(newpath))

    @converted
    def stat(self, path):
        """The attributes of ``path``, symbolic links followed. Raises the :class:`IOError` subclass
        of the server's status (e.g. ``FileNotFoundError``), as paramiko."""
        return attributes(self._native.stat(self._adjust_cwd(path)))

    @converted
    def lstat(self, path):
        """The attributes of ``path`` itself (a symbolic link is not followed). Raises the
        :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``), as
        paramiko."""
        return attributes(self._native.lstat(self._adjust_cwd(path)))

    @converted
    def symlink(self, source, dest):
        """Create the link ``dest`` pointing to ``source``. The request carries them in that
        order for every server, as paramiko sends it (OpenSSH's order; libssh sends the
        draft's reverse order to servers that are not OpenSSH, so it is given them swapped)."""
        dest = self._adjust_cwd(dest)
        session = self._transport._session
        with session._loop.lock:
            openssh = client_api.openssh_version(session._s) != 0
        if openssh:
            self._native.symlink(source, dest)
        else:
            self._native.symlink(dest, source)

    @converted
    def readlink(self, path):
        """The target of the symbolic link ``path``. Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        return self._native.readlink(self._adjust_cwd(path))

    @converted
    def chmod(self, path, mode):
        """Set the permissions of ``path`` to ``mode``. Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self._native.chmod(self._adjust_cwd(path), mode)

    @converted
    def chown(self, path, uid, gid):
        """Set the owner and group ids of ``path``. Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self._native.chown(self._adjust_cwd(path), uid, gid)

    @converted
    def utime(self, path, times):
        """Set the access and modification times of ``path`` (``times`` an ``(atime, mtime)`` pair;
        None: now). Raises the :class:`IOError` subclass of the server's status (e.g.
        ``FileNotFoundError``), as paramiko."""
        self._native.utime(self._adjust_cwd(path), times)

    @converted
    def truncate(self, path, size):
        """Change the size of the file ``path`` to ``size`` bytes. Raises the :class:`IOError`
        subclass of the server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self._native.truncate(self._adjust_cwd(path), size)

    # -- transfers ------------------------------------------------------------------------------

    @converted
    def putfo(self, fl, remotepath, file_size=0, callback=None, confirm=True):
        """Upload the file object ``fl``; the remote attributes (checked against the bytes sent
        when ``confirm``)."""
        remotepath = self._adjust_cwd(remotepath)
        with self._native.open(remotepath, "wb", permissions=0o666) as fr:
            size = _copy(fl, fr, callback, file_size)
        return self._confirm(remotepath, size, confirm)

    def _confirm(self, remotepath, size, confirm):
        if not confirm:
            return SFTPAttributes()
        s = self.stat(remotepath)
        if s.st_size != size:
            raise OSError(f"size mismatch in put!  {s.st_size} != {size}")
        return s

    @converted
    def put(self, localpath, remotepath, callback=None, confirm=True):
        """Upload ``localpath``; the remote attributes (its size checked when ``confirm``).
        The STAT that confirms goes with the CLOSE, so a small file costs two round trips."""
        remotepath = self._adjust_cwd(remotepath)
        native_sftp = self._native
        result = native_sftp.wait(native_sftp.engine.put(
            localpath, remotepath, progress=_progress(callback), stat_after=confirm,
            timeout=native_sftp.timeout), None, "upload")
        if not confirm:
            return SFTPAttributes()
        size = result.transferred
        if result.attrs.size != size:
            raise OSError(f"size mismatch in put!  {result.attrs.size} != {size}")
        return attributes(result.attrs)

    @converted
    def getfo(self, remotepath, fl, callback=None, prefetch=True,
              max_concurrent_prefetch_requests=None):
        """Download into the file object ``fl``; the number of bytes."""
        remotepath = self._adjust_cwd(remotepath)
        file_size = self._native.stat(remotepath).size or 0
        with self._native.open(remotepath, "rb") as fr:
            return _copy(fr, fl, callback, file_size)

    @converted
    def get(self, remotepath, localpath, callback=None, prefetch=True,
            max_concurrent_prefetch_requests=None):
        """Download to ``localpath`` through pylibssh's pipelined reads (a small file in two
        round trips: OPEN and STAT together, then its READs and the CLOSE together)."""
        in_flight = max_concurrent_prefetch_requests or native.IN_FLIGHT
        size = self._native.get(self._adjust_cwd(remotepath), localpath,
                                progress=_progress(callback), in_flight=in_flight)
        s = os.stat(localpath)
        if s.st_size != size:
            raise OSError(f"size mismatch in get!  {s.st_size} != {size}")


def _native_mode(mode: str) -> str:
    """pylibssh's open mode for a paramiko mode: paramiko computes the SFTP flags from the
    letters (``r``/``+`` read, ``w``/``a``/``+`` write, ``w`` truncates, ``a`` appends, ``x``
    creates exclusively); what the file object allows follows paramiko's rules separately."""
    plus = "+" if ("+" in mode or ("r" in mode and any(c in mode for c in "wax"))) else ""
    if "x" in mode:
        return "x" + plus + "b"
    if "a" in mode:
        return "a" + plus + "b"
    if "w" in mode:
        return "w" + plus + "b"
    return "r" + plus + "b"


def _progress(callback):
    if callback is None:
        return None
    return lambda done, total: callback(done, total)


class SFTP(SFTPClient):
    """An alias for :class:`SFTPClient` for backwards compatibility."""
