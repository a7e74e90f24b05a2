"""How the layer reads a command's output through ``Channel.recv``: stdout gathered in C during
each poll (one Python call per poll, not per packet). Layer only: these count pylibssh's own
calls."""

from __future__ import annotations

import time

import pytest

from openssh import TEST_USER

DEADLINE = 20
PACKET = 32 * 1024  # sshd's channel packets (its session channels' maximum)


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
    out = b""
    while True:
        data = chan.recv(1024)
        if not data:
            break
        out += data
    assert out == b"one\ntwo\nthree\nfour\n"

