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


@pytest.fixture
def echo_server():
    """A TCP echo server on 127.0.0.1 (the tunnels' far end); its port."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    conns = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn):
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
    listener.close()
    for conn in conns:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    thread.join(DEADLINE)


@pytest.fixture
def sshtunnel(paramiko):
    module = _fresh_import("sshtunnel")
    yield module
    del sys.modules["sshtunnel"]


def test_sshtunnel_forwarder(sshtunnel, sshd, client_key, test_user, echo_server):
    import socket

    server = sshtunnel.SSHTunnelForwarder(
        (sshd.host, sshd.port), ssh_username=test_user, ssh_pkey=str(client_key),
        remote_bind_address=("127.0.0.1", echo_server), local_bind_address=("127.0.0.1", 0),
        allow_agent=False, set_keepalive=0.0)
    server.start()
    try:
        assert server.is_active and server.tunnel_is_up
        payload = os.urandom(200_000)
        for _ in range(3):  # one channel per connection
            with socket.create_connection(("127.0.0.1", server.local_bind_port),
                                          timeout=DEADLINE) as s:
                s.sendall(payload)
                back = b""
                while len(back) < len(payload):  # (sshtunnel closes on a half-close)
                    data = s.recv(65536)
                    assert data, f"the tunnel closed after {len(back)} bytes"
                    back += data
            assert back == payload
    finally:
        server.stop()
    assert not server.is_active


@pytest.fixture
def pysftp(layer_paramiko):
    """The layer only: pysftp imports DSSKey, which paramiko 4 removed, so it cannot import
    with real paramiko 5.1."""
    module = _fresh_import("pysftp")
    yield module
    del sys.modules["pysftp"]


def test_pysftp_connection(pysftp, sshd, test_user, tmp_path):
    from openssh import keygen

    rsa_key = keygen(tmp_path / "id_rsa", "rsa")  # pysftp reads RSA (and DSA) key files only
    sshd.authorize((tmp_path / "id_rsa.pub").read_text())
    # pysftp looks host keys up by the bare host name (no [host]:port form)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(f"{sshd.host} {' '.join(line.split()[1:])}\n"
                                   for line in sshd.known_hosts_lines()))
    cnopts = pysftp.CnOpts(knownhosts=str(known_hosts))
    local = tmp_path / "up.bin"
    data = os.urandom(100_000)
    local.write_bytes(data)
    remote = f"pysftp-{os.getpid()}"
    with pysftp.Connection(sshd.host, username=test_user, private_key=str(rsa_key),
                           port=sshd.port, cnopts=cnopts) as sftp:
        sftp.makedirs(f"{remote}/sub")
        with sftp.cd(remote):
            sftp.put(str(local), "sub/up.bin")
            assert sftp.exists("sub/up.bin") and sftp.isdir("sub")
            assert sftp.listdir("sub") == ["up.bin"]
            sftp.get("sub/up.bin", str(tmp_path / "down.bin"))
            assert sftp.execute("echo from-pysftp") == [b"from-pysftp\n"]
        sftp.remove(f"{remote}/sub/up.bin")
        sftp.rmdir(f"{remote}/sub")
        sftp.rmdir(remote)
    assert (tmp_path / "down.bin").read_bytes() == data
