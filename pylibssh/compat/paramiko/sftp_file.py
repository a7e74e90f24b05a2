"""paramiko.SFTPFile over pylibssh's SFTP file (which pipelines reads ahead and writes
behind); this class adds paramiko's text/binary rules and method names."""

from __future__ import annotations

from .file import BufferedFile
from .sftp_client import attributes, converted

__all__ = ["SFTPFile"]


class SFTPFile(BufferedFile):
    """A remote file with paramiko's API (text mode: readline/iteration give str)."""

    MAX_REQUEST_SIZE = 32768

    def __init__(self, sftp, native_file, mode="r", bufsize=-1, path=None):
        super().__init__()
        self.sftp = sftp
        self._f = native_file
        self._path = path
        self.pipelined = False
        self._set_mode(mode, bufsize)
        if "a" in mode:
            self._pos = self._realpos = self._f.tell()

    def __repr__(self):
        return f"<paramiko.SFTPFile {self._path!r} (pylibssh)>"

    @converted
    def close(self):
        """Flush and close the remote file (idempotent)."""
        if self._closed:
            return
        try:
            super().close()
        finally:
            self._f.close()

    def __del__(self):
        pass  # the pylibssh file closes itself when collected

    def seekable(self):
        """True: SFTP files seek."""
        return True

    @converted
    def _read(self, size):
        return self._f.read(size)

    @converted
    def _write(self, data):
        if self._rbuffer:  # writing after a read-ahead: at the logical position
            self.seek(self._pos)
        return self._f.write(bytes(data))

    @converted
    def seek(self, offset, whence=0):
        """Move to ``offset`` relative to ``whence`` (0: the start, 1: the position, 2: the end);
        what is buffered is written first. Raises the :class:`IOError` subclass of the server's
        status (e.g. ``FileNotFoundError``), as paramiko."""
        self.flush()
        if whence == self.SEEK_CUR:
            offset, whence = self._pos + offset, self.SEEK_SET
        pos = self._f.seek(offset, whence)
        self._rbuffer = bytearray()
        self._at_trailing_cr = False
        self._pos = self._realpos = pos

    def tell(self):
        """The current position in the file."""
        return self._pos

    @converted
    def flush(self):
        """Send what is buffered and wait for the server's acknowledgements. Raises the
        :class:`IOError` subclass of the server's status (e.g. ``FileNotFoundError``), as
        paramiko."""
        super().flush()
        self._f.flush()

    def set_pipelined(self, pipelined=True):
        """Writes are always pipelined (confirmed at flush/seek/close, which raise the first
        write error), so this only records the flag."""
        self.pipelined = pipelined

    def prefetch(self, file_size=None, max_concurrent_requests=None):
        """Reads always pipeline ahead; nothing to start."""

    def readv(self, chunks, max_concurrent_prefetch_requests=None):
        """For each ``(offset, size)`` of ``chunks``, yield the bytes read there (reads are
        pipelined by pylibssh's file object)."""
        for offset, size in chunks:
            self.seek(offset)
            yield self.read(size)

    @converted
    def stat(self):
        """The file's attributes (SSH_FXP_FSTAT). Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        return attributes(self._f.stat())

    def chmod(self, mode):
        """Set the file's permissions to ``mode``. Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self.sftp.chmod(self._path, mode)

    def chown(self, uid, gid):
        """Set the file's owner and group ids. Raises the :class:`IOError` subclass of the server's
        status (e.g. ``FileNotFoundError``), as paramiko."""
        self.sftp.chown(self._path, uid, gid)

    def utime(self, times):
        """Set the file's access and modification times (``times`` an ``(atime, mtime)`` pair; None:
        now). Raises the :class:`IOError` subclass of the server's status (e.g.
        ``FileNotFoundError``), as paramiko."""
        self.sftp.utime(self._path, times)

    def truncate(self, size):
        """Change the file's size to ``size`` bytes. Raises the :class:`IOError` subclass of the
        server's status (e.g. ``FileNotFoundError``), as paramiko."""
        self.sftp.truncate(self._path, size)

    def check(self, hash_algorithm, offset=0, length=0, block_size=0):
        """Not supported (OpenSSH's servers do not implement ``check-file`` either): raises
        :class:`OSError`."""
        raise OSError("check-file is not supported by pylibssh.compat.paramiko")

    def gettimeout(self):
        """The time limit of the session's calls (its channel's timeout)."""
        return self.sftp.get_channel().gettimeout()

    def settimeout(self, timeout):
        """Set the time limit of the session's calls in seconds (None: no limit)."""
        self.sftp.get_channel().settimeout(timeout)

    def setblocking(self, blocking):
        """``setblocking(False)`` is ``settimeout(0.0)``, ``setblocking(True)``
        ``settimeout(None)``."""
        self.settimeout(None if blocking else 0.0)
