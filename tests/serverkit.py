"""Helpers for the server tests: a pylibssh server on a background loop thread, the usual
application behaviour (password/public-key auth, exec, shell), and clients (OpenSSH's ``ssh``
through openssh.py, paramiko in-process).

Listeners run on the server's loop thread, where an assertion would only be logged: they record
what they see in lists, and the tests assert in the main thread.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any, Callable

import paramiko

import pylibssh
from pylibssh.server import spawn

PASSWORD = "s3cret-pylibssh"
DEADLINE = 20.0  # seconds: every wait in the tests is bounded


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def wait_until(predicate: Callable[[], Any], timeout: float = DEADLINE, interval: float = 0.01,
               what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class RunningServer:
    """A server listening on 127.0.0.1:<free port>, its loop in a background thread."""

    def __init__(self, host_keys, **options: Any):
        self.server = pylibssh.create_server(host_keys=host_keys, **options)
        self.loop = self.server.loop
        self.log: list[tuple] = []  # what listeners saw, in order

    def start(self) -> RunningServer:
        self.server.listen(0, "127.0.0.1")
        self.server.start()
        return self

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = DEADLINE) -> Any:
        """Run ``fn`` on the loop thread and return its result."""
        return self.loop.submit(fn, *args).result(timeout)

    def close(self) -> None:
        self.server.close()
        self.loop.close()


def standard_app(rs: RunningServer, *, password: str | None = PASSWORD,
                 keys: list[pylibssh.Key] = (), users: tuple[str, ...] | None = None,
                 methods: list[str] | None = None, on_channel: Callable | None = None) -> None:
    """node-libssh's README pattern: publickey (compare the key, reply success — pylibssh makes
    that safe) and password auth; channels run exec commands and shells with ``spawn``."""

    def on_auth(msg):
        rs.log.append(("auth", msg.subtype, msg.auth_user, msg.signature_state))
        if users is not None and msg.auth_user not in users:
            return msg.reply_default()
        if msg.subtype == "publickey" and any(msg.compare_public_key(k) for k in keys):
            return msg.reply_auth_success()
        if msg.subtype == "password" and password is not None and msg.auth_password == password:
            return msg.reply_auth_success()
        msg.reply_default()

    def on_channel_default(channel):
        @channel.on("pty")
        def _pty(msg):
            rs.log.append(("pty", msg.term, msg.cols, msg.rows, msg.modes))
            msg.reply_success()

        @channel.on("env")
        def _env(msg):
            rs.log.append(("env", msg.env_name, msg.env_value))
            msg.reply_success()

        @channel.on("exec")
        def _exec(msg):
            rs.log.append(("exec", msg.exec_command))
            msg.reply_success()
            spawn(channel, msg.exec_command)

        @channel.on("shell")
        def _shell(msg):
            rs.log.append(("shell",))
            msg.reply_success()
            spawn(channel)

    @rs.server.on("connection")
    def on_connection(session):
        rs.log.append(("connection", session.remote_address))
        if methods:
            session.set_auth_methods(methods)
        session.on("auth", on_auth)
        session.on("channel", on_channel or on_channel_default)


# -- paramiko ------------------------------------------------------------------------------------

def paramiko_key(path: Path) -> paramiko.PKey:
    return paramiko.PKey.from_path(str(path))


def paramiko_client(port: int, username: str = "tester", **kwargs: Any) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    kwargs.setdefault("timeout", DEADLINE)
    kwargs.setdefault("banner_timeout", DEADLINE)
    kwargs.setdefault("auth_timeout", DEADLINE)
    kwargs.setdefault("channel_timeout", DEADLINE)
    client.connect("127.0.0.1", port, username=username, look_for_keys=False,
                   allow_agent=False, **kwargs)
    return client


def paramiko_exec(client: paramiko.SSHClient, command: str, stdin: bytes = b""
                  ) -> tuple[bytes, bytes, int]:
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    chan.exec_command(command)
    out, err = bytearray(), bytearray()

    def feed() -> None:
        if stdin:
            chan.sendall(stdin)
        chan.shutdown_write()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    while True:
        data = chan.recv(1 << 16)
        if not data:
            break
        out += data
    while True:
        data = chan.recv_stderr(1 << 16)
        if not data:
            break
        err += data
    feeder.join(DEADLINE)
    if not chan.status_event.wait(DEADLINE):
        raise TimeoutError("no exit status within the deadline")
    status = chan.exit_status
    chan.close()
    return bytes(out), bytes(err), status


def raw_connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


def in_background(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    """Run a blocking client call (paramiko waits for request replies without a deadline) in a
    daemon thread; its failure once the server drops the connection is expected."""

    def run() -> None:
        try:
            fn(*args)
        except Exception:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _read_terminal(master: int, output: bytearray, wait: float) -> bool | None:
    """Append what the pty has within ``wait`` s to ``output``: True if it had some, False if
    none, None at its end."""
    if not select.select([master], [], [], wait)[0]:
        return False
    try:
        chunk = os.read(master, 65536)
    except OSError:
        return None
    if not chunk:
        return None
    output += chunk
    return True


def run_in_terminal(args, env, script: bytes, cols=100, rows=40, resize=None, timeout=DEADLINE):
    """Run ``args`` (an ssh command) on a real pseudo-terminal of cols x rows, type ``script``
    and return (exit code, everything it printed). ``resize``: (cols, rows) applied once the
    output shows the marker ``RESIZE-NOW``."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    sent = resized = False
    try:
        while time.monotonic() < deadline:
            ready = _read_terminal(master, output, 0.1)
            if ready is None:
                break
            if not sent and b"$ " in output or not sent and b"# " in output:
                os.write(master, script)
                sent = True
            if resize and not resized and b"RESIZE-NOW\r\n" in output:
                fcntl.ioctl(master, termios.TIOCSWINSZ,
                            struct.pack("HHHH", resize[1], resize[0], 0, 0))
                os.kill(proc.pid, signal.SIGWINCH)
                resized = True
            if proc.poll() is not None and not ready:
                # ssh has exited, but the tty layer may still be moving its last output to this
                # side (asynchronously): read until the pty reports its end or stays quiet
                while _read_terminal(master, output, 0.2):
                    pass
                break
        code = proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, bytes(output)
