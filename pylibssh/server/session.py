"""One client connection to a :class:`~pylibssh.server.Server`.

Events (node-libssh's names): ``auth`` (an :class:`~pylibssh.server.messages.AuthMessage`),
``channel`` (a :class:`~pylibssh.server.channel.ServerChannel` the client opened), ``close``,
``error`` (an exception that ended the session), ``session`` (optional: a
:class:`SessionOpenMessage` for each session channel the client opens, to accept, which
returns the channel, or reject with a reason; without a ``session``
listener every session channel is accepted when there is a ``channel`` listener, which
``session``-accepted channels do not reach). Forwarding (ssh2's names, see
``forwarding.py``): ``tcpip`` and ``openssh.streamlocal`` (a
:class:`~pylibssh.server.forwarding.ChannelOpenMessage`), ``request`` (a
:class:`~pylibssh.server.forwarding.GlobalRequestMessage`).

How requests arrive: the session installs no libssh server callbacks, so libssh queues every
authentication, channel-open and channel request as an ``ssh_message``. After each poll
:meth:`ServerSession._process` takes the queued messages (``ssh_message_get`` never blocks on a
nonblocking session) and dispatches them; replies can therefore come at any later time. Channel
data, EOF and close come through the channel callbacks and are dispatched after the messages of
the same poll, so an ``exec`` event always precedes the data sent after it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from .._binding import HAS, NULL, CData, unsupported
from .._binding import channel as _ch
from .._binding import messages as _m
from .._binding import server as _server
from .._binding import session as _session
from .._binding.constants import (
    SSH_AGAIN,
    SSH_CHANNEL_SESSION,
    SSH_CLOSED_ERROR,
    SSH_ERROR,
    SSH_GLOBAL_REQUEST_UNKNOWN,
    SSH_OK,
    SSH_REQUEST_AUTH,
    SSH_REQUEST_CHANNEL,
    SSH_REQUEST_CHANNEL_OPEN,
    SSH_REQUEST_GLOBAL,
    SSH_REQUEST_SERVICE,
)
from .._session import LoopSession
from ..errors import (
    ChannelError,
    ChannelOpenFailure,
    DisconnectedError,
    ProtocolError,
    UnsupportedError,
    error_from,
)
from ..events import EventEmitter
from ..loop import locked
from . import _live
from .channel import ServerChannel
from .sftp import SFTPServer
from .forwarding import (
    GLOBAL_REQUESTS,
    OPEN_EVENTS,
    ChannelOpenMessage,
    ForwardChannel,
    GlobalRequestMessage,
    OpenCallback,
    OutgoingChannel,
    agent_opener,
    forwarded_streamlocal_opener,
    forwarded_tcpip_opener,
    x11_opener,
)
from .messages import (
    CHANNEL_REQUEST_EVENTS,
    AuthMessage,
    ChannelRequestMessage,
    Message,
    auth_method_mask,
    method_bit,
)

_METHOD_BITS = {name: method_bit(name) for name in
                ("none", "password", "publickey", "hostbased", "interactive", "gssapi-with-mic")}

if TYPE_CHECKING:
    from .._channel import Channel
    from .server import Server

log = logging.getLogger("pylibssh.server")

#: requests one session takes per pass of the loop: a client that sends a burst of them shares
#: the loop with the others
_MESSAGES_PER_PASS = 64


def emit_request(emitter: EventEmitter, event: str, msg: Message) -> None:
    """Give ``msg`` to the listeners of ``event``; with none, or when a listener raises and nobody
    replied, answer with the default reply (an exception is logged with its traceback)."""
    listeners = emitter.listeners(event)
    if not listeners:
        if not msg.replied:
            msg.reply_default()
        return
    failed = False
    for fn in listeners:
        try:
            fn(msg)
        except Exception:
            failed = True
            log.exception("a %r listener raised; the request gets the default reply", event)
    if failed and not msg.replied:
        try:
            msg.reply_default()
        except Exception:
            log.debug("default reply after a failed listener", exc_info=True)


class SessionOpenMessage(ChannelOpenMessage):
    """A client's request to open a session channel (session event ``session``):
    :meth:`accept` returns the channel (the session's ``channel_class``, a
    :class:`ServerChannel`), :meth:`reject` refuses it with a reason."""

    channel_type = "session"

    def __init__(self, session: ServerSession, c_msg: CData):
        Message.__init__(self, session, c_msg)
        self.subtype = "session"

    @property
    def info(self) -> dict[str, Any]:
        return {}

    @locked
    def accept(self) -> ServerChannel:  # type: ignore[override]
        """Open the channel; returns it. Listen for its requests (``exec``, ``shell``...)
        before the loop runs again."""
        if not self._begin_reply():
            raise ChannelError("this channel open needs no reply")
        session = self._session
        c_channel = _m.open_accept(self._msg)
        if c_channel is None:
            err = error_from(session._s, "accepting the channel", ChannelError)
            self._sent(SSH_ERROR, "accept")
            raise err
        channel = session._new_session_channel(c_channel)
        self._sent(SSH_OK, "accept")
        return channel

    def __repr__(self) -> str:
        return f"<SessionOpenMessage {'replied' if self.replied else 'pending'}>"


class ServerSession(LoopSession):
    """A connection accepted by a server. Created by the server; the ``connection`` event hands
    it to the application once the key exchange is done.

    Attributes: ``server``, ``remote_address`` (``(host, port)``), ``authenticated``,
    ``auth_user`` (once authenticated), ``auth_failures``, ``client_banner``.
    """

    events: ClassVar[frozenset[str]] = LoopSession.events | {
        "auth", "session", "channel", "request", *OPEN_EVENTS.values()}

    #: the class of the session channels clients open (a :class:`ServerChannel` subclass may be
    #: set on the session, in the ``connection`` listener, before the client opens channels)
    channel_class = ServerChannel

    # collected only with its server, whose ResourceWarning names it (see Server.__del__)
    _owned = True
    # rarely set: class-level defaults (see LoopSession: fewer than 30 instance attributes)
    agent_forwarding = False  # a channel accepted auth-agent-req (see ServerChannel)
    _kbdint_user: str | None = None
    _must_disconnect = ""  # a reason, once a limit was reached
    _shutting_down = False  # close() waits for the client to take its output
    # authentication replies waiting for their time (a failure's minimum time, and the replies
    # decided after it): (due, send), in request order; made at the first failure
    _held_replies: deque[tuple[float, Callable[[], None]]] | None = None
    _reply_timer: Any = None

    def __init__(self, server: Server, c_session: CData, address: Any):
        super().__init__(server._loop, c_session)
        self.server = server
        self.remote_address = address
        self.authenticated = False
        self.auth_user: str | None = None
        self.auth_failures = 0
        self.connected = False  # key exchange done, `connection` emitted
        self._kex_done = False
        self._messages: set[Message] = set()
        self._sftp_servers: set[SFTPServer] = set()
        self._by_channel: dict[int, ServerChannel] = {}
        self._auth_mask = server._auth_mask  # the methods offered now (see set_auth_methods)
        self._last_activity = self._loop.time()
        self._timers: list[Any] = []
        self._auth_requests = 0  # requests taken (keyboard-interactive answers apart)
        _live.inc("sessions")

    def _start(self) -> None:
        """Register with the loop, arm the limits' timers and start the key exchange (the server
        tears the session down if this raises)."""
        self._attach()
        opts = self.server._options
        if opts["login_grace_time"]:
            self._timers.append(self._loop.call_later(opts["login_grace_time"], self._grace_over))
        if opts["idle_timeout"]:
            self._timers.append(self._loop.call_later(opts["idle_timeout"], self._check_idle))
        self.kick()  # send our banner and KEXINIT without waiting for the client

    # -- the poll cycle --------------------------------------------------------------------------

    def _on_ready(self) -> None:
        self._last_activity = self._loop.time()
        super()._on_ready()

    def _process(self) -> None:
        if not self._kex_done:
            rc = _server.handle_key_exchange(self._s)
            if rc == SSH_AGAIN:
                return
            if rc != SSH_OK:
                raise error_from(self._s, "key exchange", ProtocolError)
            self._kex_done = True
            self._join_event()
            # OpenSSH's UNIX-socket forwarding requests, which libssh does not parse, become
            # queued messages (csrc/pylibssh_server.c); without it libssh refuses them
            if not _server.enable_streamlocal(self._s):
                log.debug("%r: streamlocal forwarding unavailable", self)
            self._auth_mask = self.server._auth_mask
            _server.set_auth_methods(self._s, self._auth_mask)
            log.debug("%r: key exchange done (%s, %s; client %s)", self, self.kex_algorithm,
                      self.cipher_in, self.client_banner)
            self.connected = True
            self.server._emit_connection(self)
        taken = 0
        while not (self._closed or self._closing):
            if self._must_disconnect:
                # before taking another request: ssh_message_get may already have read the
                # client's next attempt
                self._disconnect(self._must_disconnect)
                return
            if self._held_replies:
                break  # no request is taken while an authentication reply waits
            if taken:
                if taken >= _MESSAGES_PER_PASS:
                    self.kick()  # the rest in the next pass, after the loop's other work
                    break
                if (HAS.pending_output and _session.pending_output(self._s, 0)
                        >= self.input_hold_water):
                    break  # the client does not read the replies: the pass holds its input
            # with an empty queue ssh_message_get polls the socket: that poll is needed (skipping
            # it left some of 60 concurrent clients waiting forever, tests/test_server_scale.py),
            # and it is why a client that keeps the socket full needs the bounds above
            c_msg = _m.get(self._s)
            if c_msg == NULL:
                break
            taken += 1
            if self._shutting_down:  # closing: nothing new is served
                if _m.message_type(c_msg) == SSH_REQUEST_CHANNEL:
                    # its channel may be gone already (a reply would use it): no answer
                    _m.free(c_msg)
                else:
                    self._reply_raw(c_msg)
                continue
            self._handle_message(c_msg)
        for sftp in list(self._sftp_servers):
            sftp._pump()

    _poll_after_send = True

    def _handle_message(self, c_msg: CData) -> None:
        kind = _m.message_type(c_msg)
        if kind == SSH_REQUEST_AUTH:
            self._on_auth(AuthMessage(self, c_msg))
        elif kind == SSH_REQUEST_CHANNEL:
            self._on_channel_request(c_msg)
        elif kind == SSH_REQUEST_CHANNEL_OPEN:
            self._on_channel_open(c_msg)
        elif kind == SSH_REQUEST_SERVICE:
            # "ssh-userauth": the protocol's only answer is acceptance (or a disconnect)
            self._reply_raw(c_msg)
        elif (kind == SSH_REQUEST_GLOBAL and self.authenticated
              and (_m.subtype(c_msg) in GLOBAL_REQUESTS
                   or (_m.subtype(c_msg) == SSH_GLOBAL_REQUEST_UNKNOWN
                       and HAS.other_global_requests))):
            self._on_global_request(c_msg)
        else:  # global requests before authentication, anything new
            if not self.authenticated:
                log.info("%r: request before authentication refused", self)
            else:
                log.debug("%r: global request %d refused", self, _m.subtype(c_msg))
            self._reply_raw(c_msg)

    def _on_global_request(self, c_msg: CData) -> None:
        name = GLOBAL_REQUESTS.get(_m.subtype(c_msg)) or _m.global_request_name(c_msg) or ""
        msg = GlobalRequestMessage(self, c_msg, name)
        log.debug("%r: global request %r", self, msg)
        emit_request(self, "request", msg)  # no listener: refused (forwarding is opt-in)
        if not msg.want_reply and not msg.replied:
            # the client waits for no answer: release it now, keep the fields
            msg._auto = True
            msg._replied = True
            msg._release()

    def _reply_raw(self, c_msg: CData) -> None:
        _m.reply_default(c_msg)
        _m.free(c_msg)

    # -- authentication --------------------------------------------------------------------------

    def _on_auth(self, msg: AuthMessage) -> None:
        if self.authenticated:
            log.debug("%r: authentication request after success ignored", self)
            msg._auto = True  # nothing to answer; later replies by the app are no-ops
            msg._replied = True
            msg._release()
            return
        if not msg.kbdint_response:
            self._auth_requests += 1
        msg._attempt = self._auth_requests
        if not self._auth_mask & _METHOD_BITS.get(msg.subtype, 0):
            # only offered methods reach the application (never "unknown" ones)
            log.debug("%r: auth attempt user=%r method=%s not offered; refused", self,
                      msg.auth_user, msg.subtype)
            msg.reply_default()
            return
        if msg.signature_state in ("wrong", "error"):
            # libssh could not read the key, or the signature did not verify: nothing an
            # application could accept
            log.info("%r: public key refused for user %r: %s", self, msg.auth_user,
                     "bad signature" if msg.signature_state == "wrong"
                     else "the key could not be read")
            msg.reply_default()
            return
        if msg.subtype == "publickey":
            log.debug("%r: auth attempt user=%r method=publickey key=%s %s%s", self,
                      msg.auth_user, msg.public_key.type_name if msg.public_key else "?",
                      msg.public_key.fingerprint() if msg.public_key else "",
                      " (probe)" if msg.is_probe else f" (signature {msg.signature_state})")
        elif msg.subtype == "interactive" and msg.kbdint_response:
            log.debug("%r: auth attempt user=%r keyboard-interactive answers (%d)", self,
                      msg.auth_user, len(msg.answers or ()))
        else:
            log.debug("%r: auth attempt user=%r method=%s", self, msg.auth_user, msg.subtype)
        emit_request(self, "auth", msg)

    def _auth_outcome(self, msg: AuthMessage, outcome: str) -> None:
        """Called by AuthMessage replies: the session's side of authentication (success, the
        attempt limit, logging). Runs under the loop's lock."""
        if outcome == "success":
            self.authenticated = True
            self.auth_user = msg.auth_user
            self.server._authenticated(self)
            log.info("%r: user %r authenticated (%s)", self, msg.auth_user, msg.subtype)
        elif outcome == "failure":
            if msg.subtype == "none" and msg._attempt == 1:
                # as sshd: a first "none" is how clients learn the methods, not an attempt
                log.debug("%r: methods listed for user %r", self, msg.auth_user)
                return
            self.auth_failures += 1
            limit = self.server._options["max_auth_tries"]
            # as sshd: failures are logged from half the limit on, and password failures always
            loud = msg.subtype == "password" or (limit and self.auth_failures >= limit // 2)
            log.log(logging.INFO if loud else logging.DEBUG,
                    "%r: %s authentication failed for user %r (%d/%s)", self, msg.subtype,
                    msg.auth_user, self.auth_failures, limit)
            if limit and self.auth_failures >= limit:
                log.warning("%r: too many authentication failures for user %r; disconnecting",
                            self, msg.auth_user)
                # after the failure reply has gone out, from _process (not inside a reply,
                # which may run in another thread)
                self._must_disconnect = "Too many authentication failures"
                self.kick()
        elif outcome == "pk_ok":
            log.debug("%r: public key acceptable for %r (pk_ok); waiting for its signature",
                      self, msg.auth_user)
        elif outcome == "partial":
            log.info("%r: partial authentication for %r (%s)", self, msg.auth_user, msg.subtype)
        elif outcome == "info":
            log.debug("%r: keyboard-interactive prompts sent to %r", self, msg.auth_user)

    def _auth_reply(self, msg: AuthMessage, send: Callable[[], None], failure: bool) -> None:
        """Send an authentication reply (``send``) now or later: a failure waits for sshd's
        minimum failure time (the server's ``auth_failure_delay``), and any reply decided while
        one waits goes after it, as replies must go in request order. Meanwhile the session
        reads nothing from the client and takes no request."""
        delay = self._failure_wait(msg) if failure else 0.0
        if delay <= 0 and not self._held_replies:
            send()
            return
        due = self._loop.time() + delay
        if self._held_replies:
            due = max(due, self._held_replies[-1][0])
        else:
            self._loop.remove_reader(self._fd)  # the client waits in its socket buffer
        if self._held_replies is None:
            self._held_replies = deque()
        self._held_replies.append((due, send))
        if self._reply_timer is None:
            self._reply_timer = self._loop.call_at(self._held_replies[0][0], self._send_held)

    def _failure_wait(self, msg: AuthMessage) -> float:
        delay = self.server._failure_delay
        if delay is None or msg.subtype == "none":  # "none" checks no secret (as sshd)
            return 0.0
        return delay.remaining(self._loop.time() - msg._arrived, msg.auth_user)

    def _send_held(self) -> None:
        self._reply_timer = None
        if self.closed or self._closing:
            return
        now = self._loop.time()
        while self._held_replies and self._held_replies[0][0] <= now:
            _, send = self._held_replies.popleft()
            try:
                send()
            except Exception:
                log.exception("%r: sending an authentication reply", self)
            if self.closed or self._closing:
                return
        if self._held_replies:
            self._reply_timer = self._loop.call_at(self._held_replies[0][0], self._send_held)
            return
        self._loop.add_reader(self._fd, self._on_ready)
        self.kick()  # requests libssh read meanwhile wait in its queue

    @locked
    def send_banner(self, text: str) -> None:
        """Send the client a banner (SSH_MSG_USERAUTH_BANNER: clients show it before they log
        in), e.g. from the first ``auth`` listener call. Only before authentication succeeds."""
        self._check_open()
        if self.authenticated:
            raise ProtocolError("a banner can only be sent before authentication succeeds")
        _server.send_issue_banner(self._s, str(text))
        self.kick()

    @locked
    def set_auth_methods(self, methods: Iterable[str] | str) -> None:
        """The authentication methods offered to this client from now on, e.g.
        ``["publickey", "password", "keyboard-interactive"]``."""
        mask = auth_method_mask(methods)
        self._check_open()
        self._auth_mask = mask
        _server.set_auth_methods(self._s, mask)

    # -- channels --------------------------------------------------------------------------------

    def _on_channel_open(self, c_msg: CData) -> None:
        kind = _m.subtype(c_msg)
        if not self.authenticated:
            # libssh's packet filter already drops such sessions; never let one through
            log.warning("%r: channel open before authentication refused", self)
            self._reply_raw(c_msg)
            return
        if kind == SSH_CHANNEL_SESSION or kind in OPEN_EVENTS:
            sessions = kind == SSH_CHANNEL_SESSION
            option = "max_sessions" if sessions else "max_forward_channels"
            limit = self.server._options[option]
            if limit is not None and self._client_channels(sessions) >= limit:
                what = "sessions" if sessions else "forwarding channels"
                log.info("%r: channel open refused: %d %s open (%s)", self, limit, what, option)
                _m.open_reply_failure(c_msg, ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED,
                                      f"too many {what}")
                _m.free(c_msg)
                return
        if kind in OPEN_EVENTS:
            msg = ChannelOpenMessage(self, c_msg, OPEN_EVENTS[kind])
            log.debug("%r: channel open %r", self, msg)
            emit_request(self, msg.subtype, msg)  # no listener: refused (forwarding is opt-in)
            return
        if kind == SSH_CHANNEL_SESSION and self.listener_count("session"):
            # the application decides on each session channel (accept() -> ServerChannel)
            msg = SessionOpenMessage(self, c_msg)
            log.debug("%r: channel open %r", self, msg)
            emit_request(self, "session", msg)
            return
        if kind != SSH_CHANNEL_SESSION or not self.listener_count("channel"):
            log.debug("%r: channel open (type %d) refused: %s", self, kind,
                      "no 'channel' listener" if kind == SSH_CHANNEL_SESSION
                      else "only session channels are served")
            self._reply_raw(c_msg)
            return
        c_channel = _m.open_accept(c_msg)
        _m.free(c_msg)
        if c_channel is None:
            log.debug("%r: accepting a channel failed: %s", self, self._error_text())
            return
        channel = self._new_session_channel(c_channel)
        log.debug("%r: channel opened", self)
        try:
            self.emit("channel", channel)
        except Exception:
            log.exception("a 'channel' listener raised; closing that channel")
            channel.close()

    def _client_channels(self, sessions: bool) -> int:
        """Session channels (or forwarding channels) the client opened that are open now or
        wait for the application's answer."""
        count = 0
        for ch in self._channels.values():
            if sessions:
                count += isinstance(ch, ServerChannel)
            else:
                count += isinstance(ch, ForwardChannel) and not isinstance(ch, OutgoingChannel)
        for msg in self._messages:
            if isinstance(msg, ChannelOpenMessage):
                count += isinstance(msg, SessionOpenMessage) == sessions
        return count

    def _new_session_channel(self, c_channel: CData) -> ServerChannel:
        channel = self.channel_class(self, c_channel)
        self._by_channel[channel._key] = channel
        return channel

    # -- channels to the client ------------------------------------------------------------------

    def _open(self, kind: str, info: dict[str, Any], opener: Callable[[Any], int],
              callback: OpenCallback | None) -> OutgoingChannel:
        self._check_open()
        if not self.authenticated:
            raise ChannelError("the client is not authenticated")
        channel = OutgoingChannel(self, kind, info, callback)
        channel._start(opener)
        return channel

    @locked
    def forward_out(self, bound_addr: str, bound_port: int, remote_addr: str, remote_port: int,
                    callback: OpenCallback | None = None) -> OutgoingChannel:
        """Open a ``forwarded-tcpip`` channel to the client for a connection that arrived on a
        port it asked to forward (``bound_addr``/``bound_port`` as in its ``tcpip-forward``, the
        port actually bound when it asked for 0) from ``remote_addr``:``remote_port``.
        ``callback(err, channel)`` runs once the client answered. Returns the channel (writes
        are queued until it is open)."""
        info = {"bound_addr": bound_addr, "bound_port": bound_port, "remote_addr": remote_addr,
                "remote_port": remote_port}
        return self._open("forwarded-tcpip", info, forwarded_tcpip_opener(
            bound_addr, bound_port, remote_addr, remote_port), callback)

    @locked
    def forward_out_streamlocal(self, socket_path: str, callback: OpenCallback | None = None
                                ) -> OutgoingChannel:
        """Open a ``forwarded-streamlocal@openssh.com`` channel for a connection that arrived
        on a UNIX socket the client asked to forward (``socket_path`` as it asked). Raises
        :class:`~pylibssh.errors.UnsupportedError` in a build without streamlocal forwarding
        (a system libssh), where no client can have asked for it."""
        if not HAS.streamlocal:
            raise UnsupportedError(unsupported("streamlocal", "forwarded-streamlocal channels"))
        return self._open("forwarded-streamlocal@openssh.com", {"socket_path": socket_path},
                          forwarded_streamlocal_opener(socket_path), callback)

    @locked
    def x11(self, origin_addr: str, origin_port: int, callback: OpenCallback | None = None
            ) -> OutgoingChannel:
        """Open an ``x11`` channel (after the client's ``x11`` request was accepted): the client
        connects it to its X display."""
        return self._open("x11", {"origin_addr": origin_addr, "origin_port": origin_port},
                          x11_opener(origin_addr, origin_port), callback)

    @locked
    def open_agent(self, callback: OpenCallback | None = None) -> OutgoingChannel:
        """Open an ``auth-agent@openssh.com`` channel to the client's ssh-agent; only after a
        channel accepted agent forwarding (an ``auth-agent`` listener, see ServerChannel)."""
        if not self.agent_forwarding:
            raise ChannelError("the client did not forward its agent (or it was not accepted)")
        return self._open("auth-agent@openssh.com", {}, agent_opener(), callback)

    def _on_channel_request(self, c_msg: CData) -> None:
        channel = self._by_channel.get(_ch.address(_m.request_channel(c_msg)))
        if channel is None or channel.closed:
            # a channel this side already let go of: nothing to answer on
            _m.free(c_msg)
            return
        kind = _m.subtype(c_msg)
        event = CHANNEL_REQUEST_EVENTS.get(kind)
        if event is None:
            log.debug("%r: unknown channel request refused", self)
            self._reply_raw(c_msg)
            return
        msg = ChannelRequestMessage(channel, c_msg, event)
        log.debug("%r: channel request %r", self, msg)
        if event == "windowchange":
            channel._window_changed(msg)
        emit_request(channel, event, msg)
        if not msg.want_reply and not msg.replied:
            # nobody can answer a request that wants no answer: release it now, keep the fields
            msg._auto = True
            msg._replied = True
            msg._release()

    def _on_disconnect(self, status: int) -> None:
        # the connection ended without the client's DISCONNECT (killed, reset, lost): tell the
        # application through 'error' before 'close'; a client that said goodbye is no error
        if status & SSH_CLOSED_ERROR and self.listener_count("error"):
            message = self._error_text()
            if message and not message.startswith("Received SSH_MSG_DISCONNECT"):
                try:
                    self.emit("error", DisconnectedError(message))
                except Exception:
                    log.exception("an 'error' listener raised")
        super()._on_disconnect(status)

    def _forget_channel(self, channel: Channel) -> None:
        super()._forget_channel(channel)
        key = getattr(channel, "_key", None)
        if key is not None and self._by_channel.get(key) is channel:
            del self._by_channel[key]

    # -- limits ----------------------------------------------------------------------------------

    def _grace_over(self) -> None:
        if not self.authenticated and not self.closed:
            log.warning("%r: not authenticated within the login grace time (%ss); disconnecting",
                        self, self.server._options["login_grace_time"])
            self._disconnect("Login grace time exceeded")

    def _check_idle(self) -> None:
        if self.closed:
            return
        limit = self.server._options["idle_timeout"]
        remaining = self._last_activity + limit - self._loop.time()
        if remaining > 0:
            self._timers.append(self._loop.call_later(remaining, self._check_idle))
            self._timers = [t for t in self._timers if not t.cancelled]
            return
        log.info("%r: idle for %ss; disconnecting", self, limit)
        self._disconnect("Idle timeout")

    def kick(self) -> None:
        self._last_activity = self._loop.time()  # output the application produced is activity
        super().kick()

    def _disconnect(self, reason: str) -> None:
        if self.closed or self._closing:
            return
        _server.set_disconnect_message(self._s, reason)
        self._teardown(send_disconnect=True)

    # -- ending ----------------------------------------------------------------------------------

    def close(self, timeout: float | None = 2.0) -> None:
        """Close the session cleanly: each channel is closed after its queued output, then the
        session disconnects once the client has gone (a client whose channels are closed
        usually leaves at once), at the latest after ``timeout`` seconds; ``close`` is emitted
        then. ``timeout=None`` or 0 disconnects now (what the client has not read yet may be
        lost). Idempotent; safe from any thread."""
        with self._loop.lock:
            if self._closed or self._closing:
                return
            channels = [ch for ch in self._channels.values() if not ch.closed]
            if not timeout or not channels:
                self._teardown(send_disconnect=True)  # also cuts a clean close short
            elif not self._shutting_down:
                self._shutting_down = True
                log.debug("%r: closing %d channel(s), then disconnecting", self, len(channels))
                for channel in channels:
                    try:
                        channel.close()
                    except Exception:
                        log.debug("closing %r", channel, exc_info=True)
                self._timers.append(self._loop.call_later(timeout, self._disconnect, "Bye Bye"))
        if not self._loop.in_loop_thread():
            self._loop.wakeup()

    def _before_teardown(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None
        self._held_replies = None  # their messages are freed below, unanswered
        # queued messages go before channels and the session (their replies would use both)
        for msg in list(self._messages):
            msg._discard()
        self._messages.clear()

    def _teardown(self, send_disconnect: bool) -> None:
        if self._closed or self._closing:
            return
        super()._teardown(send_disconnect)
        self._by_channel.clear()
        _live.dec("sessions")
        self.server._session_closed(self)
        log.debug("%r: closed", self)

    def _given_descriptor(self) -> int:
        # the accepted socket is the session's SSH_OPTIONS_FD (_binding.server.accept_fd),
        # registered by _start: its number serves (no attribute more per session)
        return self._fd

    def _error_text(self) -> str:
        return "" if self._s == NULL else error_from(self._s).message

    # -- information -----------------------------------------------------------------------------

    @property
    def client_banner(self) -> str | None:
        """The client's version banner (``SSH-2.0-OpenSSH_9.2p1``...), None before it arrives or
        once closed."""
        return None if self._closed else _server.client_banner(self._s)

    def __repr__(self) -> str:
        addr = self.remote_address
        where = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else addr
        return f"<ServerSession {where}{' ' + self.auth_user if self.auth_user else ''}>"
