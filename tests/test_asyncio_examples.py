"""The asyncio examples run as their docstrings show: asyncio_fanout.py against sshd (several
hosts, one unreachable), asyncio_server.py against OpenSSH's sftp and ssh and asyncssh's
client."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from clientkit import known_hosts  # noqa: F401
from openssh import free_port
from serverkit import DEADLINE

pytestmark = pytest.mark.peer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_env(home: Path) -> dict[str, str]:
    """A home without ssh configuration or agent, so only the options given count."""
    home.mkdir(exist_ok=True)
    return {**{k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "DISPLAY")},
            "HOME": str(home)}


def test_fanout(sshd, client_key, known_hosts, tmp_path):
    hosts = [f"127.0.0.1:{sshd.port}", f"{sshd.user}@127.0.0.1:{sshd.port}",
             f"127.0.0.1:{free_port()}"] + [f"127.0.0.1:{sshd.port}"] * 5
    args = [sys.executable, str(EXAMPLES / "asyncio_fanout.py"), "echo from-$USER; exit 2",
            *hosts, "-i", str(client_key), "--known-hosts", str(known_hosts), "--limit", "3",
            "--timeout", str(DEADLINE)]
    env = example_env(tmp_path / "home")
    env["USER"] = sshd.user  # (the default login name)
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    out = r.stdout
    assert r.returncode == len(hosts), r.stderr  # every host "failed": exit 2, or no connect
    assert out.count(f"from-{sshd.user}") == len(hosts) - 1
    assert out.count(": exit 2 [") == len(hosts) - 1
    assert out.count("FAILED (SSHConnectionRefusedError") == 1


def test_server(tmp_path, client_keys, openssh_client):
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text("hello\n")
    pub = str(client_keys["ed25519"]) + ".pub"
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "asyncio_server.py"), "--port", "0", "--root",
         str(root), "--user", "alice:secret", "--user", "bob:other", "--authorized-keys", pub],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=example_env(tmp_path / "home"))
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on"), proc.stderr.read()
        port = int(line.split()[-1])
        data = os.urandom(3 << 20)
        (tmp_path / "up.bin").write_bytes(data)
        # OpenSSH's sftp with the key (batch mode never asks for a password)
        sftp = openssh_client(port, user="alice", identity=client_keys["ed25519"])
        r = sftp.sftp(f"put {tmp_path / 'up.bin'} /up.bin\nget /hello.txt {tmp_path / 'h'}\n")
        assert r.returncode == 0, r.stderr
        assert hashlib.sha256((root / "up.bin").read_bytes()).digest() == \
            hashlib.sha256(data).digest()
        assert (tmp_path / "h").read_text() == "hello\n"
        # ssh with a password, then asyncssh: several logins awaiting the user store at once
        ssh = openssh_client(port, user="bob", password="other")
        r = ssh.ssh("cat hello.txt")
        assert (r.returncode, r.stdout) == (0, b"hello\n"), r.stderr

        async def logins():
            async def one(user, password):
                try:
                    async with asyncssh.connect("127.0.0.1", port, username=user,
                                                password=password, known_hosts=None,
                                                client_keys=None, agent_path=None,
                                                connect_timeout=DEADLINE) as c:
                        return (await c.run("echo in")).stdout
                except asyncssh.PermissionDenied:
                    return "denied"
            return await asyncio.gather(*(one("alice", "secret") for _ in range(4)),
                                        one("alice", "wrong"), one("mallory", "secret"))
        assert asyncio.run(logins()) == ["in\n"] * 4 + ["denied", "denied"]
    finally:
        proc.terminate()
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(DEADLINE)
        proc.stdout.close()
        proc.stderr.close()
