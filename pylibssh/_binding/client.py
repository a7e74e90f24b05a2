"""libssh's client-side calls: session options, the connect, user authentication, the server's
host key and known_hosts, keepalives and global requests (with pylibssh's reply FIFO,
csrc/pylibssh_client.c), and the channel opens the server queues for the client.

Callers hold sessions, messages and channels as opaque :data:`~pylibssh._binding.CData`.
Nonblocking calls return libssh's code (SSH_AGAIN / SSH_AUTH_AGAIN until the server has
answered): the client's pollers call them again, and read the session's error on a failure.
"""

from __future__ import annotations

from typing import Any, Callable

from . import NULL, CData, ffi, lib, take_string
from .constants import SSH_OK, SSH_REQUEST_CHANNEL_OPEN

# -- options -----------------------------------------------------------------------------------

# ssh_options_set's value type per option (a wrong pointee type fails silently, so one table)
_OPTION_TYPES: dict[str, tuple[int, str]] = {
    "host": (lib.SSH_OPTIONS_HOST, "str"),
    "port": (lib.SSH_OPTIONS_PORT, "int"),
    "user": (lib.SSH_OPTIONS_USER, "str"),
    "knownhosts": (lib.SSH_OPTIONS_KNOWNHOSTS, "str"),
    "global_knownhosts": (lib.SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "str"),
    "timeout": (lib.SSH_OPTIONS_TIMEOUT, "long"),
    "timeout_usec": (lib.SSH_OPTIONS_TIMEOUT_USEC, "long"),
    "ciphers_c_s": (lib.SSH_OPTIONS_CIPHERS_C_S, "str"),
    "ciphers_s_c": (lib.SSH_OPTIONS_CIPHERS_S_C, "str"),
    "hmac_c_s": (lib.SSH_OPTIONS_HMAC_C_S, "str"),
    "hmac_s_c": (lib.SSH_OPTIONS_HMAC_S_C, "str"),
    "key_exchange": (lib.SSH_OPTIONS_KEY_EXCHANGE, "str"),
    "hostkeys": (lib.SSH_OPTIONS_HOSTKEYS, "str"),
    "publickey_accepted_types": (lib.SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, "str"),
    "compression": (lib.SSH_OPTIONS_COMPRESSION, "str"),
    "compression_c_s": (lib.SSH_OPTIONS_COMPRESSION_C_S, "str"),
    "compression_s_c": (lib.SSH_OPTIONS_COMPRESSION_S_C, "str"),
    "compression_level": (lib.SSH_OPTIONS_COMPRESSION_LEVEL, "int"),
    "nodelay": (lib.SSH_OPTIONS_NODELAY, "int"),
    "process_config": (lib.SSH_OPTIONS_PROCESS_CONFIG, "bool"),
    "identity_agent": (lib.SSH_OPTIONS_IDENTITY_AGENT, "str"),
    "fd": (lib.SSH_OPTIONS_FD, "int"),
    "rekey_data": (lib.SSH_OPTIONS_REKEY_DATA, "uint64"),
    "rekey_time": (lib.SSH_OPTIONS_REKEY_TIME, "uint32"),
}

_C_TYPES = {"bool": "bool *", "long": "long *", "uint64": "uint64_t *", "uint32": "uint32_t *",
            "int": "int *"}


def set_option(session: CData, name: str, value: Any) -> None:
    """``ssh_options_set`` with the right C type for ``name`` (a key of the option table:
    "host", "port", "knownhosts", "ciphers_c_s"...). Raises KeyError for an unknown name and
    :class:`~pylibssh.errors.SSHError` (libssh's message) when libssh refuses the value."""
    option, kind = _OPTION_TYPES[name]
    if kind == "str":
        data = value.encode() if isinstance(value, str) else bytes(value)
        ptr = ffi.new("char[]", data)
    elif kind == "bool":
        ptr = ffi.new("bool *", bool(value))
    else:
        ptr = ffi.new(_C_TYPES[kind], int(value))
    if lib.ssh_options_set(session, option, ptr) != SSH_OK:
        from ..errors import SSHError, error_from
        raise error_from(session, f"option {name}={value!r}", SSHError)


def new_template() -> CData:
    """A new ``ssh_session`` that only holds options for :func:`copy_options`, freed when the
    object returned is collected; raises MemoryError."""
    session = lib.ssh_new()
    if session == NULL:
        raise MemoryError("ssh_new failed")
    # libssh's default ~/.ssh, set here rather than by each copy's ssh_connect: the home
    # directory is looked up once (getpwuid), and copies take it with the directory (patch
    # 0024). (Without a home directory this fails, and ssh_connect fails as it would have.)
    lib.ssh_options_set(session, lib.SSH_OPTIONS_SSH_DIR, NULL)
    return ffi.gc(session, lib.ssh_free)


