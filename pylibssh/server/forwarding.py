"""Forwarding on the server side: the requests a client makes and the channels the server opens.

Session events (ssh2's names):

* ``tcpip`` — a ``direct-tcpip`` channel open (``ssh -L``, ``-D``, ``-W``): a
  :class:`ChannelOpenMessage` with ``src_ip``, ``src_port``, ``dest_ip``, ``dest_port``;
  :meth:`~ChannelOpenMessage.accept` returns the duplex :class:`ForwardChannel`,
  :meth:`~ChannelOpenMessage.reject` refuses it with a reason.
* ``openssh.streamlocal`` — a ``direct-streamlocal@openssh.com`` open (``ssh -L`` to a UNIX
  socket): the same message with ``socket_path``.
* ``request`` — a global request: a :class:`GlobalRequestMessage` whose ``name`` is
  ``tcpip-forward``, ``cancel-tcpip-forward`` (``bind_addr``, ``bind_port``),
  ``streamlocal-forward@openssh.com`` or ``cancel-streamlocal-forward@openssh.com``
  (``socket_path``); :meth:`~GlobalRequestMessage.accept` (with the bound port when the client
  asked for port 0) or :meth:`~GlobalRequestMessage.reject`.

Nothing is forwarded unless the application says so: with no listener every such request is
refused, and before authentication the session refuses them whatever the listeners.

Channels the server opens to the client (:class:`OutgoingChannel`, through the session's
``forward_out``, ``forward_out_streamlocal``, ``x11`` and ``open_agent``): the callback gets
``(None, channel)`` once the client confirmed, or ``(error, None)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._binding import CData
from .._binding import channel as _ch
from .._binding import messages as _m
from .._binding.constants import (
    PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL,
    PYLIBSSH_GLOBAL_REQUEST_CANCEL_STREAMLOCAL_FORWARD,
    PYLIBSSH_GLOBAL_REQUEST_STREAMLOCAL_FORWARD,
    SSH_AGAIN,
    SSH_CHANNEL_DIRECT_TCPIP,
    SSH_ERROR,
    SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD,
    SSH_GLOBAL_REQUEST_TCPIP_FORWARD,
    SSH_OK,
)
from .._channel import Channel
from ..errors import ChannelError, ChannelOpenFailure, error_from
from ..loop import locked
from . import _live
from .messages import Message

if TYPE_CHECKING:
    from .session import ServerSession

__all__ = [
    "ChannelOpenMessage",
    "GlobalRequestMessage",
    "ForwardChannel",
    "OutgoingChannel",
    "OPEN_FAILURE_REASONS",
]

log = logging.getLogger("pylibssh.server")

# RFC 4254 5.1 reason codes by ssh2's names (a view of errors.ChannelOpenFailure)
OPEN_FAILURE_REASONS = {reason.short_name: int(reason) for reason in ChannelOpenFailure}

# channel-open subtypes -> session events
OPEN_EVENTS: dict[int, str] = {
    SSH_CHANNEL_DIRECT_TCPIP: "tcpip",
    PYLIBSSH_CHANNEL_DIRECT_STREAMLOCAL: "openssh.streamlocal",
}

# global request subtypes -> their names on the wire
GLOBAL_REQUESTS = {
    SSH_GLOBAL_REQUEST_TCPIP_FORWARD: "tcpip-forward",
    SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD: "cancel-tcpip-forward",
    PYLIBSSH_GLOBAL_REQUEST_STREAMLOCAL_FORWARD: "streamlocal-forward@openssh.com",
    PYLIBSSH_GLOBAL_REQUEST_CANCEL_STREAMLOCAL_FORWARD:
        "cancel-streamlocal-forward@openssh.com",
}
_FORWARD_REQUESTS = frozenset(GLOBAL_REQUESTS.values())


class ForwardChannel(Channel):
    """A forwarding channel (``direct-tcpip``, ``direct-streamlocal``, or one the server opened):
    a plain duplex stream — ``write``/``end``/``close``, ``pause``/``resume``, events ``data``,
    ``end``, ``drain``, ``close``. ``kind`` names the channel type, ``info`` its addresses."""

    def __init__(self, session: ServerSession, c_channel: CData, kind: str, info: dict[str, Any]):
        super().__init__(session, c_channel)
        self.kind = kind
        self.info = info
        _live.inc("channels")

    def _free(self, session_gone: bool) -> None:
        if not self._closed:
            _live.dec("channels")
        super()._free(session_gone)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.kind} {state}>"


class ChannelOpenMessage(Message):
    """A client's request to open a forwarding channel (events ``tcpip`` and
    ``openssh.streamlocal``). ``subtype`` is the event name; ``channel_type`` the SSH type."""

    type = "channel-open"

    src_ip: str | None = None
    src_port: int | None = None
    dest_ip: str | None = None
    dest_port: int | None = None
    socket_path: str | None = None

    def __init__(self, session: ServerSession, c_msg: CData, subtype: str):
        super().__init__(session, c_msg)
        self.subtype = subtype
        if subtype == "tcpip":
            self.channel_type = "direct-tcpip"
            self.dest_ip, self.dest_port = _m.open_destination(c_msg)
            self.src_ip, self.src_port = _m.open_originator(c_msg)
        else:
            self.channel_type = "direct-streamlocal@openssh.com"
            self.socket_path = _m.open_destination(c_msg)[0]

    @property
    def info(self) -> dict[str, Any]:
        """node-libssh's ``info`` of the open request: ``src_ip``, ``src_port``, ``dest_ip``,
        ``dest_port`` for a ``direct-tcpip`` channel, ``socket_path`` for ``direct-
        streamlocal@openssh.com``."""
        if self.subtype == "tcpip":
            return {"src_ip": self.src_ip, "src_port": self.src_port, "dest_ip": self.dest_ip,
                    "dest_port": self.dest_port}
        return {"socket_path": self.socket_path}

    @locked
    def accept(self) -> ForwardChannel:
        """Open the channel; returns it (a :class:`ForwardChannel`). Listen for ``data`` (or
        :meth:`~pylibssh._channel.Channel.pause`) before the loop runs again."""
        if not self._begin_reply():
            raise ChannelError("this channel open needs no reply")
        c_channel = _m.open_accept(self._msg)
        if c_channel is None:
            err = error_from(self._session._s, "accepting the channel", ChannelError)
            self._sent(SSH_ERROR, "accept")
            raise err
        channel = ForwardChannel(self._session, c_channel, self.channel_type, self.info)
        self._sent(SSH_OK, "accept")
        return channel

    @locked
    def reject(self, reason: str | int = "prohibited", description: str = "") -> None:
        """Refuse the channel with an RFC 4254 reason: ``prohibited``, ``connect-failed``,
        ``unknown-channel-type``, ``resource-shortage``, a
        :class:`~pylibssh.errors.ChannelOpenFailure` or its number, and a description the
        client shows (OpenSSH prints it). Raises ``ValueError`` for an unknown reason. A build
        without ``HAS.open_failure_reason`` (a system libssh) sends libssh's own refusal
        (administratively prohibited) whatever the reason."""
        code = ChannelOpenFailure.lookup(reason)
        if not self._begin_reply():
            return
        self._sent(_m.open_reply_failure(self._msg, int(code), description), "open failure")

    reply_default = reject  # the protocol's default answer: refused ("prohibited")

    def __repr__(self) -> str:
        state = "replied" if self.replied else "pending"
        where = (f"{self.dest_ip}:{self.dest_port}" if self.subtype == "tcpip"
                 else self.socket_path)
        return f"<ChannelOpenMessage {self.subtype} {where} {state}>"


class GlobalRequestMessage(Message):
    """A global request (session event ``request``): ``name`` is ``tcpip-forward``,
    ``cancel-tcpip-forward``, ``streamlocal-forward@openssh.com`` or
    ``cancel-streamlocal-forward@openssh.com`` with ``bind_addr``/``bind_port`` (TCP) or
    ``socket_path`` (UNIX); or the name of a request neither libssh nor pylibssh implements, with
    its fields after ``want_reply`` unparsed in ``data`` (``accept(data=...)`` answers with
    request-specific data). ``want_reply``: whether the client waits for the answer."""

    type = "global-request"

    bind_addr: str | None = None
    bind_port: int | None = None
    socket_path: str | None = None
    #: the fields of a request pylibssh does not parse (None for the forwarding requests)
    data: bytes | None = None

    def __init__(self, session: ServerSession, c_msg: CData, name: str):
        super().__init__(session, c_msg)
        self.name = self.subtype = name
        self.want_reply = _m.want_reply(c_msg)
        if name not in _FORWARD_REQUESTS:
            self.data = _m.global_request_data(c_msg)
            return
        address, port = _m.global_request_address(c_msg)
        if "streamlocal" in name:
            self.socket_path = address
        else:
            self.bind_addr = address
            self.bind_port = port

    @property
    def info(self) -> dict[str, Any]:
        """node-libssh's ``info`` of the request: ``bind_addr`` and ``bind_port`` for ``tcpip-
        forward`` and its cancel, ``socket_path`` for the ``streamlocal-forward@openssh.com``
        pair, ``data`` for any other request."""
        if self.socket_path is not None:
            return {"socket_path": self.socket_path}
        if self.data is not None:
            return {"data": self.data}
        return {"bind_addr": self.bind_addr, "bind_port": self.bind_port}

    @locked
    def accept(self, port: int | None = None, data: bytes | None = None) -> None:
        """Grant the request. For ``tcpip-forward`` with port 0, ``port`` is the port actually
        bound, which the client learns (``ssh -R 0:...`` prints it). For a request of another
        kind, ``data`` (already encoded, default none) follows the success message. Raises
        ValueError for a port out of range, or ``data`` given for a forwarding request."""
        if self.data is None and data is not None:
            raise ValueError(f"a {self.name} reply carries no data")
        if port is not None and not 0 <= int(port) <= 65535:
            raise ValueError(f"bad port {port}")
        if not self._begin_reply():
            return
        if self.data is not None:
            body = bytes(data or b"")
            rc = _m.global_request_reply_data(self._msg, body)
        else:
            rc = _m.global_request_reply_success(
                self._msg, int(port if port is not None else self.bind_port or 0))
        self._sent(rc, "success")

    @locked
    def reject(self) -> None:
        """Refuse the request."""
        if self._begin_reply():
            self._sent(_m.reply_default(self._msg), "failure")

    reply_success = accept
    reply_default = reject

    def __repr__(self) -> str:
        state = "replied" if self.replied else "pending"
        if self.data is not None:
            where = f"{len(self.data)} bytes"
        elif self.socket_path is not None:
            where = self.socket_path
        else:
            where = f"{self.bind_addr}:{self.bind_port}"
        return f"<GlobalRequestMessage {self.name} {where} {state}>"


OpenCallback = Callable[[BaseException | None, "OutgoingChannel | None"], Any]


class OutgoingChannel(ForwardChannel):
    """A channel the server opens to the client (``forwarded-tcpip``,
    ``forwarded-streamlocal@openssh.com``, ``x11``, ``auth-agent@openssh.com``). Until the client
    confirms, writes are queued; the open callback says how it went."""

    def __init__(self, session: ServerSession, kind: str, info: dict[str, Any],
                 callback: OpenCallback | None):
        c_channel = _ch.new(session._s)
        if c_channel is None:
            raise error_from(session._s, "ssh_channel_new", ChannelError)
        try:
            super().__init__(session, c_channel, kind, info)
        except BaseException:
            _ch.free(c_channel)
            raise
        self._callback = callback
        self.opened = False

    def _start(self, opener: Callable[[Any], int]) -> None:
        rc = opener(self._ch)
        if rc == SSH_OK:  # confirmed already (the open's own poll read the answer)
            self._session.defer(self._on_open_response, True)
        elif rc != SSH_AGAIN:
            err = error_from(self._session._s, f"opening a {self.kind} channel", ChannelError)
            self._session.defer(self._report, err)
        self._session.kick()

    def _flush(self) -> None:
        if self.opened:
            super()._flush()

    def _on_open_response(self, ok: bool) -> None:
        if self._closed or self.opened:
            return
        if ok:
            self.opened = True
            log.debug("%r: %s channel opened", self._session, self.kind)
            self._report(None)
            if not self._closed:
                self._flush()
                self._session.kick()
        else:
            err = error_from(self._session._s, f"the client refused the {self.kind} channel",
                             ChannelError)
            self._report(err)

    def _report(self, err: BaseException | None) -> None:
        callback, self._callback = self._callback, None
        if err is not None and not self._closed:
            self._free(session_gone=False)
        if callback is not None:
            try:
                callback(err, None if err is not None else self)
            except Exception:
                log.exception("an open callback raised")
                if err is None:
                    self.close()

    def _free(self, session_gone: bool) -> None:
        callback, self._callback = self._callback, None
        super()._free(session_gone)
        if callback is not None:  # the session went away while opening
            try:
                callback(ChannelError("the session closed before the channel opened"), None)
            except Exception:
                log.exception("an open callback raised")


def forwarded_tcpip_opener(bound_addr: str, bound_port: int, origin_addr: str,
                           origin_port: int) -> Callable[[Any], int]:
    """How to open a ``forwarded-tcpip`` channel (a connection to a port the client asked the server
    to listen on, ``ssh -R``): the listening address and port, and where the connection came
    from. Used with :class:`OutgoingChannel`."""
    return lambda ch: _m.open_forwarded_tcpip(ch, bound_addr, bound_port, origin_addr,
                                              origin_port)


def forwarded_streamlocal_opener(socket_path: str) -> Callable[[Any], int]:
    """How to open a ``forwarded-streamlocal@openssh.com`` channel (a connection to a UNIX socket
    the client asked the server to listen on) for ``socket_path``. Used with
    :class:`OutgoingChannel`; needs the vendored libssh (pylibssh's C glue sends the open)."""
    path = socket_path.encode("utf-8", "surrogateescape")
    return lambda ch: _m.open_forwarded_streamlocal(ch, path)


def x11_opener(origin_addr: str, origin_port: int) -> Callable[[Any], int]:
    """How to open an ``x11`` channel to the client (a connection to the forwarded X display) from
    ``origin_addr``/``origin_port``. Used with :class:`OutgoingChannel`."""
    return lambda ch: _m.open_x11(ch, origin_addr, origin_port)


def agent_opener() -> Callable[[Any], int]:
    """How to open an ``auth-agent@openssh.com`` channel to the client (a connection to its
    forwarded ssh-agent). Used with :class:`OutgoingChannel`."""
    return _m.open_auth_agent
