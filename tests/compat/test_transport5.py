"""Transport as paramiko 5's users and the libraries built on it use it: logging to the
``paramiko`` loggers (``util.log_to_file``), the negotiated algorithms and versions,
``stop_thread``, authentication results (partial success returns the methods still needed),
keys whose signatures are made in Python (a subclass, an ``AgentKey``) and OpenSSH
certificates. The peers are OpenSSH's sshd (with its own settings where a test needs them) and
ssh-agent."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time

import pytest

from openssh import TEST_USER, OpenSSHServer, keygen

DEADLINE = 20


@pytest.fixture
def paramiko_log(tmp_path):
    """``log_to_file``'s path; the handler it adds to the ``paramiko`` logger is removed after."""
    logger = logging.getLogger("paramiko")
    saved_handlers, saved_level = logger.handlers[:], logger.level
    for h in saved_handlers:
        logger.removeHandler(h)
    yield tmp_path / "paramiko.log"
    for h in logger.handlers[:]:
        logger.removeHandler(h)
        h.close()
    for h in saved_handlers:
        logger.addHandler(h)
    logger.setLevel(saved_level)


def test_log_to_file_gets_connection_kex_auth_and_sftp(paramiko, connect, paramiko_log,
                                                       password, sshd, test_user):
    paramiko.util.log_to_file(str(paramiko_log))
    client = connect()
    _, stdout, _ = client.exec_command("echo hi", timeout=DEADLINE)
    assert stdout.read() == b"hi\n"
    client.open_sftp().close()
    client.close()
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        with pytest.raises(paramiko.AuthenticationException):
            t.auth_password(test_user, "wrong " + password)
    finally:
        t.close()
    text = paramiko_log.read_text()
    assert "Connected (version 2.0, client OpenSSH" in text
    assert "Authentication (publickey) successful!" in text
    assert "Authentication (password) failed." in text
    assert re.search(r"Kex: \S+", text)
    assert re.search(r"Cipher: \S+", text) and re.search(r"MAC: \S+", text)
    assert "Opened sftp connection (server version 3)" in text
    line = re.compile(r"^(DEB|INF|WAR|ERR) \[\d{8}-\d\d:\d\d:\d\d\.\d{3}\] thr=\d+\s+paramiko")
    assert all(line.match(x) for x in text.splitlines()), text


def test_transport_logger_handlers_get_info_records(paramiko, connect, caplog):
    caplog.set_level(logging.DEBUG, logger="paramiko")
    client = connect()
    client.close()
    records = [r for r in caplog.records if r.name.startswith("paramiko.transport")]
    infos = {r.getMessage() for r in records if r.levelno == logging.INFO}
    assert "Authentication (publickey) successful!" in infos
    assert any(r.levelno == logging.DEBUG for r in records)


def test_negotiated_algorithms_versions_and_peer(paramiko, connect, sshd):
    client = connect(disabled_algorithms={
        "ciphers": [c for c in paramiko.Transport._preferred_ciphers if c != "aes256-ctr"],
        "macs": [m for m in paramiko.Transport._preferred_macs if m != "hmac-sha2-512"]})
    t = client.get_transport()
    assert (t.local_cipher, t.remote_cipher) == ("aes256-ctr", "aes256-ctr")
    assert (t.local_mac, t.remote_mac) == ("hmac-sha2-512", "hmac-sha2-512")
    known = {line.split()[1] for line in sshd.known_hosts_lines()}
    assert t.host_key_type in known | {"rsa-sha2-256", "rsa-sha2-512"}
    assert t.get_remote_server_key().get_name() in known
    assert t.remote_version.startswith("SSH-2.0-OpenSSH")
    assert t.local_version.startswith("SSH-2.0-")
    assert t.getpeername()[:2] == (sshd.host, sshd.port)
    assert "aes256-ctr" in t.get_security_options().ciphers


def test_stop_thread_ends_the_transport(paramiko, connect):
    client = connect()
    t = client.get_transport()
    before = threading.active_count()
    t.stop_thread()
    assert not t.is_active()
    deadline = time.monotonic() + DEADLINE
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() < before


# -- authentication results ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sshd_two_factor(tmp_path_factory, client_key):
    """An sshd that wants a public key and then the password."""
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd-2fa"),
                           {"AuthenticationMethods": "publickey,password"})
    server.authorize((client_key.parent / "id_ed25519.pub").read_text())
    server.start()
    yield server
    server.cleanup()


