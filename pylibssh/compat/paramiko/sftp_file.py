"""paramiko.SFTPFile over a libssh ``sftp_file``: reads and (pipelined) writes keep up to
:data:`~.sftp_client.PIPELINE_DEPTH` requests in flight with ``sftp_aio_*``."""

from __future__ import annotations

from collections import deque

from ..._binding import NULL, ffi, lib
from .common import asbytes
from .file import BufferedFile
from .sftp_attr import SFTPAttributes

__all__ = ["SFTPFile"]


class SFTPFile(BufferedFile):
    """A remote file, with paramiko's file API (text mode: readline/iteration give str)."""

    MAX_REQUEST_SIZE = 32768

    def __init__(self, sftp, handle, mode="r", bufsize=-1, path=None):
        super().__init__()
        self.sftp = sftp
        self.handle = handle
        self._path = path
        self.pipelined = False
        self._pending = deque()  # pipelined writes: (aio pointer, buffer kept alive)
        self._prefetching = False
        self._set_mode(mode, bufsize)

    def __del__(self):
        try:
            self._close(async_=True)
        except Exception:
            pass

    def close(self):
        self._close(async_=False)

    def _close(self, async_=False):
        if self._closed or self.handle is None:
            return
        try:
            self.flush()
            self._finish_writes()
        finally:
            self._closed = True
            handle, self.handle = self.handle, None
            if self.sftp._sftp is not None and not self.sftp._session.closed:
                with self.sftp._session.blocking():
                    lib.sftp_close(handle)

    def _get_size(self):
        try:
            return self.stat().st_size
        except Exception:
            return 0

    def seekable(self):
        return True

    # -- reading --------------------------------------------------------------------------------

    def _aio_read_batch(self, total, depth):
        """Read up to ``total`` bytes from the current offset with ``depth`` requests in
        flight; stops early at EOF (or a short read, after which the offset is corrected)."""
        sftp = self.sftp
        chunk = sftp._max_read
        out = []
        got = 0
        with sftp._blocking():
            start = lib.sftp_tell64(self.handle)
            queue = deque()
            issued = 0
            short = False
            buf = ffi.new("char[]", chunk)
            try:
                while (issued < total and len(queue) < depth) or queue:
                    while issued < total and len(queue) < depth and not short:
                        n = min(chunk, total - issued)
                        aio = ffi.new("sftp_aio *")
                        if lib.sftp_aio_begin_read(self.handle, n, aio) < 0:
                            sftp._raise(self._path)
                        queue.append((aio, n))
                        issued += n
                    if not queue:
                        break
                    aio, n = queue.popleft()
                    r = lib.sftp_aio_wait_read(aio, buf, chunk)
                    if r < 0:
                        sftp._raise(self._path)  # the rest are drained below
                    if short:
                        continue  # answers after EOF or a short read are discarded
                    if r > 0:
                        out.append(ffi.buffer(buf, r)[:])
                        got += r
                    if r < n:
                        short = True
            finally:
                while queue:
                    aio, _ = queue.popleft()
                    lib.sftp_aio_wait_read(aio, buf, chunk)
                lib.sftp_seek64(self.handle, start + got)
        return b"".join(out), got < total

    def _read(self, size):
        self._finish_writes()
        chunk = self.sftp._max_read
        depth = max(1, min(-(-size // chunk), 64))
        data, _ = self._aio_read_batch(size, depth)
        return data

    def _read_stream(self, depth=None):
        """The whole rest of the file, in pieces (for getfo)."""
        self._finish_writes()
        depth = depth or 64
        batch = self.sftp._max_read * depth
        while True:
            data, at_end = self._aio_read_batch(batch, depth)
            if data:
                yield data
            if at_end:
                return

    def prefetch(self, file_size=None, max_concurrent_requests=None):
        """Reads pipeline anyway; this only marks the file as read sequentially."""
        self._prefetching = True

    def readv(self, chunks, max_concurrent_prefetch_requests=None):
        """The data of each ``(offset, length)`` in ``chunks``, in order."""
        for offset, size in chunks:
            self.seek(offset)
            yield self.read(size)

    def seek(self, offset, whence=0):
        self.flush()
        self._finish_writes()
        if whence == self.SEEK_SET:
            pos = offset
        elif whence == self.SEEK_CUR:
            pos = self._pos + offset
        else:
            pos = self._get_size() + offset
        self._rbuffer = bytearray()
        self._at_eof = False
        self._pos = self._realpos = pos
        with self.sftp._blocking():
            lib.sftp_seek64(self.handle, pos)

    def tell(self):
        return self._pos

    # -- writing --------------------------------------------------------------------------------

    def set_pipelined(self, pipelined=True):
        self.pipelined = pipelined

    def _write(self, data):
        data = bytes(data)
        if self._rbuffer:
            # writing after a read-ahead: write at the logical position
            self.seek(self._pos)
        if not self.pipelined:
            with self.sftp._blocking():
                n = lib.sftp_write(self.handle, data, len(data))
                if n < 0:
                    self.sftp._raise(self._path)
            return n
        self._queue_write(data)
        return len(data)

    def _queue_write(self, data):
        sftp = self.sftp
        chunk = sftp._max_write
        with sftp._blocking():
            for i in range(0, len(data), chunk):
                piece = ffi.from_buffer(data[i:i + chunk])
                aio = ffi.new("sftp_aio *")
                if lib.sftp_aio_begin_write(self.handle, piece, len(piece), aio) < 0:
                    sftp._raise(self._path)
                self._pending.append((aio, piece))
                while len(self._pending) > 32:
                    self._wait_one()

    def _wait_one(self):
        aio, _ = self._pending.popleft()
        if lib.sftp_aio_wait_write(aio) < 0:
            while self._pending:
                a, _ = self._pending.popleft()
                lib.sftp_aio_wait_write(a)
            self.sftp._raise(self._path)

    def _finish_writes(self):
        if self._pending:
            with self.sftp._blocking():
                while self._pending:
                    self._wait_one()

    def _write_stream(self, fl, file_size, callback):
        """Upload everything ``fl`` holds with writes in flight; the byte count."""
        self.pipelined = True
        size = 0
        block = self.sftp._max_write * 8
        while True:
            data = fl.read(block)
            if not data:
                break
            self._queue_write(asbytes(data))
            size += len(data)
            if callback is not None:
                callback(size, file_size)
        self._finish_writes()
        return size

    def flush(self):
        super().flush()

    # -- attributes -----------------------------------------------------------------------------

    def stat(self):
        from .sftp_client import _attrs

        self._finish_writes()
        with self.sftp._blocking():
            a = lib.sftp_fstat(self.handle)
            if a == NULL:
                self.sftp._raise(self._path)
            try:
                return _attrs(a)
            finally:
                lib.sftp_attributes_free(a)

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

    def set_keepalive(self, *args):
        pass

    def gettimeout(self):
        return self.sftp.get_channel().gettimeout()

    def settimeout(self, timeout):
        self.sftp.get_channel().settimeout(timeout)

    def setblocking(self, blocking):
        self.settimeout(None if blocking else 0.0)

    def __repr__(self):
        return f"<paramiko.SFTPFile {self._path!r} (pylibssh)>"


_ = SFTPAttributes
