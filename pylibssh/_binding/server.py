"""The server's calls into libssh: the ``ssh_bind`` (host keys, banner, algorithms), accepting a
connection's socket, and a server session's set-up (key exchange, offered authentication
methods, the issue banner, the disconnect message).

Callers hold the bind and the sessions as opaque :data:`~pylibssh._binding.CData` handles. The
key exchange is driven on every readiness until it is done, so it is the C function itself and
returns libssh's code (``SSH_AGAIN`` while it goes on)."""

from __future__ import annotations

import os
from typing import Callable

from ..errors import ProtocolError, SSHError, error_from
from . import HAS, NULL, CData, ffi, lib
from .session import ascii_text

__all__ = [
    "ALGORITHM_OPTIONS",
    "accept_fd",
    "bind_free",
    "bind_import_key",
    "bind_new",
    "bind_set_banner",
    "bind_set_option",
    "client_banner",
    "enable_streamlocal",
    "handle_key_exchange",
    "send_issue_banner",
    "set_auth_methods",
    "set_disconnect_message",
]

#: the server's algorithm options -> the ``ssh_bind`` options each sets (both directions where
#: the protocol negotiates them apart)
ALGORITHM_OPTIONS: dict[str, tuple[int, ...]] = {
    "key_exchange": (lib.SSH_BIND_OPTIONS_KEY_EXCHANGE,),
    "ciphers": (lib.SSH_BIND_OPTIONS_CIPHERS_C_S, lib.SSH_BIND_OPTIONS_CIPHERS_S_C),
    "hmacs": (lib.SSH_BIND_OPTIONS_HMAC_C_S, lib.SSH_BIND_OPTIONS_HMAC_S_C),
    "hostkey_algorithms": (lib.SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,),
    "pubkey_accepted_types": (lib.SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,),
}

# -- the bind ----------------------------------------------------------------------------------


def bind_new() -> CData:
    """A new ``ssh_bind``, to free with :func:`bind_free`. Raises MemoryError when libssh cannot
    allocate it."""
    bind = lib.ssh_bind_new()
    if bind == NULL:
        raise MemoryError("ssh_bind_new failed")
    return bind


#: free an ``ssh_bind`` (sessions accepted from it keep their own copies of its settings)
bind_free: Callable[[CData], None] = lib.ssh_bind_free


def bind_import_key(bind: CData, key: CData, what: str) -> None:
    """Give ``bind`` the host key ``key`` (an ``ssh_key`` copy: the bind owns it on success, and
    it is freed here on failure). Raises ValueError with libssh's reason; ``what`` names the key
    in that message."""
    if lib.ssh_bind_options_set(bind, lib.SSH_BIND_OPTIONS_IMPORT_KEY, key) != 0:
        lib.ssh_key_free(key)
        raise ValueError(f"libssh refused the {what} host key: {error_from(bind).message}")


def bind_set_option(bind: CData, option: int, value: str, what: str) -> None:
    """Set the string option ``option`` (an ``SSH_BIND_OPTIONS_*`` value, e.g. from
    :data:`ALGORITHM_OPTIONS`) of ``bind``. Raises ValueError with libssh's reason; ``what``
    names the option in that message."""
    if lib.ssh_bind_options_set(bind, option, value.encode()) != 0:
        raise ValueError(f"invalid {what} {value!r}: {error_from(bind).message}")


def bind_set_banner(bind: CData, banner: str) -> None:
    """The software version the server sends in its identification line. Raises ValueError
    when libssh refuses it."""
    bind_set_option(bind, lib.SSH_BIND_OPTIONS_BANNER, banner, "banner")


def accept_fd(bind: CData, fd: int) -> CData:
    """A new server session on the connected socket ``fd``, with ``bind``'s keys and settings.
    ``fd`` stays the caller's, to be closed after ``ssh_free``: it is also the session's
    ``SSH_OPTIONS_FD``, which libssh never closes (patch 0018), where it would close a socket
    it accepted on a failed write, freeing the number for the next socket while the caller
    still uses it. On failure ``fd`` is closed and MemoryError (no session could be allocated)
    or SSHError (libssh's reason) is raised."""
    session = lib.ssh_new()
    if session == NULL:
        os.close(fd)
        raise MemoryError("ssh_new failed: out of memory")
    if lib.ssh_options_set(session, lib.SSH_OPTIONS_FD, ffi.new("socket_t *", fd)) != lib.SSH_OK:
        err = SSHError(error_from(session).message)
        lib.ssh_free(session)
        os.close(fd)
        raise err
    if lib.ssh_bind_accept_fd(bind, session, fd) != lib.SSH_OK:
        err = SSHError(error_from(bind).message)
        lib.ssh_free(session)
        os.close(fd)
        raise err
    return session


# -- a server session's set-up -----------------------------------------------------------------

#: one step of the server's key exchange on a nonblocking session: SSH_OK once done, SSH_AGAIN
#: while it goes on, SSH_ERROR (read the session's error) when it failed
handle_key_exchange: Callable[[CData], int] = lib.ssh_handle_key_exchange

#: the authentication methods (libssh's SSH_AUTH_METHOD_* bits) offered to the client from now on
set_auth_methods: Callable[[CData, int], None] = lib.ssh_set_auth_methods


def enable_streamlocal(session: CData) -> bool:
    """Let OpenSSH's UNIX-socket forwarding requests, which libssh does not parse, reach the
    message queue (csrc/pylibssh_server.c). False where this build cannot (``HAS.streamlocal``
    off) or libssh refused; the requests are then refused by libssh."""
    return HAS.streamlocal and lib.pylibssh_server_enable_streamlocal(session) == lib.SSH_OK


def send_issue_banner(session: CData, text: str) -> None:
    """Send SSH_MSG_USERAUTH_BANNER with ``text``. Raises MemoryError, or ProtocolError when
    sending failed."""
    banner = lib.ssh_string_from_char(text.encode("utf-8"))
    if banner == NULL:
        raise MemoryError("ssh_string_from_char failed")
    try:
        rc = lib.ssh_send_issue_banner(session, banner)
    finally:
        lib.ssh_string_free(banner)
    if rc == lib.SSH_ERROR:
        raise error_from(session, "sending the banner", ProtocolError)


def set_disconnect_message(session: CData, reason: str) -> None:
    """The reason the session's SSH_MSG_DISCONNECT will carry."""
    lib.ssh_session_set_disconnect_message(session, reason.encode())


def client_banner(session: CData) -> str | None:
    """The client's identification line (``SSH-2.0-OpenSSH_9.2p1``...), None before it came."""
    return ascii_text(lib.ssh_get_clientbanner(session))
