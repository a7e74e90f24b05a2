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
        if self._closed:
            return
        try:
            super().close()
        finally:
            self._f.close()

    def __del__(self):
        pass  # the pylibssh file closes itself when collected

    def seekable(self):
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
        self.flush()
        if whence == self.SEEK_CUR:
            offset, whence = self._pos + offset, self.SEEK_SET
        pos = self._f.seek(offset, whence)
        self._rbuffer = bytearray()
        self._at_trailing_cr = False
        self._pos = self._realpos = pos

    def tell(self):
        return self._pos

    @converted
    def flush(self):
        super().flush()
        self._f.flush()

    def set_pipelined(self, pipelined=True):
        """Writes are always pipelined (confirmed at flush/seek/close, which raise the first
        write error), so this only records the flag."""
        self.pipelined = pipelined

    def prefetch(self, file_size=None, max_concurrent_requests=None):
        """Reads always pipeline ahead; nothing to start."""

    def readv(self, chunks, max_concurrent_prefetch_requests=None):
        for offset, size in chunks:
            self.seek(offset)
            yield self.read(size)

    @converted
    def stat(self):
        return attributes(self._f.stat())

    def chmod(self, mode):
        self.sftp.chmod(self._path, mode)

    def chown(self, uid, gid):
        self.sftp.chown(self._path, uid, gid)

    def utime(self, times):
        self.sftp.utime(self._path, times)

    def truncate(self, size):
        self.sftp.truncate(self._path, size)

    def check(self, hash_algorithm, offset=0, length=0, block_size=0):
        raise OSError("check-file is not supported by pylibssh.compat.paramiko")

    def gettimeout(self):
        return self.sftp.get_channel().gettimeout()

    def settimeout(self, timeout):
        self.sftp.get_channel().settimeout(timeout)

    def setblocking(self, blocking):
        self.settimeout(None if blocking else 0.0)
