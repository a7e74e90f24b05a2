"""Request messages a server session receives: authentication and channel requests.

A message wraps one queued libssh ``ssh_message``. Its fields are copied into Python when it
arrives, so they stay readable after the reply. Each message takes exactly one reply
(``reply_*``); the reply frees the C message at once, a second reply raises
:class:`~pylibssh.errors.AlreadyRepliedError`, and a reply after the session or channel is gone
raises :class:`~pylibssh.errors.ClosedError`. Replies may come later than the event (from a timer
or another thread): every reply method takes the loop's lock.

Messages nobody listens to are answered with the protocol's default reply at once (see
``session.py``); a listener that neither replies nor raises leaves the request waiting for its
reply (login grace time still applies to authentication).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from .._binding import NULL, CData
from .._binding import messages as _m
from .._binding.constants import (
    SSH_AUTH_METHOD_GSSAPI_MIC,
    SSH_AUTH_METHOD_HOSTBASED,
    SSH_AUTH_METHOD_INTERACTIVE,
    SSH_AUTH_METHOD_NONE,
    SSH_AUTH_METHOD_PASSWORD,
    SSH_AUTH_METHOD_PUBLICKEY,
    SSH_CHANNEL_REQUEST_ENV,
    SSH_CHANNEL_REQUEST_EXEC,
    SSH_CHANNEL_REQUEST_PTY,
    SSH_CHANNEL_REQUEST_SHELL,
    SSH_CHANNEL_REQUEST_SUBSYSTEM,
    SSH_CHANNEL_REQUEST_WINDOW_CHANGE,
    SSH_CHANNEL_REQUEST_X11,
    SSH_ERROR,
    SSH_PUBLICKEY_STATE_ERROR,
    SSH_PUBLICKEY_STATE_NONE,
    SSH_PUBLICKEY_STATE_VALID,
    SSH_PUBLICKEY_STATE_WRONG,
)
from ..errors import AlreadyRepliedError, ClosedError
from ..keys import Key, load_authorized_keys
from ..loop import locked
from .._binding.server import set_auth_methods
from . import _live
from .sftp import SFTPServer

if TYPE_CHECKING:
    from .channel import ServerChannel
    from .session import ServerSession

__all__ = [
    "Message",
    "AuthMessage",
    "ChannelRequestMessage",
    "PtyInfo",
    "TTY_MODES",
    "decode_tty_modes",
    "auth_method_names",
    "auth_method_mask",
    "method_bit",
]

log = logging.getLogger("pylibssh.server")

# libssh's SSH_AUTH_METHOD_* bits and the names pylibssh uses for them (node-libssh's subtypes)
_AUTH_METHODS = {
    SSH_AUTH_METHOD_NONE: "none",
    SSH_AUTH_METHOD_PASSWORD: "password",
    SSH_AUTH_METHOD_PUBLICKEY: "publickey",
    SSH_AUTH_METHOD_HOSTBASED: "hostbased",
    SSH_AUTH_METHOD_INTERACTIVE: "interactive",
    SSH_AUTH_METHOD_GSSAPI_MIC: "gssapi-with-mic",
}
# what users may write when they choose the offered methods
_METHOD_ALIASES: dict[str, int] = {
    "none": SSH_AUTH_METHOD_NONE,
    "password": SSH_AUTH_METHOD_PASSWORD,
    "publickey": SSH_AUTH_METHOD_PUBLICKEY,
    "hostbased": SSH_AUTH_METHOD_HOSTBASED,
    "interactive": SSH_AUTH_METHOD_INTERACTIVE,
    "keyboard-interactive": SSH_AUTH_METHOD_INTERACTIVE,
    "gssapi-with-mic": SSH_AUTH_METHOD_GSSAPI_MIC,
}

_SIGNATURE_STATES = {
    SSH_PUBLICKEY_STATE_NONE: "none",
    SSH_PUBLICKEY_STATE_VALID: "valid",
    SSH_PUBLICKEY_STATE_WRONG: "wrong",
    SSH_PUBLICKEY_STATE_ERROR: "error",
}


def auth_method_mask(methods: Iterable[str] | str) -> int:
    """``["publickey", "password"]`` -> libssh's bit mask. Unknown names raise ValueError."""
    if isinstance(methods, str):
        methods = [m for m in methods.replace(",", " ").split() if m]
    mask = 0
    for name in methods:
        try:
            mask |= _METHOD_ALIASES[str(name).lower()]
        except KeyError:
            raise ValueError(
                f"unknown authentication method {name!r}; use: "
                f"{', '.join(sorted(_METHOD_ALIASES))}"
            ) from None
    if not mask:
        raise ValueError("at least one authentication method must be offered")
    return mask


