"""paramiko.sftp: SFTP status codes, SFTPError, and the IOError conversion paramiko applies."""

from __future__ import annotations

from ... import errors as _errors

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


class SFTPError(_errors.SSHError):
    """paramiko's SFTP error (not an SSHException, as in paramiko; a pylibssh SSHError). The
    layer raises it, as paramiko does, for ``chdir`` onto a file and for replies that break the
    protocol; every SFTP status error the layer raises is one too (see :func:`sftp_ioerror`)."""


class BaseSFTP:
    """paramiko's base of SFTPClient and SFTPServer (nothing to share here)."""


def _status_class(base: type[_errors.SFTPError]) -> type:
    """The class raised for SFTP status errors of pylibssh class ``base``: that class (so an
    ``OSError`` with paramiko's errno, and pylibssh's error) and :class:`SFTPError`."""

    def __init__(self, status, message="", filename=None):
        base.__init__(self, status, message, filename)
        self.args = (self.errno, self.message) if self.errno else (self.message,)

    return type(base.__name__, (SFTPError, base), {
        "__init__": __init__, "__str__": base.__str__, "__module__": __name__,
        "__doc__": f"An SFTP status error: paramiko's SFTPError and pylibssh's {base.__name__}."})


_STATUS_CLASSES = {cls: _status_class(cls) for cls in (
    _errors.SFTPError, _errors.SFTPNoSuchFileError, _errors.SFTPPermissionError,
    _errors.SFTPFileExistsError)}


def sftp_ioerror(status: int, text: str | None = None, filename=None,
                 errno: int | None = None) -> Exception:
    """What the layer raises for an SFTP status: EOFError for EOF (as paramiko), else an error
    that ``except IOError`` (with paramiko's errno: ENOENT, EACCES...), ``except SFTPError``
    and pylibssh's own SFTP error classes all catch. ``errno`` overrides the status's."""
    if status == SFTP_EOF:
        return EOFError(text or "end of file")
    desc = text or (SFTP_DESC[status] if status < len(SFTP_DESC) else f"status {status}")
    native = type(_errors.sftp_error(status, desc, filename))
    exc = _STATUS_CLASSES[native](status, desc, filename)
    if errno is not None:
        exc.errno = errno
        exc.args = (errno, desc)
    return exc


def from_native(exc: _errors.SFTPError) -> Exception:
    """:func:`sftp_ioerror` for an SFTP error pylibssh's client raised."""
    if isinstance(exc, SFTPError):
        return exc
    out = sftp_ioerror(exc.status, exc.message, exc.filename)
    out.__traceback__ = exc.__traceback__
    return out
