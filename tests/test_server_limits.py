"""The server's limits with OpenSSH's names, meanings and defaults (MaxSessions, MaxAuthTries,
MaxStartups, LoginGraceTime, sshd's minimum failure time), against real peers: paramiko's
low-level Transport for the abusive clients, OpenSSH's ssh and asyncssh for the ordinary ones."""

import asyncio
import socket
import threading
import time

import asyncssh
import paramiko
import pytest
from paramiko.auth_handler import AuthHandler
from paramiko.common import cMSG_USERAUTH_REQUEST
from paramiko.message import Message
from serverkit import (
    DEADLINE,
    PASSWORD,
    in_background,
    paramiko_client,
    raw_connect,
    standard_app,
    wait_until,
)

from pylibssh.server import connect_handler
from pylibssh.server.limits import MaxStartups, parse_time

pytestmark = pytest.mark.peer

ADMINISTRATIVELY_PROHIBITED = 1  # RFC 4254's open failure reason, as sshd sends it


def transport(port: int) -> paramiko.Transport:
    t = paramiko.Transport(raw_connect(port))
    t.start_client(timeout=DEADLINE)
    return t


def logged_in_transport(port: int) -> paramiko.Transport:
    t = transport(port)
    t.auth_password("tester", PASSWORD)
    assert t.is_authenticated()
    return t


def open_session(t: paramiko.Transport) -> paramiko.Channel:
    return t.open_session(timeout=DEADLINE)


def session_channels(rs) -> int:
    return rs.call(lambda: sum(len([c for c in s.channels if not c.closed])
                               for s in rs.server.sessions))


# -- MaxSessions ---------------------------------------------------------------------------------

def test_the_eleventh_session_channel_is_refused_as_sshd_does(make_server):
    rs = make_server()
    standard_app(rs)
    rs.start()
    t = logged_in_transport(rs.port)
    try:
        opened = [open_session(t) for _ in range(10)]
        with pytest.raises(paramiko.ChannelException) as info:
            open_session(t)
        assert info.value.code == ADMINISTRATIVELY_PROHIBITED
        # a client trying 100 (each could hold a 2 MiB window) still holds 10
        for _ in range(90):
            with pytest.raises(paramiko.ChannelException):
                open_session(t)
        assert session_channels(rs) == 10
        # the limit counts sessions open now: one closed, one more may open
        opened.pop().close()
        wait_until(lambda: session_channels(rs) == 9, what="the closed channel's release")
        opened.append(open_session(t))
        chan = opened[-1]
        chan.exec_command("echo still served")
        chan.settimeout(DEADLINE)
        assert chan.makefile("rb").read() == b"still served\n"
    finally:
        t.close()


def test_max_sessions_with_asyncssh_and_sessions_waiting_for_the_application(make_server):
    """Opens the application has not answered yet count too, so a client cannot pile them up
    while the application decides."""
    rs = make_server(max_sessions=2)
    pending = []

    @rs.server.on("connection")
    def on_connection(session):
        session.on("auth", lambda m: m.reply_auth_success() if m.auth_password == PASSWORD
                   else m.reply_default())
        session.on("session", pending.append)  # answered later, by the test

    rs.start()

    async def run():
        async with asyncssh.connect("127.0.0.1", rs.port, username="tester", password=PASSWORD,
                                    known_hosts=None, client_keys=None) as conn:
            first = asyncio.ensure_future(conn.create_session(asyncssh.SSHClientSession))
            second = asyncio.ensure_future(conn.create_session(asyncssh.SSHClientSession))
            while len(pending) < 2:
                await asyncio.sleep(0.01)
            with pytest.raises(asyncssh.ChannelOpenError) as info:
                await conn.create_session(asyncssh.SSHClientSession)
            assert info.value.code == ADMINISTRATIVELY_PROHIBITED
            for msg in list(pending):
                rs.call(msg.reject)
            for fut in (first, second):
                with pytest.raises(asyncssh.ChannelOpenError):
                    await fut

    asyncio.run(asyncio.wait_for(run(), DEADLINE))
    assert len(pending) == 2


