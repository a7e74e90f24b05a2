"""paramiko.sftp: SFTP status codes, SFTPError, and the IOError conversion paramiko applies."""

from __future__ import annotations

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


def sftp_ioerror(status: int, text: str | None = None, filename=None) -> Exception:
    """What paramiko raises for an SFTP status: EOFError for EOF, else pylibssh's SFTP error
    for it (an IOError with errno ENOENT/EACCES... like paramiko's)."""
    if status == SFTP_EOF:
        return EOFError(text or "end of file")
    desc = text or (SFTP_DESC[status] if status < len(SFTP_DESC) else f"status {status}")
    return _errors.sftp_error(status, desc, filename)
