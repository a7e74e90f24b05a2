"""Channels the server opens to the client: ``forwarded-tcpip`` (remote forwarding),
``forwarded-streamlocal@openssh.com``, ``x11`` and ``auth-agent@openssh.com``.

libssh queues each such open as an ``ssh_message`` (the client installs no libssh callbacks for
them, whose answer would have to be given inside libssh). After each poll
:meth:`Incoming.take_messages` takes them and hands each, as a :class:`ChannelOpenRequest`, to
the handler registered for its kind; with none, it is refused. A request is answered once,
any time later (a handler may first connect somewhere), and freed exactly once: at the answer
or when the session goes.

libssh does not parse a ``forwarded-streamlocal`` open (it reports an unknown channel type
without the socket path): a packet handler of pylibssh's (csrc/pylibssh_client.c) queues it with
its socket path, so that each remote UNIX-socket forward gets its own connections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._binding import HAS, CData
from .._binding import client as client_api
from .._binding.constants import (
    PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL,
    SSH_CHANNEL_AUTH_AGENT,
    SSH_CHANNEL_FORWARDED_TCPIP,
    SSH_CHANNEL_UNKNOWN,
    SSH_CHANNEL_X11,
)
from .._channel import Channel
from ..errors import AlreadyRepliedError, ChannelOpenError, error_from

if TYPE_CHECKING:
    from .session import ClientSession

log = logging.getLogger("pylibssh.client")

FORWARDED_TCPIP = "forwarded-tcpip"
FORWARDED_STREAMLOCAL = "forwarded-streamlocal@openssh.com"
X11 = "x11"
AUTH_AGENT = "auth-agent@openssh.com"

_KINDS = {
    SSH_CHANNEL_FORWARDED_TCPIP: FORWARDED_TCPIP,
    SSH_CHANNEL_X11: X11,
    SSH_CHANNEL_AUTH_AGENT: AUTH_AGENT,
    PYLIBSSH_CHANNEL_FORWARDED_STREAMLOCAL: FORWARDED_STREAMLOCAL,
    SSH_CHANNEL_UNKNOWN: FORWARDED_STREAMLOCAL,  # a build without the packet handler
}


class ChannelOpenRequest:
    """A channel the server wants to open. Answer with :meth:`accept` (a paused
    :class:`~pylibssh._channel.Channel`: attach listeners, then ``resume()``; or hand it to
    :class:`~pylibssh.bridge.Bridge`) or :meth:`reject`. Any thread, any time, once."""

    def __init__(self, session: ClientSession, c_msg: CData, kind: str):
        self._session = session
        self._loop = session._loop
        self._msg = c_msg
        self.kind = kind
        #: where the server accepted the connection (forwarded-tcpip): its listen address/port
        self.dest_host = ""
        self.dest_port = 0
        #: the server's socket path that was connected to (forwarded-streamlocal)
        self.socket_path = ""
        #: who connected (forwarded-tcpip, x11)
        self.orig_host, self.orig_port, dest, dest_port = client_api.channel_open_fields(c_msg)
        if kind == FORWARDED_TCPIP:
            self.dest_host, self.dest_port = dest, dest_port
        elif kind == FORWARDED_STREAMLOCAL:
            self.socket_path = dest

    @property
    def answered(self) -> bool:
        """Whether the request was accepted or refused."""
        return self._msg is None

    def _take(self) -> CData:
        if self._msg is None:
            raise AlreadyRepliedError("this channel open request was already answered")
        msg, self._msg = self._msg, None
        self._session._incoming.pending.discard(self)
        return msg

    def accept(self) -> Channel:
        """Open the channel; it is returned paused (nothing is lost before listeners attach)."""
        with self._loop.lock:
            msg = self._take()
            try:
                self._session._check_open()
            except BaseException:
                client_api.free_message(msg)
                raise
            c = client_api.accept_channel_open(msg)  # (frees msg)
            if c is None:
                raise error_from(self._session._s, f"accepting a {self.kind} channel",
                                 ChannelOpenError)
            channel = Channel(self._session, c)
            channel._paused = True
            self._session.kick()
        self._loop.wakeup()
        return channel

    def reject(self) -> None:
        """Refuse the channel (the server sees "administratively prohibited")."""
        with self._loop.lock:
            msg = self._take()
            client_api.refuse_message(msg, reply=not self._session.closed)
            if not self._session.closed:
                self._session.kick()
        self._loop.wakeup()

    def _drop(self) -> None:
        """The session is going: free without an answer."""
        if self._msg is not None:
            msg, self._msg = self._msg, None
            client_api.free_message(msg)

    def __repr__(self) -> str:
        where = (f" {self.dest_host}:{self.dest_port}" if self.kind == FORWARDED_TCPIP
                 else f" {self.socket_path}" if self.socket_path else "")
        return f"<ChannelOpenRequest {self.kind}{where} from {self.orig_host}:{self.orig_port}>"


Handler = Callable[[ChannelOpenRequest], Any]


class Incoming:
    """Per session: the handlers by channel kind and the requests not answered yet."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Handler]] = {}
        self.pending: set[ChannelOpenRequest] = set()

    def add_handler(self, kind: str, handler: Handler) -> None:
        """Call ``handler(request)`` for each channel open of ``kind`` the server sends (in order
        of registration; the first that answers wins)."""
        self.handlers.setdefault(kind, []).append(handler)

    def remove_handler(self, kind: str, handler: Handler) -> None:
        """Remove a handler added with :meth:`add_handler` (unknown ones are ignored)."""
        handlers = self.handlers.get(kind, [])
        if handler in handlers:
            handlers.remove(handler)

    def take_messages(self, s: ClientSession) -> None:
        """Take what libssh queued for session ``s`` (after a poll, loop lock held); never
        blocks. (The session is an argument, not an attribute: the session holds this
        object, and a cycle would leave each session to the garbage collector.)"""
        while not s._closed:
            if HAS.message_peek and client_api.has_messages(s._s) == 0:
                return  # ssh_message_get would poll the socket for nothing
            queued = client_api.next_message(s._s)
            if queued is None:
                return
            msg, subtype = queued
            if subtype < 0:
                # global requests (hostkeys-00@openssh.com...) and anything else: libssh's
                # default answer (a failure, when a reply is wanted)
                client_api.refuse_message(msg)
                continue
            kind = _KINDS.get(subtype)
            handlers = self.handlers.get(kind or "", [])
            if not handlers:
                log.debug("refusing a %s channel nobody asked for", kind)
                client_api.refuse_message(msg)
                continue
            request = ChannelOpenRequest(s, msg, kind)  # type: ignore[arg-type]
            self.pending.add(request)
            s.defer(self._dispatch, request, list(handlers))

    def _dispatch(self, request: ChannelOpenRequest, handlers: list[Handler]) -> None:
        for handler in handlers:
            if request.answered:
                return
            try:
                if handler(request) is False:
                    continue  # not this handler's (another remote forward's port)
            except Exception:
                log.exception("unhandled exception in a %s channel handler", request.kind)
                if not request.answered:
                    request.reject()
                return
            return
        if not request.answered:
            request.reject()

    def close(self) -> None:
        """Refuse the requests still waiting and forget the handlers."""
        pending, self.pending = self.pending, set()
        for request in pending:
            request._drop()
        self.handlers.clear()
