"""The requests a server session receives (libssh's queued ``ssh_message``) and their replies:
authentication, channel opens, channel requests, global requests; and the channels the server
opens to the client for forwarding.

A message is an opaque :data:`~pylibssh._binding.CData` owned by its caller until
:data:`free`. Fields are copied into Python values at once (libssh's strings live as long as
the message). Replies return libssh's code (``SSH_ERROR`` when sending failed: the session
notices on its next poll), so the caller decides what a failure means; the calls made for every
request (take, type, free, the default reply) are libssh's functions themselves."""

from __future__ import annotations

from typing import Callable

from . import HAS, NULL, CData, ffi, lib
from . import text as _utf8

# -- every message -----------------------------------------------------------------------------

#: the next queued request, NULL when none is queued (on a nonblocking session it polls the
#: socket once when the queue is empty, and never blocks)
get: Callable[[CData], CData] = lib.ssh_message_get
#: the kind of request: SSH_REQUEST_AUTH, _CHANNEL_OPEN, _CHANNEL, _SERVICE, _GLOBAL
message_type: Callable[[CData], int] = lib.ssh_message_type
#: the request within its kind (an SSH_AUTH_METHOD_* bit, SSH_CHANNEL_*, SSH_CHANNEL_REQUEST_*,
#: SSH_GLOBAL_REQUEST_*)
subtype: Callable[[CData], int] = lib.ssh_message_subtype
#: free a message, exactly once, after its reply (or unanswered, when its owner goes away)
free: Callable[[CData], None] = lib.ssh_message_free
#: the protocol's default answer (failure; acceptance of a service request): libssh's code
reply_default: Callable[[CData], int] = lib.ssh_message_reply_default


def _text(ptr: CData) -> str | None:
    # surrogateescape: commands and names are bytes on the wire; os.fsencode() gets them back
    if ptr == NULL:
        return None
    return ffi.string(ptr).decode("utf-8", "surrogateescape")


def want_reply(msg: CData) -> bool:
    """Whether the client waits for the answer to a channel or global request. True where this
    build cannot tell (``HAS.want_reply``): the request then waits for a reply like one that
    wants it, and libssh's reply functions send nothing for a request that wanted none."""
    if not HAS.want_reply:
        return True
    want = lib.pylibssh_message_want_reply(msg)
    return True if want < 0 else bool(want)


# -- authentication ----------------------------------------------------------------------------


def auth_user(msg: CData) -> str | None:
    """The user an authentication request is for (None when it names none)."""
    return _text(lib.ssh_message_auth_user(msg))


def auth_password(msg: CData) -> str | None:
    """The password of a ``password`` request."""
    return _text(lib.ssh_message_auth_password(msg))


def auth_public_key(msg: CData) -> CData | None:
    """A copy of the key a ``publickey`` request offers (an ``ssh_key`` the caller owns), None
    when the request carries none or it cannot be copied."""
    key = lib.ssh_message_auth_pubkey(msg)  # owned by the message
    if key == NULL:
        return None
    dup = lib.ssh_key_dup(key)
    return None if dup == NULL else dup


#: the state of a ``publickey`` request's signature: SSH_PUBLICKEY_STATE_NONE (a probe), _VALID,
#: _WRONG, _ERROR
auth_publickey_state: Callable[[CData], int] = lib.ssh_message_auth_publickey_state


def auth_kbdint_is_response(msg: CData) -> bool:
    """Whether a keyboard-interactive request carries the client's answers to prompts."""
    return bool(lib.ssh_message_auth_kbdint_is_response(msg))


def kbdint_answers(session: CData) -> list[str]:
    """The answers of the keyboard-interactive response just received on ``session``."""
    count = max(0, lib.ssh_userauth_kbdint_getnanswers(session))
    return [_text(lib.ssh_userauth_kbdint_getanswer(session, i)) or "" for i in range(count)]