def copy_options(template: CData) -> CData:
    """A new ``ssh_session`` (the caller owns it) with the options of ``template``
    (``ssh_options_copy``: host, port, user, known_hosts files, the algorithms of each kind,
    compression, TCP_NODELAY, flags; not the rekey limits, which the caller sets again). Raises
    MemoryError."""
    out = ffi.new("ssh_session *")
    if lib.ssh_options_copy(template, out) != 0:
        raise MemoryError("ssh_options_copy failed")
    return out[0]


# -- connecting --------------------------------------------------------------------------------

def connect(session: CData) -> int:
    """One step of the nonblocking connect and key exchange: libssh's code (SSH_AGAIN until
    it is done)."""
    rc: int = lib.ssh_connect(session)
    return rc


def openssh_version(session: CData) -> int:
    """The server's OpenSSH version as libssh encodes it (0 when the server is not OpenSSH)."""
    version: int = lib.ssh_get_openssh_version(session)
    return version


def server_banner(session: CData) -> str | None:
    """The server's identification string ("SSH-2.0-..."), None before it arrived."""
    p = lib.ssh_get_serverbanner(session)
    return ffi.string(p).decode("ascii", "replace") if p != NULL else None


def client_banner(session: CData) -> str | None:
    """This side's identification string, None before it was sent."""
    p = lib.ssh_get_clientbanner(session)
    return ffi.string(p).decode("ascii", "replace") if p != NULL else None


def libssh_version() -> str:
    """libssh's version ("0.12.2")."""
    v = lib.ssh_version(0)
    return ffi.string(v).decode().split("/")[0] if v != NULL else "0"


#: acknowledge received data at once (TCP_QUICKACK) on a socket: 0, or -1 with errno
tcp_quickack: Callable[[int], int] = lib.pylibssh_tcp_quickack
#: SO_RCVLOWAT on a socket (how many bytes make it readable): 0, or -1 with errno
tcp_rcvlowat: Callable[[int, int], int] = lib.pylibssh_tcp_rcvlowat


# -- host keys ---------------------------------------------------------------------------------

def server_public_key(session: CData) -> CData:
    """The host key the server presented (after the key exchange), an ``ssh_key`` the caller
    owns. Raises :class:`~pylibssh.errors.HostKeyError` when libssh has none."""
    out = ffi.new("ssh_key *")
    if lib.ssh_get_server_publickey(session, out) != SSH_OK:
        from ..errors import HostKeyError, error_from
        raise error_from(session, "the server's host key", HostKeyError)
    return out[0]


def known_hosts_key(name: bytes, line: bytes) -> CData | None:
    """The key of one known_hosts ``line`` when it is for host ``name`` ("host" or
    "[host]:port"; plain or hashed), an ``ssh_key`` the caller owns; None otherwise."""
    entry = ffi.new("struct ssh_knownhosts_entry **")
    if lib.ssh_known_hosts_parse_line(name, line, entry) != SSH_OK:
        return None
    try:
        if entry[0].publickey == NULL:
            return None
        return lib.ssh_key_dup(entry[0].publickey)
    finally:
        lib.ssh_knownhosts_entry_free(entry[0])


def is_known_server(session: CData) -> int:
    """What the session's known_hosts files say of the server's key: SSH_KNOWN_HOSTS_OK,
    _CHANGED, _OTHER, _UNKNOWN, _NOT_FOUND or _ERROR."""
    state: int = lib.ssh_session_is_known_server(session)
    return state


def update_known_hosts(session: CData, what: str) -> None:
    """Add the server's key to the session's known_hosts file. Raises
    :class:`~pylibssh.errors.HostKeyError` (``what`` names the step) when libssh cannot."""
    if lib.ssh_session_update_known_hosts(session) != SSH_OK:
        from ..errors import HostKeyError, error_from
        raise error_from(session, what, HostKeyError)


# -- user authentication -----------------------------------------------------------------------
# each returns libssh's SSH_AUTH_* code (SSH_AUTH_AGAIN until the server has answered)

def userauth_none(session: CData, user: bytes) -> int:
    """Try the ``none`` method."""
    rc: int = lib.ssh_userauth_none(session, user)
    return rc


def userauth_password(session: CData, user: bytes, password: bytes) -> int:
    """Try ``password``."""
    rc: int = lib.ssh_userauth_password(session, user, password)
    return rc


