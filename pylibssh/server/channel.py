"""A server-side session channel: the core :class:`~pylibssh._channel.Channel` plus the requests a
client makes on it.

Events, node-libssh's names: ``exec``, ``shell``, ``pty``, ``env``, ``windowchange``,
``subsystem``, ``x11`` (each with a :class:`~pylibssh.server.messages.ChannelRequestMessage` to
answer), ``signal`` (a signal name such as ``"INT"``), ``data`` (bytes, is_stderr), ``end`` (the
client sent EOF), ``drain``, ``close``, ``auth-agent`` (the client forwarded its agent; no
arguments).

Agent forwarding: libssh answers ``auth-agent-req@openssh.com`` itself, with success exactly when
the channel has an agent callback. pylibssh registers one when the application listens for
``auth-agent`` (before the client asks: in the ``channel`` listener), so a channel without such a
listener refuses agent forwarding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, overload

from .._binding import NULL, CData
from .._binding import channel as _ch
from .._binding import sftp_server as _sftp
from .._binding.callbacks import new_agent_request_callbacks
from .._channel import Channel
from ..errors import ChannelError
from ..events import Listener, ListenerT
from ..loop import locked
from . import _live
from .messages import CHANNEL_REQUEST_EVENTS, ChannelRequestMessage, PtyInfo
from .sftp import SFTP_EVENTS, SFTPServer

if TYPE_CHECKING:
    from typing_extensions import Self

    from .session import ServerSession


class ServerChannel(Channel):
    """A channel a client opened on a :class:`~pylibssh.server.ServerSession`.

    Besides the duplex stream (``write``, ``write_stderr``, ``end``, ``send_eof``,
    ``send_exit_status``, ``send_exit_signal``, ``close``, ``pause``/``resume``) it remembers what
    was granted: ``pty`` (a :class:`PtyInfo`, kept current by window changes), ``env`` (accepted
    variables), ``exec_command``, ``subsystem``, ``shell``.

    Input sent before an ``exec``, ``shell`` or ``subsystem`` request is accepted waits in the
    SSH window (the channel starts paused); accepting one of them resumes the channel, and from
    then on input is emitted as ``data`` as it arrives: listen for it before accepting (or
    :meth:`pause`), since data nobody listens to is not kept. ``message.sftp_accept()`` on a
    ``subsystem`` request switches the channel to SFTP instead (``sftp:*`` events,
    :mod:`pylibssh.server.sftp`).
    """

    events: ClassVar[frozenset[str]] = Channel.events | {
        "auth-agent", "sftpmessage", *CHANNEL_REQUEST_EVENTS.values(),
        *("sftp:" + name for name in SFTP_EVENTS)}
    _session: ServerSession

    def __init__(self, session: ServerSession, c_channel: CData):
        super().__init__(session, c_channel)
        self._key = _ch.address(c_channel)
        self._requests: set[ChannelRequestMessage] = set()
        self.pty: PtyInfo | None = None
        self.env: dict[str, str] = {}
        self.exec_command: str | None = None
        self.subsystem: str | None = None
        self.shell = False
        # counts complete SFTP packets in libssh's buffer; registered in front of the Python
        # callbacks from the start, because a client may send SFTP's INIT together with its
        # subsystem request (the channel is paused then, so the bytes stay in libssh)
        self._sftp_counter = _sftp.new_counter()
        _ch.set_callbacks(c_channel, _sftp.counter_callbacks(self._sftp_counter))
        self.sftp: SFTPServer | None = None
        self._paused = True  # until a request that starts the exchange is accepted
        self._held_until_start = True  # cleared when the application pauses or resumes itself
        self.agent_forwarded = False
        self._agent_cb = None
        _live.inc("channels")

    @overload
    def on(self, event: str) -> Callable[[ListenerT], ListenerT]: ...
    @overload
    def on(self, event: str, listener: Listener) -> Self: ...

    def on(self, event: str, listener: Listener | None = None
           ) -> Callable[[ListenerT], ListenerT] | Self:
        if listener is None:
            return super().on(event)  # the decorator comes back here with the listener
        if event == "auth-agent":
            self._accept_agent_requests()
        return super().on(event, listener)

    add_listener = on

    def _accept_agent_requests(self) -> None:
        with self._loop.lock:
            if self._agent_cb is None and not self._closed:
                cb = new_agent_request_callbacks(self._handle)
                if _ch.add_callbacks(self._ch, cb):
                    self._agent_cb = cb  # libssh keeps a pointer: keep it until the free

    def _agent_requested(self) -> None:
        self.agent_forwarded = True
        self._session.agent_forwarding = True

    def _on_auth_agent_req(self) -> None:
        self._emit_safely("auth-agent")

    @property
    def pending_requests(self) -> list[ChannelRequestMessage]:
        """The channel requests (exec, pty, env, ...) that arrived and have no reply yet, oldest
        first; each is answered with its ``reply_*`` methods, or gets its default reply when the
        channel closes."""
        return list(self._requests)

    def _request_accepted(self, msg: ChannelRequestMessage) -> None:
        kind = msg.subtype
        if kind == "pty":
            self.pty = msg.pty
        elif kind == "env" and msg.env_name is not None:
            self.env[msg.env_name] = msg.env_value or ""
        elif kind == "exec":
            self.exec_command = msg.exec_command
            self._started()
        elif kind == "subsystem":
            self.subsystem = msg.subsystem_name
            if self.sftp is None:
                self._started()
        elif kind == "shell":
            self.shell = True
            self._started()

    def _started(self) -> None:
        if self._held_until_start:
            self._held_until_start = False
            super().resume()

    @locked
    def pause(self) -> None:
        self._held_until_start = False  # the application decides from now on
        super().pause()

    @locked
    def resume(self) -> None:
        self._held_until_start = False
        super().resume()

    def _start_sftp(self) -> SFTPServer:
        """Switch to SFTP (``ChannelRequestMessage.sftp_accept``): requests are pulled from
        libssh by the SFTP server; the channel itself stays paused and emits no ``data``."""
        if self.sftp is not None:
            raise ChannelError("this channel already runs SFTP")
        if self.exec_command is not None or self.shell or self.subsystem is not None:
            raise ChannelError("this channel already runs a command, shell or subsystem")
        self.sftp = SFTPServer(self)
        # the SFTP server pulls requests itself: a Python call per data packet would be waste
        _ch.drop_data_callback(self._cb)
        self._paused = True
        self._held_until_start = False
        self._session._sftp_servers.add(self.sftp)
        self._session.kick()  # the INIT may be waiting already
        return self.sftp

    # in SFTP mode EOF and close come from libssh while the channel is paused: hand them over

    def _on_eof(self) -> None:
        if self.sftp is not None:
            self.eof_received = True
            self._emit_safely("end")
            self.sftp._on_client_eof()
            return
        super()._on_eof()

    def _on_remote_close(self) -> None:
        if self.sftp is not None or self._held_until_start:
            # nothing is held for the application: in SFTP mode libssh's bytes are requests;
            # before any start request, no one could ever read them
            self._paused = False
        super()._on_remote_close()

    def _c_write_wontblock(self, nbytes: int) -> None:
        if self.sftp is not None and self.sftp._held_back():
            self._session.defer(self.sftp._pump)
        super()._c_write_wontblock(nbytes)

    def _window_changed(self, msg: ChannelRequestMessage) -> None:
        if self.pty is not None:
            self.pty = self.pty._replace(cols=msg.cols or 0, rows=msg.rows or 0,
                                         pixel_width=msg.pixel_width or 0,
                                         pixel_height=msg.pixel_height or 0)

    def _free(self, session_gone: bool) -> None:
        if self._closed:
            return
        # a pending request's reply would use the libssh channel: free those messages first
        for msg in list(self._requests):
            msg._discard()
        self._requests.clear()
        if self.sftp is not None:
            # the sftp session and its messages go before the channel they write to
            self._session._sftp_servers.discard(self.sftp)
            self.sftp._free()
        if self._ch != NULL and (not session_gone or self._session._s != NULL):
            # libssh may keep a freed channel until the client's CLOSE: it must not call us
            _ch.remove_callbacks(self._ch, _sftp.counter_callbacks(self._sftp_counter))
        _live.dec("channels")
        super()._free(session_gone)
        self._agent_cb = None  # ssh_channel_free dropped libssh's pointer to it
