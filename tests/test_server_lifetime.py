"""C lifetimes seen from Python: close twice, use after close raises (never crashes), sessions
dropped with open channels and unanswered requests, replies twice or too late; every session,
channel and message that pylibssh took from libssh is freed."""

import os
import socket
import struct
import threading
import time

import paramiko
import pytest
from serverkit import (
    DEADLINE,
    PASSWORD,
    in_background,
    paramiko_client,
    standard_app,
    wait_until,
)

import pylibssh
from pylibssh.server import _live

pytestmark = pytest.mark.peer


def settled():
    return _live.counts() == {"sessions": 0, "channels": 0, "messages": 0}


@pytest.fixture(autouse=True)
def nothing_leaks():
    """Whatever a test leaves, closing its servers frees all of it."""
    yield
    wait_until(settled, what=f"no live server objects (now {_live.counts()})")


def holding_server(make_server):
    """A server whose listeners keep what they get, to be poked at from the test."""
    rs = make_server()
    held = {"sessions": [], "channels": [], "auth": [], "requests": []}

    @rs.server.on("connection")
    def on_connection(session):
        held["sessions"].append(session)

        @session.on("auth")
        def on_auth(msg):
            held["auth"].append(msg)
            if msg.auth_password == PASSWORD:
                msg.reply_auth_success()
            elif msg.auth_password != "hold":
                msg.reply_default()
            # "hold": left unanswered

        @session.on("channel")
        def on_channel(channel):
            held["channels"].append(channel)
            channel.on("exec", held["requests"].append)  # never answered here
            channel.on("shell", held["requests"].append)

    rs.held = held
    return rs.start()


def held_exec(rs):
    """A paramiko client with an exec request ``rs`` holds: (client, the server's session, its
    channel, the request)."""
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    # paramiko waits for the reply with no deadline: ask from a thread
    in_background(chan.exec_command, "x")
    wait_until(lambda: rs.held["requests"], what="the exec request")
    return client, rs.held["sessions"][0], rs.held["channels"][0], rs.held["requests"][0]


def test_close_twice_and_use_after_close(make_server):
    rs = holding_server(make_server)
    client, session, channel, request = held_exec(rs)
    request.reply_success()
    with pytest.raises(pylibssh.AlreadyRepliedError):
        request.reply_success()
    with pytest.raises(pylibssh.AlreadyRepliedError):
        request.reply_default()
    assert channel.write(b"hello\n")
    channel.close()
    channel.close()  # idempotent
    wait_until(lambda: channel.closed, what="the channel to close")
    with pytest.raises(pylibssh.ClosedError):
        channel.write(b"too late")
    with pytest.raises(pylibssh.ClosedError):
        channel.send_exit_status(0)
    channel.pause()
    channel.resume()  # harmless on a closed channel
    assert channel.window == 0
    session.close(timeout=None)
    session.close()
    assert session.closed
    with pytest.raises(pylibssh.ClosedError):
        session.set_auth_methods(["password"])
    assert session.kex_algorithm is None and session.client_banner is None
    client.close()


def test_reply_after_the_client_left_raises(make_server):
    rs = holding_server(make_server)
    transport = paramiko.Transport(("127.0.0.1", rs.port))
    transport.start_client(timeout=DEADLINE)
    event = threading.Event()
    transport.auth_password("ann", "hold", event=event, fallback=False)
    wait_until(lambda: rs.held["auth"], what="the auth request")
    msg = rs.held["auth"][-1]
    assert not msg.replied
    transport.close()
    wait_until(lambda: rs.held["sessions"][0].closed, what="the session to notice")
    assert msg.replied  # it can no longer be answered
    with pytest.raises(pylibssh.ClosedError):
        msg.reply_auth_success()
    assert msg.auth_user == "ann" and msg.auth_password == "hold"  # fields stay readable


def test_request_pending_when_the_channel_closes(make_server):
    rs = holding_server(make_server)
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    in_background(chan.exec_command, "wait")
    wait_until(lambda: rs.held["requests"], what="the exec request")
    request = rs.held["requests"][0]
    chan.close()
    wait_until(lambda: rs.held["channels"][0].closed, what="the channel to close")
    with pytest.raises(pylibssh.ClosedError):
        request.reply_success()
    # the session goes on: another channel works
    chan = client.get_transport().open_session(timeout=DEADLINE)
    in_background(chan.invoke_shell)
    wait_until(lambda: len(rs.held["requests"]) == 2, what="the shell request")
    client.close()


