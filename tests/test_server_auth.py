"""Authentication and the server's security rules: passwords, Ed25519/ECDSA/RSA keys,
keyboard-interactive, partial success, offered methods; an unsigned public-key probe never
authenticates; nothing before authentication; attempt limit, login grace time, the cap on
unauthenticated connections and the idle timeout."""

import socket
import subprocess
import threading
import time
from pathlib import Path

import paramiko
import pytest
from paramiko.auth_handler import AuthHandler
from paramiko.common import cMSG_USERAUTH_REQUEST
from paramiko.message import Message
from serverkit import (
    DEADLINE,
    PASSWORD,
    paramiko_client,
    paramiko_exec,
    paramiko_key,
    raw_connect,
    standard_app,
    wait_until,
)

import pylibssh

pytestmark = pytest.mark.peer


def pubkey(path):
    return pylibssh.Key.from_public_file(str(path) + ".pub")


def transport(port: int) -> paramiko.Transport:
    t = paramiko.Transport(raw_connect(port))
    t.start_client(timeout=DEADLINE)
    return t


# -- the ordinary methods ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_public_keys_with_openssh(make_server, client_keys, openssh_client, kind):
    rs = make_server()
    standard_app(rs, keys=[pubkey(client_keys[kind])])
    rs.start()
    result = openssh_client(rs.port, identity=client_keys[kind]).ssh("echo", kind)
    assert result.returncode == 0 and result.stdout == kind.encode() + b"\n", result.stderr
    states = [e[3] for e in rs.log if e[:2] == ("auth", "publickey")]
    assert states == ["none", "valid"]  # OpenSSH probes first, then signs


def test_unknown_key_is_refused(make_server, client_keys, openssh_client):
    rs = make_server()
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])])
    rs.start()
    result = openssh_client(rs.port, identity=client_keys["rsa"]).ssh("true")
    assert result.returncode == 255 and b"Permission denied" in result.stderr


def test_passwords_with_openssh_and_paramiko(make_server, openssh_client):
    rs = make_server()
    standard_app(rs, users=("alice",))
    rs.start()
    good = openssh_client(rs.port, user="alice", password=PASSWORD).ssh("echo", "in")
    assert good.stdout == b"in\n", good.stderr
    assert openssh_client(rs.port, user="alice", password="nope").ssh("true").returncode == 255
    assert openssh_client(rs.port, user="mallory", password=PASSWORD).ssh("true").returncode \
        == 255
    with pytest.raises(paramiko.AuthenticationException):
        paramiko_client(rs.port, username="alice", password="nope")
    client = paramiko_client(rs.port, username="alice", password=PASSWORD)
    assert paramiko_exec(client, "echo ok") == (b"ok\n", b"", 0)
    client.close()
    seen = [e for e in rs.log if e[:2] == ("auth", "password")]
    assert ("auth", "password", "alice", None) in seen and ("auth", "password", "mallory",
                                                           None) in seen


def kbdint_server(make_server, answers_wanted):
    rs = make_server(auth_methods=["keyboard-interactive"])

    @rs.server.on("connection")
    def on_connection(session):
        @session.on("auth")
        def on_auth(msg):
            rs.log.append(("auth", msg.subtype, msg.kbdint_response, msg.answers, msg.auth_user))
            if msg.subtype != "interactive":
                return msg.reply_default()
            if not msg.kbdint_response:
                return msg.reply_interactive([("Password: ", False), ("Colour: ", True)],
                                             name="pylibssh", instruction="two questions")
            if msg.answers == answers_wanted:
                return msg.reply_auth_success()
            msg.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def exec_(msg):
                msg.reply_success()
                channel.end(f"hello {session.auth_user}\n")
                channel.send_exit_status(0)
                channel.close()

    return rs.start()


def test_keyboard_interactive_with_paramiko(make_server):
    rs = kbdint_server(make_server, [PASSWORD, "blue"])
    prompts_seen = []

    def handler(title, instructions, prompts):
        prompts_seen.append((title, instructions, prompts))
        return [PASSWORD, "blue"]

    t = transport(rs.port)
    t.auth_interactive("carol", handler)
    assert t.is_authenticated()
    assert prompts_seen == [("pylibssh", "two questions", [("Password: ", False),
                                                           ("Colour: ", True)])]
    chan = t.open_session(timeout=DEADLINE)
    chan.exec_command("x")
    assert chan.makefile("rb").read() == b"hello carol\n"
    t.close()
    assert ("auth", "interactive", True, [PASSWORD, "blue"], "carol") in rs.log
    # wrong answers
    t = transport(rs.port)
    with pytest.raises(paramiko.AuthenticationException):
        t.auth_interactive("carol", lambda *a: [PASSWORD, "red"])
    t.close()


