"""Streaming channels, large concurrent output, pty shells, signals, subsystems, threads, many
sessions on one loop, keepalive — the client against OpenSSH's sshd."""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time

import pytest

import pylibssh
from clientkit import (  # noqa: F401
    DEADLINE,
    clients_on_one_loop,
    connect,
    known_hosts,
    known_hosts_for,
)
from openssh import OpenSSHServer

pytestmark = pytest.mark.peer

MiB = 1 << 20


def test_streaming_process(connect):
    c = connect()
    p = c.exec("cat; echo done >&2; exit 4")
    p.write(b"line one\nline two\n")
    assert p.readline() == b"line one\n"
    assert p.readline() == b"line two\n"
    p.write("tail")
    p.close_stdin()
    assert p.wait() == 4
    assert p.read() == b"tail"
    assert p.read() == b""
    assert p.read_stderr() == b"done\n"
    assert p.returncode == 4


def test_large_stdout_and_stderr_at_once(connect):
    # each far larger than the channel window (about 1-2 MiB); both written concurrently
    c = connect()
    cmd = ("head -c 20000000 /dev/urandom > /tmp/.pylibssh-client-rand-$$; "
           "cat /tmp/.pylibssh-client-rand-$$ & cat /tmp/.pylibssh-client-rand-$$ >&2; wait; "
           "sha256sum < /tmp/.pylibssh-client-rand-$$ >&2; rm -f /tmp/.pylibssh-client-rand-$$")
    r = c.run(cmd)
    assert len(r.stdout) == 20000000
    digest = hashlib.sha256(r.stdout).hexdigest()
    assert r.stderr[:20000000] == r.stdout
    assert r.stderr[20000000:].split()[0].decode() == digest


def test_streaming_reader_that_reads_only_stdout(connect):
    # stderr fills far beyond the buffer limit while we only read stdout: no deadlock
    c = connect()
    p = c.exec("head -c 12000000 /dev/zero >&2; echo end")
    got = b""
    while not got.endswith(b"end\n"):
        chunk = p.read()
        if not chunk:
            break
        got += chunk
    assert got == b"end\n"
    assert p.wait() == 0
    assert len(p.read_stderr()) == 12000000


def test_stderr_filling_up_while_a_reader_waits_for_stdout(connect):
    # the reader already waits (Process.read's C-driven passes) when stderr passes the buffer
    # limit and pauses the channel: it must go back to the general path, which resumes it
    c = connect()
    p = c.exec("echo start; sleep 0.5; head -c 12000000 /dev/zero >&2; echo end")
    t0 = time.monotonic()
    got = b""
    while not got.endswith(b"end\n"):
        chunk = p.read(timeout=6)
        assert chunk
        got += chunk
    assert got == b"start\nend\n"
    assert time.monotonic() - t0 < 5  # not a read that waited for its timeout
    assert p.wait() == 0
    assert len(p.read_stderr()) == 12000000


def test_stream_is_held_back_when_not_read(connect):
    c = connect()
    p = c.exec("head -c 64000000 /dev/zero; echo finished >&2")
    time.sleep(1.0)
    # the buffer limit paused the channel: the server is held back by the window
    assert len(p.channel._bufs[0]) < 16 * MiB
    total = 0
    while True:
        chunk = p.read(timeout=DEADLINE)
        if not chunk:
            break
        total += len(chunk)
    assert total == 64000000
    p.wait()
    assert p.read_stderr() == b"finished\n"


def test_read_timeout_on_a_stalled_channel(connect):
    c = connect()
    p = c.exec("sleep 30")
    t0 = time.monotonic()
    with pytest.raises(pylibssh.SSHTimeoutError):
        p.read(timeout=0.3)
    assert time.monotonic() - t0 < 3
    p.close()


def _seq(n: int) -> bytes:
    return b"".join(b"%d\n" % i for i in range(1, n + 1))


def _read_all(p, n: int = -1) -> bytes:
    """Process.read until stdout ends (each chunk at most ``n`` bytes when given)."""
    got = bytearray()
    while True:
        chunk = p.read(n, timeout=DEADLINE)
        if not chunk:
            return bytes(got)
        assert n < 0 or len(chunk) <= n
        got += chunk


def test_read_n_returns_the_stream_in_order(connect):
    # Process.read runs passes from C while one thread reads the loop's only session; small
    # reads take from what a pass gathered, in order
    c = connect()
    p = c.exec("seq 1 300000")
    assert _read_all(p, 1000) == _seq(300000)
    assert p.wait() == 0


