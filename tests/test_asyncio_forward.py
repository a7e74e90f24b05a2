"""Forwarding from pylibssh.asyncio, and interoperation in one loop: an ``asyncio.start_server``
service reached through our client and our server (both on the same loop, no thread), our client
against OpenSSH's sshd (local, remote, SOCKS, open_connection) and against asyncssh's server
(exec, SFTP, forwarding), with checksums."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import struct
import tempfile
import threading
from pathlib import Path

import asyncssh
import pytest

import pylibssh.asyncio as pa
from asynciokit import run_on
from clientkit import DEADLINE, known_hosts  # noqa: F401
from pylibssh.server import connect_handler, spawn

pytestmark = [pytest.mark.peer, pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])]

PASSWORD = "pw-forward"


def body_for(n: int) -> bytes:
    """The service's deterministic answer of ``n`` bytes."""
    seed = hashlib.sha256(str(n).encode()).digest()
    return (seed * (n // len(seed) + 1))[:n]


async def start_service():
    """An HTTP-like service: ``GET <n>\\n`` -> a header line with the body's sha256, then n
    bytes; ``ECHO\\n`` -> echoes until EOF."""
    async def handle(reader, writer):
        try:
            line = await reader.readline()
            if line.startswith(b"GET "):
                n = int(line.split()[1])
                body = body_for(n)
                writer.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            elif line == b"ECHO\n":
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            await writer.drain()
        finally:
            writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def fetch(host: str, port: int, n: int, *, streams=None) -> bytes:
    reader, writer = streams or await asyncio.open_connection(host, port)
    writer.write(f"GET {n}\n".encode())
    await writer.drain()
    digest = (await reader.readline()).strip().decode()
    body = await reader.readexactly(n)
    assert hashlib.sha256(body).hexdigest() == digest
    assert await reader.read() == b""
    writer.close()
    return body


async def echo_through(reader, writer, data: bytes) -> bytes:
    writer.write(b"ECHO\n")

    async def feed():
        for i in range(0, len(data), 1 << 16):
            writer.write(data[i:i + (1 << 16)])
            await writer.drain()
        writer.write_eof()
    feeder = asyncio.create_task(feed())
    got = await reader.read(-1)
    await feeder
    writer.close()
    return got


def test_one_loop_client_server_and_service(loop_kind, host_key_files, tmp_path):
    """Our client, our server and an asyncio.start_server service in one loop and one thread:
    the service reached through forward_local_port and open_connection."""
    async def main():
        threads = set(threading.enumerate())
        service = await start_service()
        http_port = service.sockets[0].getsockname()[1]
        server = await pa.create_server("127.0.0.1", 0, host_keys=[host_key_files["ed25519"]])

        @server.on("connection")
        def on_connection(session):
            @session.on("auth")
            async def auth(msg):
                await asyncio.sleep(0)  # (an async user store)
                if msg.subtype == "password" and msg.auth_password == PASSWORD:
                    msg.reply_auth_success()
                else:
                    msg.reply_default()
            session.on("tcpip", connect_handler(allow=[f"127.0.0.1:{http_port}"]))

            @session.on("channel")
            def channel(ch):
                @ch.on("exec")
                def exec_(msg):
                    msg.reply_success()
                    spawn(ch, msg.exec_command)

        kh = tmp_path / "known_hosts"
        async with server, service:
            pub = Path(str(host_key_files["ed25519"]) + ".pub").read_text().split()[:2]
            kh.write_text(f"[127.0.0.1]:{server.port} {' '.join(pub)}\n")
            async with pa.connect("127.0.0.1", server.port, "tester", password=PASSWORD,
                                  known_hosts=str(kh), config=None, agent=False,
                                  look_for_keys=False, timeout=DEADLINE) as conn:
                assert (await conn.run("echo local")).stdout == b"local\n"
                fwd = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", http_port)
                sizes = [0, 1, 1000, 100_000, 3 << 20] * 3
                bodies = await asyncio.gather(*(fetch("127.0.0.1", fwd.port, n)
                                                for n in sizes))
                assert [len(b) for b in bodies] == sizes
                streams = await conn.open_connection("127.0.0.1", http_port)
                await fetch("", 0, 2 << 20, streams=streams)
                data = os.urandom(5 << 20)
                r, w = await conn.open_connection("127.0.0.1", http_port)
                assert await echo_through(r, w, data) == data
                # a destination the server does not allow
                with pytest.raises(pa.ChannelOpenError):
                    await conn.open_connection("127.0.0.1", 1)
                fwd.close()
            assert not set(threading.enumerate()) - threads  # (no new thread)
    run_on(loop_kind, main())


def test_forwarding_against_sshd(loop_kind, sshd, client_key, known_hosts):
    async def main():
        service = await start_service()
        port = service.sockets[0].getsockname()[1]
        async with service, pa.connect("127.0.0.1", sshd.port, sshd.user,
                                       keys=[str(client_key)], known_hosts=str(known_hosts),
                                       config=None, agent=False, look_for_keys=False,
                                       timeout=DEADLINE, op_timeout=DEADLINE) as conn:
            # ssh -L
            fwd = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", port)
            await asyncio.gather(*(fetch("127.0.0.1", fwd.port, n)
                                   for n in (10, 70_000, 2 << 20)))
            fwd.close()
            # ssh -R: sshd listens, its connections come back to the service
            rfwd = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
            assert rfwd.port > 0
            await asyncio.gather(*(fetch("127.0.0.1", rfwd.port, n) for n in (5, 1 << 20)))
            rfwd.close()
            # ssh -D: a SOCKS5 CONNECT
            socks = await conn.forward_socks("127.0.0.1", 0)
            r, w = await asyncio.open_connection("127.0.0.1", socks.port)
            w.write(b"\x05\x01\x00")
            assert await r.readexactly(2) == b"\x05\x00"
            w.write(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", port))
            reply = await r.readexactly(10)
            assert reply[:2] == b"\x05\x00"
            await fetch("", 0, 300_000, streams=(r, w))
            socks.close()
            # open_connection: a stream pair
            data = os.urandom(3 << 20)
            r, w = await conn.open_connection("127.0.0.1", port)
            assert await echo_through(r, w, data) == data
    run_on(loop_kind, main())


@pytest.fixture
def sockdir():
    """A directory sshd's (unprivileged) user can reach, for UNIX sockets."""
    d = tempfile.mkdtemp(prefix="aiofw", dir="/tmp")
    os.chmod(d, 0o777)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_unix_socket_forwarding_against_sshd(loop_kind, sshd, client_key, known_hosts,
                                             sockdir):
    """UNIX variants: local UNIX sockets and ports carried to a UNIX-socket service on the
    server's side, open_unix_connection, and a remote UNIX listener."""
    async def main():
        unix_path = str(sockdir / "service.sock")
        unix_service = await asyncio.start_unix_server(_echo_or_get, unix_path)
        os.chmod(unix_path, 0o777)
        async with unix_service, pa.connect(
                "127.0.0.1", sshd.port, sshd.user, keys=[str(client_key)],
                known_hosts=str(known_hosts), config=None, agent=False, look_for_keys=False,
                timeout=DEADLINE, op_timeout=DEADLINE) as conn:
            listen = str(sockdir / "local.sock")
            fwd = await conn.forward_local_path(listen, unix_path)
            await fetch("", 0, 500_000, streams=await asyncio.open_unix_connection(listen))
            fwd.close()
            fwd = await conn.forward_local_port_to_path("127.0.0.1", 0, unix_path)
            await fetch("127.0.0.1", fwd.port, 123_456)
            fwd.close()
            await fetch("", 0, 1 << 20, streams=await conn.open_unix_connection(unix_path))
            remote = str(sockdir / "remote.sock")
            rfwd = await conn.forward_remote_path(remote, unix_path)
            deadline = asyncio.get_running_loop().time() + DEADLINE
            while not os.path.exists(remote) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            await fetch("", 0, 200_000, streams=await asyncio.open_unix_connection(remote))
            rfwd.close()
    run_on(loop_kind, main())


async def _echo_or_get(reader, writer):
    """The service's protocol on a UNIX socket (see start_service)."""
    try:
        line = await reader.readline()
        if line.startswith(b"GET "):
            body = body_for(int(line.split()[1]))
            writer.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            await writer.drain()
    finally:
        writer.close()


class _Server(asyncssh.SSHServer):
    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        return True

    def server_requested(self, listen_host, listen_port):
        return True


def test_our_client_against_asyncssh_server(loop_kind, host_key_files, client_keys, tmp_path):
    async def process(proc):
        data = await proc.stdin.read()
        proc.stdout.write(hashlib.sha256(data).hexdigest().encode() + b"\n")
        proc.stderr.write(proc.command.encode())
        proc.exit(7)

    async def main():
        service = await start_service()
        http_port = service.sockets[0].getsockname()[1]
        server = await asyncssh.create_server(
            _Server, "127.0.0.1", 0, server_host_keys=[str(host_key_files["ed25519"])],
            authorized_client_keys=str(client_keys["ed25519"]) + ".pub",
            process_factory=process, encoding=None, sftp_factory=True)
        port = server.sockets[0].getsockname()[1]
        pub = Path(str(host_key_files["ed25519"]) + ".pub").read_text().split()[:2]
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{port} {' '.join(pub)}\n")
        try:
            async with service, pa.connect("127.0.0.1", port, "anyone",
                                           keys=[str(client_keys["ed25519"])],
                                           known_hosts=str(kh), config=None, agent=False,
                                           look_for_keys=False, timeout=DEADLINE) as conn:
                data = os.urandom(4 << 20)
                r = await conn.run("checksum please", input=data)
                assert r.stdout == hashlib.sha256(data).hexdigest().encode() + b"\n"
                assert (r.stderr, r.exit_status) == (b"checksum please", 7)
                proc = await conn.create_process("streamed")
                proc.stdin.write(data)
                proc.stdin.write_eof()
                assert (await proc.stdout.readline()).strip().decode() == \
                    hashlib.sha256(data).hexdigest()
                assert (await proc.wait()).exit_status == 7
                # SFTP: asyncssh serves the real file system (absolute paths)
                src = tmp_path / "src.bin"
                src.write_bytes(os.urandom(10 << 20))
                async with conn.start_sftp_client() as sftp:
                    await sftp.put(src, str(tmp_path / "remote.bin"))
                    await sftp.get(str(tmp_path / "remote.bin"), tmp_path / "back.bin")
                    assert (await sftp.stat(str(tmp_path / "remote.bin"))).size == 10 << 20
                assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
                # forwarding through asyncssh's server
                fwd = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", http_port)
                await asyncio.gather(*(fetch("127.0.0.1", fwd.port, n)
                                       for n in (1, 200_000, 2 << 20)))
                fwd.close()
        finally:
            server.close()
            await server.wait_closed()
    run_on(loop_kind, main())
