"""Libraries built on paramiko, used the way their documentation shows: fabric's Connection and the
``scp`` package. With ``install()`` they import the compatibility layer without knowing it."""

from __future__ import annotations

import hashlib
import importlib
import os
import sys

import pytest

DEADLINE = 20


def _fresh_import(name: str):
    """Import a paramiko-based library anew, so that it binds to the paramiko now installed."""
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
    return importlib.import_module(name)


@pytest.fixture
def fabric(paramiko):
    module = _fresh_import("fabric")
    yield module
    for mod in [m for m in sys.modules if m == "fabric" or m.startswith("fabric.")]:
        del sys.modules[mod]


@pytest.fixture
def scp_module(paramiko):
    module = _fresh_import("scp")
    yield module
    del sys.modules["scp"]


def test_fabric_connection_run_put_get(fabric, paramiko, sshd, client_key, known_hosts_file,
                                       test_user, tmp_path):
    conn = fabric.Connection(
        sshd.host, user=test_user, port=sshd.port,
        connect_kwargs={"key_filename": str(client_key), "look_for_keys": False,
                        "allow_agent": False},
        connect_timeout=DEADLINE,
    )
    conn.client.load_host_keys(str(known_hosts_file))
    try:
        result = conn.run("echo from-fabric; echo warn >&2; exit 0", hide=True, in_stream=False, timeout=DEADLINE)
        assert result.ok and result.stdout == "from-fabric\n" and result.stderr == "warn\n"
        failed = conn.run("exit 4", hide=True, warn=True, in_stream=False,
                          timeout=DEADLINE)
        assert failed.exited == 4 and not failed.ok
        local = tmp_path / "payload.bin"
        data = os.urandom(300_000)
        local.write_bytes(data)
        remote = f"fabric-{os.getpid()}.bin"
        conn.put(str(local), remote=remote)
        back = tmp_path / "back.bin"
        conn.get(remote, local=str(back))
        conn.run(f"rm {remote}", hide=True, in_stream=False, timeout=DEADLINE)
        assert back.read_bytes() == data
        assert isinstance(conn.client, paramiko.SSHClient)
    finally:
        conn.close()


def test_scp_package_put_and_get_recursive(scp_module, connect, tmp_path):
    client = connect()
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(200_000))
    remote = f"scp-{os.getpid()}"
    progress = []
    with scp_module.SCPClient(client.get_transport(), socket_timeout=DEADLINE,
                              progress=lambda name, size, sent: progress.append(sent)) as scp:
        scp.put(str(src), remote_path=remote, recursive=True)
        dest = tmp_path / "back"
        dest.mkdir()
        scp.get(remote, local_path=str(dest), recursive=True)
    _, stdout, _ = client.exec_command(f"rm -r {remote}", timeout=DEADLINE)
    assert stdout.channel.recv_exit_status() == 0
    assert progress
    for rel in ("a.txt", "sub/b.bin"):
        # like scp -r: the remote directory did not exist, so it received tree's contents
        assert hashlib.sha256((dest / remote / rel).read_bytes()).digest() == \
            hashlib.sha256((src / rel).read_bytes()).digest()
