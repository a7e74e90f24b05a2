"""Agent forwarding (``auth-agent-req@openssh.com``) and X11 forwarding (``x11-req``) for the
client: the request goes out on every session channel opened afterwards (before its exec or
shell), and the channels the server then opens back are bridged to the local ssh-agent / X
display or handed to the application.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from .._binding import channel as channel_api
from ..bridge import Bridge
from ..errors import SSHError
from .forward import _bridge, _connect_local, ensure_running
from .incoming import AUTH_AGENT, X11, ChannelOpenRequest

if TYPE_CHECKING:
    from .._channel import Channel
    from .client import Client

log = logging.getLogger("pylibssh.client")


def _bridge_to(client: Client, request: ChannelOpenRequest, dest: str | tuple[str, int],
               what: str, bridges: set[Bridge],
               rewrite: Callable[[bytes], bytes | Literal[False] | None] | None = None) -> None:
    """Connect to ``dest`` on this side, then accept and bridge (or reject). ``rewrite`` sees
    the channel's first bytes until it returns what to send instead (None: need more;
    False: refuse)."""
    loop = client._loop

    def start(channel: Channel, sock: socket.socket) -> None:
        if rewrite is None:
            bridge = _bridge(channel, sock, bridges.discard)
            if not bridge.closed:
                bridges.add(bridge)
            return
        head = bytearray()

        def on_data(data: bytes, is_stderr: bool) -> None:
            head.extend(data)
            out = rewrite(bytes(head))
            if out is None:
                return
            channel.off("data", on_data)
            channel.off("close", on_close)
            if out is False:
                log.debug("%s forwarding: unexpected authorization, closing", what)
                channel.close()
                sock.close()
                return
            channel.pause()
            try:
                sock.settimeout(5)
                sock.sendall(out)  # a few dozen bytes on a fresh connection
            except OSError:
                channel.close()
                sock.close()
                return
            bridge = _bridge(channel, sock, bridges.discard)
            if not bridge.closed:
                bridges.add(bridge)

        def on_close() -> None:
            sock.close()

        channel.on("data", on_data)
        channel.on("close", on_close)
        channel.resume()

    def connected(sock: socket.socket | None, exc: BaseException | None) -> None:
        with loop.lock:
            if sock is None:
                log.debug("%s forwarding: %s", what, exc)
                if not request.answered:
                    request.reject()
                return
            if request.answered:
                sock.close()
                return
            try:
                channel = request.accept()
            except SSHError:
                sock.close()
                return
            start(channel, sock)

    _connect_local(loop, dest, connected)


class AgentForwarding:
    """Forwards the server's ``auth-agent@openssh.com`` channels to the local agent at
    ``path``."""

    def __init__(self, client: Client, path: str):
        self.client = client
        self.path = path
        self.bridges: set[Bridge] = set()
        session = client._session
        with client._loop.lock:
            session.session_requests.append(
                ("agent forwarding", channel_api.request_auth_agent))
            session._incoming.add_handler(AUTH_AGENT, self._on_request)
        ensure_running(client)

    def _on_request(self, request: ChannelOpenRequest) -> None:
        _bridge_to(self.client, request, self.path, "agent", self.bridges)


def _display_target(display: str) -> str | tuple[str, int]:
    """Where an X display listens: ``:N`` -> /tmp/.X11-unix/XN, ``host:N`` -> host:6000+N."""
    m = re.fullmatch(r"(?:unix)?(.*?):(\d+)(?:\.\d+)?", display)
    if not m:
        raise SSHError(f"cannot parse the X display {display!r}")
    host, num = m.group(1), int(m.group(2))
    if not host or host == "unix":
        return f"/tmp/.X11-unix/X{num}"
    return (host, 6000 + num)


def _xauth_cookie(display: str) -> tuple[str, str] | None:
    try:
        out = subprocess.run(["xauth", "list", display], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            return parts[1], parts[2]
    return None


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def _x11_rewrite(buf: bytes, fake: tuple[bytes, bytes], real: tuple[bytes, bytes]
                 ) -> bytes | Literal[False] | None:
    """The X11 connection setup in ``buf`` with the fake authorization (what the server's X
    clients were given) replaced by the real one, as ``ssh -X`` does; None while incomplete,
    False when the client presented anything else."""
    if len(buf) < 12:
        return None
    order = buf[0:1]
    if order not in (b"B", b"l"):
        return False
    bo: Literal["big", "little"] = "big" if order == b"B" else "little"
    name_len = int.from_bytes(buf[6:8], bo)
    data_len = int.from_bytes(buf[8:10], bo)
    end = 12 + _pad4(name_len) + _pad4(data_len)
    if len(buf) < end:
        return None
    name = bytes(buf[12:12 + name_len])
    data = bytes(buf[12 + _pad4(name_len):12 + _pad4(name_len) + data_len])
    if (name, data) != fake:
        return False
    rname, rdata = real
    head = (bytes(buf[0:6]) + len(rname).to_bytes(2, bo) + len(rdata).to_bytes(2, bo)
            + bytes(buf[10:12]))
    return (head + rname.ljust(_pad4(len(rname)), b"\0") + rdata.ljust(_pad4(len(rdata)), b"\0")
            + bytes(buf[end:]))


class X11Forwarding:
    """Sends ``x11-req`` on new session channels; each ``x11`` channel the server opens goes to
    ``handler(request)`` (accept or reject it), or without a handler is bridged to ``display``
    (default ``$DISPLAY``)."""

    def __init__(self, client: Client, handler: Callable[[ChannelOpenRequest], Any] | None,
                 display: str | None, auth_protocol: str | None, auth_cookie: str | None,
                 screen: int, single_connection: bool):
        self.client = client
        self.handler = handler
        self.display = display or os.environ.get("DISPLAY")
        self.bridges: set[Bridge] = set()
        self._real: tuple[bytes, bytes] | None = None
        if handler is None:
            if not self.display:
                raise SSHError("X11 forwarding needs a handler or a display ($DISPLAY unset)")
            self.target = _display_target(self.display)
            # the server gets a fake cookie; each x11 channel's setup must present it and gets
            # the display's real one instead (the real cookie never leaves this machine)
            found = ((auth_protocol or "MIT-MAGIC-COOKIE-1", auth_cookie) if auth_cookie
                     else _xauth_cookie(self.display))
            if found:
                self._real = (found[0].encode(), bytes.fromhex(found[1]))
            auth_protocol, auth_cookie = "MIT-MAGIC-COOKIE-1", None
        self.auth_protocol = auth_protocol or "MIT-MAGIC-COOKIE-1"
        self.auth_cookie = auth_cookie or secrets.token_hex(16)
        proto, cookie = self.auth_protocol.encode(), self.auth_cookie.encode()
        session = client._session
        with client._loop.lock:
            session.session_requests.append(
                ("X11 forwarding", lambda ch: channel_api.request_x11(
                    ch, single_connection, proto, cookie, screen)))
            session._incoming.add_handler(X11, self._on_request)
        ensure_running(client)

    def _on_request(self, request: ChannelOpenRequest) -> None:
        if self.handler is not None:
            self.handler(request)
        elif self._real is None:
            _bridge_to(self.client, request, self.target, "X11", self.bridges)
        else:
            fake = (self.auth_protocol.encode(), bytes.fromhex(self.auth_cookie))
            real = self._real
            _bridge_to(self.client, request, self.target, "X11", self.bridges,
                       rewrite=lambda buf: _x11_rewrite(buf, fake, real))
