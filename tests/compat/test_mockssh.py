"""A paramiko-based test server nobody here wrote, run as published: ``mock-ssh-server``'s
``mockssh.Server`` (a ``ServerInterface`` with public-key auth, exec through ``subprocess`` with
``select`` on ``Channel.fileno()``, and an ``SFTPServer`` over the local filesystem), imported
fresh against real paramiko and against the layer, used by OpenSSH's ``ssh``/``sftp`` and real
paramiko. One race of mockssh's own is closed (``_KeepFirstQueue``); nothing else is changed."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys

import paramiko as real_paramiko  # imported before any fixture installs the layer
import pytest

assert not getattr(real_paramiko, "__pylibssh__", False)

pytestmark = pytest.mark.peer  # OpenSSH's ssh and sftp are among the clients

DEADLINE = 20  # seconds for any single network operation
USER = "sample-user"


def _forget_mockssh():
    for name in [n for n in sys.modules if n == "mockssh" or n.startswith("mockssh.")]:
        del sys.modules[name]


@pytest.fixture
def mockssh(paramiko):
    """mockssh imported with the ``paramiko`` under test (a fresh import each time)."""
    _forget_mockssh()
    module = importlib.import_module("mockssh")
    assert importlib.import_module("mockssh.server").paramiko is paramiko
    yield module
    _forget_mockssh()


@pytest.fixture
def user_key(tmp_path):
    """mockssh's sample user key (an RSA key in PEM), 0600 for OpenSSH."""
    import mockssh as installed

    source = os.path.join(os.path.dirname(installed.__file__), "sample-user-key")
    path = tmp_path / "sample-user-key"
    shutil.copyfile(source, path)
    path.chmod(0o600)
    _forget_mockssh()
    return path


class _KeepFirstQueue(dict):
    """mockssh's ``Handler.run`` checks ``chanid not in command_queues`` and then stores a new
    queue, while the transport thread's ``check_channel_exec_request`` may ``setdefault`` one
    and put the command in it between the two: the command's queue is replaced and the channel
    waits forever (seen once in CI, with real paramiko). Storing keeps the first queue."""

    def __setitem__(self, key, value):
        self.setdefault(key, value)


@pytest.fixture
def server(mockssh, user_key):
    class Handler(mockssh.server.Handler):
        def __init__(self, *args):
            super().__init__(*args)
            self.command_queues = _KeepFirstQueue()

    class Server(mockssh.Server):
        handler_cls = Handler

    with Server({USER: str(user_key)}) as server:
        yield server


def test_openssh_exec_through_mockssh(paramiko, server, user_key, openssh_client):
    ssh = openssh_client(server.port, user=USER, identity=user_key)
    # (mockssh never closes the command's stdin: nothing here reads it to its end)
    result = ssh.ssh("echo hello; echo oops >&2; head -c 11; exit 3", input=b"from stdin\n",
                     timeout=DEADLINE * 2)
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"hello\nfrom stdin\n"
    assert b"oops\n" in result.stderr


def test_openssh_refused_with_another_key(paramiko, server, client_keys, openssh_client):
    ssh = openssh_client(server.port, user=USER, identity=client_keys["ed25519"])
    result = ssh.ssh("true", timeout=DEADLINE * 2)
    assert result.returncode == 255
    assert b"Permission denied" in result.stderr


def test_openssh_sftp_through_mockssh(paramiko, server, user_key, openssh_client, tmp_path):
    payload = os.urandom(500_000)
    local = tmp_path / "local.bin"
    local.write_bytes(payload)
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    back = tmp_path / "back.bin"
    sftp = openssh_client(server.port, user=USER, identity=user_key)
    result = sftp.sftp(f"put {local} {remote_dir}/up.bin\nget {remote_dir}/up.bin {back}\n"
                       f"ls {remote_dir}\n", timeout=DEADLINE * 3)
    assert result.returncode == 0, result.stderr
    digest = hashlib.sha256(payload).hexdigest()
    assert hashlib.sha256((remote_dir / "up.bin").read_bytes()).hexdigest() == digest
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    assert b"up.bin" in result.stdout


def test_real_paramiko_client_exec_and_sftp_through_mockssh(paramiko, server, user_key,
                                                            tmp_path):
    client = real_paramiko.SSHClient()
    client.set_missing_host_key_policy(real_paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", server.port, username=USER, key_filename=str(user_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE,
                   banner_timeout=DEADLINE, auth_timeout=DEADLINE, channel_timeout=DEADLINE)
    try:
        _, stdout, stderr = client.exec_command("printf 'a\\nb\\n'; exit 5", timeout=DEADLINE)
        assert stdout.read() == b"a\nb\n"
        assert stdout.channel.recv_exit_status() == 5
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(DEADLINE)
        target = str(tmp_path / "written.txt")
        with sftp.open(target, "w") as f:
            f.write(b"through mockssh\n")
        assert sftp.stat(target).st_size == len(b"through mockssh\n")
        assert "written.txt" in sftp.listdir(str(tmp_path))
        sftp.remove(target)
        assert not os.path.exists(target)
        sftp.close()
    finally:
        client.close()


def test_threads_end_with_their_connections(paramiko, server, user_key, openssh_client):
    """mockssh never closes its transports: the transport's thread must end with the
    connection, as paramiko's does, or every connection would leave one behind."""
    import threading
    import time

    ssh = openssh_client(server.port, user=USER, identity=user_key)
    assert ssh.ssh("true", timeout=DEADLINE * 2).returncode == 0  # warm up (imports, keys)
    deadline = time.monotonic() + DEADLINE
    before, steady_since = set(threading.enumerate()), time.monotonic()
    while time.monotonic() - steady_since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.05)  # until the warm-up connection's threads are gone
        if set(threading.enumerate()) != before:
            before, steady_since = set(threading.enumerate()), time.monotonic()
    for _ in range(5):
        assert ssh.ssh("true", timeout=DEADLINE * 2).returncode == 0
    # threads started since (other tests' threads that end meanwhile do not matter)
    deadline = time.monotonic() + DEADLINE
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before, threading.enumerate()
