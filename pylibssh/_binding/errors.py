"""The C side of error classification: libssh's error text and code on a session or a bind,
and the session's state that tells what kind of failure it was. The exception classes and the
classification itself are in :mod:`pylibssh.errors`."""

from __future__ import annotations

from . import HAS, NULL, CData, ffi, lib
from .constants import SSH_NO_ERROR

_SESSION = ffi.typeof("ssh_session")


def last_error(owner: CData) -> tuple[str, int]:
    """libssh's current error text and code on a session or bind (copied at once); ("",
    SSH_NO_ERROR) for None or NULL."""
    if owner is None or owner == NULL:
        return "", SSH_NO_ERROR
    msg = ffi.string(lib.ssh_get_error(owner)).decode("utf-8", "replace")
    code: int = lib.ssh_get_error_code(owner)
    return msg, code


def is_session(owner: CData) -> bool:
    """Whether ``owner`` is an ``ssh_session`` (not None, NULL or an ``ssh_bind``)."""
    return owner is not None and owner != NULL and ffi.typeof(owner) == _SESSION


def session_status(owner: CData) -> int:
    """The session's SSH_CLOSED / SSH_CLOSED_ERROR flags; 0 for anything but a session."""
    if not is_session(owner):
        return 0
    status: int = lib.ssh_get_status(owner)
    return status


def socket_errno(owner: CData) -> int:
    """The errno of the session's failed socket read or write; 0 when none failed, for anything
    but a session, or without ``HAS.socket_state``."""
    if not HAS.socket_state or not is_session(owner):
        return 0
    err: int = lib.pylibssh_session_socket_errno(owner)
    return err
