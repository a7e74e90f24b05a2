"""paramiko.file.BufferedFile: the file-object face of channels and SFTP files.

Subclasses provide ``_read(size)`` (bytes, or None/b"" at end) and ``_write(data)`` (bytes
written). As in paramiko, ``read()`` always returns bytes while ``readline()`` and iteration
return str unless the file was opened in binary mode.
"""

from __future__ import annotations

import io

from .common import asbytes


class BufferedFile:
    SEEK_SET = io.SEEK_SET
    SEEK_CUR = io.SEEK_CUR
    SEEK_END = io.SEEK_END

    FLAG_READ = 0x1
    FLAG_WRITE = 0x2
    FLAG_APPEND = 0x4
    FLAG_BINARY = 0x10
    FLAG_BUFFERED = 0x20
    FLAG_LINE_BUFFERED = 0x40
    FLAG_UNIVERSAL_NEWLINE = 0x80

    _DEFAULT_BUFSIZE = 8192

    def __init__(self):
        self.newlines = None
        self._flags = 0
        self._bufsize = self._DEFAULT_BUFSIZE
        self._wbuffer = bytearray()
        self._rbuffer = bytearray()
        self._at_eof = False
        self._closed = False
        self._pos = self._realpos = 0
        self._size = 0

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __iter__(self):
        self._check_closed()
        if not self._flags & self.FLAG_READ:
            raise OSError("File not open for reading")
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._closed

    def _check_closed(self):
        if self._closed:
            raise OSError("File is closed")

    def close(self):
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True

    def flush(self):
        if self._wbuffer:
            data, self._wbuffer = bytes(self._wbuffer), bytearray()
            self._write_all(data)

    def readable(self):
        return bool(self._flags & self.FLAG_READ)

    def writable(self):
        return bool(self._flags & self.FLAG_WRITE)

    def seekable(self):
        return False

    def readinto(self, buff):
        data = self.read(len(buff))
        buff[: len(data)] = data
        return len(data)

    def read(self, size=None):
        self._check_closed()
        if not self._flags & self.FLAG_READ:
            raise OSError("File is not open for reading")
        if size is None or size < 0:
            parts = [bytes(self._rbuffer)]
            self._pos += len(self._rbuffer)
            self._rbuffer.clear()
            while not self._at_eof:
                data = self._read(max(self._bufsize, 1 << 20))
                if not data:
                    self._at_eof = True
                    break
                parts.append(data)
                self._pos += len(data)
                self._realpos += len(data)
            return b"".join(parts)
        while len(self._rbuffer) < size and not self._at_eof:
            want = max(self._bufsize, size - len(self._rbuffer))
            data = self._read(want)
            if not data:
                self._at_eof = True
                break
            self._rbuffer += data
            self._realpos += len(data)
        out = bytes(self._rbuffer[:size])
        del self._rbuffer[:size]
        self._pos += len(out)
        return out

    def readline(self, size=None):
        self._check_closed()
        if not self._flags & self.FLAG_READ:
            raise OSError("File not open for reading")
        while True:
            i = self._rbuffer.find(b"\n")
            if i >= 0 or self._at_eof or (size is not None and 0 <= size <= len(self._rbuffer)):
                break
            data = self._read(self._bufsize)
            if not data:
                self._at_eof = True
                break
            self._rbuffer += data
            self._realpos += len(data)
        i = self._rbuffer.find(b"\n")
        end = i + 1 if i >= 0 else len(self._rbuffer)
        if size is not None and 0 <= size < end:
            end = size
        line = bytes(self._rbuffer[:end])
        del self._rbuffer[:end]
        self._pos += len(line)
        if self._flags & self.FLAG_BINARY:
            return line
        return line.decode("utf-8")

    def readlines(self, sizehint=None):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if sizehint is not None and 0 < sizehint <= total:
                break
        return lines

    def seek(self, offset, whence=0):
        raise OSError("File does not support seeking.")

    def tell(self):
        return self._pos

    def write(self, data):
        data = asbytes(data)
        self._check_closed()
        if not self._flags & self.FLAG_WRITE:
            raise OSError("File not open for writing")
        if not self._flags & self.FLAG_BUFFERED:
            self._write_all(data)
            return
        self._wbuffer += data
        if self._flags & self.FLAG_LINE_BUFFERED:
            i = self._wbuffer.rfind(b"\n")
            if i >= 0:
                data, rest = bytes(self._wbuffer[: i + 1]), self._wbuffer[i + 1:]
                self._wbuffer = bytearray(rest)
                self._write_all(data)
            return
        if len(self._wbuffer) >= self._bufsize:
            self.flush()

    def writelines(self, sequence):
        for line in sequence:
            self.write(line)

    def xreadlines(self):
        return self

    def _write_all(self, data):
        view = memoryview(data)
        while len(view):
            n = self._write(view)
            view = view[n:]
            self._pos += n
            self._realpos += n

    def _read(self, size):
        raise OSError("read not implemented")

    def _write(self, data):
        raise OSError("write not implemented")

    def _set_mode(self, mode="r", bufsize=-1):
        self._bufsize = self._DEFAULT_BUFSIZE
        if bufsize < 0:
            bufsize = 0  # paramiko: no buffering by default for writes
        if bufsize == 1:
            self._flags |= self.FLAG_BUFFERED | self.FLAG_LINE_BUFFERED
        elif bufsize > 1:
            self._bufsize = bufsize
            self._flags |= self.FLAG_BUFFERED
            self._flags &= ~self.FLAG_LINE_BUFFERED
        elif bufsize == 0:
            self._flags &= ~(self.FLAG_BUFFERED | self.FLAG_LINE_BUFFERED)
        if "r" in mode or "+" in mode:
            self._flags |= self.FLAG_READ
        if "w" in mode or "+" in mode:
            self._flags |= self.FLAG_WRITE
        if "a" in mode:
            self._flags |= self.FLAG_WRITE | self.FLAG_APPEND
            self._size = self._get_size()
            self._pos = self._realpos = self._size
        if "b" in mode:
            self._flags |= self.FLAG_BINARY
        if "U" in mode:
            self._flags |= self.FLAG_UNIVERSAL_NEWLINE

    def _get_size(self):
        return 0
