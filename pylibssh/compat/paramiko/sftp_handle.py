"""paramiko.sftp_handle: ``SFTPHandle``, an open file (or directory listing) of an SFTP server
session. Subclasses set ``readfile`` / ``writefile`` (Python file objects) or override
:meth:`read` / :meth:`write`."""

from __future__ import annotations

import os

from .sftp import SFTP_OK, SFTP_OP_UNSUPPORTED

__all__ = ["SFTPHandle"]

_PAGE = 16  # names per directory read, as paramiko


class SFTPHandle:
    """``flags`` are the ``os.O_*`` flags the file was opened with (``O_APPEND`` makes writes
    ignore their offset)."""

    def __init__(self, flags=0):
        self.__flags = flags
        self.__name = None
        self.__files = []
        self.__tell = None

    def close(self):
        """Close the handle's ``readfile`` and ``writefile`` when it has them (subclasses may do
        more)."""
        readfile = getattr(self, "readfile", None)
        if readfile is not None:
            readfile.close()
        writefile = getattr(self, "writefile", None)
        if writefile is not None:
            writefile.close()

    def read(self, offset, length):
        """Up to ``length`` bytes at ``offset`` (empty at the end), or an SFTP status code."""
        from .sftp_server import SFTPServer

        readfile = getattr(self, "readfile", None)
        if readfile is None:
            return SFTP_OP_UNSUPPORTED
        try:
            if self.__tell is None:
                self.__tell = readfile.tell()
            if offset != self.__tell:
                readfile.seek(offset)
                self.__tell = offset
            data = readfile.read(length)
        except OSError as e:
            self.__tell = None
            return SFTPServer.convert_errno(e.errno)
        self.__tell += len(data)
        return data

    def write(self, offset, data):
        """Write ``data`` at ``offset``; an SFTP status code."""
        from .sftp_server import SFTPServer

        writefile = getattr(self, "writefile", None)
        if writefile is None:
            return SFTP_OP_UNSUPPORTED
        try:
            # in append mode, the offset does not matter
            if (self.__flags & os.O_APPEND) == 0:
                if self.__tell is None:
                    self.__tell = writefile.tell()
                if offset != self.__tell:
                    writefile.seek(offset)
                    self.__tell = offset
            writefile.write(data)
            writefile.flush()
        except OSError as e:
            self.__tell = None
            return SFTPServer.convert_errno(e.errno)
        if self.__tell is not None:
            self.__tell += len(data)
        return SFTP_OK

    def stat(self):
        """The open file's attributes as ``SFTPAttributes``, or an SFTP status code; the default
        answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def chattr(self, attr):
        """Change the open file's attributes; return an SFTP status code. The default answers
        SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    # -- used by SFTPServer --------------------------------------------------------------------

    def _set_files(self, files):
        self.__files = list(files)

    def _get_next_files(self):
        page, self.__files = self.__files[:_PAGE], self.__files[_PAGE:]
        return page

    def _set_name(self, name):
        self.__name = name

    def _get_name(self):
        return self.__name