def method_bit(name: str) -> int:
    """libssh's bit for one method name (0 when unknown)."""
    return _METHOD_ALIASES.get(name, 0)


def auth_method_names(mask: int) -> list[str]:
    """The names (``password``, ``publickey``, ``interactive``, ...) of the authentication methods
    set in libssh's bit mask ``mask``, in a fixed order."""
    return [name for bit, name in _AUTH_METHODS.items() if mask & bit]


# -- terminal modes (RFC 4254 section 8) -------------------------------------------------------

TTY_MODES = {
    1: "VINTR", 2: "VQUIT", 3: "VERASE", 4: "VKILL", 5: "VEOF", 6: "VEOL", 7: "VEOL2",
    8: "VSTART", 9: "VSTOP", 10: "VSUSP", 11: "VDSUSP", 12: "VREPRINT", 13: "VWERASE",
    14: "VLNEXT", 15: "VFLUSH", 16: "VSWTCH", 17: "VSTATUS", 18: "VDISCARD",
    30: "IGNPAR", 31: "PARMRK", 32: "INPCK", 33: "ISTRIP", 34: "INLCR", 35: "IGNCR",
    36: "ICRNL", 37: "IUCLC", 38: "IXON", 39: "IXANY", 40: "IXOFF", 41: "IMAXBEL", 42: "IUTF8",
    50: "ISIG", 51: "ICANON", 52: "XCASE", 53: "ECHO", 54: "ECHOE", 55: "ECHOK", 56: "ECHONL",
    57: "NOFLSH", 58: "TOSTOP", 59: "IEXTEN", 60: "ECHOCTL", 61: "ECHOKE", 62: "PENDIN",
    70: "OPOST", 71: "OLCUC", 72: "ONLCR", 73: "OCRNL", 74: "ONOCR", 75: "ONLRET",
    90: "CS7", 91: "CS8", 92: "PARENB", 93: "PARODD",
    128: "TTY_OP_ISPEED", 129: "TTY_OP_OSPEED",
}


def decode_tty_modes(data: bytes) -> dict[str, int]:
    """Decode a pty-req's encoded terminal modes into ``{name: value}`` (unknown opcodes keep
    their number as the name, e.g. ``"OP_99"``). Parsing stops at TTY_OP_END (0), at an opcode
    >= 160 (whose argument format is undefined) or at truncated data."""
    modes: dict[str, int] = {}
    i, n = 0, len(data)
    while i < n:
        op = data[i]
        if op == 0 or op >= 160 or i + 5 > n:
            break
        modes[TTY_MODES.get(op, f"OP_{op}")] = int.from_bytes(data[i + 1:i + 5], "big")
        i += 5
    return modes


class PtyInfo(NamedTuple):
    """The terminal a client asked for (updated by window changes)."""

    term: str
    cols: int
    rows: int
    pixel_width: int
    pixel_height: int
    modes: dict[str, int]


# -- messages ------------------------------------------------------------------------------------


