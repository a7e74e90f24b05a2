"""Client forwarding against OpenSSH's sshd: local and remote port forwarding, tunnels and
connection hopping, SOCKS with curl, UNIX sockets, agent and X11 forwarding, HTTP through the
connection, half-close, back-pressure, errors (refused, in use, denied)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import pylibssh
from clientkit import DEADLINE, Agent, connect, keygen, known_hosts, known_hosts_for  # noqa: F401
from fwdclientkit import (
    connect_to,
    digest_server,
    echo_roundtrip,
    echo_server,
    http_server,
    https_server,
    recv_all,
    talker_server,
)
from openssh import OpenSSHServer

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


@pytest.fixture
def shared_dir():
    """A directory sshd's (unprivileged) user can reach, for UNIX sockets."""
    d = tempfile.mkdtemp(prefix="fw", dir="/tmp")
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def echo():
    server = echo_server()
    yield server
    server.shutdown()


# -- local forwarding -------------------------------------------------------------------------


def test_local_forward_port(connect, echo):
    c = connect()
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    assert fwd.port > 0
    payload = os.urandom(3 << 20)
    with connect_to(("127.0.0.1", fwd.port)) as s:
        assert echo_roundtrip(s, payload) == payload
    # several at once, and the command channel still works beside them
    socks = [connect_to(("127.0.0.1", fwd.port)) for _ in range(5)]
    for i, s in enumerate(socks):
        assert echo_roundtrip(s, b"x%d" % i) == b"x%d" % i
        s.close()
    assert c.run("echo ok").stdout == b"ok\n"
    fwd.close()
    with pytest.raises(OSError):
        connect_to(("127.0.0.1", fwd.port), timeout=2)


def test_local_forward_port_in_use(connect):
    c = connect()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(pylibssh.SSHError, match="already in use"):
            c.forward_local_port("127.0.0.1", busy.getsockname()[1], "127.0.0.1", 1)
    finally:
        busy.close()


def test_refused_destination(connect):
    c = connect()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(pylibssh.ChannelOpenError, match="(?i)refused|connect failed") as info:
        c.open_tunnel("127.0.0.1", port)
    # the protocol's reason, and the server's own words
    assert info.value.reason == pylibssh.ChannelOpenFailure.CONNECT_FAILED
    assert "refused" in info.value.description.lower()
    # through a local forward: the connection is closed, the listener reports why
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", port)
    errors = []
    fwd.on("error", errors.append)
    with connect_to(("127.0.0.1", fwd.port)) as s:
        assert recv_all(s) == b""
    assert errors and isinstance(errors[0], pylibssh.ChannelOpenError)
    assert time.monotonic() - t0 < 10
    assert c.run("true").exit_status == 0  # the connection is fine


def test_tunnel_is_a_socket_for_connection_hopping(connect, sshd, client_key, known_hosts, echo):
    c = connect()
    tunnel = c.open_tunnel("127.0.0.1", echo.port)
    assert isinstance(tunnel, socket.socket)
    tunnel.settimeout(DEADLINE)
    assert echo_roundtrip(tunnel, b"through the tunnel") == b"through the tunnel"
    tunnel.close()
    # hop: a second SSH connection carried by a tunnel of the first
    hop_sock = c.open_tunnel("127.0.0.1", sshd.port)
    hop = pylibssh.connect("127.0.0.1", sshd.port, sshd.user, sock=hop_sock,
                           keys=[str(client_key)], known_hosts=str(known_hosts), config=None,
                           agent=False, look_for_keys=False, timeout=DEADLINE)
    try:
        hop_sock.close()  # connect() took its own descriptor
        assert hop.run("echo hopped").stdout == b"hopped\n"
    finally:
        hop.close()


def test_tunnel_carries_paramiko(connect, sshd, client_key):
    """Another SSH library (paramiko) runs its whole connection over our tunnel socket."""
    import paramiko

    c = connect()
    sock = c.open_tunnel("127.0.0.1", sshd.port)
    t = paramiko.Transport(sock)
    try:
        t.start_client(timeout=DEADLINE)
        t.auth_publickey(sshd.user, paramiko.Ed25519Key.from_private_key_file(str(client_key)))
        ch = t.open_session(timeout=DEADLINE)
        ch.settimeout(DEADLINE)
        ch.exec_command("echo via paramiko")
        assert ch.makefile().read() == b"via paramiko\n"
        assert ch.recv_exit_status() == 0
    finally:
        t.close()