def test_keyboard_interactive_with_openssh(make_server, openssh_client):
    # OpenSSH answers every prompt through SSH_ASKPASS, here with the same text
    rs = kbdint_server(make_server, [PASSWORD, PASSWORD])
    result = openssh_client(rs.port, user="dave", password=PASSWORD).ssh("x")
    assert result.stdout == b"hello dave\n", result.stderr
    assert openssh_client(rs.port, user="dave", password="no").ssh("x").returncode == 255


def test_partial_success_two_factors(make_server, client_keys):
    """publickey, then password: the first success is partial and narrows the methods."""
    rs = make_server()
    key = pubkey(client_keys["ed25519"])

    @rs.server.on("connection")
    def on_connection(session):
        state = {"key_ok": False}

        @session.on("auth")
        def on_auth(msg):
            rs.log.append(("auth", msg.subtype, msg.signature_state))
            if msg.subtype == "publickey" and msg.compare_public_key(key):
                if msg.is_probe:
                    return msg.reply_auth_success()  # pk_ok
                state["key_ok"] = True
                msg.set_methods(["password"])
                return msg.reply_partial()
            if msg.subtype == "password" and state["key_ok"] and msg.auth_password == PASSWORD:
                return msg.reply_auth_success()
            msg.reply_default()

    rs.start()
    t = transport(rs.port)
    assert t.auth_publickey("erin", paramiko_key(client_keys["ed25519"])) == ["password"]
    assert not t.is_authenticated()
    assert t.auth_password("erin", PASSWORD) == []
    assert t.is_authenticated()
    t.close()
    # the password alone is not enough
    t = transport(rs.port)
    with pytest.raises(paramiko.AuthenticationException):
        t.auth_password("erin", PASSWORD)
    t.close()


def test_offered_methods(make_server):
    rs = make_server(auth_methods="publickey,keyboard-interactive")
    standard_app(rs)
    rs.start()
    t = transport(rs.port)
    with pytest.raises(paramiko.BadAuthenticationType) as info:
        t.auth_password("frank", PASSWORD)
    assert sorted(info.value.allowed_types) == ["keyboard-interactive", "publickey"]
    t.close()
    # a session may change them
    rs2 = make_server()
    standard_app(rs2, methods=["password"])
    rs2.start()
    t = transport(rs2.port)
    with pytest.raises(paramiko.BadAuthenticationType) as info:
        t.auth_none("frank")
    assert info.value.allowed_types == ["password"]
    t.close()


def test_auth_none_when_the_application_allows_it(make_server):
    rs = make_server(auth_methods=["none", "password"])

    @rs.server.on("connection")
    def on_connection(session):
        session.on("auth", lambda m: m.reply_auth_success() if m.subtype == "none"
                   else m.reply_default())

    rs.start()
    t = transport(rs.port)
    assert t.auth_none("guest") == []
    assert t.is_authenticated()
    t.close()


# -- public-key safety ----------------------------------------------------------------------------

class ProbeOnlyAuth(AuthHandler):
    """Sends one public-key request *without* a signature and records the server's answer."""

    result = None

    def _parse_service_accept(self, m):
        m = Message()
        m.add_byte(cMSG_USERAUTH_REQUEST)
        m.add_string(self.username)
        m.add_string("ssh-connection")
        m.add_string("publickey")
        m.add_boolean(False)  # no signature: "would this key do?"
        m.add_string(self.private_key.get_name())
        m.add_string(self.private_key.asbytes())
        self.transport._send_message(m)

    def _parse_userauth_info_request(self, m):  # type 60 is USERAUTH_PK_OK in this exchange
        self.result = "pk_ok"
        self.auth_event.set()

    def _parse_userauth_success(self, m):
        self.result = "success"
        super()._parse_userauth_success(m)

    def _parse_userauth_failure(self, m):
        self.result = "failure"
        super()._parse_userauth_failure(m)


class ForgedSignatureAuth(ProbeOnlyAuth):
    """Claims ``private_key``'s public key but signs with ``forger``."""

    forger = None

    def _parse_service_accept(self, m):
        algorithm = self.private_key.get_name()
        m = Message()
        m.add_byte(cMSG_USERAUTH_REQUEST)
        m.add_string(self.username)
        m.add_string("ssh-connection")
        m.add_string("publickey")
        m.add_boolean(True)
        m.add_string(algorithm)
        m.add_string(self.private_key.asbytes())
        blob = self._get_session_blob(self.private_key, "ssh-connection", self.username,
                                      algorithm)
        m.add_string(self.forger.sign_ssh_data(blob, algorithm))
        self.transport._send_message(m)