class Message:
    """A request that waits for a reply. ``type`` says what kind, ``subtype`` which request."""

    type = "request"
    subtype: str = "unknown"

    def __init__(self, session: ServerSession, c_msg: CData):
        self._session = session
        self._loop = session._loop
        self._msg = c_msg
        self._replied = False
        self._auto = False  # freed by pylibssh because the peer wants no reply
        _live.inc("messages")
        session._messages.add(self)

    @property
    def session(self) -> ServerSession:
        """The :class:`~pylibssh.server.ServerSession` this request arrived on."""
        return self._session

    @property
    def replied(self) -> bool:
        """True once the message was answered (or can no longer be)."""
        return self._replied or self._msg == NULL

    def _begin_reply(self) -> bool:
        """Check that a reply is possible now; False when it must be silently skipped."""
        if self._replied:
            if self._auto:
                return False  # no reply was wanted and pylibssh already released the message
            raise AlreadyRepliedError(f"this {self.subtype} request was already answered")
        if self._msg == NULL:
            raise ClosedError("the session or channel of this request is closed")
        self._replied = True
        return True

    def _release(self) -> None:
        """Free the C message, exactly once (after the reply, or when the owner goes away)."""
        if self._msg != NULL:
            _m.free(self._msg)
            self._msg = NULL
            _live.dec("messages")
        self._session._messages.discard(self)

    def _sent(self, rc: int, what: str) -> None:
        self._release()
        if rc == SSH_ERROR and not self._session.closed:
            # the connection is failing; the session notices and closes on its next poll
            log.debug("%r: sending the %s reply failed: %s", self._session, what,
                      self._session._error_text())
        self._session.kick()

    @locked
    def reply_default(self) -> None:
        """The protocol's default answer: failure (authentication, channel requests)."""
        if self._begin_reply():
            rc = _m.reply_default(self._msg)
            self._after_default(rc)

    def _after_default(self, rc: int) -> None:
        self._sent(rc, "default")

    def _discard(self) -> None:
        """The owner is going away: free without replying; later replies raise ClosedError."""
        self._release()

    def __repr__(self) -> str:
        state = "replied" if self.replied else "pending"
        return f"<{type(self).__name__} {self.subtype} {state}>"


