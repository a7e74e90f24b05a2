"""What the compatibility layer adds beyond paramiko's API: ``install()``/``uninstall()`` and
its exceptions being pylibssh's too. Plus paramiko usages tests/compat did not cover yet
(a channel as the socket of a second connection, as fabric's gateway does), run against both."""

from __future__ import annotations

import importlib
import socket
import sys
import threading

import pytest

DEADLINE = 20


@pytest.fixture
def clean_modules():
    saved = {n: m for n, m in sys.modules.items()
             if n == "paramiko" or n.startswith("paramiko.")}
    for name in saved:
        del sys.modules[name]
    yield
    for name in [n for n in sys.modules if n == "paramiko" or n.startswith("paramiko.")]:
        del sys.modules[name]
    sys.modules.update(saved)


def test_install_resolves_paramiko_and_submodules(clean_modules):
    from pylibssh.compat import paramiko as compat

    compat.install()
    try:
        import paramiko
        import paramiko.sftp_client
        from paramiko.client import SSHClient
        from paramiko.ssh_exception import NoValidConnectionsError

        assert paramiko is compat and paramiko.__pylibssh__ is True
        assert SSHClient is compat.SSHClient
        assert paramiko.sftp_client.SFTPClient is compat.SFTPClient
        assert NoValidConnectionsError is compat.ssh_exception.NoValidConnectionsError
        assert importlib.import_module("paramiko.util").__name__.startswith("pylibssh.")
        assert compat.installed()
    finally:
        compat.uninstall()
    assert not compat.installed()
    real = importlib.import_module("paramiko")
    assert not getattr(real, "__pylibssh__", False)
    assert "pylibssh" not in real.client.__file__


def test_exceptions_are_pylibssh_errors_too():
    from pylibssh import errors
    from pylibssh.compat import paramiko as compat

    assert issubclass(compat.SSHException, errors.SSHError)
    assert issubclass(compat.AuthenticationException, errors.AuthenticationError)
    assert issubclass(compat.BadHostKeyException, errors.HostKeyChangedError)
    assert issubclass(compat.ChannelException, errors.ChannelOpenError)
    assert issubclass(compat.PasswordRequiredException, errors.PassphraseRequiredError)
    assert issubclass(compat.ssh_exception.NoValidConnectionsError, errors.SSHConnectionError)
    exc = compat.ChannelException(2, "Connect failed")
    assert exc.code == 2 and exc.text == "Connect failed"
    bad = compat.BadAuthenticationType("Bad authentication type", ["publickey"])
    assert bad.allowed_types == ["publickey"] and "publickey" in str(bad)


def test_refused_sftp_path_is_pylibssh_sftp_error(paramiko, sftp):
    from pylibssh import errors

    with pytest.raises(FileNotFoundError) as info:
        sftp.listdir("no-such-dir")
    if getattr(paramiko, "__pylibssh__", False):
        assert isinstance(info.value, errors.SFTPError)


def test_connect_through_a_direct_tcpip_channel(paramiko, connect, sshd, known_hosts_file,
                                                client_key, test_user):
    # fabric's gateway: the second connection's socket is a channel of the first
    outer = connect()
    chan = outer.get_transport().open_channel("direct-tcpip", (sshd.host, sshd.port),
                                              ("127.0.0.1", 0), timeout=DEADLINE)
    inner = paramiko.SSHClient()
    inner.load_host_keys(str(known_hosts_file))
    inner.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key), sock=chan,
                  look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        _, stdout, _ = inner.exec_command("head -c 2000000 /dev/zero | wc -c", timeout=DEADLINE)
        assert stdout.read().strip() == b"2000000"
    finally:
        inner.close()


def test_exec_stream_checksum(connect):
    # a long stream through Channel.recv arrives intact
    import hashlib

    client = connect()
    size = 64 * 1024 * 1024
    _, stdout, _ = client.exec_command(
        f"head -c {size} /dev/zero | tr '\\0' 'x'", timeout=DEADLINE * 3)
    h = hashlib.sha256()
    total = 0
    while True:
        chunk = stdout.channel.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        total += len(chunk)
    assert total == size
    assert h.hexdigest() == hashlib.sha256(b"x" * size).hexdigest()
    assert stdout.channel.recv_exit_status() == 0


def test_channel_recv_on_closed_transport_raises_or_ends(paramiko, connect):
    client = connect()
    chan = client.get_transport().open_session()
    chan.exec_command("sleep 10")
    chan.settimeout(DEADLINE)
    client.close()
    # paramiko: recv on a channel whose transport closed returns b"" (EOF), never hangs
    try:
        assert chan.recv(10) == b""
    except (socket.error, paramiko.SSHException):
        pass


def test_server_interface_defaults_and_start_server_failures(host_key_files):
    from pylibssh.compat import paramiko as compat

    class Server(compat.ServerInterface):
        def check_auth_password(self, username, password):
            return compat.AUTH_SUCCESSFUL

    assert Server().check_auth_password("u", "p") == compat.AUTH_SUCCESSFUL
    assert Server().check_auth_none("u") == compat.AUTH_FAILED
    assert Server().check_channel_request("session", 1) == \
        compat.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    assert Server().get_allowed_auths("u") == "password"
    left, right = socket.socketpair()
    try:
        transport = compat.Transport(left)
        with pytest.raises(compat.SSHException, match="host key"):
            transport.start_server(server=Server())  # no add_server_key
        transport.add_server_key(compat.Ed25519Key(filename=str(host_key_files["ed25519"])))
        right.sendall(b"SSH-2.0-not-really\r\n\0\0\0\0garbage")
        right.close()  # the peer goes away during the key exchange
        with pytest.raises(compat.SSHException, match="Negotiation failed"):
            transport.start_server(server=Server())
        assert not transport.is_active()
        transport.close()
    finally:
        right.close()
    # with an event: start_server returns at once, the event is set when negotiation ends
    left, right = socket.socketpair()
    try:
        transport = compat.Transport(left)
        transport.add_server_key(compat.Ed25519Key(filename=str(host_key_files["ed25519"])))
        event = threading.Event()
        transport.start_server(event, Server())
        assert transport.is_active()  # negotiating
        right.close()
        assert event.wait(20)
        assert not transport.is_active()
        transport.close()
    finally:
        right.close()