def test_partial_success_returns_the_methods_still_needed(paramiko, sshd_two_factor,
                                                           client_key, password):
    server = sshd_two_factor
    key = paramiko.Ed25519Key.from_private_key_file(str(client_key))
    t = paramiko.Transport((server.host, server.port))
    try:
        t.start_client(timeout=DEADLINE)
        assert t.auth_publickey(TEST_USER, key) == ["password"]
        assert not t.is_authenticated()
        assert t.auth_password(TEST_USER, password) == []
        assert t.is_authenticated()
    finally:
        t.close()
    # SSHClient goes on with the password after the key's partial success
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(server.host, server.port, TEST_USER, password=password, pkey=key,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo two-factor", timeout=DEADLINE)
    assert stdout.read() == b"two-factor\n"
    client.close()


def test_auth_none_names_the_allowed_methods(paramiko, sshd, test_user):
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        with pytest.raises(paramiko.BadAuthenticationType) as info:
            t.auth_none(test_user)
        assert "publickey" in info.value.allowed_types
    finally:
        t.close()


# -- signatures made in Python -----------------------------------------------------------------------

def test_pkey_subclass_signs_in_python(paramiko, sshd, client_key, test_user):
    base = paramiko.Ed25519Key.from_private_key_file(str(client_key))
    calls = []

    class CountingKey(paramiko.Ed25519Key):
        def sign_ssh_data(self, data, algorithm=None):
            calls.append(len(data))
            return super().sign_ssh_data(data, algorithm)

    key = CountingKey.from_private_key_file(str(client_key))
    assert key == base
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        assert t.auth_publickey(test_user, key) == []
        assert t.is_authenticated()
    finally:
        t.close()
    assert len(calls) == 1


@pytest.fixture
def ssh_agent(tmp_path, monkeypatch):
    """A real ssh-agent (its socket in SSH_AUTH_SOCK); ``add(path)`` runs ssh-add."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))

    def add(path):
        subprocess.run(["ssh-add", str(path)], check=True, capture_output=True,
                       timeout=DEADLINE, env={"SSH_AUTH_SOCK": str(sock), "PATH": "/usr/bin:/bin"})

    yield add
    proc.terminate()
    proc.wait(DEADLINE)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_agent_key_authenticates(paramiko, sshd, ssh_agent, tmp_path, test_user, kind):
    path = keygen(tmp_path / f"id_agent_{kind}", kind)
    sshd.authorize((tmp_path / f"id_agent_{kind}.pub").read_text())
    ssh_agent(path)
    agent = paramiko.Agent()
    try:
        keys = agent.get_keys()
        assert len(keys) == 1
        t = paramiko.Transport((sshd.host, sshd.port))
        try:
            t.start_client(timeout=DEADLINE)
            assert t.auth_publickey(test_user, keys[0]) == []
            assert t.is_authenticated()
        finally:
            t.close()
    finally:
        agent.close()


# -- OpenSSH certificates ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca_sshd(tmp_path_factory):
    """An sshd that trusts user certificates signed by its CA; no authorized keys at all."""
    where = tmp_path_factory.mktemp("ca")
    ca = keygen(where / "ca", "ed25519")
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd-ca"),
                           {"TrustedUserCAKeys": str(where / "ca.pub")})
    server.start()
    yield server, ca
    server.cleanup()


def _certify(ca, path):
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "compat-test", "-n", TEST_USER,
                    "-V", "-5m:+1h", str(path) + ".pub"], check=True, capture_output=True,
                   timeout=DEADLINE)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_certificate_beside_key_filename_authenticates(paramiko, ca_sshd, tmp_path, kind):
    server, ca = ca_sshd
    path = keygen(tmp_path / f"id_{kind}", kind)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    # the plain key is not authorized (paramiko raises the last key class's load failure)
    with pytest.raises(paramiko.SSHException):
        client.connect(server.host, server.port, TEST_USER, key_filename=str(path),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    client.close()
    _certify(ca, path)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(server.host, server.port, TEST_USER, key_filename=str(path),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo certified", timeout=DEADLINE)
    assert stdout.read() == b"certified\n"
    client.close()
    assert "compat-test" in server.log_text()  # sshd accepted the certificate by its ID


def test_load_certificate_and_from_path_authenticate(paramiko, ca_sshd, tmp_path):
    server, ca = ca_sshd
    path = keygen(tmp_path / "id_ed25519", "ed25519")
    _certify(ca, path)
    key = paramiko.Ed25519Key.from_private_key_file(str(path))
    key.load_certificate(str(path) + "-cert.pub")
    for pkey in (key, paramiko.PKey.from_path(str(path) + "-cert.pub")):
        t = paramiko.Transport((server.host, server.port))
        try:
            t.start_client(timeout=DEADLINE)
            assert t.auth_publickey(TEST_USER, pkey) == []
        finally:
            t.close()


def test_security_options_are_settable_and_validated(paramiko, sshd, test_user, password):
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        opts = t.get_security_options()
        with pytest.raises(TypeError):
            opts.ciphers = "aes192-ctr"
        with pytest.raises(ValueError):
            opts.ciphers = ("no-such-cipher",)
        with pytest.raises(ValueError):
            opts.kex = ["no-such-kex"]
        opts.ciphers = ("aes192-ctr",)
        opts.digests = ["hmac-sha2-256"]
        assert opts.ciphers == ("aes192-ctr",) and opts.digests == ("hmac-sha2-256",)
        assert t.preferred_ciphers == ("aes192-ctr",)
        assert "none" in opts.compression
        t.start_client(timeout=DEADLINE)
        assert (t.local_cipher, t.local_mac) == ("aes192-ctr", "hmac-sha2-256")
        t.auth_password(test_user, password)
    finally:
        t.close()


def test_global_request(paramiko, connect):
    import socket

    t = connect().get_transport()
    reply = t.global_request("tcpip-forward", ("127.0.0.1", 0), wait=True)
    assert reply is not None
    port = reply.get_int()
    assert port > 0
    with socket.socket() as s:  # sshd listens there now
        s.settimeout(DEADLINE)
        s.connect(("127.0.0.1", port))
    assert t.global_request("cancel-tcpip-forward", ("127.0.0.1", port), wait=True) is not None
    assert t.global_request("no-such-request@example.com", wait=True) is None
    assert t.global_request("keepalive@example.com", wait=False) is None
    assert t.is_active()