class AuthMessage(Message):
    """An authentication request (event ``auth`` on the session).

    ``subtype`` is ``none``, ``password``, ``publickey``, ``interactive``, ``hostbased``,
    ``gssapi-with-mic`` or ``unknown`` (methods libssh does not parse, hostbased among them, arrive
    as ``unknown`` and can only be refused). ``auth_user`` is the user name; ``auth_password`` the
    password (``password`` only). For ``publickey``: ``public_key`` (a :class:`~pylibssh.Key`) and
    ``signature_state`` (``none`` for an unsigned probe, ``valid`` once libssh verified the
    signature; a request whose signature did not verify, ``wrong``, or whose key libssh could
    not read, ``error``, is refused by the session and never reaches listeners). For
    ``interactive``: ``kbdint_response`` is False for the client's first request (answer with
    :meth:`reply_interactive`) and True when it carries the client's ``answers``.

    Failures are sent after the server's ``auth_failure_delay`` (sshd's minimum failure time);
    the reply methods return at once and the session takes the client's next request after it.
    """

    type = "auth"

    def __init__(self, session: ServerSession, c_msg: CData):
        super().__init__(session, c_msg)
        method = _m.subtype(c_msg)
        self.subtype = _AUTH_METHODS.get(method, "unknown")
        self.auth_user: str | None = _m.auth_user(c_msg)
        self.auth_password: str | None = None
        self.public_key: Key | None = None
        self.signature_state: str | None = None
        self.kbdint_response = False
        self.answers: list[str] | None = None
        self._arrived = session._loop.time()  # a failure's minimum time counts from here
        self._attempt = 0  # its number among the session's requests (set by the session)
        if self.subtype == "password":
            self.auth_password = _m.auth_password(c_msg)
        elif self.subtype == "publickey":
            key = _m.auth_public_key(c_msg)
            if key is not None:
                self.public_key = Key(key)
            self.signature_state = _SIGNATURE_STATES.get(_m.auth_publickey_state(c_msg), "error")
        elif self.subtype == "interactive":
            self.kbdint_response = _m.auth_kbdint_is_response(c_msg)
            if self.kbdint_response:
                self.answers = _m.kbdint_answers(session._s)
                if self.auth_user is None:
                    # libssh does not repeat the user in INFO_RESPONSE: it is the one who asked
                    self.auth_user = session._kbdint_user

    # -- what the client offered -----------------------------------------------------------------

    @property
    def is_probe(self) -> bool:
        """A public-key request without signature: the client asks whether the key would do."""
        return self.subtype == "publickey" and self.signature_state == "none"

    @property
    def method(self) -> str:
        """node-libssh's name for :attr:`subtype`: the authentication method asked for (``none``,
        ``password``, ``publickey``, ``keyboard-interactive``, ...)."""
        return self.subtype

    def compare_public_key(self, other: Key | str | bytes | os.PathLike[str] | Iterable[Any]
                           ) -> bool:
        """True when the offered public key equals ``other``: a :class:`~pylibssh.Key`, an
        OpenSSH public key line, the text of a ``.pub``/``authorized_keys`` file (any line may
        match), a path to such a file, or an iterable of those. Malformed key text raises
        :class:`~pylibssh.KeyFormatError`.

        Matching is not authentication: :meth:`reply_auth_success` lets only a request whose
        signature libssh verified in; a probe gets ``pk_ok`` so the client goes on to sign."""
        if self.public_key is None:
            return False
        return any(key == self.public_key for key in _candidate_keys(other))

    # -- replies ---------------------------------------------------------------------------------

    @locked
    def reply_auth_success(self, partial: bool = False,
                           methods: Iterable[str] | str | None = None) -> None:
        """Accept the request (``partial``: this method passed, more are needed).

        For public keys only a verified signature authenticates: an unsigned probe is answered
        with ``pk_ok`` (the client then signs and asks again, and that signed request arrives as
        a new ``auth`` event), and a request whose signature did not verify is refused.
        ``methods``: the methods a partial success (or that refusal) lists, for this reply
        only (see :meth:`reply_default`)."""
        mask = None if methods is None else auth_method_mask(methods)
        if not self._begin_reply():
            return
        if self.subtype == "publickey" and self.signature_state != "valid":
            outcome = "pk_ok" if self.signature_state == "none" else "failure"
        else:
            outcome = "partial" if partial else "success"
        self._session._auth_reply(self, lambda: self._send(outcome, mask),
                                  failure=outcome == "failure")

    def _send(self, outcome: str, mask: int | None) -> None:
        """Send the reply for ``outcome`` (``success``, ``partial``, ``pk_ok``, ``failure``)
        listing ``mask``'s methods; called by the session, at once or when its time came."""
        if self._msg == NULL:
            return  # the session went away while the reply waited
        # the session's state first: the client may act on the reply before this returns
        self._session._auth_outcome(self, outcome)
        if mask is not None:
            _m.auth_set_methods(self._msg, mask)
        if outcome == "pk_ok":
            rc = _m.auth_reply_pk_ok(self._msg)
        elif outcome == "failure":
            rc = _m.reply_default(self._msg)
        else:
            rc = _m.auth_reply_success(self._msg, outcome == "partial")
        if mask is not None:
            self._restore_methods()
        self._sent(rc, outcome)

    @locked
    def reply_partial(self, methods: Iterable[str] | str | None = None) -> None:
        """Partial success: this method passed, the client must also pass another one
        (``methods``: the ones it may use next, for this reply only)."""
        self.reply_auth_success(partial=True, methods=methods)

    @locked
    def reply_default(self, methods: Iterable[str] | str | None = None) -> None:
        """Refuse the request. The failure lists the methods offered to the session, or
        ``methods`` for this reply only (a per-user list, as paramiko's ``get_allowed_auths``);
        which requests reach the application stays the session's choice (``set_methods``,
        ``session.set_auth_methods``)."""
        mask = None if methods is None else auth_method_mask(methods)
        if self._begin_reply():
            self._session._auth_reply(self, lambda: self._send("failure", mask), failure=True)

    def _restore_methods(self) -> None:
        s = self._session._s
        if s != NULL:
            set_auth_methods(s, self._session._auth_mask)

    @locked
    def set_methods(self, methods: Iterable[str] | str) -> None:
        """Choose the methods offered from now on (sent with this and later failure or
        partial-success replies), e.g. ``["publickey", "keyboard-interactive"]``."""
        mask = auth_method_mask(methods)
        if self._msg == NULL:
            raise ClosedError("the message was already answered; use session.set_auth_methods")
        _m.auth_set_methods(self._msg, mask)
        self._session._auth_mask = mask

    @locked
    def reply_interactive(self, prompts: Iterable[str | tuple[str, bool]], name: str = "",
                          instruction: str = "") -> None:
        """Send keyboard-interactive prompts; each is a string (not echoed) or ``(prompt,
        echo)``. The answers arrive in a new ``auth`` event whose message has
        ``kbdint_response=True`` and ``answers``."""
        items = [(p, False) if isinstance(p, str) else (str(p[0]), bool(p[1])) for p in prompts]
        if self.subtype != "interactive":
            raise ValueError(f"reply_interactive answers keyboard-interactive requests, "
                             f"not {self.subtype}")
        if not self._begin_reply():
            return
        encoded = [(p.encode("utf-8"), e) for p, e in items]

        def send() -> None:
            if self._msg == NULL:
                return
            self._session._kbdint_user = self.auth_user
            self._session._auth_outcome(self, "info")
            rc = _m.auth_interactive_request(self._msg, name, instruction, encoded)
            self._sent(rc, "keyboard-interactive prompts")

        self._session._auth_reply(self, send, failure=False)

    def __repr__(self) -> str:
        state = "replied" if self.replied else "pending"
        extra = f" {self.signature_state}" if self.subtype == "publickey" else ""
        return f"<AuthMessage {self.subtype}{extra} user={self.auth_user!r} {state}>"


