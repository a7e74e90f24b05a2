"""Opening a channel to the server: the one task every client front end uses (commands, SFTP,
tunnels and forwards, ProxyJump, the paramiko layer), for the three kinds a client opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from .._binding import CData
from .._binding import channel as channel_api
from .._binding.constants import SSH_AGAIN
from .._channel import Channel
from ..errors import ChannelOpenError, error_from
from ._task import AGAIN, TaskGen

if TYPE_CHECKING:
    from .session import ClientSession

#: the kinds of channel a client opens (RFC 4254's names, OpenSSH's for UNIX sockets)
SESSION = "session"
DIRECT_TCPIP = "direct-tcpip"
DIRECT_STREAMLOCAL = "direct-streamlocal@openssh.com"

#: where a direct channel goes: ``(host, port)`` for direct-tcpip, a socket path for
#: direct-streamlocal; None for a session channel
Destination = Union[tuple[str, int], str, None]


def _opener(kind: str, dest: Destination, orig: tuple[str, int]
            ) -> tuple[Callable[[CData], int], str]:
    """The nonblocking open call for ``kind`` and what it does, for messages."""
    if kind == SESSION:
        return channel_api.open_session, "opening a session channel"
    orig_host, orig_port = orig[0].encode(), int(orig[1])
    if kind == DIRECT_TCPIP and isinstance(dest, tuple):
        host, port = dest[0].encode(), int(dest[1])
        return ((lambda ch: channel_api.open_forward(ch, host, port, orig_host, orig_port)),
                f"opening a channel to {dest[0]}:{dest[1]}")
    if kind == DIRECT_STREAMLOCAL and isinstance(dest, str):
        path = dest.encode()
        return ((lambda ch: channel_api.open_forward_unix(ch, path, orig_host, orig_port)),
                f"opening a channel to {dest}")
    raise ValueError(f"cannot open a {kind!r} channel to {dest!r}")


def open_channel_gen(session: ClientSession, kind: str, dest: Destination = None,
                     orig: tuple[str, int] = ("127.0.0.1", 0), *,
                     channel_class: Callable[[ClientSession, CData], Any] = Channel,
                     paused: bool = False) -> TaskGen:
    """Open a channel of ``kind`` (:data:`SESSION`, :data:`DIRECT_TCPIP` to ``(host, port)`` or
    :data:`DIRECT_STREAMLOCAL` to a socket path, for a connection from ``orig``); the task's
    result is the open channel, a ``channel_class`` (default :class:`~pylibssh._channel.Channel`).

    With ``paused`` the channel holds what arrives until ``resume()`` (a bridge or a listener
    attaches later). A refusal raises :class:`~pylibssh.errors.ChannelOpenError` with the
    server's reason (``reason``, ``description``); a ``kind`` or ``dest`` that does not fit
    raises ValueError. On any failure the channel is freed."""
    fn, what = _opener(kind, dest, orig)
    c = channel_api.new(session._s)
    if c is None:  # pragma: no cover - out of memory
        raise error_from(session._s, f"{what}: ssh_channel_new failed", ChannelOpenError)
    channel = channel_class(session, c)
    if paused:
        channel._paused = True

    def poll() -> Any:
        session._check_open()
        if channel._closed:
            raise ChannelOpenError(f"{what}: the channel was closed while opening")
        rc = fn(channel._ch)
        if rc == SSH_AGAIN:
            return AGAIN
        if rc < 0:
            raise error_from(session._s, what, ChannelOpenError)
        return rc

    try:
        yield poll
    except BaseException:
        if not channel._closed:
            channel._free(session_gone=False)
        raise
    return channel