def test_forwarding_channels_have_their_own_bound(make_server):
    """Sessions are counted by max_sessions only (sshd's MaxSessions); direct-tcpip channels by
    max_forward_channels."""
    target = socket.create_server(("127.0.0.1", 0))
    target_port = target.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def serve_target():
        target.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(target.accept()[0])
            except socket.timeout:  # TimeoutError from Python 3.10 on
                pass

    acceptor = threading.Thread(target=serve_target, daemon=True)
    acceptor.start()
    rs = make_server(max_sessions=1, max_forward_channels=3)
    standard_app(rs)
    rs.server.on("connection", lambda s: s.on("tcpip", connect_handler(allow="*")))
    rs.start()
    t = logged_in_transport(rs.port)
    try:
        dest, src = ("127.0.0.1", target_port), ("127.0.0.1", 5555)
        tunnels = [t.open_channel("direct-tcpip", dest, src, timeout=DEADLINE) for _ in range(3)]
        with pytest.raises(paramiko.ChannelException) as info:
            t.open_channel("direct-tcpip", dest, src, timeout=DEADLINE)
        assert info.value.code == ADMINISTRATIVELY_PROHIBITED
        session = open_session(t)  # forwards do not use up the session
        with pytest.raises(paramiko.ChannelException):
            open_session(t)
        tunnels[0].sendall(b"through")
        wait_until(lambda: len(accepted) == 3, what="three connections to the target")
        session.close()
        for tunnel in tunnels:
            tunnel.close()
    finally:
        t.close()
        stop.set()
        acceptor.join(DEADLINE)
        target.close()
        for conn in accepted:
            conn.close()


# -- MaxAuthTries, "none" and the failure delay ----------------------------------------------------

def test_none_requests_count_after_the_first(make_server):
    """sshd: the first "none" (how clients learn the methods) is free, every later one is a
    failure; MaxAuthTries (6) failures end the connection."""
    rs = make_server()
    standard_app(rs)
    sessions = []
    rs.server.on("connection", sessions.append)
    rs.start()
    t = transport(rs.port)
    answered = 0
    try:
        for _ in range(50):
            try:
                t.auth_none("nobody")
            except paramiko.BadAuthenticationType:
                answered += 1
            except (paramiko.SSHException, EOFError):
                break
        wait_until(lambda: not t.is_active(), what="the disconnect")
    finally:
        t.close()
    assert answered == 7  # 1 free + 6 failures
    wait_until(lambda: sessions[0].closed, what="the session's end")
    assert sessions[0].auth_failures == 6


class PipelinedPasswords(AuthHandler):
    """Sends ``count`` password requests back to back, without waiting for the answers, and
    records when each failure arrives."""

    count = 2
    failures: list

    def _parse_service_accept(self, m):
        self.failures = []
        for i in range(self.count):
            m = Message()
            m.add_byte(cMSG_USERAUTH_REQUEST)
            m.add_string(self.username)
            m.add_string("ssh-connection")
            m.add_string("password")
            m.add_boolean(False)
            m.add_string(f"wrong-{i}")
            self.transport._send_message(m)

    def _parse_userauth_failure(self, m):
        self.failures.append(time.monotonic())
        if len(self.failures) == self.count:
            super()._parse_userauth_failure(m)


def timed_auth_server(make_server, **options):
    rs = make_server(**options)
    seen = []  # (monotonic time, method, user)

    @rs.server.on("connection")
    def on_connection(session):
        @session.on("auth")
        def on_auth(msg):
            seen.append((time.monotonic(), msg.subtype, msg.auth_user))
            if msg.subtype == "password" and msg.auth_password == PASSWORD:
                return msg.reply_auth_success()
            msg.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def on_exec(msg):
                msg.reply_success()
                channel.end(b"in\n")
                channel.send_exit_status(0)
                channel.close()

    return rs.start(), seen


def test_a_failure_is_answered_after_the_minimum_time_and_no_request_is_taken_meanwhile(
        make_server):
    rs, seen = timed_auth_server(make_server, auth_failure_delay=0.5)
    t = transport(rs.port)
    try:
        handler = PipelinedPasswords(t)
        t.auth_handler = handler
        done = threading.Event()
        handler.auth_password("mallory", "unused", done)
        assert done.wait(DEADLINE)
        assert len(handler.failures) == 2
    finally:
        t.close()
    assert [s[1:] for s in seen] == [("password", "mallory")] * 2
    # the second request, sent at once, was taken only after the first failure went out
    assert seen[1][0] - seen[0][0] >= 0.5
    assert handler.failures[1] - handler.failures[0] >= 0.5


def test_a_held_failure_does_not_hold_back_other_clients_or_a_success(make_server,
                                                                      openssh_client):
    # a long minimum, so that nothing below depends on how fast this machine is
    rs, seen = timed_auth_server(make_server, auth_failure_delay=60)
    attacker = transport(rs.port)
    answered = []

    def attack():
        try:
            attacker.auth_password("mallory", "wrong")
        finally:
            answered.append(True)

    try:
        in_background(attack)
        wait_until(lambda: any(s[2] == "mallory" for s in seen), what="the attacker's request")
        # OpenSSH's ssh asks "none" first (not delayed), then logs in with its password
        result = openssh_client(rs.port, password=PASSWORD).ssh("true")
        assert result.returncode == 0 and result.stdout == b"in\n", result.stderr
        assert not answered and attacker.is_active()  # its failure still waits
    finally:
        attacker.close()