#: the methods (SSH_AUTH_METHOD_* bits) the message's failure or partial-success reply lists
auth_set_methods: Callable[[CData, int], int] = lib.ssh_message_auth_set_methods
#: answer an unsigned public-key probe: the key would do, sign with it (libssh's code)
auth_reply_pk_ok: Callable[[CData], int] = lib.ssh_message_auth_reply_pk_ok_simple


def auth_reply_success(msg: CData, partial: bool) -> int:
    """Authentication succeeded (``partial``: this method passed, more are needed): libssh's
    code."""
    rc: int = lib.ssh_message_auth_reply_success(msg, 1 if partial else 0)
    return rc


def auth_interactive_request(msg: CData, name: str, instruction: str,
                             prompts: list[tuple[bytes, bool]]) -> int:
    """Send keyboard-interactive ``prompts`` (each its UTF-8 text and whether the answer is
    echoed): libssh's code."""
    keep = [ffi.new("char[]", p) for p, _ in prompts]
    c_prompts = ffi.new("const char *[]", keep) if keep else NULL
    echo = ffi.new("char[]", bytes(1 if e else 0 for _, e in prompts)) if prompts else NULL
    rc: int = lib.ssh_message_auth_interactive_request(
        msg, name.encode("utf-8"), instruction.encode("utf-8"), len(prompts), c_prompts, echo)
    return rc


# -- channel requests --------------------------------------------------------------------------

#: the channel a channel request is for
request_channel: Callable[[CData], CData] = lib.ssh_message_channel_request_channel
#: accept a channel request (libssh's code)
request_reply_success: Callable[[CData], int] = lib.ssh_message_channel_request_reply_success


def exec_command(msg: CData) -> str | None:
    """The command of an ``exec`` request."""
    return _text(lib.ssh_message_channel_request_command(msg))


def subsystem_name(msg: CData) -> str | None:
    """The subsystem a ``subsystem`` request names (``sftp``...)."""
    return _text(lib.ssh_message_channel_request_subsystem(msg))


def env_variable(msg: CData) -> tuple[str | None, str | None]:
    """The name and value of an ``env`` request."""
    return (_text(lib.ssh_message_channel_request_env_name(msg)),
            _text(lib.ssh_message_channel_request_env_value(msg)))


def pty_size(msg: CData) -> tuple[int, int, int, int]:
    """Columns, rows, pixel width and pixel height of a ``pty`` or ``window-change`` request."""
    return (lib.ssh_message_channel_request_pty_width(msg),
            lib.ssh_message_channel_request_pty_height(msg),
            lib.ssh_message_channel_request_pty_pxwidth(msg),
            lib.ssh_message_channel_request_pty_pxheight(msg))


def pty_term(msg: CData) -> str | None:
    """The terminal type (``TERM``) of a ``pty`` request."""
    return _text(lib.ssh_message_channel_request_pty_term(msg))


def pty_modes(msg: CData) -> bytes | None:
    """A ``pty`` request's encoded terminal modes; None where this build cannot read them
    (``HAS.pty_modes``: libssh has no getter)."""
    if not HAS.pty_modes:
        return None
    data = ffi.new("const unsigned char **")
    size = ffi.new("size_t *")
    if lib.pylibssh_message_pty_modes(msg, data, size) != 0:
        return None
    return ffi.buffer(data[0], size[0])[:] if data[0] != NULL else b""


def x11_request(msg: CData) -> tuple[bool, str | None, str | None, int]:
    """An ``x11-req``: single connection, authentication protocol, cookie, screen number."""
    return (bool(lib.ssh_message_channel_request_x11_single_connection(msg)),
            _text(lib.ssh_message_channel_request_x11_auth_protocol(msg)),
            _text(lib.ssh_message_channel_request_x11_auth_cookie(msg)),
            lib.ssh_message_channel_request_x11_screen_number(msg))


# -- channel opens -----------------------------------------------------------------------------


def open_accept(msg: CData) -> CData | None:
    """Accept a channel open: the new channel, None when libssh could not open it (the session's
    error says why)."""
    channel = lib.ssh_message_channel_request_open_reply_accept(msg)
    return None if channel == NULL else channel


