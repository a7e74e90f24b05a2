"""Server-side forwarding with OpenSSH's ``ssh`` as the client: ``-L`` (TCP and UNIX sockets),
``-W``, ``-D`` used by ``curl --socks5h``, ``-R`` (fixed port, port 0, UNIX sockets), denied and
failing forwards, half-close, back-pressure, many connections at once."""

import contextlib
import hashlib
import os
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fwdkit import (
    BackgroundSSH,
    ThreadedServer,
    echo,
    forwarding_server,
    pattern,
    listening,
    recv_all,
    recv_exact,
    verbose_args,
    wait_path,
    wait_port,
)
from openssh import free_port
from serverkit import DEADLINE, wait_until

pytestmark = pytest.mark.peer


@pytest.fixture
def sockdir():
    # UNIX socket paths must be short (108 bytes): not under pytest's deep tmp_path
    path = tempfile.mkdtemp(prefix="pyl-fwd-")
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def client_for(openssh_client, rs, client_keys):
    return openssh_client(rs.port, identity=client_keys["ed25519"])


@pytest.fixture
def ssh_L(openssh_client, client_keys):
    """``with ssh_L(rs, handler) as (lport, target, ssh):`` a local target serving ``handler``
    (a :class:`ThreadedServer`) and OpenSSH's ``ssh -L lport:127.0.0.1:<target>`` through the
    pylibssh server ``rs``, forwarding once ``lport`` listens."""

    @contextlib.contextmanager
    def forward(rs, handler):
        with ThreadedServer(handler) as target:
            lport = free_port()
            with BackgroundSSH(client_for(openssh_client, rs, client_keys),
                               "-L", f"{lport}:127.0.0.1:{target.port}") as ssh:
                wait_port(lport)
                yield lport, target, ssh

    return forward


def roundtrip(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.create_connection((host, port), timeout=DEADLINE) as s:
        threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)),
                         daemon=True).start()
        return recv_all(s)


# -- ssh -L ----------------------------------------------------------------------------------------

def test_local_forward_tcp(make_server, client_keys, ssh_L):
    seen = []
    rs = forwarding_server(make_server, client_keys,
                           on_session=lambda s: s.on("tcpip", lambda m: seen.append(m.info)))
    data = pattern(3 << 20, 1)
    with ssh_L(rs, echo) as (lport, target, ssh):
        assert roundtrip(lport, data) == data
        assert roundtrip(lport, b"second") == b"second"
    assert not target.errors
    assert seen[-1]["dest_ip"] == "127.0.0.1" and seen[-1]["dest_port"] == target.port
    assert seen[-1]["src_ip"] == "127.0.0.1"


def test_ssh_W_carries_half_close(make_server, client_keys, openssh_client):
    """stdin's EOF reaches the target, whose echo (and then EOF) still comes back."""
    rs = forwarding_server(make_server, client_keys)
    data = pattern(1 << 20, 2)
    with ThreadedServer(echo) as target:
        client = client_for(openssh_client, rs, client_keys)
        result = subprocess.run(client.ssh_args("-W", f"127.0.0.1:{target.port}"), input=data,
                                capture_output=True, timeout=DEADLINE * 2, env=client.env())
    assert result.returncode == 0, result.stderr
    assert hashlib.md5(result.stdout).digest() == hashlib.md5(data).digest()


def test_half_close_from_the_target(make_server, client_keys, ssh_L):
    """The target says hello and shuts its side; the client still sends afterwards and the
    target receives all of it."""
    rs = forwarding_server(make_server, client_keys)
    received = []

    def greet_then_listen(conn):
        conn.sendall(b"hello")
        conn.shutdown(socket.SHUT_WR)
        received.append(recv_all(conn))

    data = pattern(2 << 20, 3)
    with ssh_L(rs, greet_then_listen) as (lport, target, ssh):
        received.clear()
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE) as s:
            assert recv_all(s) == b"hello"  # EOF from the target reached the client
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b""
            wait_until(lambda: received, what="the target's data")
    assert received[0] == data
    assert not target.errors


def test_target_closing_closes_the_client_side(make_server, client_keys, ssh_L):
    rs = forwarding_server(make_server, client_keys)

    def close_at_once(conn):
        conn.sendall(b"bye")

    with ssh_L(rs, close_at_once) as (lport, target, ssh):
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE) as s:
            assert recv_all(s) == b"bye"