def test_bulk_reading_then_small_output(connect):
    # a fast stream is read in bulk (the socket reports readable only once 256 KiB wait, and
    # each wait is short); what follows, a few bytes after a pause, must still come at once to
    # read() and to the loop's own waits (readline, wait), which need every byte signalled.
    # Bulk reading needs a pass that finds 64 KiB waiting: on a loaded machine a stream may
    # never offer one, so the stream is tried again (up to five times) until it does.
    c = connect()
    for _ in range(5):
        p = c.exec("head -c 8388608 /dev/zero; sleep 0.3; echo one; sleep 0.3; echo two; exit 3",
                   timeout=10)
        sock = socket.socket(fileno=c.session._fd)  # (detached below: the session owns the fd)
        try:
            size, got, bulk = 8 << 20, 0, False
            while got < size:
                got += len(p.read(size - got))
                bulk |= p.channel._bulk
                # between reads the socket signals every byte again
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
        finally:
            sock.detach()
        if bulk:
            break
        assert p.wait() == 3
    assert bulk  # (the stream was read in bulk)
    t0 = time.monotonic()
    assert p.readline() == b"one\n"
    assert p.read() == b"two\n"
    assert p.wait() == 3
    assert time.monotonic() - t0 < 3


def test_reader_and_writer_threads_on_one_process(connect):
    # the reader waits without the loop's lock: the writer's calls get through and wake it
    c = connect()
    p = c.exec("cat")
    data = hashlib.sha256(b"seed").digest() * (8 * MiB // 32)
    errors = []

    def write():
        try:
            for i in range(0, len(data), 64 * 1024):
                p.write(data[i:i + 64 * 1024], timeout=DEADLINE)
            p.close_stdin()
        except Exception as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    got = _read_all(p)
    writer.join(DEADLINE)
    assert not errors
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert p.wait() == 0


def test_two_threads_read_two_processes_of_one_session(connect):
    # one thread drives the session's passes; the other waits for its channel's bytes
    c = connect()
    results = {}

    def read(i):
        results[i] = _read_all(c.exec(f"seq 1 {200000 + i}"))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert results == {i: _seq(200000 + i) for i in range(2)}


def test_read_while_keepalive_timers_run(connect):
    # due timers send the reader back to the loop, which runs them; the read goes on
    c = connect(keepalive_interval=0.2)
    p = c.exec("sleep 1.2; echo late; head -c 3000000 /dev/zero")
    got = p.read(timeout=DEADLINE)
    while len(got) < 3000005:
        chunk = p.read(timeout=DEADLINE)
        assert chunk
        got += chunk
    assert got[:5] == b"late\n" and len(got) == 3000005 and got.count(0) == 3000000
    assert p.wait() == 0


def test_env(connect):
    c = connect()
    p = c.exec("echo $PYLIBSSH_A-$PYLIBSSH_B", env={"PYLIBSSH_A": "1", "PYLIBSSH_B": "two"})
    assert p.read_until_eof() == (b"1-two\n", b"")


def _read_until(p, needle: bytes, timeout=DEADLINE) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in {got!r}")
        got += p.read(timeout=timeout)
    return got


def test_pty_shell_resize_and_exit(connect):
    c = connect()
    sh = c.shell(term="xterm-256color", cols=80, rows=24)
    sh.write(b"echo TERM=$TERM; stty size\n")
    out = _read_until(sh, b"24 80")
    assert b"TERM=xterm-256color" in out
    sh.resize(100, 40)
    sh.write(b"stty size\n")
    _read_until(sh, b"40 100")
    sh.write(b"tty; exit 5\n")
    out = _read_until(sh, b"/dev/pts/")
    assert sh.wait() == 5


def test_exec_with_pty(connect):
    r = connect().run("tty", pty=True)
    assert r.stdout.startswith(b"/dev/pts/")


def test_signal(connect):
    c = connect()
    p = c.exec("exec sleep 30")
    time.sleep(0.3)
    p.send_signal("TERM")
    p.wait(timeout=DEADLINE)
    assert p.exit_signal == "TERM"


def test_subsystem_sftp_raw(connect):
    c = connect()
    p = c.subsystem("sftp")
    p.write(struct.pack(">IBI", 5, 1, 3))  # SSH_FXP_INIT, version 3
    head = b""
    while len(head) < 9:
        head += p.read(timeout=DEADLINE)
    length, kind, version = struct.unpack(">IBI", head[:9])
    assert kind == 2 and version == 3  # SSH_FXP_VERSION
    p.close()


def test_unknown_subsystem_refused(connect):
    with pytest.raises(pylibssh.RequestDeniedError):
        connect().subsystem("no-such-subsystem")


def test_eight_threads_each_with_a_session(connect):
    clients = [connect() for _ in range(8)]
    results: dict[int, list] = {}
    errors = []

    def work(i: int) -> None:
        try:
            out = []
            for j in range(5):
                r = clients[i].run(f"head -c 300000 /dev/zero | tr '\\0' '{i}'; echo {j} >&2")
                out.append((len(r.stdout), set(r.stdout), r.stderr))
            results[i] = out
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i in range(8):
        assert results[i] == [(300000, {ord(str(i))}, f"{j}\n".encode()) for j in range(5)]


def test_one_session_shared_by_threads(connect):
    c = connect()
    outs = []

    def work(i):
        for _ in range(3):
            outs.append(c.run(f"echo {i}").stdout)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outs) == sorted(f"{i}\n".encode() for i in range(4) for _ in range(3))


