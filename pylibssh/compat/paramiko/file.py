"""paramiko.file.BufferedFile: the file-object face of channels and SFTP files.

Subclasses provide ``_read(size)`` (bytes, or None/b"" at end) and ``_write(data)`` (bytes
written). As in paramiko, ``read()`` always returns bytes while ``readline()`` and iteration
return str unless the file was opened in binary mode.
"""

from __future__ import annotations

import io

from .common import asbytes


class BufferedFile:
    """paramiko's base of the channel and SFTP file objects: buffered reads (``read``, ``readline``,
    iteration) and writes, text or binary by mode. Subclasses provide ``_read`` and ``_write``."""

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
        self._at_trailing_cr = False
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
        """True once the file is closed."""
        return self._closed

    def _check_closed(self):
        if self._closed:
            raise OSError("File is closed")

    def close(self):
        """Flush what is buffered and close the file (idempotent)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True

    def flush(self):
        """Write out what is buffered."""
        if self._wbuffer:
            data, self._wbuffer = bytes(self._wbuffer), bytearray()
            self._write_all(data)

    def readable(self):
        """True when the file was opened for reading."""
        return bool(self._flags & self.FLAG_READ)

    def writable(self):
        """True when the file was opened for writing."""
        return bool(self._flags & self.FLAG_WRITE)

    def seekable(self):
        """False: a stream cannot seek (SFTP files can)."""
        return False

    def readinto(self, buff):
        """Read into the buffer ``buff``; returns the number of bytes read (0 at EOF)."""
        data = self.read(len(buff))
        buff[: len(data)] = data
        return len(data)

    def _read_some(self, size):
        """``_read(size)``; None at the end (an empty read or EOFError, as paramiko)."""
        try:
            data = self._read(size)
        except EOFError:
            return None
        return data if data else None

    def read(self, size=None):
        """Up to ``size`` bytes (all until the end when None or negative): reads until that
        many came or a read returned nothing, as paramiko's loop does. Always bytes."""
        self._check_closed()
        if not self._flags & self.FLAG_READ:
            raise OSError("File is not open for reading")
        if size is None or size < 0:
            parts = [bytes(self._rbuffer)]
            self._pos += len(self._rbuffer)
            self._rbuffer = bytearray()
            while True:
                # one large read per pass (paramiko asks 8 KiB at a time; same result)
                data = self._read_some(max(self._bufsize, 1 << 20))
                if data is None:
                    return b"".join(parts)
                parts.append(data)
                self._pos += len(data)
                self._realpos += len(data)
        while len(self._rbuffer) < size:
            want = size - len(self._rbuffer)
            if self._flags & self.FLAG_BUFFERED:
                want = max(self._bufsize, want)
            data = self._read_some(want)
            if data is None:
                break
            self._rbuffer += data
            self._realpos += len(data)
        out = bytes(self._rbuffer[:size])
        del self._rbuffer[:size]
        self._pos += len(out)
        return out

    def readline(self, size=None):
        """The next line (with its ``\\n``; at most ``size`` bytes): str unless the file is
        binary. In ``'U'`` mode ``\\r`` and ``\\r\\n`` end lines too, returned as ``\\n``, and
        :attr:`newlines` records the endings seen."""
        self._check_closed()
        if not self._flags & self.FLAG_READ:
            raise OSError("File not open for reading")
        universal = bool(self._flags & self.FLAG_UNIVERSAL_NEWLINE)
        line = self._rbuffer
        truncated = False
        while True:
            if self._at_trailing_cr and universal and line:
                # the previous line ended with \r at the end of a read: \r\n or \r?
                if line[0] == 10:
                    del line[:1]
                    self._record_newline(b"\r\n")
                else:
                    self._record_newline(b"\r")
                self._at_trailing_cr = False
            if size is not None and size >= 0:
                if len(line) >= size:
                    self._rbuffer = line[size:]
                    line = line[:size]
                    truncated = True
                    break
                want = size - len(line)
            else:
                want = self._bufsize
            if b"\n" in line or (universal and b"\r" in line):
                break
            data = self._read_some(want)
            if data is None:
                self._rbuffer = bytearray()
                self._pos += len(line)
                return self._text(line)
            line += data
            self._realpos += len(data)
        pos = line.find(b"\n")
        if universal:
            rpos = line.find(b"\r")
            if rpos >= 0 and (rpos < pos or pos < 0):
                pos = rpos
        if pos == -1:
            self._pos += len(line)
            if not truncated:
                self._rbuffer = bytearray()
            return self._text(line)
        end = pos + 1
        if line[pos] == 13 and end < len(line) and line[end] == 10:
            end += 1
        rest = line[end:]
        self._rbuffer = rest + self._rbuffer if truncated else bytearray(rest)
        ending = bytes(line[pos:end])
        out = line[:pos] + b"\n"
        if not self._rbuffer and ending == b"\r":
            self._at_trailing_cr = True  # its \n may come with the next read
        else:
            self._record_newline(ending)
        self._pos += len(out)
        return self._text(out)

    def _text(self, line):
        line = bytes(line)
        return line if self._flags & self.FLAG_BINARY else line.decode("utf-8")

    def _record_newline(self, newline):
        """paramiko's :attr:`newlines`: None, one ending, or a tuple of those seen."""
        if not self._flags & self.FLAG_UNIVERSAL_NEWLINE:
            return
        if self.newlines is None:
            self.newlines = newline
        elif self.newlines != newline and isinstance(self.newlines, bytes):
            self.newlines = (self.newlines, newline)
        elif newline not in self.newlines:
            self.newlines += (newline,)

    def readlines(self, sizehint=None):
        """The remaining lines as a list (stopping once about ``sizehint`` bytes are read, when
        given)."""
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
        """Raises :class:`OSError`: a stream cannot seek (SFTP files override this)."""
        raise OSError("File does not support seeking.")

    def tell(self):
        """The position in the file: bytes read or written so far."""
        return self._pos

    def write(self, data):
        """Write ``data`` (str is encoded as UTF-8); buffered per line or block depending on the
        mode. Raises :class:`OSError` on a file not open for writing."""
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
        """Write each item of ``sequence``."""
        for line in sequence:
            self.write(line)

    def xreadlines(self):
        """The file itself (an iterator over its lines), as paramiko."""
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