def test_client_closing_closes_the_target_side(make_server, client_keys, ssh_L):
    rs = forwarding_server(make_server, client_keys)
    ends = []

    def wait_for_eof(conn):
        ends.append(recv_all(conn))

    with ssh_L(rs, wait_for_eof) as (lport, target, ssh):
        ends.clear()
        s = socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE)
        s.sendall(b"partial")
        s.close()
        wait_until(lambda: ends, what="the target to see the close")
    assert ends == [b"partial"]


def test_local_forward_unix_socket(make_server, client_keys, openssh_client, sockdir):
    seen = []
    rs = forwarding_server(make_server, client_keys, connect_allow=[f"{sockdir}/*"],
                           on_session=lambda s: s.on("openssh.streamlocal",
                                                     lambda m: seen.append(m.socket_path)))
    target_path = os.path.join(sockdir, "target.sock")
    local_path = os.path.join(sockdir, "local.sock")
    data = pattern(1 << 20, 4)
    with ThreadedServer(echo, target_path):
        with BackgroundSSH(client_for(openssh_client, rs, client_keys),
                           "-L", f"{local_path}:{target_path}"):
            wait_path(local_path)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(DEADLINE)
                s.connect(local_path)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == data
    assert seen and seen[-1] == target_path


# -- denied and failing forwards -------------------------------------------------------------------

def test_forwarding_is_refused_without_a_listener(make_server, client_keys, openssh_client):
    rs = forwarding_server(make_server, client_keys, connect_allow=None, listen_allow=None)
    with ThreadedServer(echo) as target:
        client = client_for(openssh_client, rs, client_keys)
        result = subprocess.run(verbose_args(client, "-W", f"127.0.0.1:{target.port}"),
                                input=b"x", capture_output=True, timeout=DEADLINE,
                                env=client.env())
        assert result.returncode != 0
        assert b"administratively prohibited" in result.stderr
        # -R too: the global request is refused
        result = subprocess.run(
            client.ssh_args("-N", "-o", "ExitOnForwardFailure=yes", "-R",
                            f"0:127.0.0.1:{target.port}"),
            capture_output=True, timeout=DEADLINE, env=client.env(), stdin=subprocess.DEVNULL)
        assert result.returncode != 0
        assert b"remote port forwarding failed" in result.stderr
        assert target.connections == 0


def test_destination_not_on_the_allow_list(make_server, client_keys, openssh_client):
    with ThreadedServer(echo) as target, ThreadedServer(echo) as other:
        rs = forwarding_server(make_server, client_keys,
                               connect_allow=[("127.0.0.1", target.port)])
        client = client_for(openssh_client, rs, client_keys)
        ok = subprocess.run(client.ssh_args("-W", f"127.0.0.1:{target.port}"), input=b"ok",
                            capture_output=True, timeout=DEADLINE, env=client.env())
        assert ok.stdout == b"ok"
        denied = subprocess.run(verbose_args(client, "-W", f"127.0.0.1:{other.port}"),
                                input=b"no",
                                capture_output=True, timeout=DEADLINE, env=client.env())
        assert denied.returncode != 0 and b"administratively prohibited" in denied.stderr
        assert other.connections == 0


def test_refused_destination(make_server, client_keys, openssh_client):
    rs = forwarding_server(make_server, client_keys)
    closed_port = free_port()  # nothing listens there
    client = client_for(openssh_client, rs, client_keys)
    start = time.monotonic()
    result = subprocess.run(verbose_args(client, "-W", f"127.0.0.1:{closed_port}"), input=b"x",
                            capture_output=True, timeout=DEADLINE, env=client.env())
    assert time.monotonic() - start < DEADLINE
    assert result.returncode != 0
    assert b"connect failed" in result.stderr and b"Connection refused" in result.stderr


def test_unresolvable_destination(make_server, client_keys, openssh_client):
    rs = forwarding_server(make_server, client_keys)
    client = client_for(openssh_client, rs, client_keys)
    result = subprocess.run(verbose_args(client, "-W", "no-such-host.invalid:80"), input=b"x",
                            capture_output=True, timeout=DEADLINE, env=client.env())
    assert result.returncode != 0 and b"connect failed" in result.stderr


# -- ssh -D with curl ------------------------------------------------------------------------------