def test_a_failed_write_leaves_the_descriptor_to_the_session(make_server):
    # a write that meets a reset connection: the session's descriptor stays its own until its
    # teardown, so a socket made meanwhile (a connection accepted by the same loop) never gets
    # that number and the teardown's lingering close cannot reach it
    rs = holding_server(make_server)
    client, session, channel, request = held_exec(rs)
    request.reply_success()
    client_sock = client.get_transport().sock

    def on_the_loop():
        # all on the loop thread, so that the loop cannot see the reset first
        client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client_sock.close()  # the server's side is reset
        try:
            channel.write(b"x" * 100_000)
        except pylibssh.SSHError:
            pass
        made = socket.socketpair()  # numbers the failed write might have freed
        session.close(timeout=None)
        return made

    a, b = rs.call(on_the_loop)
    with a, b:
        for end in (a, b):
            end.setblocking(False)
            with pytest.raises(BlockingIOError):  # b"" (an end of file) had it been shut down
                end.recv(1)
        a.sendall(b"still here")
        b.settimeout(DEADLINE)
        assert b.recv(100) == b"still here"
    client.close()


def test_drop_a_session_with_open_channels_and_pending_requests(make_server):
    rs = make_server()
    pids, events = [], []

    def on_channel(channel):
        channel.on("close", lambda: events.append("channel close"))

        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            pids.append(pylibssh.server.spawn(channel, "sleep 60").pid)

        channel.on("shell", lambda msg: events.append("shell held"))  # never answered

    standard_app(rs, on_channel=on_channel)
    rs.start()
    client = paramiko_client(rs.port, password=PASSWORD)
    transport = client.get_transport()
    transport.open_session(timeout=DEADLINE).exec_command("sleep")
    in_background(lambda: transport.open_session(timeout=DEADLINE).invoke_shell())
    wait_until(lambda: pids and "shell held" in events, what="both channels")
    session = rs.server.sessions[0]
    assert _live.counts()["channels"] == 2 and _live.counts()["messages"] == 1
    session.on("close", lambda: events.append("session close"))
    session.close(timeout=0.5)  # channels first; paramiko keeps the connection: 0.5 s later
    assert events.count("channel close") == 2 and "session close" not in events
    wait_until(lambda: "session close" in events, what="the session's close")
    assert events[-1] == "session close"
    wait_until(lambda: not transport.is_active(), what="the client to see the disconnect")
    # the child got SIGHUP when its channel went away
    wait_until(lambda: _gone(pids[0]), what="the child to exit")
    client.close()


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie is gone too; reap it if it is ours
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


def test_server_close_frees_everything(make_server):
    rs = holding_server(make_server)
    clients = [paramiko_client(rs.port, password=PASSWORD) for _ in range(3)]
    for c in clients:
        in_background(lambda c=c: c.get_transport().open_session(
            timeout=DEADLINE).exec_command("x"))
    held = paramiko.Transport(("127.0.0.1", rs.port))
    held.start_client(timeout=DEADLINE)
    held.auth_password("ann", "hold", event=threading.Event(), fallback=False)
    wait_until(lambda: len(rs.held["requests"]) == 3 and rs.held["auth"][-1].auth_password
               == "hold", what="three exec requests and a held auth request")
    counts = _live.counts()
    assert counts["sessions"] == 4 and counts["channels"] == 3 and counts["messages"] == 4
    rs.server.close()
    assert settled(), _live.counts()
    for msg in rs.held["requests"] + rs.held["auth"][-1:]:
        with pytest.raises(pylibssh.ClosedError):
            msg.reply_default()
    for c in clients:
        wait_until(lambda c=c: not c.get_transport().is_active(), what="client disconnect")
        c.close()
    held.close()


def test_output_written_before_session_close_arrives(make_server, openssh_client):
    rs = make_server()

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            channel.write(b"last words\n")
            channel.send_exit_status(0)
            channel.session.close()  # straight away, from the listener

    standard_app(rs, on_channel=on_channel)
    rs.start()
    result = openssh_client(rs.port, password=PASSWORD).ssh("x")
    assert result.stdout == b"last words\n", result.stderr


def test_many_messages_are_all_freed(make_server):
    """Auth failures, pk probes, channel requests with and without listeners, window changes
    that want no reply: after the connection ends, no message is left."""
    rs = make_server(max_auth_attempts=50)
    standard_app(rs)
    rs.start()
    transport = paramiko.Transport(("127.0.0.1", rs.port))
    transport.start_client(timeout=DEADLINE)
    for _ in range(10):
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_password("bob", "wrong")
    transport.auth_password("bob", PASSWORD)
    for _ in range(5):
        chan = transport.open_session(timeout=DEADLINE)
        chan.get_pty()
        chan.resize_pty(100, 30)
        chan.exec_command("true")
        chan.settimeout(DEADLINE)
        chan.recv(10)
        chan.close()
    transport.close()
    wait_until(settled, what="all freed")


def test_loop_close_after_server_close_and_time_limit(make_server):
    rs = make_server()
    rs.start()
    start = time.monotonic()
    rs.server.close()
    rs.loop.close()
    assert time.monotonic() - start < 5
    assert not rs.loop.running
