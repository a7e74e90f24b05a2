"""Serving sockets the application accepted itself (``Server.accept_socket``), deciding on
session channels (the session's ``session`` event) and per-reply method lists
(``AuthMessage.reply_default(methods=...)``), with paramiko as the client."""

import socket
import threading

import paramiko
import pytest
from serverkit import DEADLINE, PASSWORD, paramiko_client, paramiko_exec, wait_until

import pylibssh
from pylibssh.errors import ClosedError, SSHConnectionError

pytestmark = pytest.mark.peer


@pytest.fixture
def own_listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(DEADLINE)
    yield sock
    sock.close()


def accept_in_background(listener, server, sessions):
    def run():
        conn, addr = listener.accept()
        sessions.append(server.accept_socket(conn, addr))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def password_and_exec(rs, methods_for=None):
    seen = rs.log

    @rs.server.on("connection")
    def on_connection(session):
        seen.append(("connection", session.remote_address))

        @session.on("auth")
        def on_auth(msg):
            seen.append(("auth", msg.subtype, msg.auth_user))
            if msg.subtype == "password" and msg.auth_password == PASSWORD:
                msg.reply_auth_success()
            elif methods_for is not None:
                msg.reply_default(methods=methods_for(msg.auth_user))
            else:
                msg.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def on_exec(msg):
                msg.reply_success()
                channel.write(f"ran {msg.exec_command}\n")
                channel.send_exit_status(3)
                channel.close()


def test_accept_socket_serves_a_connection_the_application_accepted(make_server, own_listener):
    rs = make_server()
    password_and_exec(rs)
    rs.server.start()  # not listening: the application accepts
    assert not rs.server.listening
    sessions = []
    thread = accept_in_background(own_listener, rs.server, sessions)
    client = paramiko_client(own_listener.getsockname()[1], password=PASSWORD)
    try:
        out, err, status = paramiko_exec(client, "hello")
    finally:
        client.close()
    thread.join(DEADLINE)
    assert (out, err, status) == (b"ran hello\n", b"", 3)
    assert len(sessions) == 1 and isinstance(sessions[0], pylibssh.ServerSession)
    assert rs.log[0] == ("connection", sessions[0].remote_address)
    assert sessions[0].remote_address[0] == "127.0.0.1"
    wait_until(lambda: sessions[0].closed, what="the session to close")


def test_accept_socket_refusals(make_server, own_listener):
    rs = make_server(max_unauthenticated=1)
    rs.server.start()
    first = socket.create_connection(own_listener.getsockname(), timeout=DEADLINE)
    second = socket.create_connection(own_listener.getsockname(), timeout=DEADLINE)
    try:
        conn1, _ = own_listener.accept()
        session = rs.server.accept_socket(conn1)
        assert conn1.fileno() == -1  # detached: libssh owns the descriptor
        assert session.remote_address == first.getsockname()
        conn2, addr2 = own_listener.accept()
        with pytest.raises(SSHConnectionError):
            rs.server.accept_socket(conn2, addr2)  # over max_unauthenticated
        second.settimeout(DEADLINE)
        assert second.recv(100) == b"Exceeded MaxStartups\r\n"  # sshd's line, then closed
        assert second.recv(100) == b""
        with pytest.raises(TypeError):
            rs.server.accept_socket(socket.socket(type=socket.SOCK_DGRAM))
        rs.server.close()
        with pytest.raises(ClosedError):
            rs.server.accept_socket(socket.socket())
    finally:
        first.close()
        second.close()


def test_session_event_decides_on_session_channels(make_server):
    rs = make_server()
    opens = []

    @rs.server.on("connection")
    def on_connection(session):
        session.on("auth", lambda msg: msg.reply_auth_success()
                   if msg.auth_password == PASSWORD else msg.reply_default())

        @session.on("session")
        def on_session(msg):
            assert isinstance(msg, pylibssh.server.SessionOpenMessage)
            opens.append(msg.channel_type)
            if len(opens) == 1:
                msg.reject("resource-shortage", "not this one")
                return
            channel = msg.accept()
            assert isinstance(channel, pylibssh.server.ServerChannel)

            @channel.on("exec")
            def on_exec(req):
                req.reply_success()
                channel.end(b"second\n")
                channel.send_exit_status(0)
                channel.close()

        session.on("channel", lambda ch: opens.append("channel event"))

    rs.start()
    client = paramiko_client(rs.port, password=PASSWORD)
    try:
        with pytest.raises(paramiko.ChannelException) as info:
            client.get_transport().open_session(timeout=DEADLINE)
        assert info.value.code == 4  # resource shortage
        out, err, status = paramiko_exec(client, "x")
    finally:
        client.close()
    assert (out, status) == (b"second\n", 0)
    assert opens == ["session", "session"]  # accepted via `session`: no `channel` event


def test_send_banner_before_authentication(make_server):
    rs = make_server()
    errors = []

    @rs.server.on("connection")
    def on_connection(session):
        @session.once("auth")
        def first(msg):
            session.send_banner("welcome to the test\n")  # before the first reply

        @session.on("auth")
        def on_auth(msg):
            if msg.subtype == "password" and msg.auth_password == PASSWORD:
                msg.reply_auth_success()
                try:
                    session.send_banner("too late")
                except pylibssh.errors.ProtocolError as exc:
                    errors.append(exc)
            else:
                msg.reply_default()

    rs.start()
    client = paramiko_client(rs.port, password=PASSWORD)
    try:
        assert client.get_transport().get_banner() == b"welcome to the test\n"
    finally:
        client.close()
    # (the client may have its success reply before the listener's next call has run)
    wait_until(lambda: errors, what="the late banner's refusal")
    assert len(errors) == 1


def test_failure_lists_methods_for_this_reply_only(make_server):
    rs = make_server(auth_methods=["password", "publickey", "none"])
    password_and_exec(rs, methods_for=lambda user: ["publickey"] if user == "keys-only"
                      else ["password", "publickey"])
    rs.start()
    transport = paramiko.Transport(("127.0.0.1", rs.port))
    try:
        transport.start_client(timeout=DEADLINE)
        with pytest.raises(paramiko.BadAuthenticationType) as info:
            transport.auth_none("keys-only")
        assert info.value.allowed_types == ["publickey"]
        # the session still offers password: the next attempt reaches the application
        transport.auth_password("keys-only", PASSWORD)
        assert transport.is_authenticated()
    finally:
        transport.close()
    assert ("auth", "password", "keys-only") in rs.log