class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.path}".encode() * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_dynamic_forward_with_curl_socks5h(make_server, client_keys, openssh_client):
    seen = []
    rs = forwarding_server(make_server, client_keys, connect_allow=["localhost:*"],
                           on_session=lambda s: s.on("tcpip", lambda m: seen.append(
                               (m.dest_ip, m.dest_port))))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        dport = free_port()
        with BackgroundSSH(client_for(openssh_client, rs, client_keys), "-D", str(dport)):
            wait_port(dport)
            for path in ("/a", "/b"):
                out = subprocess.run(
                    ["curl", "-sS", "--max-time", "20", "--socks5-hostname",
                     f"127.0.0.1:{dport}", f"http://localhost:{port}{path}"],
                    capture_output=True, timeout=DEADLINE * 2)
                assert out.returncode == 0, out.stderr
                assert out.stdout == f"hello from {path}".encode() * 1000
            # a destination off the allow-list fails in curl, not silently
            out = subprocess.run(["curl", "-sS", "--max-time", "20", "--socks5-hostname",
                                  f"127.0.0.1:{dport}", f"http://127.0.0.1:{port}/"],
                                 capture_output=True, timeout=DEADLINE * 2)
            assert out.returncode != 0
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert ("localhost", port) in seen  # socks5h: the name was resolved by the server


# -- ssh -R ----------------------------------------------------------------------------------------

def test_remote_forward_fixed_port(make_server, client_keys, openssh_client):
    rs = forwarding_server(make_server, client_keys)
    data = pattern(2 << 20, 5)
    with ThreadedServer(echo) as target:
        rport = free_port()
        with BackgroundSSH(client_for(openssh_client, rs, client_keys),
                           "-R", f"{rport}:127.0.0.1:{target.port}"):
            wait_port(rport)
            assert roundtrip(rport, data) == data
        # the session ended: the server stopped listening
        wait_until(lambda: _refused(rport), what="the listener to close")


def _refused(port: int) -> bool:
    return not listening(port)


def test_remote_forward_port_zero_reports_the_allocated_port(make_server, client_keys,
                                                             openssh_client):
    requests = []
    rs = forwarding_server(make_server, client_keys,
                           on_session=lambda s: s.on("request", requests.append))
    with ThreadedServer(echo) as target:
        with BackgroundSSH(client_for(openssh_client, rs, client_keys),
                           "-R", f"0:127.0.0.1:{target.port}") as ssh:
            line = ssh.stderr_line("Allocated port")
            port = int(line.split("Allocated port")[1].split()[0])
            wait_port(port)
            assert roundtrip(port, b"through port zero") == b"through port zero"
    assert requests[0].name == "tcpip-forward" and requests[0].bind_port == 0