# -- half-close and back-pressure -----------------------------------------------------------------


def test_half_close_client_side(connect):
    """Our EOF reaches the destination while its answer still flows back."""
    server = digest_server()
    try:
        c = connect()
        fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", server.port)
        payload = os.urandom(1 << 20)
        with connect_to(("127.0.0.1", fwd.port)) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            answer = recv_all(s)
        assert answer == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}\n".encode()
    finally:
        server.shutdown()


def test_half_close_destination_side(connect):
    """The destination's EOF reaches us while we keep sending to it."""
    server = talker_server()
    try:
        c = connect()
        fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", server.port)
        with connect_to(("127.0.0.1", fwd.port)) as s:
            assert recv_all(s) == b"hello and goodbye\n"  # EOF seen
            s.sendall(b"still talking after your EOF")
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
        deadline = time.monotonic() + DEADLINE
        while not server.RequestHandlerClass.got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.RequestHandlerClass.got == [b"still talking after your EOF"]
    finally:
        server.shutdown()


def test_back_pressure_slow_reader(connect):
    """A destination that does not read holds our writer back (bounded buffering), then gets
    every byte once it reads."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    c = connect()
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", listener.getsockname()[1])
    s = connect_to(("127.0.0.1", fwd.port))
    dest, _ = listener.accept()
    dest.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sent = [0]
    payload = os.urandom(1 << 20)
    stop = threading.Event()

    def writer() -> None:
        s.settimeout(0.5)
        try:
            while not stop.is_set() and sent[0] < (256 << 20):
                try:
                    n = s.send(payload[sent[0] % len(payload):])
                    sent[0] += n
                except socket.timeout:
                    continue
        except OSError:
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(3)
    held = sent[0]
    time.sleep(1)
    # stalled: windows, socket buffers and our two 1 MiB marks, far below 256 MiB
    assert sent[0] == held or sent[0] - held < (1 << 20)
    assert held < (48 << 20), held
    stop.set()
    t.join(DEADLINE)
    s.shutdown(socket.SHUT_WR)
    dest.settimeout(DEADLINE)
    got = recv_all(dest)
    assert len(got) == sent[0]
    expect = (payload * (sent[0] // len(payload) + 1))[:sent[0]]
    assert got == expect
    dest.close()
    s.close()
    listener.close()


def forward_from_sender(connect, serve, rcvbuf: int):
    """A local forward to a listener here whose one connection ``serve(conn)`` handles in a
    thread, and a local socket connected to the forward with a small receive buffer; returns
    (thread, forwarder, socket, listener)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def run() -> None:
        conn, _ = listener.accept()
        serve(conn)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    c = connect()
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", listener.getsockname()[1])
    s = connect_to(("127.0.0.1", fwd.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return t, fwd, s, listener


def test_back_pressure_slow_local_reader(connect):
    """The other way: a destination that sends without end, a local reader that does not read.
    The channel is paused and the SSH window holds sshd (and so the sender) back; nothing
    piles up in the client; everything arrives once the reader reads."""
    sent = [0]
    block = os.urandom(1 << 16)
    stop = threading.Event()

    def sender(conn) -> None:
        conn.settimeout(0.5)
        try:
            while not stop.is_set():
                try:  # a continuous repetition of block, whatever each send takes
                    sent[0] += conn.send(block[sent[0] % len(block):])
                except socket.timeout:
                    continue
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    t, fwd, s, listener = forward_from_sender(connect, sender, 65536)
    time.sleep(3)
    held = sent[0]
    time.sleep(1)
    assert sent[0] - held < (1 << 20)  # stalled
    assert held < (48 << 20), held
    (bridge,) = fwd.bridges
    assert bridge.channel.paused and bridge._out_bytes < (4 << 20)
    stop.set()
    t.join(DEADLINE)
    s.settimeout(DEADLINE)
    got = recv_all(s)
    assert len(got) == sent[0]
    assert got == (block * (len(got) // len(block) + 1))[:len(got)]
    s.close()
    listener.close()


def test_bursty_reader_keeps_the_order(connect):
    """A reader that stops and starts: the socket fills again and again, so the bridge moves
    between its C sink (inside libssh's poll), the sink's buffer and Python's queue; the bytes
    arrive complete and in order (checked against a keyed stream)."""
    size = 48 << 20

    def stream(n: int) -> bytes:
        return b"".join(hashlib.sha256(b"%d" % i).digest() * 1024 for i in range(n))

    data = stream(size // (32 * 1024))

    def sender(conn) -> None:
        with conn:
            conn.sendall(data)

    t, fwd, s, listener = forward_from_sender(connect, sender, 32768)
    got = bytearray(s.recv(65536))
    (bridge,) = fwd.bridges
    burst = 0
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
        burst += len(chunk)
        if burst > (3 << 20):  # stop reading for a moment every few MiB
            burst = 0
            time.sleep(0.05)
    s.close()
    t.join(DEADLINE)
    listener.close()
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert bridge.bytes_out == len(data)
    assert bridge._sink.bytes and bridge._bytes_out  # both paths were taken


def test_many_concurrent_connections(connect, echo):
    """100 forwarded connections at once, 10 MiB each way, checksummed."""
    c = connect()
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    size = 10 << 20
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            payload = hashlib.sha256(b"%d" % i).digest() * (size // 32)
            with connect_to(("127.0.0.1", fwd.port), timeout=90) as s:
                back = echo_roundtrip(s, payload)
            results[i] = hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(110)
    assert not errors, errors[:3]
    assert len(results) == 100 and all(results.values())
    assert c.run("echo alive").stdout == b"alive\n"


# -- remote forwarding ----------------------------------------------------------------------------


def test_remote_forward_port_zero(connect, echo):
    c = connect()
    fwd = c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    assert 0 < fwd.port < 65536
    # the port came from the reply packet itself (csrc/pylibssh_client.c), not libssh's guess
    replies = c.session.global_replies()
    assert replies is not None and replies.successes >= 1 and replies.last_port == fwd.port
    payload = os.urandom(2 << 20)
    with connect_to(("127.0.0.1", fwd.port)) as s:  # sshd listens there for us
        assert echo_roundtrip(s, payload) == payload
    fwd.close()
    with pytest.raises(OSError):
        connect_to(("127.0.0.1", fwd.port), timeout=2)
    assert c.run("echo ok").stdout == b"ok\n"


def test_remote_forwards_requested_at_once(connect, echo):
    """Several tcpip-forward requests in flight (libssh has one reply state: they take turns);
    each gets its own port."""
    c = connect()
    futures = [c.forward_remote_port_async("127.0.0.1", 0, "127.0.0.1", echo.port)
               for _ in range(4)]
    fwds = [f.result(DEADLINE) for f in futures]
    assert len({f.port for f in fwds}) == 4
    for f in fwds:
        with connect_to(("127.0.0.1", f.port)) as s:
            assert echo_roundtrip(s, b"%d" % f.port) == b"%d" % f.port


def reject_then_shout(seen, describe):
    """A remote-forward handler: records ``describe(request)``, rejects the first connection,
    answers the others with what they send, in capitals."""

    def handler(request):
        seen.append(describe(request))
        if len(seen) == 1:
            request.reject()
            return
        channel = request.accept()
        channel.on("data", lambda data, is_stderr: channel.write(data.upper()))
        channel.on("end", channel.close)
        channel.resume()

    return handler


def check_reject_then_shout(addr):
    with connect_to(addr) as s:
        assert recv_all(s) == b""  # rejected: sshd closes the connection
    with connect_to(addr) as s:
        s.sendall(b"shout")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"SHOUT"


def test_remote_forward_handler_accept_and_reject(connect):
    c = connect()
    seen = []
    handler = reject_then_shout(seen, lambda r: (r.dest_port, r.orig_host))
    fwd = c.forward_remote_port("127.0.0.1", 0, handler=handler)
    check_reject_then_shout(("127.0.0.1", fwd.port))
    assert [p for p, _ in seen] == [fwd.port, fwd.port]
    assert seen[0][1] == "127.0.0.1"


def test_remote_forward_port_in_use_and_two_forwards(connect, echo):
    c = connect()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(pylibssh.RequestDeniedError):
            c.forward_remote_port("127.0.0.1", busy.getsockname()[1], "127.0.0.1", echo.port)
    finally:
        busy.close()
    talk = talker_server()
    try:
        a = c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
        b = c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", talk.port)
        assert a.port != b.port
        with connect_to(("127.0.0.1", a.port)) as s:
            assert echo_roundtrip(s, b"to a") == b"to a"
        with connect_to(("127.0.0.1", b.port)) as s:
            assert recv_all(s) == b"hello and goodbye\n"
    finally:
        talk.shutdown()


def test_forwarding_denied_by_server(tmp_path, client_key):
    server = OpenSSHServer(tmp_path / "nofwd", {"AllowTcpForwarding": "no",
                                                "AllowStreamLocalForwarding": "no",
                                                "AllowAgentForwarding": "no"})
    server.start()
    try:
        server.authorize(open(str(client_key) + ".pub").read())
        kh = known_hosts_for(server, tmp_path / "kh")
        c = pylibssh.connect("127.0.0.1", server.port, server.user, keys=[str(client_key)],
                             known_hosts=str(kh), config=None, agent=False,
                             look_for_keys=False, timeout=DEADLINE, op_timeout=DEADLINE)
        try:
            t0 = time.monotonic()
            with pytest.raises(pylibssh.ChannelOpenError, match="(?i)prohibited"):
                c.open_tunnel("127.0.0.1", server.port)
            with pytest.raises(pylibssh.RequestDeniedError):
                c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 1)
            with pytest.raises(pylibssh.RequestDeniedError, match="refused"):
                c.forward_remote_path(str(tmp_path / "nofwd.sock"), "/nonexistent.sock")
            fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", server.port)
            with connect_to(("127.0.0.1", fwd.port)) as s:
                assert recv_all(s) == b""
            assert time.monotonic() - t0 < 10
            assert c.run("echo still").stdout == b"still\n"
            # refused agent (libssh asks without wanting a reply) and X11 forwarding (refused:
            # X11Forwarding no) do not stop the command, as with ssh -A -X
            c.forward_agent(str(tmp_path / "no-agent.sock"))
            c.forward_x11(lambda request: request.reject())
            p = c.exec("echo $SSH_AUTH_SOCK; echo $DISPLAY; echo ran")
            assert p.read_until_eof()[0] == b"\n\nran\n"
            assert p.channel.denied == ["X11 forwarding"]
        finally:
            c.close()
    finally:
        server.cleanup()


# -- SOCKS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--socks5-hostname", "--socks4a", "--socks5", "--socks4"])
def test_socks_with_curl(connect, tmp_path, flag):
    (tmp_path / "page.txt").write_bytes(b"served through socks\n" * 1000)
    web = http_server(str(tmp_path))
    try:
        c = connect()
        socks = c.forward_socks("127.0.0.1", 0)
        # --socks5h/--socks4a send the name (resolved on the server's side); the others an IP
        host = "localhost" if flag in ("--socks5-hostname", "--socks4a") else "127.0.0.1"
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "20", flag, f"127.0.0.1:{socks.port}",
             f"http://{host}:{web.port}/page.txt"], capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == b"served through socks\n" * 1000
        # a refused destination is a SOCKS failure, not a hang
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        out = subprocess.run(["curl", "-sS", "--max-time", "20", flag, f"127.0.0.1:{socks.port}",
                              f"http://127.0.0.1:{port}/"], capture_output=True, timeout=30)
        assert out.returncode != 0 and out.returncode != 28  # 28: curl timed out
    finally:
        web.shutdown()


# -- UNIX sockets ---------------------------------------------------------------------------------


def test_unix_socket_forwarding_both_ways(connect, shared_dir, echo):
    unix_echo = echo_server(os.path.join(shared_dir, "echo.sock"))
    try:
        c = connect()
        # local UNIX socket -> remote TCP port
        a = c.forward_local_path_to_port(os.path.join(shared_dir, "l1.sock"), "127.0.0.1",
                                         echo.port)
        with connect_to(a.path) as s:
            assert echo_roundtrip(s, b"unix to tcp") == b"unix to tcp"
        # local TCP port -> the server's UNIX socket (direct-streamlocal)
        b = c.forward_local_port_to_path("127.0.0.1", 0, unix_echo.path)
        with connect_to(("127.0.0.1", b.port)) as s:
            assert echo_roundtrip(s, b"tcp to unix") == b"tcp to unix"
        # local UNIX -> remote UNIX, and a single tunnel to a UNIX socket
        d = c.forward_local_path(os.path.join(shared_dir, "l2.sock"), unix_echo.path)
        with connect_to(d.path) as s:
            assert echo_roundtrip(s, os.urandom(1 << 20) * 2)[:4] != b""
        t = c.open_unix_tunnel(unix_echo.path)
        t.settimeout(DEADLINE)
        assert echo_roundtrip(t, b"unix tunnel") == b"unix tunnel"
        t.close()
        # remote TCP port -> local UNIX socket
        r = c.forward_remote_port_to_path("127.0.0.1", 0, unix_echo.path)
        with connect_to(("127.0.0.1", r.port)) as s:
            assert echo_roundtrip(s, b"remote to unix") == b"remote to unix"
        a.close()
        assert not os.path.exists(a.path)
        with pytest.raises(pylibssh.ChannelOpenError):
            c.open_unix_tunnel(os.path.join(shared_dir, "nobody.sock"))
    finally:
        unix_echo.shutdown()


def _sha_roundtrip(sock: socket.socket, size: int) -> None:
    payload = os.urandom(size)
    back = echo_roundtrip(sock, payload)
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_remote_unix_socket_forwarding(connect, shared_dir, echo):
    """streamlocal-forward@openssh.com: sshd listens on a UNIX socket; each connection to it
    (a real client on this machine) arrives as forwarded-streamlocal and is carried here."""
    unix_echo = echo_server(os.path.join(shared_dir, "echo.sock"))
    digest = digest_server()
    try:
        c = connect()
        r1 = os.path.join(shared_dir, "r1.sock")
        r2 = os.path.join(shared_dir, "r2.sock")
        a = c.forward_remote_path(r1, unix_echo.path)  # remote UNIX -> local UNIX
        b = c.forward_remote_path_to_port(r2, "127.0.0.1", digest.port)  # -> local TCP
        assert a.path == r1 and "r1.sock" in repr(a)
        assert os.path.exists(r1) and os.path.exists(r2)  # made by sshd
        with connect_to(r1) as s:  # both ways, with checksums
            _sha_roundtrip(s, 4 << 20)
        payload = os.urandom(3 << 20)
        with connect_to(r2) as s:  # each connection goes to its own forward's target
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"%d %s\n" % (len(payload),
                                                hashlib.sha256(payload).hexdigest().encode())
        # several at once
        socks = [connect_to(r1) for _ in range(5)]
        for i, s in enumerate(socks):
            assert echo_roundtrip(s, b"conn %d" % i) == b"conn %d" % i
            s.close()
        # cancel: sshd stops listening there; the other forward still works
        a.close()
        assert a.closed
        with pytest.raises(OSError):
            connect_to(r1, timeout=2).recv(1)
        with connect_to(r2) as s:
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s).startswith(b"0 ")
        b.close()
        assert c.run("echo ok").stdout == b"ok\n"
    finally:
        unix_echo.shutdown()
        digest.shutdown()


def test_remote_unix_socket_handler_and_errors(connect, shared_dir):
    c = connect()
    seen = []
    path = os.path.join(shared_dir, "h.sock")
    fwd = c.forward_remote_path(path, handler=reject_then_shout(
        seen, lambda r: (r.kind, r.socket_path)))
    check_reject_then_shout(path)
    assert seen == [("forwarded-streamlocal@openssh.com", path)] * 2
    fwd.close()
    # the path exists (sshd does not unlink it: no StreamLocalBindUnlink): a clear refusal
    taken = os.path.join(shared_dir, "taken")
    open(taken, "w").close()
    with pytest.raises(pylibssh.RequestDeniedError, match="refused remote forwarding"):
        c.forward_remote_path(taken, "/nonexistent.sock")
    with pytest.raises(pylibssh.SSHError, match="needs dest_path or a handler"):
        c.forward_remote_path(path)
    with pytest.raises(pylibssh.SSHError, match="NUL"):
        c.forward_remote_path("/tmp/a\0b", "/x.sock")
    with pytest.raises(pylibssh.SSHError, match="socket path"):
        c.forward_remote_path("", "/x.sock")
    assert c.run("echo ok").stdout == b"ok\n"


def test_global_replies_with_keepalive_running(connect, shared_dir, echo):
    """Keepalives every 20 ms while remote forwards (TCP and UNIX socket, libssh's requests
    and pylibssh's own) are requested and cancelled: each reply goes to its own request (a
    keepalive's reply, a failure, must not fail a forward nor give it a port)."""
    c = connect(keepalive_interval=0.02, keepalive_count_max=50)
    unix_echo = echo_server(os.path.join(shared_dir, "ka.sock"))
    try:
        for round_ in range(6):
            futures = [c.forward_remote_port_async("127.0.0.1", 0, "127.0.0.1", echo.port)
                       for _ in range(3)]
            futures += [c.forward_remote_path_async(
                os.path.join(shared_dir, f"ka{round_}-{i}.sock"), unix_echo.path)
                for i in range(3)]
            fwds = [f.result(DEADLINE) for f in futures]
            ports = [f.port for f in fwds[:3]]
            assert len(set(ports)) == 3 and all(0 < p < 65536 for p in ports)
            for f in fwds:
                with connect_to(f.path or ("127.0.0.1", f.port)) as s:
                    assert echo_roundtrip(s, b"round %d" % round_) == b"round %d" % round_
            time.sleep(0.05)  # keepalives in between
            for f in fwds:
                f.close()
            with pytest.raises(OSError):
                connect_to(("127.0.0.1", ports[0]), timeout=2).recv(1)
        replies = c.session.global_replies()
        assert replies.sent == replies.answered or replies.sent - replies.answered < 5
        assert replies.sent > 6 * 12  # the keepalives were sent too
        assert not c.session.closed
        assert c.run("echo ok").stdout == b"ok\n"
    finally:
        unix_echo.shutdown()


# -- agent and X11 --------------------------------------------------------------------------------


def test_agent_forwarding(connect, tmp_path):
    key = keygen(tmp_path / "fwd_key", "ed25519", comment="forwarded-key")
    agent = Agent(tmp_path)
    try:
        agent.add(key)
        c = connect()
        c.forward_agent(agent.sock)
        r = c.run("ssh-add -l")
        assert r.exit_status == 0, r.stderr
        assert b"forwarded-key" in r.stdout
        # without forwarding, a new client's commands see no agent
        plain = connect()
        assert plain.run("ssh-add -l").exit_status == 2
    finally:
        agent.close()


X11_CLIENT = r"""
import os, socket
d = os.environ["DISPLAY"]
host, num = d.rsplit(":", 1)
s = socket.create_connection((host or "127.0.0.1", 6000 + int(num.split(".")[0])), 10)
s.sendall(b"x11 hello")
s.shutdown(socket.SHUT_WR)
print(d, s.recv(100).decode())
"""


def test_x11_forwarding_delivered_to_handler(x11_sshd, tmp_path, client_key):
    kh = known_hosts_for(x11_sshd, tmp_path / "kh")
    c = pylibssh.connect("127.0.0.1", x11_sshd.port, x11_sshd.user, keys=[str(client_key)],
                         known_hosts=str(kh), config=None, agent=False,
                         look_for_keys=False, timeout=DEADLINE, op_timeout=DEADLINE)
    try:
        requests = []

        def handler(request):
            requests.append(request)
            ch = request.accept()
            ch.on("data", lambda data, is_stderr: ch.write(b"X:" + data))
            ch.on("end", ch.close)
            ch.resume()

        x = c.forward_x11(handler, auth_cookie="0123456789abcdef0123456789abcdef")
        assert x.auth_protocol == "MIT-MAGIC-COOKIE-1"
        r = c.run(["python3", "-c", X11_CLIENT])
        assert r.exit_status == 0, r.stderr
        assert b"X:x11 hello" in r.stdout
        assert r.stdout.startswith(b"localhost:")
        assert len(requests) == 1 and requests[0].kind == "x11"
    finally:
        c.close()


X11_WITH_COOKIE = r"""
import os, socket, struct, subprocess
d = os.environ["DISPLAY"]
entry = subprocess.run(["xauth", "list"], capture_output=True, text=True).stdout.split()
name, cookie = entry[-2].encode(), bytes.fromhex(entry[-1])
host, num = d.rsplit(":", 1)
s = socket.create_connection((host or "127.0.0.1", 6000 + int(num.split(".")[0])), 10)
pad = lambda b: b + b"\0" * (-len(b) % 4)
s.sendall(b"l\0" + struct.pack("<HHHH2x", 11, 0, len(name), len(cookie)) + pad(name)
          + pad(cookie) + b"after setup")
print(s.recv(100).decode())
"""


@pytest.fixture(scope="module")
def x11_sshd(tmp_path_factory, client_key):
    server = OpenSSHServer(tmp_path_factory.mktemp("x11"), {"X11Forwarding": "yes",
                                                            "X11UseLocalhost": "yes"})
    server.start()
    server.authorize(open(str(client_key) + ".pub").read())
    yield server
    server.cleanup()


@pytest.mark.parametrize("auth_protocol", ["MIT-MAGIC-COOKIE-1", None])
def test_x11_to_a_display_with_a_fake_cookie(x11_sshd, client_key, tmp_path, auth_protocol):
    """Without a handler, x11 channels reach the local display; the server only ever sees a
    fake cookie, which the client swaps for the real one (as ssh -X does). A cookie given
    without its protocol is an MIT-MAGIC-COOKIE-1."""
    xserver = None
    for _ in range(50):
        xserver = socket.socket()
        xserver.bind(("127.0.0.1", 0))
        if xserver.getsockname()[1] > 6000:
            break
        xserver.close()
    xserver.listen()
    display = f"127.0.0.1:{xserver.getsockname()[1] - 6000}"
    real = "c0ffee00" * 4
    got = []

    def fake_x_server() -> None:
        conn, _ = xserver.accept()
        conn.settimeout(DEADLINE)
        data = b""
        while len(data) < 12 + 20 + 16 + len(b"after setup"):
            chunk = conn.recv(1000)
            if not chunk:
                break
            data += chunk
        got.append(data)
        conn.sendall(b"X server says hi")
        conn.close()

    t = threading.Thread(target=fake_x_server, daemon=True)
    t.start()
    kh = known_hosts_for(x11_sshd, tmp_path / "kh")
    c = pylibssh.connect("127.0.0.1", x11_sshd.port, x11_sshd.user, keys=[str(client_key)],
                         known_hosts=str(kh), config=None, agent=False, look_for_keys=False,
                         timeout=DEADLINE, op_timeout=DEADLINE)
    try:
        x = c.forward_x11(display=display, auth_protocol=auth_protocol, auth_cookie=real)
        assert x.auth_cookie != real
        r = c.run(["python3", "-c", X11_WITH_COOKIE])
        assert r.exit_status == 0, r.stderr
        assert r.stdout == b"X server says hi\n"
        t.join(DEADLINE)
        header = got[0]
        assert header[6:10] == bytes([18, 0, 16, 0])  # name and cookie lengths, little-endian
        assert header[12:30] == b"MIT-MAGIC-COOKIE-1"
        assert header[32:48] == bytes.fromhex(real)  # the real cookie, swapped in
        assert header[48:] == b"after setup"
    finally:
        c.close()
        xserver.close()


# -- HTTP -----------------------------------------------------------------------------------------


def test_http_through_the_connection(connect, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"A" * 100000)
    web = http_server(str(tmp_path))
    try:
        c = connect()
        conn = c.http_connection("localhost", web.port, timeout=DEADLINE)
        conn.request("GET", "/a.txt")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"A" * 100000
        conn.request("GET", "/missing")  # keep-alive: the same tunnel
        assert conn.getresponse().status == 404
        conn.close()
        pool = c.http_pool_manager()
        r = pool.request("GET", f"http://localhost:{web.port}/a.txt", timeout=DEADLINE)
        assert r.status == 200 and r.data == b"A" * 100000
        pool.clear()
    finally:
        web.shutdown()


def test_https_through_the_connection(connect, tmp_path):
    import ssl

    (tmp_path / "b.txt").write_bytes(b"secret" * 1000)
    web, cert = https_server(str(tmp_path), str(tmp_path))
    try:
        c = connect()
        ctx = ssl.create_default_context(cafile=cert)
        conn = c.http_connection("localhost", web.port, https=True, context=ctx,
                                 timeout=DEADLINE)
        conn.request("GET", "/b.txt")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"secret" * 1000
        conn.close()
        pool = c.http_pool_manager(ca_certs=cert)
        r = pool.request("GET", f"https://localhost:{web.port}/b.txt", timeout=DEADLINE)
        assert r.status == 200 and r.data == b"secret" * 1000
        pool.clear()
        # the certificate is checked against the name asked for, end to end
        bad = c.http_connection("127.0.0.1", web.port, https=True, context=ctx,
                                timeout=DEADLINE)
        with pytest.raises(ssl.SSLCertVerificationError):
            bad.request("GET", "/b.txt")
    finally:
        web.shutdown()


def test_close_closes_forwards(connect, echo):
    c = connect()
    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    s = connect_to(("127.0.0.1", fwd.port))
    assert echo_roundtrip(s, b"x") == b"x"
    s2 = connect_to(("127.0.0.1", fwd.port))
    s2.sendall(b"y")
    assert s2.recv(1) == b"y"
    c.close()
    assert fwd.closed
    assert recv_all(s2) == b""  # the open connection was closed, not left hanging
    with pytest.raises(OSError):
        connect_to(("127.0.0.1", fwd.port), timeout=2)


def test_dead_connection_stops_its_forwards(connect, echo):
    c = connect()
    local = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    remote = c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo.port)
    with pytest.raises(pylibssh.SSHError):
        c.run("kill -9 $PPID; sleep 5", timeout=DEADLINE)  # the server side of the connection
    deadline = time.monotonic() + DEADLINE
    while not (local.closed and remote.closed) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert local.closed and remote.closed
    with pytest.raises(OSError):
        connect_to(("127.0.0.1", local.port), timeout=2)
    with pytest.raises(pylibssh.SSHError):
        c.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo.port)


def test_example_client_forward(sshd, client_key, known_hosts, echo):
    """examples/client_forward.py as a user runs it: -L, -R 0 and -D."""
    import sys

    example = os.path.join(os.path.dirname(__file__), "..", "examples", "client_forward.py")
    proc = subprocess.Popen(
        [sys.executable, example, f"{sshd.user}@127.0.0.1", "-p", str(sshd.port),
         "-i", str(client_key), "--known-hosts", str(known_hosts),
         "-L", f"0:127.0.0.1:{echo.port}", "-R", f"0:127.0.0.1:{echo.port}", "-D", "0"],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        local = int(lines[0].split()[1].rsplit(":", 1)[1])
        remote = int(lines[1].split()[2].rsplit(":", 1)[1])
        assert lines[2].startswith("-D SOCKS on 127.0.0.1:")
        for port in (local, remote):
            with connect_to(("127.0.0.1", port)) as s:
                assert echo_roundtrip(s, b"example") == b"example"
    finally:
        proc.terminate()
        proc.wait(DEADLINE)
