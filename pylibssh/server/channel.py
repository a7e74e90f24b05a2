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

from typing import TYPE_CHECKING

from typing import Any

from .._binding import ffi, lib
from .._callbacks import new_agent_request_callbacks
from .._channel import Channel
from . import _live
from .messages import ChannelRequestMessage, PtyInfo

if TYPE_CHECKING:
    from .session import ServerSession


class ServerChannel(Channel):
    """A channel a client opened on a :class:`~pylibssh.server.ServerSession`.

    Besides the duplex stream (``write``, ``write_stderr``, ``end``, ``send_eof``,
    ``send_exit_status``, ``send_exit_signal``, ``close``, ``pause``/``resume``) it remembers what
    was granted: ``pty`` (a :class:`PtyInfo`, kept current by window changes), ``env`` (accepted
    variables), ``exec_command``, ``subsystem``, ``shell``.

    Input is emitted as ``data`` as it arrives: listen for it before answering the request that
    starts the exchange (or :meth:`pause` until you do; paused input waits in the SSH window),
    since data nobody listens to is not kept.
    """

    def __init__(self, session: ServerSession, c_channel):
        super().__init__(session, c_channel)
        self._key = int(ffi.cast("uintptr_t", c_channel))
        self._requests: set[ChannelRequestMessage] = set()
        self.pty: PtyInfo | None = None
        self.env: dict[str, str] = {}
        self.exec_command: str | None = None
        self.subsystem: str | None = None
        self.shell = False
        self.agent_forwarded = False
        self._agent_cb = None
        _live.inc("channels")

    def on(self, event: str, listener: Any = None) -> Any:
        if event == "auth-agent" and listener is not None:
            self._accept_agent_requests()
        return super().on(event, listener)

    add_listener = on

    def _accept_agent_requests(self) -> None:
        with self._loop.lock:
            if self._agent_cb is None and not self._closed:
                cb = new_agent_request_callbacks(self._handle)
                if lib.ssh_add_channel_callbacks(self._ch, cb) == lib.SSH_OK:
                    self._agent_cb = cb  # libssh keeps a pointer: keep it until the free

    def _agent_requested(self) -> None:
        self.agent_forwarded = True
        self._session.agent_forwarding = True  # type: ignore[attr-defined]

    def _on_auth_agent_req(self) -> None:
        self._emit_safely("auth-agent")

    @property
    def pending_requests(self) -> list[ChannelRequestMessage]:
        return list(self._requests)

    def _request_accepted(self, msg: ChannelRequestMessage) -> None:
        kind = msg.subtype
        if kind == "pty":
            self.pty = msg.pty
        elif kind == "env" and msg.env_name is not None:
            self.env[msg.env_name] = msg.env_value or ""
        elif kind == "exec":
            self.exec_command = msg.exec_command
        elif kind == "subsystem":
            self.subsystem = msg.subsystem_name
        elif kind == "shell":
            self.shell = True

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
        _live.dec("channels")
        super()._free(session_gone)
        self._agent_cb = None  # ssh_channel_free dropped libssh's pointer to it