def test_remote_forward_port_in_use(make_server, client_keys, openssh_client):
    rs = forwarding_server(make_server, client_keys)
    with ThreadedServer(echo) as busy:
        client = client_for(openssh_client, rs, client_keys)
        result = subprocess.run(
            client.ssh_args("-N", "-o", "ExitOnForwardFailure=yes", "-R",
                            f"{busy.port}:127.0.0.1:1"),
            capture_output=True, timeout=DEADLINE, env=client.env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 255
    assert b"remote port forwarding failed" in result.stderr


def test_remote_forward_not_allowed(make_server, client_keys, openssh_client):
    allowed_port = free_port()
    rs = forwarding_server(make_server, client_keys, listen_allow=[f"*:{allowed_port}"])
    client = client_for(openssh_client, rs, client_keys)
    other = free_port()
    result = subprocess.run(
        client.ssh_args("-N", "-o", "ExitOnForwardFailure=yes", "-R", f"{other}:127.0.0.1:1"),
        capture_output=True, timeout=DEADLINE, env=client.env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 255 and b"remote port forwarding failed" in result.stderr
    assert _refused(other)


def test_remote_forward_unix_socket(make_server, client_keys, openssh_client, sockdir):
    rs = forwarding_server(make_server, client_keys, listen_allow=[f"{sockdir}/*"])
    remote_path = os.path.join(sockdir, "remote.sock")
    data = pattern(1 << 20, 6)
    with ThreadedServer(echo) as target:
        with BackgroundSSH(client_for(openssh_client, rs, client_keys),
                           "-R", f"{remote_path}:127.0.0.1:{target.port}"):
            wait_path(remote_path)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(DEADLINE)
                s.connect(remote_path)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                assert recv_all(s) == data
        wait_until(lambda: not os.path.exists(remote_path), what="the socket to be removed")


def test_remote_forward_cancel(make_server, client_keys, openssh_client):
    """OpenSSH's ``-O cancel`` through a control master sends cancel-tcpip-forward."""
    requests = []
    rs = forwarding_server(make_server, client_keys,
                           on_session=lambda s: s.on("request", lambda m: requests.append(m.name)))
    control = os.path.join(tempfile.mkdtemp(prefix="pyl-cm-"), "cm")
    client = client_for(openssh_client, rs, client_keys)
    with ThreadedServer(echo) as target:
        rport = free_port()
        spec = f"{rport}:127.0.0.1:{target.port}"
        with BackgroundSSH(client, "-o", "ControlMaster=yes", "-o", f"ControlPath={control}",
                           "-R", spec):
            wait_port(rport)
            result = subprocess.run(
                ["ssh", *client.options(), "-o", f"ControlPath={control}", "-O", "cancel",
                 "-R", spec, f"{client.user}@{client.host}"],
                capture_output=True, timeout=DEADLINE, env=client.env(), stdin=subprocess.DEVNULL)
            assert result.returncode == 0, result.stderr
            wait_until(lambda: _refused(rport), what="the forward to be cancelled")
    assert "cancel-tcpip-forward" in requests


# -- flow control and scale ------------------------------------------------------------------------

def test_slow_reader_holds_the_writer_back(make_server, client_keys, ssh_L):
    """A client that does not read: the target's writes stall instead of piling up in the
    server (bridge queue and channel queue stay near their high-water marks)."""
    bridges = []
    rs = forwarding_server(make_server, client_keys, bridges=bridges)
    total = 64 << 20
    data = pattern(total, 7)
    sent = []

    def flood(conn):
        view = memoryview(data)
        n = 0
        try:
            while n < total:
                n += conn.send(view[n:n + (1 << 20)])
                sent.append(n)
        finally:
            sent.append(n)

    with ssh_L(rs, flood) as (lport, target, ssh):
        bridges.clear()
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            wait_until(lambda: sent, what="the target to start")
            time.sleep(1.5)
            stalled_at = sent[-1]
            bridge = bridges[-1]
            queued = rs.call(lambda: (bridge.channel.buffered, bridge._out_bytes))
            assert stalled_at < total // 2, "nothing held the writer back"
            assert queued[0] <= bridge.channel.high_water + (256 << 10)
            got = recv_all(s)
    assert hashlib.md5(got).digest() == hashlib.md5(data).digest()


def test_hundred_concurrent_connections_10_mib_each(make_server, client_keys, ssh_L):
    """100 connections over one session at once, half uploading, half downloading 10 MiB each,
    every stream checked."""
    rs = forwarding_server(make_server, client_keys)
    size = 10 << 20
    digests = {}

    def target(conn):
        hello = recv_exact(conn, 9)
        kind, seed = hello[:1], int(hello[1:9])
        if kind == b"U":
            got = hashlib.md5()
            n = 0
            while n < size:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                got.update(chunk)
                n += len(chunk)
            conn.sendall(got.hexdigest().encode())
        else:
            conn.sendall(pattern(size, seed))
        conn.shutdown(socket.SHUT_WR)

    def one(i: int) -> bool:
        data = pattern(size, i)
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE * 6) as s:
            if i % 2:
                s.sendall(b"U%08d" % i + data)
                s.shutdown(socket.SHUT_WR)
                return recv_all(s) == hashlib.md5(data).hexdigest().encode()
            s.sendall(b"D%08d" % i)
            s.shutdown(socket.SHUT_WR)
            got = hashlib.md5(recv_all(s)).digest()
            digests[i] = got
            return got == hashlib.md5(data).digest()

    with ssh_L(rs, target) as (lport, srv, ssh):
        with ThreadPoolExecutor(100) as pool:
            results = list(pool.map(one, range(100), timeout=DEADLINE * 12))
    assert all(results), [i for i, ok in enumerate(results) if not ok]
    assert not srv.errors


def test_fast_writer_is_held_back_by_a_target_that_does_not_read(make_server, client_keys, ssh_L):
    """The other direction: the client writes fast, the target reads nothing for a while; the
    server pauses the channel (the SSH window holds the client back) instead of buffering."""
    bridges = []
    rs = forwarding_server(make_server, client_keys, bridges=bridges)
    total = 64 << 20
    data = pattern(total, 8)
    go = threading.Event()
    got = []

    def late_reader(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        go.wait(DEADLINE)
        got.append(hashlib.md5(recv_all(conn)).digest())

    with ssh_L(rs, late_reader) as (lport, target, ssh):
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE) as s:
            sent = [0]

            def writer():
                view = memoryview(data)
                while sent[0] < total:
                    sent[0] += s.send(view[sent[0]:sent[0] + (1 << 20)])
                s.shutdown(socket.SHUT_WR)

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            time.sleep(1.5)
            wait_until(lambda: bridges, what="the bridge")
            bridge = bridges[-1]
            queued, paused = rs.call(lambda: (bridge._out_bytes, bridge.channel.paused))
            assert sent[0] < total // 2, "nothing held the writer back"
            assert paused and queued <= bridge.high_water + (1 << 20)
            go.set()
            t.join(DEADLINE)
            wait_until(lambda: got, what="the target's checksum")
    assert got[0] == hashlib.md5(data).digest()


def test_application_accepts_and_answers_itself(make_server, client_keys, openssh_client):
    """No ready-made handler: the application accepts the channel (later, from a timer) and
    talks on it; another destination is refused with its own reason."""

    def on_session(session):
        @session.on("tcpip")
        def on_tcpip(msg):
            if msg.dest_port == 7:
                def later():
                    channel = msg.accept()
                    channel.on("data", lambda d, e: channel.write(d.upper()))
                    channel.on("end", lambda: (channel.end(b"!"), channel.close()))
                session.loop.call_later(0.2, later)
            else:
                msg.reject("resource-shortage", "no room for you")

    rs = forwarding_server(make_server, client_keys, connect_allow=None, on_session=on_session)
    client = client_for(openssh_client, rs, client_keys)
    result = subprocess.run(client.ssh_args("-W", "echo.example:7"), input=b"shout",
                            capture_output=True, timeout=DEADLINE, env=client.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"SHOUT!"
    refused = subprocess.run(verbose_args(client, "-W", "echo.example:8"), input=b"x",
                             capture_output=True, timeout=DEADLINE, env=client.env())
    assert refused.returncode != 0
    assert b"resource shortage" in refused.stderr and b"no room for you" in refused.stderr


def test_closing_the_session_closes_forwarded_connections(make_server, client_keys, ssh_L):
    sessions = []
    ends = []

    def wait_for_eof(conn):
        ends.append(recv_all(conn))

    rs = forwarding_server(make_server, client_keys, on_session=sessions.append)
    with ssh_L(rs, wait_for_eof) as (lport, target, ssh):
        with socket.create_connection(("127.0.0.1", lport), timeout=DEADLINE) as s:
            s.sendall(b"in flight")
            wait_until(lambda: target.connections, what="the forwarded connection")
            time.sleep(0.2)
            rs.call(lambda: sessions[-1].close(timeout=0))
            wait_until(lambda: ends, what="the target to see the end")
            assert recv_all(s) == b""
        ssh.proc.wait(DEADLINE)
    assert ends == [b"in flight"]


def test_remote_forward_unix_socket_cancel(make_server, client_keys, openssh_client, sockdir):
    requests = []
    rs = forwarding_server(make_server, client_keys, listen_allow=[f"{sockdir}/*"],
                           on_session=lambda s: s.on("request", lambda m: requests.append(
                               (m.name, m.socket_path))))
    remote_path = os.path.join(sockdir, "r.sock")
    control = os.path.join(sockdir, "cm")
    client = client_for(openssh_client, rs, client_keys)
    with ThreadedServer(echo) as target:
        spec = f"{remote_path}:127.0.0.1:{target.port}"
        with BackgroundSSH(client, "-o", "ControlMaster=yes", "-o", f"ControlPath={control}",
                           "-R", spec):
            wait_path(remote_path)
            result = subprocess.run(
                ["ssh", *client.options(), "-o", f"ControlPath={control}", "-O", "cancel",
                 "-R", spec, f"{client.user}@{client.host}"],
                capture_output=True, timeout=DEADLINE, env=client.env(), stdin=subprocess.DEVNULL)
            assert result.returncode == 0, result.stderr
            wait_until(lambda: not os.path.exists(remote_path), what="the socket to go")
    assert ("cancel-streamlocal-forward@openssh.com", remote_path) in requests
