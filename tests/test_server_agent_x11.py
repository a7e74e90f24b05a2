"""Agent forwarding (``ssh -A`` with a real ``ssh-agent``), X11 forwarding (``ssh -Y`` with a
stand-in X server) and forwarding requests before authentication (paramiko, which lets a client
ask before it authenticated)."""

import base64
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import paramiko
import pytest
from fwdkit import ThreadedServer, echo, forwarding_server, listening, recv_exact
from openssh import free_port
from serverkit import DEADLINE, wait_until

from pylibssh.errors import ChannelError

pytestmark = pytest.mark.peer

SSH2_AGENTC_REQUEST_IDENTITIES = 11
SSH2_AGENT_IDENTITIES_ANSWER = 12


def parse_identities(reply: bytes) -> list[tuple[bytes, str]]:
    """An agent's IDENTITIES_ANSWER body -> [(key blob, comment)]."""
    assert reply[0] == SSH2_AGENT_IDENTITIES_ANSWER, reply[:1]
    (count,) = struct.unpack(">I", reply[1:5])
    pos, keys = 5, []
    for _ in range(count):
        (n,) = struct.unpack(">I", reply[pos:pos + 4])
        blob = reply[pos + 4:pos + 4 + n]
        pos += 4 + n
        (n,) = struct.unpack(">I", reply[pos:pos + 4])
        comment = reply[pos + 4:pos + 4 + n].decode()
        pos += 4 + n
        keys.append((blob, comment))
    return keys


def list_agent_keys(session, exec_channel, log):
    """Open an agent channel to the client, ask for its identities, print them on the exec
    channel (one ``base64-blob comment`` line each), exit."""
    buf = bytearray()

    def opened(err, agent):
        if err is not None:
            log.append(("agent-error", str(err)))
            exec_channel.write_stderr(f"agent: {err}\n")
            exec_channel.send_exit_status(2)
            exec_channel.close()
            return
        log.append(("agent-open",))

        @agent.on("data")
        def on_data(data, is_stderr):
            buf.extend(data)
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                keys = parse_identities(bytes(buf[4:]))
                for blob, comment in keys:
                    exec_channel.write(f"{base64.b64encode(blob).decode()} {comment}\n")
                exec_channel.send_exit_status(0)
                exec_channel.close()
                agent.close()

        agent.write(struct.pack(">IB", 1, SSH2_AGENTC_REQUEST_IDENTITIES))

    session.open_agent(opened)


@pytest.fixture
def agent(client_keys):
    """A real ssh-agent holding the client's Ed25519 and RSA keys: its socket path."""
    where = tempfile.mkdtemp(prefix="pyl-agent-")
    path = os.path.join(where, "agent.sock")
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(path), what="ssh-agent's socket")
        env = dict(os.environ, SSH_AUTH_SOCK=path)
        for kind in ("ed25519", "rsa"):
            subprocess.run(["ssh-add", str(client_keys[kind])], env=env, check=True,
                           capture_output=True, timeout=DEADLINE)
        yield path
    finally:
        proc.terminate()
        proc.wait(DEADLINE)
        shutil.rmtree(where, ignore_errors=True)


def agent_app(log, accept_agent=True):
    def on_channel(channel):
        if accept_agent:
            channel.on("auth-agent", lambda: log.append(("auth-agent",)))

        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()
            session = channel.session
            log.append(("exec", msg.exec_command, session.agent_forwarding))
            try:
                list_agent_keys(session, channel, log)
            except ChannelError as exc:
                log.append(("refused", str(exc)))
                channel.write_stderr(f"{exc}\n")
                channel.send_exit_status(3)
                channel.close()
    return on_channel


def test_agent_forwarding_lists_the_agents_keys(make_server, client_keys, openssh_client, agent):
    log = []
    rs = forwarding_server(make_server, client_keys, on_channel=agent_app(log))
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    env = dict(client.env(), SSH_AUTH_SOCK=agent)
    result = subprocess.run(client.ssh_args("-A", "list-keys"), capture_output=True,
                            timeout=DEADLINE, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stderr, log)
    expected = subprocess.run(["ssh-add", "-L"], env=dict(os.environ, SSH_AUTH_SOCK=agent),
                              capture_output=True, text=True, timeout=DEADLINE).stdout
    want = {(line.split()[1], line.split()[2]) for line in expected.splitlines()}
    got = {tuple(line.split(" ", 1)) for line in result.stdout.decode().splitlines()}
    assert got == want and len(want) == 2
    assert ("auth-agent",) in log and ("agent-open",) in log


