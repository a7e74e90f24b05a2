"""pylibssh's exceptions, and the one helper that turns libssh's return codes into them.

Every error carries libssh's own message where libssh gave one. ``SSH_AGAIN`` is never an error:
:func:`check` hands it back to the caller, whose loop waits and retries. The class of an error
comes from what libssh reports: the session's state, its socket's state (``HAS.socket_state``),
its error code; its message decides only where libssh records nothing else (each such case is
commented in ``_MESSAGE_CLASSES``).
"""

from __future__ import annotations

import enum
import errno
import re
from typing import Any

from ._binding import CData
from ._binding.constants import (
    SSH_AGAIN, SSH_CLOSED, SSH_CLOSED_ERROR, SSH_EOF, SSH_FX_BAD_MESSAGE, SSH_FX_CONNECTION_LOST,
    SSH_FX_EOF, SSH_FX_FAILURE, SSH_FX_FILE_ALREADY_EXISTS, SSH_FX_INVALID_HANDLE,
    SSH_FX_NO_CONNECTION, SSH_FX_NO_MEDIA, SSH_FX_NO_SUCH_FILE, SSH_FX_NO_SUCH_PATH, SSH_FX_OK,
    SSH_FX_OP_UNSUPPORTED, SSH_FX_PERMISSION_DENIED, SSH_FX_WRITE_PROTECT, SSH_REQUEST_DENIED)
# last_error is this module's too: the engine and front ends read libssh's error text through it
from ._binding.errors import last_error as last_error
from ._binding.errors import session_status, socket_errno

__all__ = [
    "SSHError",
    "SSHTimeoutError",
    "SSHConnectionError",
    "HostNotFoundError",
    "SSHConnectionRefusedError",
    "DisconnectedError",
    "ProtocolError",
    "AuthenticationError",
    "HostKeyError",
    "UnknownHostKeyError",
    "HostKeyChangedError",
    "ChannelError",
    "ChannelOpenError",
    "RequestDeniedError",
    "AlreadyRepliedError",
    "KeyFormatError",
    "PassphraseRequiredError",
    "WrongPassphraseError",
    "UnsupportedKeyTypeError",
    "ClosedError",
    "UnsupportedError",
    "SFTPError",
    "SFTPNoSuchFileError",
    "SFTPPermissionError",
    "SFTPFileExistsError",
]


