"""Helpers for the forwarding tests: a pylibssh server that forwards, OpenSSH's ``ssh`` running
a forward in the background, and small real TCP/UNIX servers (echo, sink, source) in threads."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import subprocess
import threading
import time
from typing import Any, Callable

from serverkit import DEADLINE, RunningServer, standard_app, wait_until

import pylibssh
from pylibssh.server import connect_handler, listen_handler


def pubkey(path) -> pylibssh.Key:
    return pylibssh.Key.from_public_file(str(path) + ".pub")


def forwarding_server(make_server, client_keys, *, connect_allow: Any = "*",
                      listen_allow: Any = "*", streamlocal: bool = True,
                      on_session: Callable | None = None, bridges: list | None = None,
                      on_channel: Callable | None = None, **options) -> RunningServer:
    """A started server with the standard app (Ed25519 key and password auth, exec/shell) that
    forwards: ``connect_allow``/``listen_allow`` None leaves that direction without a listener
    (refused)."""
    rs = make_server(**options)
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])], on_channel=on_channel)
    keep = bridges.append if bridges is not None else None

    @rs.server.on("connection")
    def on_connection(session):
        if connect_allow is not None:
            session.on("tcpip", connect_handler(allow=connect_allow, on_bridge=keep))
            if streamlocal:
                session.on("openssh.streamlocal", connect_handler(allow=connect_allow,
                                                                  on_bridge=keep))
        if listen_allow is not None:
            session.on("request", listen_handler(allow=listen_allow))
        if on_session is not None:
            on_session(session)

    return rs.start()


class BackgroundSSH:
    """``ssh -N <forward options>`` running until stopped."""

    def __init__(self, client, *args: str):
        self.args = verbose_args(client, "-N", "-o", "ExitOnForwardFailure=yes", *args)
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=client.env())

    def stderr_line(self, contains: str, timeout: float = DEADLINE) -> str:
        """Read stderr lines until one contains ``contains``."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.2)
            if not ready:
                continue
            line = self.proc.stderr.readline().decode(errors="replace")
            if not line:
                break
            seen.append(line)
            if contains in line:
                return line
        raise AssertionError(f"ssh never printed {contains!r}: {seen}")

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err.decode(errors="replace")

    def __enter__(self) -> BackgroundSSH:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def listening(port: int) -> bool:
    """Whether a TCP socket listens on 127.0.0.1:port, found without connecting (a probe
    connection would be forwarded like any other)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == want and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


def wait_port(port: int, timeout: float = DEADLINE) -> None:
    wait_until(lambda: listening(port), timeout, 0.05, f"a listener on port {port}")


def wait_path(path: str, timeout: float = DEADLINE) -> None:
    wait_until(lambda: os.path.exists(path), timeout, 0.05, f"a listener on {path}")


def verbose_args(client, *args: str) -> list[str]:
    """ssh arguments with INFO logging (OpenSSH logs refused channels at INFO)."""
    return [a.replace("LogLevel=ERROR", "LogLevel=INFO") for a in client.ssh_args(*args)]


class ThreadedServer:
    """A TCP (``address`` a port number or 0) or UNIX (``address`` a path) server running
    ``handler(conn)`` per connection in a thread."""

    def __init__(self, handler: Callable[[socket.socket], Any], address: int | str = 0):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(address)
            self.address: Any = address
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", address))
            self.address = self.sock.getsockname()[1]
        self.sock.listen(256)
        self.handler = handler
        self.errors: list[BaseException] = []
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.address

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        conn.settimeout(DEADLINE * 3)
        try:
            self.handler(conn)
        except BaseException as exc:  # recorded; the test asserts on it
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if isinstance(self.address, str):
            try:
                os.unlink(self.address)
            except OSError:
                pass

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def echo(conn: socket.socket) -> None:
    """Echo until EOF, then close (half-close: the EOF is passed on after the data)."""
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def recv_exact(conn: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = conn.recv(n - len(out))
        if not data:
            break
        out += data
    return bytes(out)


def recv_all(conn: socket.socket, limit: int | None = None) -> bytes:
    out = bytearray()
    while limit is None or len(out) < limit:
        data = conn.recv(1 << 16)
        if not data:
            break
        out += data
    return bytes(out)


def pattern(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes (cheap to make, to check both ends)."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * 2048  # 64 KiB
    reps = -(-size // len(block))
    return (block * reps)[:size]