def test_failures_wait_for_sshd_minimum_by_default(make_server):
    rs, seen = timed_auth_server(make_server)
    t = transport(rs.port)
    try:
        for _ in range(4):
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_password("mallory", "wrong")
    finally:
        t.close()
    times = [s[0] for s in seen if s[1] == "password"]
    assert len(times) == 4
    # the client sends its next attempt only once the failure came: >= 5 ms (sshd's minimum)
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.005


@pytest.mark.parametrize("options", [{"max_auth_tries": 2}, {"max_auth_attempts": 2}])
def test_max_auth_tries_and_its_older_name(make_server, options):
    rs = make_server(auth_failure_delay=None, **options)
    standard_app(rs)
    rs.start()
    t = transport(rs.port)
    try:
        for _ in range(10):
            if not t.is_active():
                break
            with pytest.raises((paramiko.SSHException, EOFError)):
                t.auth_password("greg", "wrong")
        wait_until(lambda: not t.is_active(), what="the disconnect")
    finally:
        t.close()
    assert len([e for e in rs.log if e[:2] == ("auth", "password")]) == 2
    with pytest.raises(TypeError, match="max_auth_tries"):
        make_server(max_auth_tries=3, max_auth_attempts=3)


# -- MaxStartups ----------------------------------------------------------------------------------

def first_line(port: int) -> bytes:
    with raw_connect(port) as s:
        data = b""
        while b"\n" not in data:
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return data


def test_max_startups_drops_unauthenticated_connections_at_random_between_start_and_full(
        make_server):
    rs = make_server(max_startups="2:50:4")
    standard_app(rs)
    rs.start()
    held = []

    def unauthenticated() -> int:
        return len([s for s in rs.server.sessions if not s.authenticated])

    try:
        def hold(n):
            while len(held) < n:
                s = raw_connect(rs.port)
                if s.recv(256).startswith(b"SSH-2.0-"):
                    held.append(s)
                else:
                    s.close()
            wait_until(lambda: unauthenticated() == n, what=f"{n} sessions")

        def probe() -> bytes:
            line = first_line(rs.port)
            wait_until(lambda: unauthenticated() == len(held), what="the probe to go")
            return line

        hold(1)  # below start: every connection is served
        assert all(probe().startswith(b"SSH-2.0-") for _ in range(10))
        hold(2)  # at start: dropped with probability 50 %
        lines = [probe() for _ in range(40)]
        dropped = lines.count(b"Exceeded MaxStartups\r\n")
        assert dropped + sum(1 for x in lines if x.startswith(b"SSH-2.0-")) == 40
        assert 5 <= dropped <= 35, dropped  # binomial(40, 0.5): outside is ~1e-7
        hold(4)  # full: every connection is dropped, with sshd's line
        assert {probe() for _ in range(5)} == {b"Exceeded MaxStartups\r\n"}
        # an authenticated client does not count: with it and 3 others the server is not full
        for s in held:
            s.close()
        held.clear()
        wait_until(lambda: unauthenticated() == 0, what="the held connections to go")
        client = paramiko_client(rs.port, password=PASSWORD)
        try:
            hold(3)
            lines = [probe() for _ in range(40)]
            assert any(x.startswith(b"SSH-2.0-") for x in lines)  # 0.75 ** 40 ~ 1e-5
        finally:
            client.close()
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("text, expected", [
    ("10:30:100", (10, 30, 100)), ("10", (10, 100, 10)), ((3, 50, 9), (3, 50, 9)), (7, (7, 100, 7)),
])
def test_max_startups_specs(text, expected):
    assert tuple(MaxStartups.parse(text)) == expected


@pytest.mark.parametrize("bad", ["0", "10:0:100", "10:101:100", "20:30:10", "10:30", "x", -1,
                                 True])
def test_bad_max_startups_specs(bad):
    with pytest.raises(ValueError):
        MaxStartups.parse(bad)


@pytest.mark.parametrize("text, seconds", [
    ("120", 120), ("2m", 120), ("30s", 30), ("1h30m", 5400), ("1W", 604800), ("2d", 172800),
    (90, 90), (0.5, 0.5), ("0", 0),
])
def test_sshd_time_format(text, seconds):
    assert parse_time(text) == seconds


@pytest.mark.parametrize("bad", ["", "2x", "m", "-1", "1.5m", -3, None, "1 m"])
def test_bad_times(bad):
    with pytest.raises(ValueError):
        parse_time(bad)


def test_login_grace_time_in_sshd_format(make_server):
    rs = make_server(login_grace_time="1s")
    standard_app(rs)
    rs.start()
    with raw_connect(rs.port) as s:
        s.sendall(b"SSH-2.0-Silent_1.0\r\n")
        data = b""
        while chunk := s.recv(4096):  # the server hangs up (DEADLINE bounds the wait)
            data += chunk
    assert data.startswith(b"SSH-2.0-")
