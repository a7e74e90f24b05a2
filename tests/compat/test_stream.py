"""How the layer reads a command's output through ``Channel.recv``: stdout gathered in C during
each poll (one Python call per poll, not per packet), and while a stream runs the socket
signals readiness once per 256 KiB, its last bytes still arriving at once. Layer only: these
count pylibssh's own calls and read its socket's options."""

from __future__ import annotations

import socket
import time

import pytest
from compatkit import read_to_eof

from openssh import TEST_USER

DEADLINE = 20
PACKET = 32 * 1024  # sshd's channel packets (its session channels' maximum)
BULK_LOWAT = 256 * 1024  # libssh's read size: the socket's mark while a stream runs


@pytest.fixture
def client(layer_paramiko, sshd, known_hosts_file, client_key):
    c = layer_paramiko.SSHClient()
    c.load_host_keys(str(known_hosts_file))
    c.connect(sshd.host, port=sshd.port, username=TEST_USER, key_filename=str(client_key),
              look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    yield c
    c.close()


def _read(chan, size):
    got = 0
    while got < size:
        chunk = chan.recv(size - got)
        assert chunk, f"EOF after {got} of {size} bytes"
        got += len(chunk)


def test_stdout_is_gathered_per_poll(client, monkeypatch):
    # a stream read with recv: its packets are taken by the channel's C stage during libssh's
    # poll, and Python's data callback is called only for what the stage does not take
    from pylibssh.compat.paramiko.channel import _Chan

    calls = []
    c_data = _Chan._c_data

    def counting(self, data, length, is_stderr):
        calls.append(length)
        return c_data(self, data, length, is_stderr)

    size = 8 << 20
    monkeypatch.setattr(_Chan, "_c_data", counting)
    _, stdout, _ = client.exec_command(f"head -c {size} /dev/zero", timeout=DEADLINE)
    chan = stdout.channel
    _read(chan, size)
    assert chan.recv(1) == b""
    assert chan.recv_exit_status() == 0
    # one call per packet would be 256; the stage lets packets through only while the
    # channel is paused (its reader 4 MiB behind on a loaded machine)
    assert len(calls) <= size // PACKET // 4, f"{len(calls)} data callbacks"


def test_modes_set_mid_stream_keep_the_order(client):
    # stdout gathered by the stage, then select()'s pipe and combine_stderr switched on while
    # output is buffered: every byte comes once, in order (sshd reads stdout and stderr from
    # two pipes: only output apart in time has an order)
    import select

    _, stdout, _ = client.exec_command(
        "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; sleep 0.3; echo four >&2",
        timeout=DEADLINE)
    chan = stdout.channel
    chan.settimeout(DEADLINE)
    deadline = time.monotonic() + DEADLINE
    while not chan.recv_ready():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    r, _, _ = select.select([chan], [], [], DEADLINE)  # (the pipe is made now)
    assert r == [chan]
    assert not chan.set_combine_stderr(True)
    assert read_to_eof(chan, size=1024) == b"one\ntwo\nthree\nfour\n"


def test_stream_marks_the_socket_and_its_end_arrives(client):
    # while a stream runs, the transport's socket wakes its loop only once 256 KiB wait
    # (SO_RCVLOWAT); bulk_wait after the stream's last bulk pass it signals every byte again,
    # so the few bytes that follow a pause arrive while the command still runs. A pass that
    # finds 64 KiB waiting may not come on a loaded machine: the stream is tried up to 5 times.
    transport = client.get_transport()
    session = transport._session
    for _ in range(5):
        _, stdout, _ = client.exec_command(
            "head -c 16777216 /dev/zero; sleep 0.5; echo tail; sleep 5", timeout=DEADLINE)
        chan = stdout.channel
        chan.settimeout(DEADLINE)
        sock = socket.socket(fileno=session._fd)  # (detached below: the session owns the fd)
        marks = set()
        try:
            got, size = 0, 16 << 20
            while got < size:
                got += len(chan.recv(min(1 << 20, size - got)))
                marks.add(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT))
            t0 = time.monotonic()
            assert chan.recv(100) == b"tail\n"
            assert not chan.exit_status_ready()  # (the command sleeps 5 s more)
            assert time.monotonic() - t0 < 4
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
        finally:
            sock.detach()
        chan.close()
        if BULK_LOWAT in marks:
            break
    assert BULK_LOWAT in marks, marks
