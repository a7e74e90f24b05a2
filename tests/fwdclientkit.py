"""Local peers for the forwarding tests: small TCP/UNIX servers in threads that sshd (the real
OpenSSH server on loopback) connects to, and helpers to talk through forwarded sockets."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import socketserver
import threading

DEADLINE = 20.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        sock.settimeout(60)
        try:
            while True:
                data = sock.recv(262144)
                if not data:
                    break
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _Digest(socketserver.BaseRequestHandler):
    """Reads to EOF, then answers with the sha256 of what it read and closes (half-close)."""

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(60)
        h = hashlib.sha256()
        n = 0
        while True:
            data = sock.recv(262144)
            if not data:
                break
            h.update(data)
            n += len(data)
        sock.sendall(f"{n} {h.hexdigest()}\n".encode())


class _Talker(socketserver.BaseRequestHandler):
    """Sends a greeting and shuts its write side at once, then reads to EOF and records it."""

    got: list[bytes] = []

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(60)
        sock.sendall(b"hello and goodbye\n")
        sock.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
        type(self).got.append(buf)


class _TCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _UNIX(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 256


def serve(handler: type, path: str | None = None):
    """A threaded server (TCP on 127.0.0.1, or UNIX at ``path``, mode 0777 so sshd's user can
    connect); returns it with ``.port`` or ``.path``; call ``.shutdown()``."""
    if path:
        server: socketserver.BaseServer = _UNIX(path, handler)
        os.chmod(path, 0o777)
        server.path = path  # type: ignore[attr-defined]
    else:
        server = _TCP(("127.0.0.1", 0), handler)
        server.port = server.server_address[1]  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def echo_server(path: str | None = None):
    return serve(_Echo, path)


def digest_server():
    return serve(_Digest)


def talker_server():
    _Talker.got = []
    return serve(_Talker)


def http_server(root: str):
    """A local HTTP server for files under ``root``."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    server.daemon_threads = True
    server.port = server.server_address[1]  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def https_server(root: str, where: str):
    """``http_server`` behind TLS with a self-signed certificate for ``localhost`` made by
    openssl; returns (server, path of the certificate to trust)."""
    import ssl
    import subprocess

    cert, key = os.path.join(where, "cert.pem"), os.path.join(where, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    server = http_server(root)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server, cert


def connect_to(addr, timeout: float = DEADLINE) -> socket.socket:
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    return socket.create_connection(addr, timeout=timeout)


def recv_all(sock: socket.socket) -> bytes:
    out = bytearray()
    while True:
        data = sock.recv(262144)
        if not data:
            return bytes(out)
        out += data


def echo_roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` (from a thread, so a full pipe cannot deadlock), half-close, read
    everything back."""
    err: list[BaseException] = []

    def send() -> None:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except BaseException as exc:  # noqa: BLE001
            err.append(exc)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    data = recv_all(sock)
    t.join(DEADLINE)
    if err:
        raise err[0]
    return data
