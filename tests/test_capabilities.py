"""What needs libssh's private structs or our patches (csrc/pylibssh_private.c): each capability
flag of ``pylibssh._binding.HAS``, turned off as a build against a system libssh has it, leaves
its feature cleanly off (libssh's own behaviour, or a clear UnsupportedError where a user asks
for it); and the messages libssh has no function for go out with exactly their fields."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading

import paramiko
import pytest
from clientkit import connect, known_hosts  # noqa: F401  (fixtures)
from fwdkit import BackgroundSSH, ThreadedServer, echo, forwarding_server, recv_all, wait_path
from paramiko.common import MSG_CHANNEL_OPEN_FAILURE, cMSG_CHANNEL_DATA
from paramiko.message import Message
from serverkit import DEADLINE, PASSWORD, paramiko_client, paramiko_exec, standard_app, wait_until

import pylibssh
from pylibssh import _binding
from pylibssh._binding import HAS, lib

pytestmark = pytest.mark.peer

CAPABILITIES = ["pty_modes", "want_reply", "pending_output", "socket_state", "window_guard",
                "message_peek", "hostkey_algo", "global_replies", "streamlocal",
                "open_failure_reason"]


@pytest.fixture
def without(monkeypatch):
    """``without("name", ...)``: this build as if it lacked those capabilities."""

    def turn_off(*names: str) -> None:
        for name in names:
            assert name in CAPABILITIES
            monkeypatch.setattr(HAS, name, False)

    return turn_off


@pytest.fixture
def sockdir():
    path = tempfile.mkdtemp(prefix="pyl-cap-")  # short: UNIX socket paths are limited
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def test_the_vendored_build_has_every_capability():
    assert _binding.VENDORED
    assert HAS.names() == CAPABILITIES
    for name in CAPABILITIES:
        assert getattr(lib, f"PYLIBSSH_HAS_{name.upper()}") == 1


def test_only_one_c_file_uses_libssh_private_state():
    """libssh's private headers (and its generated config.h) are included by
    csrc/pylibssh_private.c alone, and only it calls the functions our patches add."""
    csrc = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")
    private_include = re.compile(r'#include\s*[<"](config\.h|libssh/(?!libssh\.h|callbacks\.h|'
                                 r'server\.h|sftp\.h|sftpserver\.h|legacy\.h)[a-z_0-9]+\.h)[>"]')
    patched = re.compile(r"\b(ssh_send_packet|ssh_channel_open_reverse_forward_unix)\s*\(")
    users = {}
    for name in sorted(os.listdir(csrc)):
        with open(os.path.join(csrc, name)) as f:
            text = f.read()
        if private_include.search(text) or (name.endswith(".c") and patched.search(text)):
            users[name] = True
    assert list(users) == ["pylibssh_private.c"]


# -- a real paramiko server, to read what the pylibssh client sends --------------------------------

class Recorder(paramiko.ServerInterface):
    """Password auth; records each global request (name, its fields' raw bytes) and refuses it."""

    def __init__(self):
        self.requests: list[tuple[str, bytes]] = []

    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        return paramiko.AUTH_SUCCESSFUL if password == PASSWORD else paramiko.AUTH_FAILED

    def check_global_request(self, kind, m):
        self.requests.append((kind, m.get_remainder()))
        return False


@contextlib.contextmanager
def paramiko_server(host_key_files, interface: paramiko.ServerInterface):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(DEADLINE)
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            t = paramiko.Transport(conn)
            transports.append(t)
            t.add_server_key(paramiko.Ed25519Key(filename=str(host_key_files["ed25519"])))
            t.start_server(server=interface)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(DEADLINE)
        for t in transports:
            t.close()


def connect_to(port: int) -> pylibssh.Client:
    return pylibssh.connect("127.0.0.1", port, "tester", password=PASSWORD, agent=False,
                            look_for_keys=False, host_key_policy="ignore", known_hosts=None,
                            config=None, timeout=DEADLINE)


def ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_streamlocal_forward_request_ends_with_its_path(host_key_files, sockdir):
    """streamlocal-forward@openssh.com carries the socket path and nothing after it (no
    trailer of extra bytes: it is sent with ssh_send_packet, patch 0011)."""
    recorder = Recorder()
    path = os.path.join(sockdir, "r.sock")
    with paramiko_server(host_key_files, recorder) as port, connect_to(port) as client:
        with pytest.raises(pylibssh.RequestDeniedError):
            client.forward_remote_path(path, "/nowhere.sock", timeout=DEADLINE)
    assert recorder.requests == [("streamlocal-forward@openssh.com",
                                  ssh_string(path.encode()))]


def test_the_paramiko_layers_global_request_has_exactly_its_fields(host_key_files):
    from pylibssh.compat import paramiko as compat

    recorder = Recorder()
    with paramiko_server(host_key_files, recorder) as port:
        t = compat.Transport(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
        try:
            t.connect(username="tester", password=PASSWORD)
            assert t.global_request("example@pylibssh.test", ("abc", 7), wait=True) is None
        finally:
            t.close()
    assert recorder.requests == [("example@pylibssh.test",
                                  ssh_string(b"abc") + struct.pack(">I", 7))]


# -- the pylibssh server, with paramiko and OpenSSH's ssh as clients --------------------------------

def refusing_server(make_server, client_keys, reason="resource-shortage", text="no room here"):
    def on_session(session):
        session.on("tcpip", lambda msg: msg.reject(reason, text))

    return forwarding_server(make_server, client_keys, connect_allow=None, on_session=on_session)


def open_failure(rs) -> tuple[paramiko.ChannelException, list[bytes]]:
    """A paramiko client's direct-tcpip open refused by ``rs``: the exception, and the raw
    CHANNEL_OPEN_FAILURE messages (after the message number) that arrived."""
    seen: list[bytes] = []
    with paramiko_client(rs.port, password=PASSWORD) as client:
        t = client.get_transport()
        original = t._handler_table[MSG_CHANNEL_OPEN_FAILURE]

        def record(m: Message) -> None:
            seen.append(m.get_remainder())
            original(m)

        t._handler_table[MSG_CHANNEL_OPEN_FAILURE] = record
        with pytest.raises(paramiko.ChannelException) as info:
            t.open_channel("direct-tcpip", ("target.example", 9), ("127.0.0.1", 0),
                           timeout=DEADLINE)
    return info.value, seen


def test_open_failure_carries_the_reason_and_nothing_after_its_fields(make_server, client_keys):
    """The reason code and description reach the client; the language tag is empty and
    nothing follows it (sent with ssh_send_packet, patch 0011)."""
    rs = refusing_server(make_server, client_keys)
    exc, seen = open_failure(rs)
    assert exc.code == 4  # (paramiko's text is its own name for the code)
    m = Message(seen[0])
    m.get_int()  # the client's channel
    assert m.get_int() == 4
    assert m.get_string() == b"no room here"
    assert m.get_string() == b""
    assert m.get_remainder() == b""


def test_without_open_failure_reason_libssh_refuses(make_server, client_keys, without):
    without("open_failure_reason")
    rs = refusing_server(make_server, client_keys)
    exc, _ = open_failure(rs)
    assert exc.code == pylibssh.ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED


def pty_request(rs) -> pylibssh.ChannelRequestMessage:
    seen: list = []

    def on_channel(channel):
        channel.on("pty", lambda msg: (seen.append(msg), msg.reply_success()))

    rs.server.on("connection", lambda s: s.on("channel", on_channel))
    with paramiko_client(rs.port, password=PASSWORD) as client:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.get_pty(term="vt100", width=90, height=30)
        chan.close()
    return wait_until(lambda: seen, what="the pty request")[0]


def test_pty_modes(make_server, without):
    rs = make_server()
    standard_app(rs)
    msg = pty_request(rs.start())
    assert (msg.term, msg.cols, msg.rows) == ("vt100", 90, 30)
    assert msg.modes == {} and msg.modes_raw == b""  # paramiko sends none
    without("pty_modes")
    msg = pty_request(rs)
    assert (msg.term, msg.cols, msg.rows) == ("vt100", 90, 30)
    assert msg.modes is None and msg.modes_raw is None  # unknown, as documented


def env_request(rs) -> list:
    """paramiko sends ``env`` wanting no reply; the listener answers all the same."""
    seen: list = []

    def on_channel(channel):
        @channel.on("env")
        def on_env(msg):
            seen.append(msg.want_reply)
            msg.reply_success()

    rs.server.on("connection", lambda s: s.on("channel", on_channel))
    with paramiko_client(rs.port, password=PASSWORD) as client:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.set_environment_variable("LANG", "C")
        chan.exec_command("echo ok")
        assert chan.makefile("rb").read() == b"ok\n"
        assert chan.recv_exit_status() == 0
    return seen


def test_want_reply(make_server, without):
    rs = make_server()
    standard_app(rs)
    rs.start()
    assert env_request(rs) == [False]
    without("want_reply")
    assert env_request(rs) == [True]  # unknown: treated as wanted; the session goes on


def test_pending_output(make_server, without):
    rs = make_server()
    standard_app(rs)
    rs.start()
    sessions = []
    rs.server.on("connection", sessions.append)
    with paramiko_client(rs.port, password=PASSWORD) as client:
        paramiko_exec(client, "true")
        assert rs.call(lambda: sessions[0].pending_output) >= 0
        without("pending_output")
        assert rs.call(lambda: sessions[0].pending_output) == -1  # unknown: no bound applies
        assert not rs.call(lambda: sessions[0]._output_full())
        out, err, status = paramiko_exec(client, "head -c 3000000 /dev/zero")
        assert (len(out), status) == (3000000, 0)


def data_beyond_the_window(rs) -> bool:
    """Whether the server hung up on a client that sent past its channel's window."""
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", rs.port), timeout=DEADLINE))
    try:
        t.connect(username="tester", password=PASSWORD)
        chan = t.open_session(timeout=DEADLINE)
        with contextlib.suppress(EOFError, OSError, paramiko.SSHException):
            for _ in range(8):
                m = Message()
                m.add_byte(cMSG_CHANNEL_DATA)
                m.add_int(chan.remote_chanid)
                m.add_string(b"x" * 32768)
                t._send_message(m)
            # the server answers another channel's exec only when it kept the session
            other = t.open_session(timeout=DEADLINE)
            other.exec_command("echo alive")
            return other.makefile("rb").read() != b"alive\n"
        return True
    finally:
        t.close()


def test_window_guard(make_server, without, caplog):
    caplog.set_level(logging.WARNING, logger="pylibssh")
    rs = make_server()
    standard_app(rs)
    rs.start()
    assert data_beyond_the_window(rs)
    without("window_guard")
    assert not data_beyond_the_window(rs)  # libssh drops the data and goes on (and says so)
    wait_until(lambda: any("window" in r.getMessage().lower() for r in caplog.records),
               what="libssh's warning")


def test_without_streamlocal_the_server_refuses_unix_socket_forwarding(
        make_server, client_keys, openssh_client, sockdir, without):
    without("streamlocal")
    sessions: list = []
    rs = forwarding_server(make_server, client_keys, connect_allow=[f"{sockdir}/*"],
                           listen_allow=[f"{sockdir}/*"], on_session=sessions.append)
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    remote = os.path.join(sockdir, "remote.sock")
    refused = subprocess.run(client.ssh_args("-o", "ExitOnForwardFailure=yes", "-N", "-R",
                                             f"{remote}:127.0.0.1:9"),
                             capture_output=True, timeout=DEADLINE, env=client.env())
    assert refused.returncode != 0 and b"forwarding failed" in refused.stderr.lower()
    assert not os.path.exists(remote)
    target = os.path.join(sockdir, "target.sock")
    local = os.path.join(sockdir, "local.sock")
    with ThreadedServer(echo, target), BackgroundSSH(client, "-L", f"{local}:{target}"):
        wait_path(local)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(DEADLINE)
            s.connect(local)
            s.sendall(b"hello")
            with contextlib.suppress(ConnectionResetError):  # (a reset says it too)
                assert recv_all(s) == b""  # the direct-streamlocal open was refused
    with pytest.raises(pylibssh.UnsupportedError, match="streamlocal"):
        rs.call(sessions[-1].forward_out_streamlocal, remote)


# -- the pylibssh client, with OpenSSH's sshd ---------------------------------------------------------

def test_without_streamlocal_the_client_says_so(connect, without, sockdir):
    without("streamlocal")
    c = connect()
    with pytest.raises(pylibssh.UnsupportedError, match="streamlocal"):
        c.forward_remote_path(os.path.join(sockdir, "r.sock"), "/x.sock")
    assert c.run("echo ok").stdout == b"ok\n"


def test_without_global_replies_libssh_sends_keepalives_and_forwards(connect, without, sockdir):
    """libssh's own senders, one reply state for all: keepalives and remote forwards each work
    (together, a keepalive's reply could be taken for a forward's: what the FIFO is for)."""
    without("global_replies", "message_peek")
    c = connect()
    assert c.session.global_replies() is None
    with pytest.raises(pylibssh.UnsupportedError, match="global_replies"):
        c.forward_remote_path(os.path.join(sockdir, "r.sock"), "/x.sock")
    with ThreadedServer(echo) as target:
        fwd = c.forward_remote_port("127.0.0.1", 0, "127.0.0.1", target.port)
        assert fwd.port > 0  # the port libssh read from the reply
        with socket.create_connection(("127.0.0.1", fwd.port), timeout=DEADLINE) as s:
            s.sendall(b"through the server")
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"through the server"
        fwd.close()
    kept = connect(keepalive_interval=0.2)
    sent = kept.session.bytes_sent
    # (the waiting thread drives the client's loop, whose timer sends them)
    assert kept.loop.wait_for(lambda: kept.session.bytes_sent > sent + 200, DEADLINE)
    assert kept.run("echo ok").stdout == b"ok\n"


def test_host_key_type(make_server, host_key_files, without):
    from pylibssh.compat import paramiko as compat

    rs = make_server(host_keys=[host_key_files["rsa"]])
    standard_app(rs)
    rs.start()

    def host_key_type() -> str:
        t = compat.Transport(socket.create_connection(("127.0.0.1", rs.port),
                                                      timeout=DEADLINE))
        try:
            t.connect(username="tester", password=PASSWORD)
            return t.host_key_type
        finally:
            t.close()

    assert host_key_type() in ("rsa-sha2-512", "rsa-sha2-256")  # the negotiated algorithm
    without("hostkey_algo")
    assert host_key_type() == "ssh-rsa"  # the key's type


def test_without_socket_state_a_reset_is_still_a_disconnect(without):
    """A server that sends its banner and resets the connection: DisconnectedError, from the
    socket's errno, or without it from libssh's message."""

    def reset_server() -> tuple[socket.socket, threading.Thread]:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(DEADLINE)

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                conn.sendall(b"SSH-2.0-reset\r\n")
                conn.recv(100)  # the client's banner
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        return listener, thread

    for flag_on in (True, False):
        if not flag_on:
            without("socket_state")
        listener, thread = reset_server()
        try:
            with pytest.raises(pylibssh.DisconnectedError):
                connect_to(listener.getsockname()[1])
        finally:
            listener.close()
            thread.join(DEADLINE)
