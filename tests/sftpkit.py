"""Helpers for the SFTP server tests: a server whose channels accept the ``sftp`` subsystem and
hand it to a per-test ``setup(channel, sftp)``; OpenSSH's sftp/scp and paramiko as clients."""

from __future__ import annotations

from typing import Any, Callable

import paramiko

import pylibssh
from serverkit import DEADLINE, PASSWORD, paramiko_client, standard_app


def sftp_server(make_server, setup: Callable[[Any], None], keys=(), **options: Any):
    """A started RunningServer (password auth, and the public ``keys``: ``sftp -b`` runs in
    batch mode, so OpenSSH's clients log in with a key) whose ``sftp`` subsystems run
    ``setup(channel)`` right after ``sftp_accept()``."""
    rs = make_server(**options)

    def on_channel(channel):
        @channel.on("subsystem")
        def _subsystem(msg):
            rs.log.append(("subsystem", msg.subsystem))
            if msg.subsystem != "sftp":
                return msg.reply_default()
            msg.sftp_accept()
            setup(channel)

    standard_app(rs, keys=[pylibssh.Key.from_private_file(k).public_key() if not
                      isinstance(k, pylibssh.Key) else k for k in keys],
                 on_channel=on_channel)
    return rs.start()


def one_file_sftp_server(make_server, size: Callable[[], int],
                         on_read: Callable[[Any], None] | None = None,
                         on_write: Callable[[Any], None] | None = None):
    """A started pylibssh server whose SFTP sessions see one file under every name: OPEN
    answers the handle ``b"h"``, STAT ``size()`` bytes, CLOSE OK; each READ goes to
    ``on_read(msg)`` and each WRITE to ``on_write(msg)``, which answer it (or hold it)."""
    def setup(channel):
        @channel.on("sftp:open")
        def on_open(msg):
            msg.reply_handle(b"h")

        @channel.on("sftp:stat")
        def on_stat(msg):
            msg.reply_attr({"size": size(), "permissions": 0o100644})

        @channel.on("sftp:close")
        def on_close(msg):
            msg.reply_status("ok")

        if on_read is not None:
            channel.on("sftp:read", on_read)
        if on_write is not None:
            channel.on("sftp:write", on_write)

    return sftp_server(make_server, setup)


def password_client(rs) -> pylibssh.Client:
    """pylibssh's client logged in to the test server ``rs`` with the test password."""
    return pylibssh.connect("127.0.0.1", rs.port, "user", password=PASSWORD,
                            host_key_policy="ignore", config=None, agent=False,
                            look_for_keys=False, timeout=DEADLINE)


def paramiko_sftp(port: int) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    client = paramiko_client(port, password=PASSWORD)
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(DEADLINE)
    return client, sftp


def local_sftp_server(make_server, root, keys=(), read_only: bool = False, **options: Any):
    """A server whose sftp subsystems serve ``root`` with the local backend."""
    from pylibssh.server.sftp_local import LocalFilesystem

    fs = LocalFilesystem(root, read_only=read_only)
    rs = sftp_server(make_server, fs.attach, keys=keys, **options)
    rs.fs = fs
    return rs


class RawSFTP:
    """An SFTP client at the packet level (over a paramiko channel), to send what well-behaved
    clients never send: requests before INIT, truncated or unknown packets, floods."""

    def __init__(self, port: int, client: paramiko.SSHClient | None = None,
                 password: str = PASSWORD):
        """A new ``sftp`` channel: on ``client``'s connection (closed by its owner), or on a
        connection of its own."""
        import struct

        self._struct = struct
        self._own = client is None
        self.client = paramiko_client(port, password=password) if client is None else client
        self.chan = self.client.get_transport().open_session(timeout=DEADLINE)
        self.chan.settimeout(DEADLINE)
        self.chan.invoke_subsystem("sftp")

    def packet(self, kind: int, payload: bytes) -> bytes:
        return self._struct.pack(">IB", len(payload) + 1, kind) + payload

    def send(self, kind: int, payload: bytes = b"") -> None:
        self.chan.sendall(self.packet(kind, payload))

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.chan.recv(n - len(buf))
            if not chunk:
                raise EOFError("the server closed the SFTP channel")
            buf += chunk
        return bytes(buf)

    def recv(self) -> tuple[int, bytes]:
        length, kind = self._struct.unpack(">IB", self._exact(5))
        return kind, self._exact(length - 1)

    def init(self) -> bytes:
        self.send(1, self._struct.pack(">I", 3))
        kind, body = self.recv()
        assert kind == 2, kind
        return body

    def handle(self, kind: int, rid: int, payload: bytes) -> bytes:
        """Send an OPEN or OPENDIR (``payload`` after the id) and return the handle; a STATUS
        reply raises AssertionError with it."""
        self.send(kind, self._struct.pack(">I", rid) + payload)
        reply, body = self.recv()
        assert reply == 102, (reply, body)  # HANDLE
        assert body[:4] == self._struct.pack(">I", rid), body
        (n,) = self._struct.unpack_from(">I", body, 4)
        return body[8:8 + n]

    def status(self) -> tuple[int, int, str]:
        """The next reply, which must be a STATUS: (id, code, message)."""
        kind, body = self.recv()
        assert kind == 101, (kind, body)
        rid, code, n = self._struct.unpack_from(">III", body)
        return rid, code, body[12:12 + n].decode()

    @staticmethod
    def string(data: bytes | str) -> bytes:
        import struct

        if isinstance(data, str):
            data = data.encode()
        return struct.pack(">I", len(data)) + data

    def close(self) -> None:
        if self._own:
            self.client.close()
        else:
            self.chan.close()
