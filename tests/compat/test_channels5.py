"""Channels and their files as paramiko code uses them: environment with bytes, ``read(n)``'s
loop, the ``'U'`` mode, ``select`` readiness (stdout and stderr, as paramiko), ``send``/``send_ready`` and the
peer's window, refusal codes, remote forwarding with a handler and with ``accept()`` side by
side, and forwarding asked for before authentication. The peer is OpenSSH's sshd."""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

from openssh import OpenSSHServer

DEADLINE = 20


def _until(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_environment_with_bytes(paramiko, connect):
    client = connect()
    _, stdout, _ = client.exec_command("printf %s \"$PYLIBSSH_BYTES\"", timeout=DEADLINE,
                                       environment={b"PYLIBSSH_BYTES": "v\u00e9".encode()})
    assert stdout.read() == "v\u00e9".encode()


def test_read_n_loops_until_n_bytes_or_end(paramiko, connect):
    client = connect()
    _, stdout, _ = client.exec_command("printf ab; sleep 0.3; printf cdefg; sleep 0.3; printf h",
                                       timeout=DEADLINE)
    assert stdout.read(5) == b"abcde"
    assert stdout.read(10) == b"fgh"
    assert stdout.read(10) == b""


def test_sftp_file_reads_again_after_the_end(paramiko, sftp):
    with sftp.open("growing", "w") as f:
        f.write(b"first")
    with sftp.open("growing", "r") as reader:
        assert reader.read() == b"first"
        assert reader.read(10) == b""
        with sftp.open("growing", "a") as writer:
            writer.write(b"+more")
        assert reader.read(10) == b"+more"


def test_universal_newline_mode(paramiko, connect):
    client = connect()
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    chan.exec_command(r"printf 'a\rb\r\nc\nd'")
    f = chan.makefile("rU")
    assert f.readlines() == ["a\n", "b\n", "c\n", "d"]
    assert f.newlines == (b"\r", b"\r\n", b"\n")


def test_select_wakes_for_stdout_and_stderr(paramiko, connect):
    # paramiko's fileno() is readable while either stream has data: a select loop that reads
    # both (recv_ready / recv_stderr_ready) sees stderr that comes alone
    client = connect()
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    chan.exec_command("echo err >&2; sleep 1; echo out")
    readable, _, _ = select.select([chan], [], [], DEADLINE)
    assert readable == [chan]
    _until(chan.recv_stderr_ready, "stderr")
    assert not chan.recv_ready()
    assert chan.recv_stderr(100) == b"err\n"
    readable, _, _ = select.select([chan], [], [], 0)
    assert readable == []  # both streams drained: not readable until more comes
    readable, _, _ = select.select([chan], [], [], DEADLINE)
    assert readable == [chan]
    assert chan.recv(100) == b"out\n"


def test_send_ready_false_while_the_window_is_full(paramiko, connect):
    client = connect()
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.exec_command("sleep 60")  # never reads its input: sshd's window fills
    chan.settimeout(0.5)
    sent = 0
    limit = 64 << 20
    block = b"\0" * 32768
    while sent < limit:
        try:
            n = chan.send(block)  # waits for the window, at most 0.5 s
        except socket.timeout:
            break
        assert 0 < n <= len(block)
        sent += n
    assert sent < limit  # the window closed (sshd buffers a bounded amount)
    assert not chan.send_ready()
    chan.close()


#: channel kind -> the sshd option that refuses it, and paramiko's name for the reason code
REFUSALS = {
    "direct-tcpip": ({"AllowTcpForwarding": "no"}, "OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED"),
    # sshd's answer when it cannot start a session
    "session": ({"MaxSessions": "0"}, "OPEN_FAILED_CONNECT_FAILED"),
}


@pytest.fixture(scope="module", params=sorted(REFUSALS))
def refusing_sshd(request, tmp_path_factory, client_key):
    """(channel kind, an sshd that refuses it, paramiko's name for the reason it gives)."""
    options, reason = REFUSALS[request.param]
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd-refusing"), options)
    server.authorize((client_key.parent / "id_ed25519.pub").read_text())
    server.start()
    yield request.param, server, reason
    server.cleanup()


def test_channel_exception_code_is_the_reason(paramiko, refusing_sshd, client_key, test_user):
    kind, server, reason = refusing_sshd
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(server.host, server.port, test_user, key_filename=str(client_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        transport = client.get_transport()
        with pytest.raises(paramiko.ChannelException) as info:
            if kind == "session":
                transport.open_session(timeout=DEADLINE)
            else:
                transport.open_channel(kind, (server.host, server.port), ("127.0.0.1", 0),
                                       timeout=DEADLINE)
        assert info.value.code == getattr(paramiko, reason)
        assert transport.is_active()
    finally:
        client.close()


def test_port_forward_before_authentication_fails(layer_paramiko, sshd):
    """The layer only: real paramiko waits for a reply OpenSSH does not send before
    authentication (its request times out)."""
    paramiko = layer_paramiko
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        started = time.monotonic()
        with pytest.raises(paramiko.SSHException):
            t.request_port_forward("127.0.0.1", 0)
        assert time.monotonic() - started < DEADLINE  # not the request's 30 s wait
    finally:
        t.close()


def test_remote_forward_handler_and_accept_side_by_side(paramiko, connect):
    t = connect().get_transport()
    handled = []
    lock = threading.Lock()

    def handler(chan, origin, server):
        with lock:
            handled.append((chan, server))

    port_h = t.request_port_forward("127.0.0.1", 0, handler=handler)
    port_a = t.request_port_forward("127.0.0.1", 0)
    socks = []
    n = 5
    for i in range(n):
        for port, tag in ((port_h, b"h"), (port_a, b"a")):
            s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
            s.sendall(tag + bytes([i]))
            socks.append(s)
    # every connection reaches the handler or accept(), none twice (paramiko's last
    # request_port_forward sets the one handler for all ports: without one, all go to accept())
    layer = getattr(paramiko, "__pylibssh__", False)
    expected_accepted = n if layer else 2 * n
    accepted = []
    while len(accepted) < expected_accepted:
        chan = t.accept(DEADLINE)
        assert chan is not None, f"accept() got {len(accepted)} of {expected_accepted}"
        accepted.append(chan)

    def tag(chan):
        chan.settimeout(DEADLINE)
        data = b""
        while len(data) < 2:
            data += chan.recv(2 - len(data))
        return data

    if layer:  # each port's own: the handler's port to the handler, the other to accept()
        _until(lambda: len(handled) == n, "the handler's channels")
        assert sorted(tag(c) for c in accepted) == [b"a" + bytes([i]) for i in range(n)]
        assert sorted(tag(c) for c, _ in handled) == [b"h" + bytes([i]) for i in range(n)]
        assert {server[1] for _, server in handled} == {port_h}
    else:
        assert handled == []
        assert sorted(tag(c) for c in accepted) == sorted(
            kind + bytes([i]) for i in range(n) for kind in (b"a", b"h"))
    assert t.accept(0.3) is None
    for s in socks:
        s.close()
    for c in accepted + [c for c, _ in handled]:
        c.close()
    t.cancel_port_forward("127.0.0.1", port_h)
    t.cancel_port_forward("127.0.0.1", port_a)