class SSHError(Exception):
    """Root of every pylibssh error. ``code`` is libssh's error class when it set one."""

    def __init__(self, message: str = "", *, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


class SSHTimeoutError(SSHError, TimeoutError):
    """An operation did not finish within its timeout."""


class SSHConnectionError(SSHError, ConnectionError):
    """The transport could not be set up or was lost."""


class HostNotFoundError(SSHConnectionError):
    """The host name could not be resolved."""


class SSHConnectionRefusedError(SSHConnectionError, ConnectionRefusedError):
    """Nothing listens at the address."""


class DisconnectedError(SSHConnectionError):
    """The peer closed the connection (or it broke) while an operation was under way."""


class ProtocolError(SSHError):
    """The peer sent something that breaks the protocol, or negotiation failed."""


class AuthenticationError(SSHError):
    """The server refused every offered authentication method."""

    def __init__(self, message: str = "", *, code: int | None = None,
                 allowed_methods: tuple[str, ...] = ()):
        super().__init__(message, code=code)
        self.allowed_methods = allowed_methods


class HostKeyError(SSHError):
    """The server's host key could not be verified."""

    def __init__(self, message: str = "", *, host: str | None = None, key: Any = None,
                 code: int | None = None):
        super().__init__(message, code=code)
        self.host = host
        self.key = key


class UnknownHostKeyError(HostKeyError):
    """The host is not in known_hosts and the policy refuses unknown hosts."""


class HostKeyChangedError(HostKeyError):
    """The host's key differs from the one recorded in known_hosts."""

    def __init__(self, message: str = "", *, host: str | None = None, key: Any = None,
                 known_key: Any = None, code: int | None = None):
        super().__init__(message, host=host, key=key, code=code)
        self.known_key = known_key


class ChannelError(SSHError):
    """A channel operation failed."""


class ChannelOpenFailure(enum.IntEnum):
    """Why a peer refused to open a channel: RFC 4254 section 5.1's reason codes (the one table
    of them: the server's ``reject`` takes them, a refused open carries one as
    :attr:`ChannelOpenError.reason`). ``label`` is the RFC's wording, ``short_name`` the name
    ssh2 (node) uses."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4

    @property
    def label(self) -> str:
        """The RFC's words: "administratively prohibited", "connect failed"..."""
        return self.name.lower().replace("_", " ")

    @property
    def short_name(self) -> str:
        """ssh2's name: "prohibited", "connect-failed", "unknown-channel-type",
        "resource-shortage"."""
        if self is ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED:
            return "prohibited"
        return self.name.lower().replace("_", "-")

    @classmethod
    def lookup(cls, reason: str | int) -> ChannelOpenFailure | int:
        """The reason for a code (an ``int`` outside the RFC's stays an ``int``) or a name
        (``short_name``, or the member's name in any case). Raises ``ValueError`` for an
        unknown name or a code outside 0..2**32-1."""
        if isinstance(reason, str):
            for member in cls:
                if reason in (member.short_name, member.name, member.name.lower()):
                    return member
            names = ", ".join(m.short_name for m in cls)
            raise ValueError(f"unknown channel open failure reason {reason!r}; use: {names}")
        code = int(reason)
        if not 0 <= code < 1 << 32:
            raise ValueError(f"a channel open failure reason is a uint32, not {code}")
        try:
            return cls(code)
        except ValueError:
            return code


class ChannelOpenError(ChannelError):
    """The peer refused to open a channel. ``reason`` is the protocol's reason code (a
    :class:`ChannelOpenFailure`, or an ``int`` outside RFC 4254's four) and ``description`` the
    peer's text, when the peer answered with a refusal; both None when the open failed
    otherwise."""

    def __init__(self, message: str = "", *, reason: ChannelOpenFailure | int | None = None,
                 description: str | None = None, code: int | None = None):
        super().__init__(message, code=code)
        self.reason = reason
        self.description = description


class RequestDeniedError(SSHError):
    """The peer answered a request with failure."""


class AlreadyRepliedError(SSHError, RuntimeError):
    """A server-side request message was already answered (each message takes one reply)."""


class KeyFormatError(SSHError, ValueError):
    """Key data that cannot be read: garbage, truncated, or not a key."""


class PassphraseRequiredError(KeyFormatError):
    """The private key is encrypted and no passphrase was given."""


class WrongPassphraseError(KeyFormatError):
    """The passphrase does not decrypt the private key."""


class UnsupportedKeyTypeError(KeyFormatError):
    """A key type libssh (or this operation) does not support."""


class ClosedError(SSHError, ValueError):
    """The object was closed; it cannot be used any more."""


class UnsupportedError(SSHError, NotImplementedError):
    """This build of pylibssh cannot do what was asked: it needs libssh's internals or a patch
    of ours, which a build against a system libssh lacks (see ``pylibssh._binding.HAS``)."""


class SFTPError(SSHError, OSError):
    """An SFTP status other than OK. ``status`` is the SFTP code, ``errno`` the matching errno."""

    def __init__(self, status: int, message: str = "", filename: str | None = None):
        err = SFTP_STATUS_TO_ERRNO.get(status, errno.EIO)
        SSHError.__init__(self, message or SFTP_STATUS_NAMES.get(status, f"status {status}"))
        # OSError's attributes, so `except FileNotFoundError` style code can inspect them
        self.errno = err
        self.strerror = self.message
        self.filename = filename
        self.status = status

    def __str__(self) -> str:
        where = f": {self.filename!r}" if self.filename else ""
        return f"[SFTP {SFTP_STATUS_NAMES.get(self.status, self.status)}] {self.message}{where}"


class SFTPNoSuchFileError(SFTPError, FileNotFoundError):
    """NO_SUCH_FILE / NO_SUCH_PATH (``except FileNotFoundError`` catches it)."""


class SFTPPermissionError(SFTPError, PermissionError):
    """PERMISSION_DENIED (``except PermissionError`` catches it)."""


class SFTPFileExistsError(SFTPError, FileExistsError):
    """FILE_ALREADY_EXISTS (``except FileExistsError`` catches it)."""


def sftp_error(status: int, message: str = "", filename: str | None = None) -> SFTPError:
    """The :class:`SFTPError` (subclass) for an SFTP status a server replied with."""
    cls = _SFTP_STATUS_CLASSES.get(status, SFTPError)
    return cls(status, message, filename)


# SFTP status codes (draft-ietf-secsh-filexfer-02) and errno, one table used both ways: the client
# raises SFTPError with the errno; the server turns an OSError into the status.
SFTP_STATUS_NAMES: dict[int, str] = {
    SSH_FX_OK: "OK",
    SSH_FX_EOF: "EOF",
    SSH_FX_NO_SUCH_FILE: "NO_SUCH_FILE",
    SSH_FX_PERMISSION_DENIED: "PERMISSION_DENIED",
    SSH_FX_FAILURE: "FAILURE",
    SSH_FX_BAD_MESSAGE: "BAD_MESSAGE",
    SSH_FX_NO_CONNECTION: "NO_CONNECTION",
    SSH_FX_CONNECTION_LOST: "CONNECTION_LOST",
    SSH_FX_OP_UNSUPPORTED: "OP_UNSUPPORTED",
    SSH_FX_INVALID_HANDLE: "INVALID_HANDLE",
    SSH_FX_NO_SUCH_PATH: "NO_SUCH_PATH",
    SSH_FX_FILE_ALREADY_EXISTS: "FILE_ALREADY_EXISTS",
    SSH_FX_WRITE_PROTECT: "WRITE_PROTECT",
    SSH_FX_NO_MEDIA: "NO_MEDIA",
}
SFTP_STATUS_TO_ERRNO: dict[int, int] = {
    SSH_FX_EOF: 0,
    SSH_FX_NO_SUCH_FILE: errno.ENOENT,
    SSH_FX_PERMISSION_DENIED: errno.EACCES,
    SSH_FX_FAILURE: errno.EIO,
    SSH_FX_BAD_MESSAGE: errno.EBADMSG,
    SSH_FX_NO_CONNECTION: errno.ENOTCONN,
    SSH_FX_CONNECTION_LOST: errno.ECONNRESET,
    SSH_FX_OP_UNSUPPORTED: errno.EOPNOTSUPP,
    SSH_FX_INVALID_HANDLE: errno.EBADF,
    SSH_FX_NO_SUCH_PATH: errno.ENOENT,
    SSH_FX_FILE_ALREADY_EXISTS: errno.EEXIST,
    SSH_FX_WRITE_PROTECT: errno.EROFS,
    SSH_FX_NO_MEDIA: errno.ENODEV,
}
# errno -> status for server replies; what is not listed becomes FAILURE
ERRNO_TO_SFTP_STATUS: dict[int, int] = {
    errno.ENOENT: SSH_FX_NO_SUCH_FILE,
    errno.ENOTDIR: SSH_FX_NO_SUCH_FILE,
    errno.ELOOP: SSH_FX_NO_SUCH_FILE,
    errno.EACCES: SSH_FX_PERMISSION_DENIED,
    errno.EPERM: SSH_FX_PERMISSION_DENIED,
    errno.EBADF: SSH_FX_INVALID_HANDLE,
    errno.EEXIST: SSH_FX_FILE_ALREADY_EXISTS,
    errno.EROFS: SSH_FX_WRITE_PROTECT,
    errno.EOPNOTSUPP: SSH_FX_OP_UNSUPPORTED,
    errno.ENOSYS: SSH_FX_OP_UNSUPPORTED,
    errno.ENODEV: SSH_FX_NO_MEDIA,
    errno.EBADMSG: SSH_FX_BAD_MESSAGE,
    errno.EINVAL: SSH_FX_BAD_MESSAGE,
}
_FX_FAILURE: int = SSH_FX_FAILURE


_SFTP_STATUS_CLASSES: dict[int, type[SFTPError]] = {
    SSH_FX_NO_SUCH_FILE: SFTPNoSuchFileError,
    SSH_FX_NO_SUCH_PATH: SFTPNoSuchFileError,
    SSH_FX_PERMISSION_DENIED: SFTPPermissionError,
    SSH_FX_FILE_ALREADY_EXISTS: SFTPFileExistsError,
}


def sftp_status_for(exc: BaseException) -> int:
    """The SFTP status a server replies with for an exception raised while serving a request."""
    if isinstance(exc, SFTPError):
        return exc.status
    if isinstance(exc, OSError) and exc.errno is not None:
        return ERRNO_TO_SFTP_STATUS.get(exc.errno, _FX_FAILURE)
    return _FX_FAILURE


# Where libssh records a failure only in its message (no state, no code but SSH_FATAL), the
# message picks the class; each case says which failure it is.
_MESSAGE_CLASSES: list[tuple[re.Pattern[str], type[SSHError]]] = [
    # a timeout of libssh's own blocking calls (its TCP connect, a blocking read)
    (re.compile(r"timed? ?out|timeout", re.I), SSHTimeoutError),
    # the peer closed the connection (an end of file, for which libssh's socket keeps no
    # state), or, without HAS.socket_state, the socket failed
    (re.compile(r"^Socket error"), DisconnectedError),
    # the peer closed a socket still connecting (libssh patch 0020 reports it as ECONNRESET)
    (re.compile(r"Connection reset by peer", re.I), DisconnectedError),
    # libssh's own TCP connect (pylibssh connects sockets itself; ssh_connect with a host name
    # does it in libssh): name resolution, refusal, other connect errors
    (re.compile(r"resolve hostname|Name or service not known|nodename nor servname|"
                r"Temporary failure in name resolution|No address associated", re.I),
     HostNotFoundError),
    (re.compile(r"Connection refused", re.I), SSHConnectionRefusedError),
    (re.compile(r"Error from connect|Network is unreachable|No route to host", re.I),
     SSHConnectionError),
]

# a socket's failed read or write (its errno, HAS.socket_state); any other errno: disconnected
_ERRNO_CLASSES: dict[int, type[SSHError]] = {
    errno.ETIMEDOUT: SSHTimeoutError,
    errno.ECONNREFUSED: SSHConnectionRefusedError,
}

# libssh keeps a refused channel open's reason code and description only in its error message
# (channels.c: "Channel opening failure: channel %u error (%u) %s", code SSH_REQUEST_DENIED)
_OPEN_FAILURE = re.compile(r"Channel opening failure: channel \d+ error \((\d+)\) ?(.*)", re.S)

def _session_class(owner: CData, msg: str) -> type[SSHError] | None:
    """The class of a failure of ``owner`` (a session or a bind), from what libssh reports."""
    status = session_status(owner)
    if status & SSH_CLOSED:
        return DisconnectedError  # the peer sent DISCONNECT (libssh's DISCONNECTED state)
    err = socket_errno(owner)  # (0 without HAS.socket_state)
    if err > 0:
        return _ERRNO_CLASSES.get(err, DisconnectedError)
    for pattern, candidate in _MESSAGE_CLASSES:
        if pattern.search(msg):
            return candidate
    if status & SSH_CLOSED_ERROR:
        # libssh's error state with a sound socket: the peer broke the protocol, or the key
        # exchange found nothing both sides support
        return ProtocolError
    return None


def error_from(owner: CData, what: str = "", default: type[SSHError] = SSHError) -> SSHError:
    """Build the exception for the error libssh recorded on ``owner`` (a session or a bind):
    ``default`` (the caller's context), or, when that is :class:`SSHError` or
    :class:`SSHConnectionError`, the class libssh's state says (see :func:`_session_class`). A
    refused channel open becomes :class:`ChannelOpenError` with its reason."""
    msg, code = last_error(owner)
    if what and msg:
        text = f"{what}: {msg}"
    else:
        text = what or msg or "libssh reported an error without a message"
    opened = _OPEN_FAILURE.search(msg) if code == SSH_REQUEST_DENIED else None
    if opened is not None and default in (SSHError, ChannelError, ChannelOpenError):
        reason = ChannelOpenFailure.lookup(int(opened.group(1)))
        if isinstance(reason, ChannelOpenFailure):
            text = f"{text} ({reason.label})"
        return ChannelOpenError(text, reason=reason, description=opened.group(2), code=code)
    cls: type[SSHError] = default
    if default is SSHError or default is SSHConnectionError:
        cls = _session_class(owner, msg) or default
    return cls(text, code=code)


def check(rc: int, owner: CData = None, what: str = "", default: type[SSHError] = SSHError) -> int:
    """Return ``rc`` when it is not an error (``SSH_AGAIN`` included); raise otherwise.

    ``owner`` is the ``ssh_session`` or ``ssh_bind`` whose ``ssh_get_error`` explains the failure.
    """
    if rc >= 0 or rc == SSH_AGAIN:
        return rc
    if rc == SSH_EOF:
        raise ChannelError(f"{what}: the channel is at end of file" if what else "end of file")
    raise error_from(owner, what, default)
