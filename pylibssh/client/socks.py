"""Dynamic forwarding: a local SOCKS5 / SOCKS4 / SOCKS4a proxy whose CONNECTs become
``direct-tcpip`` channels (OpenSSH's ``ssh -D``). Names are resolved on the server's side when
the client sends them (SOCKS5 domain names, SOCKS4a), as ``curl --socks5h`` does.

Only CONNECT without authentication is offered (RFC 1928 method 0); BIND and UDP ASSOCIATE are
refused with "command not supported".
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from .._channel import Channel
from ..errors import ChannelOpenError
from .forward import _Listener

_MAX_REQUEST = 1024
_S5_OK, _S5_FAIL, _S5_NOT_ALLOWED, _S5_NET, _S5_HOST, _S5_REFUSED = 0, 1, 2, 3, 4, 5
_S5_CMD, _S5_ATYP = 7, 8


class _NeedMore(Exception):
    pass


class _Bad(Exception):
    def __init__(self, reply: bytes = b""):
        self.reply = reply


def _parse(buf: bytes, greeted: bool) -> tuple[str, Any, int, bytes]:
    """One step of the handshake in ``buf``: ("greet", reply, used, b"") for a SOCKS5 greeting,
    ("connect", (host, port), used, version) for a CONNECT. Raises _NeedMore / _Bad."""
    if not buf:
        raise _NeedMore
    ver = buf[0]
    if ver == 5 and not greeted:
        if len(buf) < 2 or len(buf) < 2 + buf[1]:
            raise _NeedMore
        methods = buf[2:2 + buf[1]]
        if 0 not in methods:
            raise _Bad(b"\x05\xff")
        return "greet", b"\x05\x00", 2 + buf[1], b""
    if ver == 5:
        if len(buf) < 5:
            raise _NeedMore
        _, cmd, _, atyp = buf[:4]
        if cmd != 1:
            raise _Bad(_s5_reply(_S5_CMD))
        if atyp == 1:
            end = 4 + 4
            if len(buf) < end + 2:
                raise _NeedMore
            host = str(ipaddress.IPv4Address(buf[4:end]))
        elif atyp == 4:
            end = 4 + 16
            if len(buf) < end + 2:
                raise _NeedMore
            host = str(ipaddress.IPv6Address(buf[4:end]))
        elif atyp == 3:
            end = 5 + buf[4]
            if len(buf) < end + 2:
                raise _NeedMore
            host = buf[5:end].decode("utf-8", "replace")
        else:
            raise _Bad(_s5_reply(_S5_ATYP))
        port = struct.unpack("!H", buf[end:end + 2])[0]
        return "connect", (host, port), end + 2, b"5"
    if ver == 4:
        if len(buf) < 9:
            raise _NeedMore
        cmd = buf[1]
        port = struct.unpack("!H", buf[2:4])[0]
        ip = buf[4:8]
        user_end = buf.find(b"\0", 8)
        if user_end < 0:
            raise _NeedMore
        used = user_end + 1
        if ip[:3] == b"\0\0\0" and ip[3]:  # SOCKS4a: the name follows
            name_end = buf.find(b"\0", used)
            if name_end < 0:
                raise _NeedMore
            host = buf[used:name_end].decode("utf-8", "replace")
            used = name_end + 1
        else:
            host = str(ipaddress.IPv4Address(ip))
        if cmd != 1:
            raise _Bad(b"\x00\x5b" + b"\0" * 6)
        return "connect", (host, port), used, b"4"
    raise _Bad()


def _s5_reply(code: int) -> bytes:
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


def _s5_code(exc: BaseException) -> int:
    text = str(exc).lower()
    if "refused" in text:
        return _S5_REFUSED
    if "prohibited" in text:
        return _S5_NOT_ALLOWED
    if "resolve" in text or "name" in text:
        return _S5_HOST
    return _S5_FAIL


class SOCKSForwarder(_Listener):
    """A SOCKS proxy on a local address; each CONNECT opens a ``direct-tcpip`` channel."""

    def _handle(self, conn: socket.socket) -> None:
        _Handshake(self, conn)

    def __repr__(self) -> str:
        return f"<SOCKSForwarder {self.host}:{self.port} {len(self.bridges)} open>"


class _Handshake:
    """Reads one SOCKS request from a new connection (nonblocking, on the loop)."""

    def __init__(self, forwarder: SOCKSForwarder, conn: socket.socket):
        self.fwd = forwarder
        self.conn = conn
        self.loop = forwarder._loop
        self.buf = b""
        self.greeted = False
        self.fd = conn.fileno()
        self.loop.add_reader(self.fd, self._readable)

    def _fail(self, reply: bytes = b"", exc: BaseException | None = None) -> None:
        self.loop.remove_fd(self.fd)
        if reply:
            try:
                self.conn.send(reply)
            except OSError:
                pass
        self.conn.close()
        if exc is not None:
            self.fwd._error(exc)

    def _readable(self) -> None:
        try:
            data = self.conn.recv(_MAX_REQUEST)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._fail()
            return
        self.buf += data
        while True:
            try:
                step, value, used, version = _parse(self.buf, self.greeted)
            except _NeedMore:
                if len(self.buf) > _MAX_REQUEST:
                    self._fail()
                return
            except _Bad as bad:
                self._fail(bad.reply)
                return
            except Exception as exc:  # noqa: BLE001 - a malformed request ends its connection
                self._fail(b"", exc)
                return
            self.buf = self.buf[used:]
            if step == "greet":
                self.greeted = True
                try:
                    self.conn.send(value)  # 2 bytes on an idle socket
                except OSError:
                    self._fail()
                    return
                continue
            self.loop.remove_fd(self.fd)
            self._connect(value, version)
            return

    def _connect(self, dest: tuple[str, int], version: bytes) -> None:
        conn = self.conn
        early = self.buf  # data the client sent before our reply (it should not, but keep it)

        def opened(channel: Channel | None, exc: BaseException | None) -> None:
            if version == b"5":
                reply = _s5_reply(_s5_code(exc) if exc else _S5_OK)
            else:
                reply = b"\x00" + (b"\x5b" if exc else b"\x5a") + b"\0" * 6
            try:
                conn.setblocking(True)
                conn.settimeout(5)
                conn.sendall(reply)  # tiny: the socket buffer is empty at this point
                conn.setblocking(False)
            except OSError:
                if channel is not None:
                    channel.close()
                return
            if channel is not None and early:
                channel.write(early)
            if isinstance(exc, ChannelOpenError):
                pass  # reported by _forward as an "error" event

        self.fwd._forward(conn, dest, opened)
