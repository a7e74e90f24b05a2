"""SFTP status codes and open flags (protocol version 3).

The status <-> errno table lives in :mod:`pylibssh.errors` (one table, used both ways); here are
the names: :class:`SFTPStatus` and node-libssh's lowercase spellings (``"nosuchfile"``,
``"permissiondenied"``, ...) that ``reply_status`` accepts.
"""

from __future__ import annotations

import enum
import os

from .._binding import constants as _c

class SFTPStatus(enum.IntEnum):
    """SFTP status codes: ``SFTPStatus.NO_SUCH_FILE`` == 2, ...

    The members are the names of :data:`pylibssh.errors.SFTP_STATUS_NAMES`, spelled out so that
    type checkers know them (tests/test_sftp_types.py checks the two agree)."""

    OK = _c.SSH_FX_OK
    EOF = _c.SSH_FX_EOF
    NO_SUCH_FILE = _c.SSH_FX_NO_SUCH_FILE
    PERMISSION_DENIED = _c.SSH_FX_PERMISSION_DENIED
    FAILURE = _c.SSH_FX_FAILURE
    BAD_MESSAGE = _c.SSH_FX_BAD_MESSAGE
    NO_CONNECTION = _c.SSH_FX_NO_CONNECTION
    CONNECTION_LOST = _c.SSH_FX_CONNECTION_LOST
    OP_UNSUPPORTED = _c.SSH_FX_OP_UNSUPPORTED
    INVALID_HANDLE = _c.SSH_FX_INVALID_HANDLE
    NO_SUCH_PATH = _c.SSH_FX_NO_SUCH_PATH
    FILE_ALREADY_EXISTS = _c.SSH_FX_FILE_ALREADY_EXISTS
    WRITE_PROTECT = _c.SSH_FX_WRITE_PROTECT
    NO_MEDIA = _c.SSH_FX_NO_MEDIA


# node-libssh's names (its replyStatus map) and a few obvious aliases
_ALIASES = {
    "fileexists": SFTPStatus.FILE_ALREADY_EXISTS,
    "fileexist": SFTPStatus.FILE_ALREADY_EXISTS,
    "unsupported": SFTPStatus.OP_UNSUPPORTED,
    "operationunsupported": SFTPStatus.OP_UNSUPPORTED,
}
_BY_NAME = {member.name.replace("_", "").lower(): member for member in SFTPStatus}
_BY_NAME.update(_ALIASES)


def status_code(status: int | str) -> SFTPStatus:
    """``"ok"``, ``"nosuchfile"``, ``"NO_SUCH_FILE"``, ``"no-such-file"``, 2 or an
    :class:`SFTPStatus` -> the :class:`SFTPStatus`. Anything else raises ValueError (node-libssh
    silently sent "ok" for unknown names)."""
    if isinstance(status, bool):
        raise ValueError(f"not an SFTP status: {status!r}")
    if isinstance(status, int):
        try:
            return SFTPStatus(status)
        except ValueError:
            raise ValueError(f"unknown SFTP status code {status}") from None
    if isinstance(status, str):
        key = status.replace("_", "").replace("-", "").replace(" ", "").lower()
        try:
            return _BY_NAME[key]
        except KeyError:
            raise ValueError(
                f"unknown SFTP status {status!r}; use one of: "
                f"{', '.join(m.name.replace('_', '').lower() for m in SFTPStatus)}"
            ) from None
    raise ValueError(f"not an SFTP status: {status!r}")


# the codes of later drafts -> the closest code a version-3 client knows (OpenSSH's sftp-server
# answers FAILURE for an invalid handle and for an existing target)
_V3_EQUIVALENT: dict[int, int] = {
    SFTPStatus.INVALID_HANDLE: SFTPStatus.FAILURE,
    SFTPStatus.NO_SUCH_PATH: SFTPStatus.NO_SUCH_FILE,
    SFTPStatus.FILE_ALREADY_EXISTS: SFTPStatus.FAILURE,
    SFTPStatus.WRITE_PROTECT: SFTPStatus.PERMISSION_DENIED,
    SFTPStatus.NO_MEDIA: SFTPStatus.FAILURE,
}


def status_for_version(status: int, version: int) -> int:
    """The status code to send a client that speaks protocol ``version``. Versions up to 3 know
    only OK to OP_UNSUPPORTED (0-8), so a later draft's code becomes the closest of those
    (INVALID_HANDLE and FILE_ALREADY_EXISTS: FAILURE; NO_SUCH_PATH: NO_SUCH_FILE;
    WRITE_PROTECT: PERMISSION_DENIED; anything else: FAILURE)."""
    if version > 3 or status <= SFTPStatus.OP_UNSUPPORTED:
        return status
    return _V3_EQUIVALENT.get(status, SFTPStatus.FAILURE)


def status_name(status: int) -> str:
    """node-libssh's lowercase name for a status code (``2`` -> ``"nosuchfile"``)."""
    try:
        return SFTPStatus(status).name.replace("_", "").lower()
    except ValueError:
        return f"status{status}"


class OpenFlags(enum.IntFlag):
    """SSH_FXF_* flags of an SFTP open request."""

    READ = _c.SSH_FXF_READ
    WRITE = _c.SSH_FXF_WRITE
    APPEND = _c.SSH_FXF_APPEND
    CREAT = _c.SSH_FXF_CREAT
    TRUNC = _c.SSH_FXF_TRUNC
    EXCL = _c.SSH_FXF_EXCL


def os_to_open_flags(flags: int) -> OpenFlags:
    """``os.open`` flags -> SFTP open flags (as libssh's ``sftp_open`` maps them)."""
    access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
    out = OpenFlags(0)
    if access == os.O_RDONLY:
        out |= OpenFlags.READ
    elif access == os.O_WRONLY:
        out |= OpenFlags.WRITE
    else:
        out |= OpenFlags.READ | OpenFlags.WRITE
    for os_flag, flag in ((os.O_APPEND, OpenFlags.APPEND), (os.O_CREAT, OpenFlags.CREAT),
                          (os.O_TRUNC, OpenFlags.TRUNC), (os.O_EXCL, OpenFlags.EXCL)):
        if flags & os_flag:
            out |= flag
    return out


def open_flags_to_os(pflags: int) -> int:
    """SFTP open flags -> ``os.open`` flags (``O_NOFOLLOW`` etc. are the caller's business)."""
    read = bool(pflags & OpenFlags.READ)
    write = bool(pflags & (OpenFlags.WRITE | OpenFlags.APPEND))
    if read and write:
        flags = os.O_RDWR
    elif write:
        flags = os.O_WRONLY
    else:
        flags = os.O_RDONLY
    if pflags & OpenFlags.APPEND:
        flags |= os.O_APPEND
    if pflags & OpenFlags.CREAT:
        flags |= os.O_CREAT
    if pflags & OpenFlags.TRUNC:
        flags |= os.O_TRUNC
    if pflags & OpenFlags.EXCL:
        flags |= os.O_EXCL
    return flags