def _candidate_keys(other: Any) -> list[Key]:
    if isinstance(other, Key):
        return [other]
    if isinstance(other, (bytes, bytearray, memoryview)):
        other = bytes(other).decode("utf-8", "replace")
    if isinstance(other, (str, os.PathLike)):
        return load_authorized_keys(other)
    keys: list[Key] = []
    for item in other:
        keys.extend(_candidate_keys(item))
    return keys


# channel request types -> node-libssh's event names
CHANNEL_REQUEST_EVENTS = {
    SSH_CHANNEL_REQUEST_PTY: "pty",
    SSH_CHANNEL_REQUEST_EXEC: "exec",
    SSH_CHANNEL_REQUEST_SHELL: "shell",
    SSH_CHANNEL_REQUEST_ENV: "env",
    SSH_CHANNEL_REQUEST_SUBSYSTEM: "subsystem",
    SSH_CHANNEL_REQUEST_WINDOW_CHANGE: "windowchange",
    SSH_CHANNEL_REQUEST_X11: "x11",
}


class ChannelRequestMessage(Message):
    """A request on a session channel (channel events ``pty``, ``exec``, ``shell``, ``env``,
    ``subsystem``, ``windowchange``, ``x11``); ``subtype`` is the event name.

    Fields by subtype: ``exec_command`` (exec); ``subsystem``; ``env_name``/``env_value`` (env);
    ``term``, ``cols``, ``rows``, ``pixel_width``, ``pixel_height``, ``modes`` (pty; ``modes`` is
    a dict of RFC 4254 mode names, ``modes_raw`` the encoded bytes, both None when the library
    cannot read them: libssh has no getter and pylibssh reads its private struct only when built
    with the vendored libssh); ``cols``, ``rows``, ``pixel_*`` (windowchange);
    ``x11_single_connection``, ``x11_auth_protocol``, ``x11_auth_cookie``, ``x11_screen_number``.
    ``want_reply`` says whether the client waits for the answer.
    """

    type = "channel-request"

    exec_command: str | None = None
    subsystem_name: str | None = None
    env_name: str | None = None
    env_value: str | None = None
    term: str | None = None
    cols: int | None = None
    rows: int | None = None
    pixel_width: int | None = None
    pixel_height: int | None = None
    modes: dict[str, int] | None = None
    modes_raw: bytes | None = None
    x11_single_connection: bool | None = None
    x11_auth_protocol: str | None = None
    x11_auth_cookie: str | None = None
    x11_screen_number: int | None = None

    def __init__(self, channel: ServerChannel, c_msg: CData, subtype: str):
        super().__init__(channel._session, c_msg)
        self.channel = channel
        self.subtype = subtype
        self.want_reply = _m.want_reply(c_msg)
        channel._requests.add(self)
        if subtype == "exec":
            self.exec_command = _m.exec_command(c_msg)
        elif subtype == "subsystem":
            self.subsystem_name = _m.subsystem_name(c_msg)
        elif subtype == "env":
            self.env_name, self.env_value = _m.env_variable(c_msg)
        elif subtype in ("pty", "windowchange"):
            self.cols, self.rows, self.pixel_width, self.pixel_height = _m.pty_size(c_msg)
            if subtype == "pty":
                self.term = _m.pty_term(c_msg) or ""
                raw = _m.pty_modes(c_msg)  # None where the build cannot read them
                if raw is not None:
                    self.modes_raw = raw
                    self.modes = decode_tty_modes(raw)
        elif subtype == "x11":
            (self.x11_single_connection, self.x11_auth_protocol, self.x11_auth_cookie,
             self.x11_screen_number) = _m.x11_request(c_msg)

    @property
    def subsystem(self) -> str | None:
        """The requested subsystem's name (``subsystem`` requests), e.g. ``"sftp"``."""
        return self.subsystem_name

    @property
    def pty(self) -> PtyInfo | None:
        """For a ``pty`` request, the terminal asked for as a :class:`PtyInfo` (``term``, ``cols``,
        ``rows``, pixel sizes, the decoded terminal modes); None for any other request."""
        if self.subtype != "pty":
            return None
        return PtyInfo(self.term or "", self.cols or 0, self.rows or 0, self.pixel_width or 0,
                       self.pixel_height or 0, dict(self.modes or {}))

    @locked
    def reply_success(self) -> None:
        """Accept the request (needed before, e.g., an exec's output makes sense to the client)."""
        if not self._begin_reply():
            return
        rc = _m.request_reply_success(self._msg)
        self.channel._request_accepted(self)
        self._sent(rc, "success")

    @locked
    def sftp_accept(self) -> SFTPServer:
        """Accept a ``subsystem`` request for ``sftp`` and switch the channel to SFTP: from now
        on the channel emits ``sftp:<type>`` and ``sftpmessage`` events (see
        :mod:`pylibssh.server.sftp`). Returns the channel's :class:`SFTPServer`."""
        if self.subtype != "subsystem":
            raise ValueError(f"sftp_accept() answers a subsystem request, not {self.subtype!r}")
        if self.replied:
            self._begin_reply()  # raises the right error
        sftp = self.channel._start_sftp()
        self.reply_success()
        return sftp

    def _after_default(self, rc: int) -> None:
        self._sent(rc, "failure")

    def _release(self) -> None:
        super()._release()
        self.channel._requests.discard(self)

    def __repr__(self) -> str:
        state = "replied" if self.replied else "pending"
        detail = ""
        if self.subtype == "exec":
            detail = f" {self.exec_command!r}"
        elif self.subtype == "subsystem":
            detail = f" {self.subsystem_name!r}"
        elif self.subtype == "env":
            detail = f" {self.env_name}={self.env_value!r}"
        elif self.subtype in ("pty", "windowchange"):
            detail = f" {self.term or ''} {self.cols}x{self.rows}".rstrip()
        return f"<ChannelRequestMessage {self.subtype}{detail} {state}>"


MessageLike = Union[AuthMessage, ChannelRequestMessage]
