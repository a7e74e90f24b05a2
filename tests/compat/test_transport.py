"""Transport and Channel as client code uses them: sessions, channel I/O and timeouts, select on
fileno, direct-tcpip channels and remote port forwarding."""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

DEADLINE = 20


def _recv_all(chan, stderr: bool = False) -> bytes:
    out = b""
    recv = chan.recv_stderr if stderr else chan.recv
    while True:
        data = recv(65536)
        if not data:
            return out
        out += data


def test_transport_with_auth_methods(paramiko, sshd, client_key, password, test_user):
    sock = socket.create_connection((sshd.host, sshd.port), timeout=DEADLINE)
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=DEADLINE)
    key = transport.get_remote_server_key()
    assert key.get_name() in {line.split()[1] for line in sshd.known_hosts_lines()}
    with pytest.raises(paramiko.AuthenticationException):
        transport.auth_password(test_user, "wrong password")
    assert not transport.is_authenticated()
    transport.auth_password(test_user, password)
    assert transport.is_authenticated()
    assert transport.getpeername()[:2] == (sshd.host, sshd.port)
    transport.close()
    assert not transport.is_active()


def test_auth_publickey_on_transport(paramiko, sshd, client_key, test_user):
    transport = paramiko.Transport((sshd.host, sshd.port))
    transport.connect()
    assert transport.auth_publickey(test_user, paramiko.Ed25519Key.from_private_key_file(
        str(client_key))) == []
    assert transport.is_authenticated()
    transport.close()


def test_channel_exec_send_recv_and_exit_status(connect):
    transport = connect().get_transport()
    chan = transport.open_session(timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    assert chan.gettimeout() == DEADLINE
    chan.exec_command("cat; echo done >&2; exit 5")
    chan.sendall(b"through cat\n")
    chan.shutdown_write()
    assert _recv_all(chan) == b"through cat\n"
    assert _recv_all(chan, stderr=True) == b"done\n"
    assert chan.recv_exit_status() == 5
    assert chan.exit_status_ready()
    chan.close()


def test_channel_combine_stderr_and_makefile(connect):
    chan = connect().get_transport().open_session()
    chan.set_combine_stderr(True)
    chan.exec_command("echo a; echo b >&2")
    with chan.makefile("rb") as f:
        assert sorted(f.read().split()) == [b"a", b"b"]
    assert chan.recv_exit_status() == 0


def test_channel_timeout_and_nonblocking(paramiko, connect):
    chan = connect().get_transport().open_session()
    chan.exec_command("sleep 3; echo late")
    chan.settimeout(0.3)
    with pytest.raises(socket.timeout):
        chan.recv(10)
    chan.setblocking(False)
    with pytest.raises(socket.timeout):
        chan.recv(10)
    assert not chan.recv_ready()
    chan.setblocking(True)
    assert chan.recv(10) == b"late\n"


def test_fileno_works_with_select(connect):
    chan = connect().get_transport().open_session()
    chan.exec_command("sleep 0.3; echo ready")
    start = time.monotonic()
    readable, _, _ = select.select([chan], [], [], DEADLINE)
    assert readable == [chan]
    assert time.monotonic() - start >= 0.2
    assert chan.recv_ready()
    assert chan.recv(100) == b"ready\n"


def test_subsystem_and_env(connect):
    chan = connect().get_transport().open_session()
    chan.update_environment({"PYLIBSSH_A": "1", "PYLIBSSH_B": "two"})
    chan.exec_command("echo $PYLIBSSH_A-$PYLIBSSH_B")
    assert _recv_all(chan) == b"1-two\n"
    sub = connect().get_transport().open_session()
    sub.invoke_subsystem("sftp")
    sub.sendall(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")  # SSH_FXP_INIT, version 3
    sub.settimeout(DEADLINE)
    assert sub.recv(5)[4:5] == b"\x02"  # SSH_FXP_VERSION


@pytest.fixture
def echo_server():
    """A plain TCP echo server on loopback (the far end of forwarded connections)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(DEADLINE)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    stop.set()
    srv.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def test_direct_tcpip_channel(connect, echo_server):
    transport = connect().get_transport()
    chan = transport.open_channel("direct-tcpip", ("127.0.0.1", echo_server), ("127.0.0.1", 0),
                                  timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    payload = bytes(range(256)) * 4096
    sender = threading.Thread(target=chan.sendall, args=(payload,))
    sender.start()
    got = b""
    while len(got) < len(payload):
        got += chan.recv(65536)
    sender.join(DEADLINE)
    assert got == payload
    chan.close()


def test_direct_tcpip_to_a_closed_port_raises_channel_exception(paramiko, connect):
    from openssh import free_port

    transport = connect().get_transport()
    with pytest.raises(paramiko.ChannelException) as info:
        transport.open_channel("direct-tcpip", ("127.0.0.1", free_port()), ("127.0.0.1", 0),
                               timeout=DEADLINE)
    assert info.value.code == paramiko.common.OPEN_FAILED_CONNECT_FAILED


def test_remote_port_forward_with_accept(connect):
    transport = connect().get_transport()
    port = transport.request_port_forward("127.0.0.1", 0)
    assert port > 0
    result = {}

    def dial():
        with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
            s.sendall(b"hello through -R")
            s.shutdown(socket.SHUT_WR)
            result["reply"] = s.recv(100)

    caller = threading.Thread(target=dial)
    caller.start()
    chan = transport.accept(DEADLINE)
    assert chan is not None
    chan.settimeout(DEADLINE)
    data = _recv_all(chan)
    chan.sendall(data.upper())
    chan.close()
    caller.join(DEADLINE)
    assert data == b"hello through -R"
    assert result["reply"] == b"HELLO THROUGH -R"
    transport.cancel_port_forward("127.0.0.1", port)


def test_keepalive_setting_does_not_break_the_session(connect):
    transport = connect().get_transport()
    transport.set_keepalive(1)
    time.sleep(2.5)
    assert transport.is_active()
    chan = transport.open_session()
    chan.exec_command("echo alive")
    assert _recv_all(chan) == b"alive\n"