def userauth_publickey(session: CData, user: bytes, key: CData) -> int:
    """Try the private ``key`` (an ``ssh_key``)."""
    rc: int = lib.ssh_userauth_publickey(session, user, key)
    return rc


def userauth_agent(session: CData, user: bytes) -> int:
    """Try the agent's keys, one per call (the agent of SSH_AUTH_SOCK, or the one given with
    :func:`set_agent_socket`)."""
    rc: int = lib.ssh_userauth_agent(session, user)
    return rc


def userauth_kbdint(session: CData, user: bytes) -> int:
    """Start or continue keyboard-interactive: SSH_AUTH_INFO when the server asks questions
    (:func:`kbdint_questions`)."""
    rc: int = lib.ssh_userauth_kbdint(session, user, NULL)
    return rc


def userauth_list(session: CData, user: bytes) -> int:
    """The methods the server allows (SSH_AUTH_METHOD_* bits), from its last answer."""
    mask: int = lib.ssh_userauth_list(session, user)
    return mask


def kbdint_questions(session: CData) -> tuple[str, str, list[tuple[str, bool]]]:
    """The keyboard-interactive round the server sent: its name, instruction and prompts
    (text, whether the answer is echoed)."""
    name = ffi.string(lib.ssh_userauth_kbdint_getname(session)).decode("utf-8", "replace")
    instruction = ffi.string(lib.ssh_userauth_kbdint_getinstruction(session)).decode(
        "utf-8", "replace")
    echo = ffi.new("char *")
    prompts = []
    for i in range(lib.ssh_userauth_kbdint_getnprompts(session)):
        text = ffi.string(lib.ssh_userauth_kbdint_getprompt(session, i, echo)).decode(
            "utf-8", "replace")
        prompts.append((text, echo[0] != b"\0"))
    return name, instruction, prompts


def kbdint_answer(session: CData, index: int, answer: bytes) -> None:
    """Set the answer to prompt ``index`` of this round. Raises
    :class:`~pylibssh.errors.AuthenticationError` when libssh refuses it."""
    if lib.ssh_userauth_kbdint_setanswer(session, index, answer) < 0:
        from ..errors import AuthenticationError, error_from
        raise error_from(session, "keyboard-interactive answer", AuthenticationError)


def set_agent_socket(session: CData, fd: int) -> None:
    """Authenticate through the agent connected on ``fd`` (-1: none; the caller closes it)."""
    lib.ssh_set_agent_socket(session, fd)


# -- keepalives and global requests ------------------------------------------------------------

def track_global_replies(session: CData) -> CData | None:
    """Install the global-request reply FIFO (csrc/pylibssh_client.c) on ``session``; None when
    it cannot be. The caller keeps the result as long as the session (needs
    ``HAS.global_replies``)."""
    replies = ffi.new("struct pylibssh_global_replies *")
    return replies if lib.pylibssh_track_global_replies(session, replies) == 0 else None


def send_keepalive(session: CData, replies: CData | None) -> None:
    """Send keepalive@openssh.com (want-reply). With the reply FIFO its reply is told apart
    from a forward's; without, libssh's own sender."""
    if replies is not None:
        lib.pylibssh_send_keepalive(session, replies)
    else:
        # the first call clears a reply to the previous keepalive, the second sends; while one
        # is unanswered both only check for its reply
        lib.ssh_send_keepalive(session)
        lib.ssh_send_keepalive(session)


def global_idle(session: CData) -> bool:
    """Whether libssh waits for no reply to a global request it sent itself."""
    return bool(lib.pylibssh_global_idle(session) != 0)


def global_expect(replies: CData, own: bool) -> int:
    """Reserve the FIFO's next reply for a request about to be sent (``own``: by pylibssh's
    sender, else by libssh's): its sequence number, negative when too many wait."""
    seq: int = lib.pylibssh_global_expect(
        replies, lib.PYLIBSSH_GLOBAL_OWN if own else lib.PYLIBSSH_GLOBAL_LIBSSH)
    return seq


def global_unexpect(replies: CData, seq: int) -> None:
    """Give back the reservation ``seq`` of a request that was not sent."""
    lib.pylibssh_global_unexpect(replies, seq)


def new_reply_port() -> CData:
    """Where :func:`global_result` puts a reply's leading uint32 (-1 until then); read with
    ``[0]``."""
    return ffi.new("int32_t *", -1)


