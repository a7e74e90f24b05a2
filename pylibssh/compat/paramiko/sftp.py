"""paramiko.sftp: SFTP status codes, SFTPError, and the IOError conversion paramiko applies."""

from __future__ import annotations

import errno

from ... import errors as _errors
from .ssh_exception import SSHException

__all__ = ["SFTPError", "BaseSFTP", "SFTP_OK", "SFTP_EOF", "SFTP_NO_SUCH_FILE",
           "SFTP_PERMISSION_DENIED", "SFTP_FAILURE", "SFTP_BAD_MESSAGE", "SFTP_NO_CONNECTION",
           "SFTP_CONNECTION_LOST", "SFTP_OP_UNSUPPORTED"]

(SFTP_OK, SFTP_EOF, SFTP_NO_SUCH_FILE, SFTP_PERMISSION_DENIED, SFTP_FAILURE, SFTP_BAD_MESSAGE,
 SFTP_NO_CONNECTION, SFTP_CONNECTION_LOST, SFTP_OP_UNSUPPORTED) = range(9)

SFTP_DESC = ["Success", "End of file", "No such file", "Permission denied", "Failure",
             "Bad message", "No connection", "Connection lost", "Operation unsupported"]

SFTP_FLAG_READ = 0x1
SFTP_FLAG_WRITE = 0x2
SFTP_FLAG_APPEND = 0x4
SFTP_FLAG_CREATE = 0x8
SFTP_FLAG_TRUNC = 0x10
SFTP_FLAG_EXCL = 0x20

CMD_INIT, CMD_VERSION, CMD_OPEN, CMD_CLOSE, CMD_READ, CMD_WRITE, CMD_LSTAT, CMD_FSTAT = range(1, 9)


class SFTPError(SSHException):
    """paramiko's SFTP protocol error."""


class BaseSFTP:
    """paramiko's base of SFTPClient and SFTPServer (nothing to share here)."""


# OSError subclasses per errno (FileNotFoundError, PermissionError...) that are also pylibssh
# SFTP errors: ``except IOError``, ``except FileNotFoundError`` and ``except SFTPError``
# (pylibssh's) all work.
_CLASSES: dict[type, type] = {}


def _error_class(base: type) -> type:
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (_errors.SFTPError, base),
                   {"__module__": __name__, "__str__": OSError.__str__})
        _CLASSES[base] = cls
    return cls


_ERRNO_CLASS = {errno.ENOENT: FileNotFoundError, errno.EACCES: PermissionError,
                errno.EEXIST: FileExistsError}


def sftp_ioerror(status: int, text: str | None = None, filename=None) -> OSError:
    """The exception paramiko raises for an SFTP status: EOFError for EOF, an IOError with
    errno ENOENT/EACCES for missing files and refused access, a plain IOError otherwise."""
    if status == SFTP_EOF:
        return EOFError(text or "end of file")
    desc = text or (SFTP_DESC[status] if status < len(SFTP_DESC) else f"status {status}")
    err = {SFTP_NO_SUCH_FILE: errno.ENOENT, SFTP_PERMISSION_DENIED: errno.EACCES}.get(status)
    base = _ERRNO_CLASS.get(err, OSError) if err else OSError
    exc = _error_class(base).__new__(_error_class(base))
    _errors.SFTPError.__init__(exc, status, desc, filename)
    if err is None:
        exc.errno = None
        exc.args = (desc,)
    else:
        exc.args = (err, desc)
    exc.strerror = desc
    exc.filename = filename
    return exc