def test_many_sessions_on_one_loop(clients_on_one_loop):
    loop, clients = clients_on_one_loop(16)
    runs = [c.run_async(f"sleep 0.5; echo {i}") for i, c in enumerate(clients)]
    t0 = time.monotonic()
    assert loop.run_until(lambda: all(f.done() for f in runs), DEADLINE)
    assert time.monotonic() - t0 < 5  # concurrently, not 16 x 0.5 s
    assert [f.result().stdout for f in runs] == [f"{i}\n".encode() for i in range(16)]


class _FreezableProxy:
    """A TCP relay to the sshd that can stop relaying (the server 'stops answering')."""

    def __init__(self, port: int):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = port
        self.frozen = threading.Event()
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        conn, _ = self.listener.accept()
        up = socket.create_connection(("127.0.0.1", self.target))
        self.socks += [conn, up]
        for a, b in ((conn, up), (up, conn)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                while self.frozen.is_set():
                    time.sleep(0.05)
                b.sendall(data)
        except OSError:
            pass

    def close(self):
        self.frozen.clear()
        for s in self.socks + [self.listener]:
            s.close()


def test_keepalive_detects_a_dead_peer(sshd, connect):
    proxy = _FreezableProxy(sshd.port)
    try:
        c = connect(port=proxy.port, keepalive_interval=0.3, keepalive_count_max=2,
                    host_key_policy="ignore")
        assert c.run("echo alive").stdout == b"alive\n"
        future = c.run_async("sleep 60")
        proxy.frozen.set()
        t0 = time.monotonic()
        with pytest.raises(pylibssh.SSHTimeoutError) as info:
            pylibssh.client._task.wait(c.loop, future, DEADLINE, "run")
        assert "keepalive" in str(info.value)
        assert time.monotonic() - t0 < 5
        assert c.closed
    finally:
        proxy.close()


def test_keepalive_ends_a_blocked_read_from_a_dead_peer(sshd, connect):
    # Process.read waits in its own passes; the keepalive timer still runs (the reader goes
    # back to the loop when it is due), and the read ends with the connection's error rather
    # than with what looks like the end of the output
    proxy = _FreezableProxy(sshd.port)
    try:
        c = connect(port=proxy.port, keepalive_interval=0.3, keepalive_count_max=2,
                    host_key_policy="ignore")
        p = c.exec("echo first; sleep 60")
        assert p.read(timeout=DEADLINE) == b"first\n"
        proxy.frozen.set()
        t0 = time.monotonic()
        with pytest.raises(pylibssh.SSHTimeoutError) as info:
            while p.read(timeout=DEADLINE):
                pass
        assert "keepalive" in str(info.value)
        assert time.monotonic() - t0 < 5
        assert c.closed
        with pytest.raises(pylibssh.SSHTimeoutError):
            p.wait(timeout=1)  # not an exit without a status
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def sshd_no_sessions(tmp_path_factory, client_key):
    """An sshd that refuses every session channel (MaxSessions 0: forwarding only)."""
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd-nosessions"), {"MaxSessions": "0"})
    server.authorize((client_key.parent / "id_ed25519.pub").read_text())
    server.start()
    yield server
    server.cleanup()


def test_a_refused_session_channel_carries_the_reason(sshd_no_sessions, client_key, tmp_path):
    """Commands and SFTP open their channel through the one opener: the server's reason code
    and text reach the caller, and the connection stays usable."""
    server = sshd_no_sessions
    kh = known_hosts_for(server, tmp_path / "kh")
    c = pylibssh.connect("127.0.0.1", server.port, server.user, keys=[str(client_key)],
                         known_hosts=str(kh), config=None, agent=False, look_for_keys=False,
                         timeout=DEADLINE, op_timeout=DEADLINE)
    try:
        for attempt in (lambda: c.run("true"), lambda: c.exec("true"), c.sftp):
            with pytest.raises(pylibssh.ChannelOpenError) as info:
                attempt()
            # what sshd answers when it cannot start a session: "open failed", reason 2
            assert info.value.reason is pylibssh.ChannelOpenFailure.CONNECT_FAILED
            assert info.value.description == "open failed"
            assert "opening a session channel" in str(info.value)
        # forwarding is still allowed: the session survived the refusals
        with socket.create_server(("127.0.0.1", 0)) as listener:
            tunnel = c.open_tunnel("127.0.0.1", listener.getsockname()[1])
            accepted, _ = listener.accept()
            with tunnel, accepted:
                tunnel.sendall(b"ping")
                accepted.settimeout(DEADLINE)
                assert accepted.recv(4) == b"ping"
    finally:
        c.close()