def global_result(replies: CData, seq: int, port: CData | None = None) -> int:
    """The reply to request ``seq``: -1 while it has not come, 0 refused, above 0 accepted
    (its leading uint32 into ``port``, from :func:`new_reply_port`), another negative code
    when it was lost."""
    rc: int = lib.pylibssh_global_result(replies, seq, NULL if port is None else port)
    return rc


def global_forget(session: CData, replies: CData, seq: int) -> None:
    """Request ``seq`` was given up: its reply, when it comes, goes to nobody."""
    lib.pylibssh_global_forget(session, replies, seq)


def global_request_path(session: CData, name: bytes, arg: bytes) -> bool:
    """Send the want-reply global request ``name`` with one string argument
    (streamlocal-forward@openssh.com and its cancel); False when it could not be sent."""
    return bool(lib.pylibssh_global_request_path(session, name, arg) == SSH_OK)


def global_request_raw(session: CData, name: bytes, payload: bytes, want_reply: bool) -> bool:
    """Send the global request ``name`` with ``payload`` (its SSH-encoded fields after the
    want-reply flag); False when it could not be sent."""
    return bool(lib.pylibssh_global_request_raw(
        session, name, ffi.from_buffer(payload), len(payload), 1 if want_reply else 0) == SSH_OK)


def new_bound_port() -> CData:
    """Where :func:`listen_forward` puts the port the server bound; read with ``[0]``."""
    return ffi.new("int *")


def listen_forward(session: CData, host: bytes | None, port: int, bound: CData | None) -> int:
    """Send (or poll the reply of) tcpip-forward for ``host`` (None: every address) and
    ``port``: libssh's code; with ``bound`` (:func:`new_bound_port`) libssh reads the port the
    server bound from its last packet."""
    rc: int = lib.ssh_channel_listen_forward(session, NULL if host is None else host, port,
                                             NULL if bound is None else bound)
    return rc


def cancel_forward(session: CData, host: bytes | None, port: int) -> int:
    """Send (or poll the reply of) cancel-tcpip-forward: libssh's code."""
    rc: int = lib.ssh_channel_cancel_forward(session, NULL if host is None else host, port)
    return rc


# -- channels the server opens -----------------------------------------------------------------

#: whether libssh has queued messages (asked without a poll; needs ``HAS.message_peek``): 0 no
has_messages: Callable[[CData], int] = lib.pylibssh_session_has_messages


def next_message(session: CData) -> tuple[CData, int] | None:
    """The next message libssh queued (without waiting) and, for a channel open, its
    SSH_CHANNEL_* subtype (-1 for any other message); None when nothing waits. The caller
    answers or frees it."""
    msg = lib.ssh_message_get(session)
    if msg == NULL:
        return None
    if lib.ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN:
        return msg, -1
    subtype: int = lib.ssh_message_subtype(msg)
    return msg, subtype


def _text(p: CData) -> str:
    return ffi.string(p).decode("utf-8", "replace") if p != NULL else ""


def channel_open_fields(msg: CData) -> tuple[str, int, str, int]:
    """A queued channel open's originator host and port and destination (host or socket path)
    and port."""
    return (_text(lib.ssh_message_channel_request_open_originator(msg)),
            lib.ssh_message_channel_request_open_originator_port(msg),
            _text(lib.ssh_message_channel_request_open_destination(msg)),
            lib.ssh_message_channel_request_open_destination_port(msg))


def accept_channel_open(msg: CData) -> CData | None:
    """Accept a queued channel open and free the message: the new channel, None when libssh
    failed (the session's error says why)."""
    try:
        channel = lib.ssh_message_channel_request_open_reply_accept(msg)
    finally:
        lib.ssh_message_free(msg)
    return None if channel == NULL else channel


def refuse_message(msg: CData, reply: bool = True) -> None:
    """Refuse a queued message with libssh's default answer (unless ``reply`` is False: the
    session is gone) and free it."""
    if reply:
        lib.ssh_message_reply_default(msg)
    lib.ssh_message_free(msg)


def free_message(msg: CData) -> None:
    """Free a queued message without an answer. Call it once."""
    lib.ssh_message_free(msg)


def accept_forward(session: CData) -> tuple[CData, int, str, int] | None:
    """A forwarded-tcpip channel libssh queued, accepted: (channel, the port the server
    listened on, the originator's host and port); None when none waits."""
    dport = ffi.new("int *")
    oport = ffi.new("int *")
    orig = ffi.new("char **")
    channel = lib.ssh_channel_open_forward_port(session, 0, dport, orig, oport)
    if channel == NULL:
        return None
    origin = take_string(orig[0]) or ""
    return channel, dport[0], origin, oport[0]