@pytest.fixture
def readme_pattern_server(make_server, client_keys):
    """node-libssh's README auth listener verbatim: compare the key, reply success."""
    rs = make_server()
    key_line = Path(str(client_keys["ed25519"]) + ".pub").read_text()
    sessions = []

    @rs.server.on("connection")
    def on_connection(session):
        sessions.append(session)

        @session.on("auth")
        def on_auth(message):
            rs.log.append(("auth", message.subtype, message.signature_state))
            if message.subtype == "publickey" and message.compare_public_key(key_line):
                return message.reply_auth_success()
            message.reply_default()

        session.on("channel", lambda channel: rs.log.append(("channel",)))

    rs.sessions = sessions
    return rs.start()


def test_unsigned_probe_never_authenticates(readme_pattern_server, client_keys):
    rs = readme_pattern_server
    t = transport(rs.port)
    handler = ProbeOnlyAuth(t)
    t.auth_handler = handler
    event = threading.Event()
    handler.auth_publickey("attacker", paramiko_key(client_keys["ed25519"]), event)
    assert event.wait(DEADLINE)
    assert handler.result == "pk_ok"  # "the key would do: now prove you hold it"
    assert not t.is_authenticated()
    assert ("auth", "publickey", "none") in rs.log
    assert not rs.sessions[0].authenticated
    # and the unauthenticated session cannot open a channel
    with pytest.raises((paramiko.SSHException, EOFError)):
        t.open_session(timeout=5)
    assert ("channel",) not in rs.log
    t.close()


def test_forged_signature_never_authenticates(readme_pattern_server, client_keys, tmp_path):
    rs = readme_pattern_server
    forger = paramiko.Ed25519Key.from_private_key_file(
        str(pylibssh_key_file(tmp_path)))
    t = transport(rs.port)
    handler = ForgedSignatureAuth(t)
    handler.forger = forger
    t.auth_handler = handler
    event = threading.Event()
    handler.auth_publickey("attacker", paramiko_key(client_keys["ed25519"]), event)
    assert event.wait(DEADLINE), "no answer to a request whose signature does not verify"
    assert handler.result == "failure" and not t.is_authenticated()
    # refused by the session itself, counted as an attempt; listeners never see it
    assert [e for e in rs.log if e[:2] == ("auth", "publickey")] == []
    wait_until(lambda: rs.sessions[0].auth_failures == 1, what="the failure's count")
    assert not rs.sessions[0].authenticated
    t.close()


class UnknownKeyTypeAuth(ProbeOnlyAuth):
    """Offers a key of a type libssh cannot read (``ssh-dss``, gone from libssh 0.12)."""

    def _parse_service_accept(self, m):
        blob = Message()
        blob.add_string("ssh-dss")
        for value in (23, 5, 7, 11):  # p, q, g, y: any numbers; the type is what matters
            blob.add_mpint(value)
        m = Message()
        m.add_byte(cMSG_USERAUTH_REQUEST)
        m.add_string(self.username)
        m.add_string("ssh-connection")
        m.add_string("publickey")
        m.add_boolean(False)
        m.add_string("ssh-dss")
        m.add_string(blob.asbytes())
        self.transport._send_message(m)


def test_a_key_of_an_unknown_type_is_refused(readme_pattern_server, client_keys):
    rs = readme_pattern_server
    t = transport(rs.port)
    handler = UnknownKeyTypeAuth(t)
    t.auth_handler = handler
    event = threading.Event()
    handler.auth_publickey("someone", paramiko_key(client_keys["ed25519"]), event)
    assert event.wait(DEADLINE), "no answer to a key libssh cannot read"
    assert handler.result == "failure"
    wait_until(lambda: rs.sessions[0].auth_failures == 1, what="the failure's count")
    # the connection goes on: the same client may try another way
    assert t.is_active()
    t.auth_publickey("someone", paramiko_key(client_keys["ed25519"]))
    assert t.is_authenticated()
    t.close()


def pylibssh_key_file(tmp_path):
    path = tmp_path / "forger_ed25519"
    pylibssh.Key.generate("ed25519").write_private_file(path)
    return path


