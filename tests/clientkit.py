"""Helpers and fixtures for the client's tests (imported by tests/test_client_*.py).

The peer is OpenSSH's sshd (openssh.py); nothing here fakes a server."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pylibssh
from openssh import OpenSSHServer, keygen

DEADLINE = 20.0


def known_hosts_for(server: OpenSSHServer, path: Path) -> Path:
    path.write_text("\n".join(server.known_hosts_lines()) + "\n")
    return path


@pytest.fixture
def known_hosts(sshd, tmp_path):
    """A known_hosts file that knows the session's sshd."""
    return known_hosts_for(sshd, tmp_path / "known_hosts")


@pytest.fixture
def connect(sshd, client_key, known_hosts):
    """``connect(**overrides)`` -> a pylibssh Client logged in to ``sshd`` with ``client_key``
    (closed after the test)."""
    made = []

    def make(**kwargs):
        opts = dict(host="127.0.0.1", port=sshd.port, user=sshd.user, keys=[str(client_key)],
                    known_hosts=str(known_hosts), config=None, agent=False,
                    look_for_keys=False, timeout=DEADLINE, op_timeout=DEADLINE)
        opts.update(kwargs)
        client = pylibssh.connect(**opts)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()


@pytest.fixture
def clients_on_one_loop(sshd, client_key, known_hosts):
    """``make(n)`` -> (loop, n Clients connected to ``sshd`` through ``connect_async`` on that
    one loop, driven by the calling thread); all closed after the test."""
    made = []

    def make(n: int):
        loop = pylibssh.Loop()
        opts = dict(keys=[str(client_key)], known_hosts=str(known_hosts), config=None,
                    agent=False, look_for_keys=False)
        futures = [pylibssh.connect_async("127.0.0.1", sshd.port, sshd.user, loop=loop, **opts)
                   for _ in range(n)]
        made.append((loop, futures))
        assert loop.run_until(lambda: all(f.done() for f in futures), DEADLINE)
        return loop, [f.result() for f in futures]
    yield make
    for loop, futures in made:
        for f in futures:
            if f.done() and not f.exception():
                f.result().close()
        loop.run_until(lambda: not loop._fds, 5)
        loop.close()


@pytest.fixture(scope="module")
def pam_sshd(tmp_path_factory):
    """An sshd with PAM keyboard-interactive (the prompts come from PAM's password module)."""
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd-pam"), {
        "UsePAM": "yes", "KbdInteractiveAuthentication": "yes", "PasswordAuthentication": "no",
        "PubkeyAuthentication": "yes",
    })
    server.start()
    yield server
    server.cleanup()


class Agent:
    """A real ssh-agent holding keys added with ssh-add."""

    def __init__(self, where: Path):
        self.sock = str(where / "agent.sock")
        self.proc = subprocess.Popen(["ssh-agent", "-D", "-a", self.sock],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import time
        deadline = time.monotonic() + DEADLINE
        while not os.path.exists(self.sock):
            if time.monotonic() > deadline:
                raise TimeoutError("ssh-agent did not start")
            time.sleep(0.02)

    def add(self, key: Path) -> None:
        subprocess.run(["ssh-add", str(key)], env={**os.environ, "SSH_AUTH_SOCK": self.sock},
                       check=True, capture_output=True, timeout=DEADLINE)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


__all__ = ["known_hosts", "connect", "clients_on_one_loop", "pam_sshd", "Agent",
           "known_hosts_for", "keygen", "DEADLINE"]


def assert_served_during(client: pylibssh.Client, transfer: Callable[[Callable[..., None]], int],
                         size: int) -> None:
    """Run ``transfer(progress)`` (an SFTP get or put of ``size`` bytes on ``client``, which
    sends keepalives every 0.2 s) while a forward on the same connection echoes 1 KiB every
    10 ms; seen from inside the transfer (its progress calls, on the loop's thread), keepalive
    replies and the forward's echoes keep arriving. Tries up to five transfers, until a
    keepalive went and came back during one and five echoes did: a transfer can be shorter
    than the keepalive interval, and one as long as it would meet the same phase each time."""
    from fwdclientkit import echo_server

    echo = echo_server()
    tunnel = client.open_tunnel("127.0.0.1", echo.port)
    tunnel.settimeout(DEADLINE)
    replies = client.session.global_replies()
    assert replies is not None
    echoes = [0]
    stop = threading.Event()

    def talk() -> None:
        while not stop.is_set():
            tunnel.sendall(b"x" * 1024)
            got = 0
            while got < 1024:
                got += len(tunnel.recv(1024 - got))
            echoes[0] += 1
            time.sleep(0.01)

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    try:
        during = []
        for _ in range(5):
            seen: list[tuple[int, int]] = []  # (keepalives answered, echoes) at each progress call

            def progress(done: int, total: int, seen: list[tuple[int, int]] = seen) -> None:
                seen.append((replies.answered, echoes[0]))

            assert transfer(progress) == size
            (k0, e0), (k1, e1) = seen[0], seen[-1]
            during.append((k1 - k0, e1 - e0))
            if k1 > k0 and e1 - e0 >= 5:
                break
        keepalives, forwarded = during[-1]
        assert keepalives >= 1, during
        assert forwarded >= 5, during
    finally:
        stop.set()
        talker.join(DEADLINE)
        tunnel.close()
        echo.shutdown()


def freeze_after(proxy, size: int) -> tuple[Callable[[int, int], None], list[float]]:
    """A transfer's progress callback that freezes ``proxy`` (test_client_channels'
    _FreezableProxy) once ``size`` bytes are done, and the list that gets the monotonic time
    it did."""
    frozen_at: list[float] = []

    def progress(done: int, total: int) -> None:
        if done >= size and not frozen_at:
            proxy.frozen.set()
            frozen_at.append(time.monotonic())
    return progress, frozen_at
