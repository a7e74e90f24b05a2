"""What paramiko accepts as the transport's socket: any object with ``send``/``recv``/``close``/
``settimeout`` (its docs say so) — a test double without ``fileno()``, and a channel of real
paramiko (whose ``fileno()`` is a pipe, not a socket)."""

from __future__ import annotations

import socket
import threading

import paramiko as real_paramiko  # imported before any fixture installs the layer
from compatkit import read_to_eof

DEADLINE = 20

assert not getattr(real_paramiko, "__pylibssh__", False)


class SocketLike:
    """Only the methods paramiko's docs ask for; counts the bytes it carried."""

    def __init__(self, sock):
        self._sock = sock
        self.sent = self.received = 0
        self.closed = False

    def send(self, data):
        n = self._sock.send(data)
        self.sent += n
        return n

    def recv(self, n):
        data = self._sock.recv(n)
        self.received += len(data)
        return data

    def settimeout(self, timeout):
        self._sock.settimeout(timeout)

    def close(self):
        self.closed = True
        self._sock.close()

    @property
    def _closed(self):  # what paramiko's Transport.close looks at (its ProxyCommand has it)
        return self.closed


def _exec(client, command):
    _, stdout, _ = client.exec_command(command, timeout=DEADLINE)
    return stdout.read()


def test_ssh_client_over_an_object_without_fileno(paramiko, sshd, known_hosts_file, client_key,
                                                   test_user):
    sock = SocketLike(socket.create_connection((sshd.host, sshd.port), timeout=DEADLINE))
    assert not hasattr(sock, "fileno")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key), sock=sock,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    payload = _exec(client, "head -c 300000 /dev/zero")
    assert payload == b"\0" * 300000
    client.close()
    assert sock.received > 300000 and sock.sent > 0
    assert sock.closed


def test_transport_over_a_real_paramiko_channel(paramiko, sshd, known_hosts_file, client_key,
                                                test_user):
    # the first hop is real paramiko; its channel (fileno() is a pipe) carries the second
    gateway = real_paramiko.SSHClient()
    # (real paramiko's HostKeys imports key classes lazily from whatever "paramiko" is now)
    gateway.set_missing_host_key_policy(real_paramiko.AutoAddPolicy())
    gateway.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                    look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        chan = gateway.get_transport().open_channel(
            "direct-tcpip", (sshd.host, sshd.port), ("127.0.0.1", 0), timeout=DEADLINE)
        t = paramiko.Transport(chan)
        try:
            t.start_client(timeout=DEADLINE)
            t.auth_publickey(test_user, paramiko.Ed25519Key.from_private_key_file(
                str(client_key)))
            session = t.open_session(timeout=DEADLINE)
            session.settimeout(DEADLINE)
            session.exec_command("echo through the gateway")
            assert read_to_eof(session, size=1024) == b"through the gateway\n"
        finally:
            t.close()
    finally:
        gateway.close()


def test_threads_end_with_the_transport(paramiko, sshd, test_user, password):
    before = {t.ident for t in threading.enumerate()}
    sock = SocketLike(socket.create_connection((sshd.host, sshd.port), timeout=DEADLINE))
    t = paramiko.Transport(sock)
    t.start_client(timeout=DEADLINE)
    t.auth_password(test_user, password)
    t.close()
    for thread in threading.enumerate():
        if thread.ident not in before:
            thread.join(DEADLINE)
            assert not thread.is_alive(), thread


def test_a_raised_receive_mark_never_holds_a_read(layer_paramiko, sshd, known_hosts_file,
                                                  client_key, test_user):
    # libssh's socket is blocking and read when its poll() says readable. With SO_RCVLOWAT
    # raised (pylibssh raises it on TCP sockets during a stream), a socket can be reported
    # readable below the mark (always for a UNIX socket, as here: the object without fileno()
    # is pumped through a socketpair; for TCP under memory pressure), and a read that waited
    # for the mark would hold the connection for bytes that never come (libssh patch 0017).
    # Layer only: it sets the mark on pylibssh's socket.
    sock = SocketLike(socket.create_connection((sshd.host, sshd.port), timeout=DEADLINE))
    client = layer_paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key), sock=sock,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        fd = client.get_transport()._session._fd
        view = socket.socket(fileno=fd)  # (detached below: the session owns the fd)
        try:
            view.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1 << 20)
        finally:
            view.detach()
        _, stdout, _ = client.exec_command("echo small", timeout=5)
        assert stdout.read() == b"small\n"
    finally:
        client.close()