def open_reply_failure(msg: CData, reason: int, description: str) -> int:
    """Refuse a channel open with an RFC 4254 ``reason`` code and ``description``: libssh's
    code. A build without ``HAS.open_failure_reason`` (a system libssh) sends libssh's own
    refusal (administratively prohibited) instead."""
    if not HAS.open_failure_reason:
        rc: int = lib.ssh_message_reply_default(msg)
        return rc
    rc = lib.pylibssh_channel_open_reply_failure(msg, reason, description.encode())
    return rc


def open_destination(msg: CData) -> tuple[str | None, int]:
    """Where a ``direct-tcpip`` open goes (host, port); a ``direct-streamlocal`` open's socket
    path with port 0."""
    return (_text(lib.ssh_message_channel_request_open_destination(msg)),
            lib.ssh_message_channel_request_open_destination_port(msg))


def open_originator(msg: CData) -> tuple[str | None, int]:
    """Where a ``direct-tcpip`` open comes from (host, port)."""
    return (_text(lib.ssh_message_channel_request_open_originator(msg)),
            lib.ssh_message_channel_request_open_originator_port(msg))


# -- global requests ---------------------------------------------------------------------------


def global_request_name(msg: CData) -> str | None:
    """The name on the wire of a global request libssh does not parse."""
    return _utf8(lib.pylibssh_global_request_name(msg))


def global_request_data(msg: CData) -> bytes | None:
    """The fields after ``want_reply`` of a global request libssh does not parse; None when
    there are none to read."""
    ptr = ffi.new("const unsigned char **")
    size = ffi.new("size_t *")
    if lib.pylibssh_global_request_data(msg, ptr, size) != 0:
        return None
    return ffi.buffer(ptr[0], size[0])[:] if size[0] else b""


def global_request_address(msg: CData) -> tuple[str | None, int]:
    """The address and port of a forwarding request (a socket path and 0 for streamlocal)."""
    return (_text(lib.ssh_message_global_request_address(msg)),
            lib.ssh_message_global_request_port(msg))


#: grant a forwarding request, with the port bound (libssh's code)
global_request_reply_success: Callable[[CData, int], int] = \
    lib.ssh_message_global_request_reply_success


def global_request_reply_data(msg: CData, data: bytes) -> int:
    """Grant a request libssh does not parse, with ``data`` (already encoded) after the success
    message: libssh's code."""
    rc: int = lib.pylibssh_global_request_reply_data(msg, data, len(data))
    return rc


# -- channels the server opens to the client ---------------------------------------------------


def open_forwarded_tcpip(channel: CData, bound_addr: str, bound_port: int, origin_addr: str,
                         origin_port: int) -> int:
    """Send the open of a ``forwarded-tcpip`` channel: SSH_OK (confirmed), SSH_AGAIN (waiting
    for the client) or SSH_ERROR."""
    rc: int = lib.ssh_channel_open_reverse_forward(
        channel, bound_addr.encode(), int(bound_port), origin_addr.encode(), int(origin_port))
    return rc


def open_forwarded_streamlocal(channel: CData, socket_path: bytes) -> int:
    """Send the open of a ``forwarded-streamlocal@openssh.com`` channel (needs
    ``HAS.streamlocal``): SSH_OK, SSH_AGAIN or SSH_ERROR."""
    rc: int = lib.pylibssh_channel_open_forwarded_streamlocal(channel, socket_path)
    return rc


def open_x11(channel: CData, origin_addr: str, origin_port: int) -> int:
    """Send the open of an ``x11`` channel: SSH_OK, SSH_AGAIN or SSH_ERROR."""
    rc: int = lib.ssh_channel_open_x11(channel, origin_addr.encode(), int(origin_port))
    return rc


#: send the open of an ``auth-agent@openssh.com`` channel: SSH_OK, SSH_AGAIN or SSH_ERROR
open_auth_agent: Callable[[CData], int] = lib.ssh_channel_open_auth_agent