def test_agent_forwarding_refused_without_a_listener(make_server, client_keys, openssh_client,
                                                     agent):
    log = []
    rs = forwarding_server(make_server, client_keys, on_channel=agent_app(log, False))
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    env = dict(client.env(), SSH_AUTH_SOCK=agent)
    result = subprocess.run(client.ssh_args("-A", "list-keys"), capture_output=True,
                            timeout=DEADLINE, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 3
    assert b"did not forward its agent" in result.stderr
    assert ("exec", "list-keys", False) in log and ("auth-agent",) not in log


# -- X11 -------------------------------------------------------------------------------------------

def test_x11_forwarding_opens_x11_channels(make_server, client_keys, openssh_client, tmp_path):
    """The client asks for X11 (``x11`` channel event with its fake cookie); the server opens an
    ``x11`` channel and speaks the X11 connection setup with that cookie; OpenSSH checks it,
    connects to its display (a stand-in X server here) and carries the bytes both ways."""
    log = []
    setups = []

    def fake_x_server(conn):
        head = recv_exact(conn, 12)
        n_proto, n_data = struct.unpack("<HH", head[6:10])
        pad = lambda n: (n + 3) & ~3  # noqa: E731
        rest = recv_exact(conn, pad(n_proto) + pad(n_data))
        setups.append(head + rest)
        conn.sendall(b"X11-OK")

    def on_channel(channel):
        @channel.on("x11")
        def on_x11(msg):
            log.append(("x11", msg.x11_auth_protocol, msg.x11_auth_cookie,
                        msg.x11_screen_number, msg.x11_single_connection))
            msg.reply_success()

        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()
            session = channel.session
            proto, cookie = log[-1][1].encode(), bytes.fromhex(log[-1][2])

            def opened(err, x11):
                if err is not None:
                    channel.write_stderr(f"x11: {err}\n")
                    channel.send_exit_status(2)
                    channel.close()
                    return

                @x11.on("data")
                def on_data(data, is_stderr):
                    channel.write(data)
                    channel.send_exit_status(0)
                    channel.close()
                    x11.close()

                pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
                x11.write(b"l\0" + struct.pack("<HHHH", 11, 0, len(proto), len(cookie))
                          + b"\0\0" + pad(proto) + pad(cookie))

            session.x11("127.0.0.1", 40000, opened)

    rs = forwarding_server(make_server, client_keys, on_channel=on_channel)
    display = next(n for n in range(50, 100) if not listening(6000 + n))
    with ThreadedServer(fake_x_server, 6000 + display):
        client = openssh_client(rs.port, identity=client_keys["ed25519"])
        xauthority = tmp_path / "Xauthority"
        xauthority.touch()
        env = dict(client.env(), DISPLAY=f"127.0.0.1:{display}", XAUTHORITY=str(xauthority))
        result = subprocess.run(client.ssh_args("-Y", "x11-test"), capture_output=True,
                                timeout=DEADLINE, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stderr, log)
    assert result.stdout == b"X11-OK"
    assert log[0][1] == "MIT-MAGIC-COOKIE-1" and len(log[0][2]) == 32
    assert setups and setups[0].startswith(b"l\0\x0b\0")


# -- before authentication -------------------------------------------------------------------------

def test_no_forwarding_before_authentication(make_server, client_keys):
    """paramiko can ask before authenticating: the channel open and the global request are
    refused (libssh drops such a session), nothing is connected or bound, no event fires."""
    events = []
    rs = forwarding_server(make_server, client_keys, on_session=lambda s: (
        s.on("tcpip", lambda m: events.append(m)), s.on("request", lambda m: events.append(m))))
    with ThreadedServer(echo) as target:
        for attempt in ("open", "forward"):
            sock = socket.create_connection(("127.0.0.1", rs.port), timeout=DEADLINE)
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=DEADLINE)
                if attempt == "open":
                    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
                        transport.open_channel("direct-tcpip", ("127.0.0.1", target.port),
                                               ("127.0.0.1", 1), timeout=5)
                else:
                    port = free_port()
                    reply = None
                    try:
                        reply = transport.global_request("tcpip-forward", ("127.0.0.1", port),
                                                         wait=True)
                    except (paramiko.SSHException, EOFError, OSError):
                        pass
                    assert reply is None
                    time.sleep(0.2)
                    assert not listening(port)
            finally:
                transport.close()
        assert target.connections == 0
    assert events == []


def test_outgoing_channels_need_an_authenticated_session(make_server, client_keys):
    opened = []
    errors = []

    def on_session(session):
        def try_open():
            try:
                session.forward_out("localhost", 1, "127.0.0.1", 2, lambda e, c: None)
                opened.append(True)
            except ChannelError as exc:
                errors.append(str(exc))
        rs.loop.call_soon(try_open)

    rs = forwarding_server(make_server, client_keys, on_session=on_session)
    with socket.create_connection(("127.0.0.1", rs.port), timeout=DEADLINE) as sock:
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=DEADLINE)
            wait_until(lambda: errors or opened, what="the open attempt")
        finally:
            transport.close()
    assert not opened and "not authenticated" in errors[0]


def test_open_agent_without_agent_forwarding_raises(make_server, client_keys, openssh_client):
    results = []

    def on_channel(channel):
        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()
            try:
                channel.session.open_agent(lambda e, c: None)
                results.append("opened")
            except ChannelError as exc:
                results.append(str(exc))
            channel.send_exit_status(0)
            channel.close()

    rs = forwarding_server(make_server, client_keys, on_channel=on_channel)
    result = openssh_client(rs.port, identity=client_keys["ed25519"]).ssh("x", timeout=DEADLINE)
    assert result.returncode == 0
    assert results and "did not forward its agent" in results[0]


def test_client_refusing_a_forwarded_channel_reports_the_error(make_server, client_keys,
                                                               openssh_client):
    """A forwarded-tcpip open for a port the client never forwarded: OpenSSH refuses it and
    the callback gets the error."""
    outcome = []

    def on_channel(channel):
        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()

            def done(err, ch):
                outcome.append((err, ch))
                channel.send_exit_status(0)
                channel.close()
            channel.session.forward_out("localhost", 1, "127.0.0.1", 2, done)

    rs = forwarding_server(make_server, client_keys, on_channel=on_channel)
    result = openssh_client(rs.port, identity=client_keys["ed25519"]).ssh("x", timeout=DEADLINE)
    assert result.returncode == 0
    err, ch = outcome[0]
    assert ch is None and isinstance(err, ChannelError) and "open" in str(err).lower()