def test_the_readme_pattern_still_lets_the_key_holder_in(readme_pattern_server, client_keys,
                                                         openssh_client):
    rs = readme_pattern_server
    rs.server.on("connection", lambda s: s.on("channel", lambda ch: ch.on(
        "exec", lambda m: (m.reply_success(), ch.end("in\n"), ch.send_exit_status(0),
                           ch.close()))))
    result = openssh_client(rs.port, identity=client_keys["ed25519"]).ssh("x")
    assert result.stdout == b"in\n", result.stderr
    assert [e[2] for e in rs.log if e[:2] == ("auth", "publickey")] == ["none", "valid"]


def test_nothing_before_authentication(make_server):
    rs = make_server()
    standard_app(rs)
    opened = []
    rs.server.on("connection", lambda s: s.on("channel", opened.append))
    rs.start()
    t = transport(rs.port)
    with pytest.raises((paramiko.SSHException, EOFError)):
        t.open_session(timeout=5)
    t.close()
    t = transport(rs.port)
    assert t.global_request("tcpip-forward", (("127.0.0.1", 0)), wait=True) is None
    assert not t.is_active() or not t.is_authenticated()
    t.close()
    assert opened == []


# -- limits -------------------------------------------------------------------------------------------

def test_attempt_limit_with_paramiko(make_server):
    rs = make_server(max_auth_attempts=3)
    standard_app(rs)
    rs.start()
    t = transport(rs.port)
    for _ in range(10):
        if not t.is_active():
            break
        with pytest.raises((paramiko.SSHException, EOFError)):
            t.auth_password("greg", "wrong")
    wait_until(lambda: not t.is_active(), what="the disconnect")
    t.close()
    assert len([e for e in rs.log if e[:2] == ("auth", "password")]) == 3


def test_attempt_limit_default_with_openssh(make_server, client_keys, openssh_client):
    rs = make_server()
    standard_app(rs)
    rs.start()
    client = openssh_client(rs.port, password="wrong")
    args = client.ssh_args("true")
    args[1:1] = ["-o", "NumberOfPasswordPrompts=20", "-o", "LogLevel=INFO"]  # first one wins
    result = subprocess.run(args, capture_output=True, timeout=DEADLINE, env=client.env(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 255
    assert b"Too many authentication failures" in result.stderr, result.stderr
    assert len([e for e in rs.log if e[:2] == ("auth", "password")]) == 6


def test_login_grace_time(make_server):
    rs = make_server(login_grace_time=0.5)
    standard_app(rs)
    rs.start()
    start = time.monotonic()
    with raw_connect(rs.port) as s:
        s.sendall(b"SSH-2.0-Silent_1.0\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    elapsed = time.monotonic() - start
    assert data.startswith(b"SSH-2.0-")
    assert 0.4 < elapsed < 5, elapsed
    # a client that logs in in time is not affected, even after the grace time passed
    client = paramiko_client(rs.port, password=PASSWORD)
    time.sleep(0.8)
    assert paramiko_exec(client, "echo still here") == (b"still here\n", b"", 0)
    client.close()


def test_cap_on_unauthenticated_connections(make_server):
    rs = make_server(max_unauthenticated=2)
    standard_app(rs)
    rs.start()
    first, second = raw_connect(rs.port), raw_connect(rs.port)
    assert first.recv(100).startswith(b"SSH-2.0") and second.recv(100).startswith(b"SSH-2.0")
    wait_until(lambda: len(rs.server.sessions) == 2, what="two sessions")
    with raw_connect(rs.port) as third:
        assert third.recv(100) == b"Exceeded MaxStartups\r\n"  # refused at once, as sshd does
        assert third.recv(100) == b""
    # one leaves; a client that authenticates no longer counts against the cap
    first.close()
    wait_until(lambda: len(rs.server.sessions) == 1, what="the first to go")
    client = paramiko_client(rs.port, password=PASSWORD)
    with raw_connect(rs.port) as fourth:
        assert fourth.recv(100).startswith(b"SSH-2.0")
    second.close()
    client.close()


def test_idle_timeout(make_server):
    rs = make_server(idle_timeout=0.6)
    standard_app(rs)
    rs.start()
    busy = paramiko_client(rs.port, password=PASSWORD)
    idle = paramiko_client(rs.port, password=PASSWORD)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert paramiko_exec(busy, "true") == (b"", b"", 0)  # traffic keeps it alive
        time.sleep(0.2)
    wait_until(lambda: not idle.get_transport().is_active(), what="the idle client's drop")
    assert busy.get_transport().is_active()
    busy.close()
    idle.close()


def test_socket_refused_after_close(make_server):
    rs = make_server()
    rs.start()
    port = rs.port
    rs.server.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
