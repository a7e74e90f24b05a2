"""The client against OpenSSH's sshd: every auth method and failure, host-key policies,
distinct connection errors, timeouts, run()."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import pylibssh
from clientkit import DEADLINE, Agent, connect, keygen, known_hosts, known_hosts_for, pam_sshd  # noqa: F401
from openssh import OpenSSHServer

pytestmark = pytest.mark.peer


# -- authentication ---------------------------------------------------------------------------

def test_publickey_file(connect):
    c = connect()
    assert c.session.authenticated
    r = c.run("echo hello")
    assert r.stdout == b"hello\n" and r.exit_status == 0


def test_publickey_key_object_and_encrypted_file(sshd, connect, tmp_path):
    key = pylibssh.Key.generate("ecdsa", 256)
    path = tmp_path / "id_ecdsa"
    key.write_private_file(path, passphrase="pw-123")
    sshd.authorize(key.public_line("enc"))
    assert connect(keys=[key]).run("true").exit_status == 0
    assert connect(keys=[str(path)], passphrase="pw-123").run("true").exit_status == 0
    with pytest.raises(pylibssh.WrongPassphraseError):
        connect(keys=[str(path)], passphrase="wrong")
    with pytest.raises(pylibssh.PassphraseRequiredError):
        connect(keys=[str(path)])


def test_password(sshd, connect):
    c = connect(keys=[], password=sshd.password)
    assert c.run("whoami").stdout.strip().decode() == sshd.user


def test_upload_after_password_auth(sshd, connect):
    # the password packet's buffer is burned, then reused without burning for every packet
    # (vendor/libssh/patches/0004): what follows must still arrive intact
    c = connect(keys=[], password=sshd.password)
    data = hashlib.sha256(b"upload").digest() * (8 * 1024 * 1024 // 32)
    p = c.exec("sha256sum")
    for i in range(0, len(data), 256 * 1024):
        p.write(data[i:i + 256 * 1024], timeout=DEADLINE)
    p.close_stdin()
    out, _ = p.read_until_eof(timeout=DEADLINE)
    assert out.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_key_file_parsed_once_and_read_again_when_it_changes(sshd, connect, tmp_path,
                                                             monkeypatch):
    # the key file is parsed once and kept while its bytes stay the same; a file rewritten in
    # place (same path, same size, within one timestamp tick) is used at once
    parsed = []
    parse = pylibssh.Key._from_file_data

    def counted(path, data, passphrase):
        parsed.append(os.fspath(path))
        return parse(path, data, passphrase)
    monkeypatch.setattr(pylibssh.Key, "_from_file_data", staticmethod(counted))

    path = tmp_path / "id_rotating"
    authorized, stranger = pylibssh.Key.generate("ed25519"), pylibssh.Key.generate("ed25519")
    sshd.authorize(authorized.public_line("rotating"))
    authorized.write_private_file(path)
    for _ in range(3):
        connect(keys=[str(path)]).run("true")
    assert parsed == [str(path)]
    size = path.stat().st_size
    stranger.write_private_file(path)
    assert path.stat().st_size == size
    with pytest.raises(pylibssh.AuthenticationError) as info:
        connect(keys=[str(path)])
    assert stranger.fingerprint() in str(info.value)
    assert len(parsed) == 2
    authorized.write_private_file(path)
    connect(keys=[str(path)]).run("true")
    assert len(parsed) == 3
    path.unlink()
    with pytest.raises(FileNotFoundError):
        connect(keys=[str(path)])


def test_key_file_kept_per_passphrase(tmp_path):
    from pylibssh.client import identities

    key = pylibssh.Key.generate("ed25519")
    path = tmp_path / "id_enc"
    key.write_private_file(path, passphrase="right")
    assert identities.load_identity(path, "right") == key
    with pytest.raises(pylibssh.WrongPassphraseError) as info:
        identities.load_identity(path, "wrong")
    assert str(path) in str(info.value)
    with pytest.raises(pylibssh.PassphraseRequiredError):
        identities.load_identity(path)
    assert identities.load_identity(path, b"right") is identities.load_identity(path, "right")


def test_wrong_password_and_unauthorized_key(sshd, connect, tmp_path):
    with pytest.raises(pylibssh.AuthenticationError) as info:
        connect(keys=[], password="not-the-password")
    assert "password" in info.value.allowed_methods
    assert "password" in str(info.value)
    stranger = keygen(tmp_path / "stranger", "ed25519")
    with pytest.raises(pylibssh.AuthenticationError) as info:
        connect(keys=[str(stranger)])
    assert "publickey" in str(info.value)


def test_no_credentials(connect):
    with pytest.raises(pylibssh.AuthenticationError):
        connect(keys=[])


def test_agent(sshd, connect, tmp_path, monkeypatch):
    key = keygen(tmp_path / "agent_key", "ed25519")
    sshd.authorize((tmp_path / "agent_key.pub").read_text())
    agent = Agent(tmp_path)
    try:
        agent.add(key)
        monkeypatch.setenv("SSH_AUTH_SOCK", agent.sock)
        c = connect(keys=[], agent=True)
        assert c.run("echo agent").stdout == b"agent\n"
    finally:
        agent.close()


def test_keyboard_interactive_callback(pam_sshd, tmp_path):
    seen = []

    def answer(name, instruction, prompts):
        seen.append(prompts)
        return [pam_sshd.password for _ in prompts]

    kh = known_hosts_for(pam_sshd, tmp_path / "kh")
    with pylibssh.connect("127.0.0.1", pam_sshd.port, pam_sshd.user, kbdint=answer,
                          known_hosts=str(kh), config=None, agent=False, look_for_keys=False,
                          timeout=DEADLINE) as c:
        assert c.run("echo kbd").stdout == b"kbd\n"
    assert seen and "assword" in seen[0][0][0] and seen[0][0][1] is False


def test_keyboard_interactive_with_password_and_wrong_answer(pam_sshd, tmp_path):
    kh = known_hosts_for(pam_sshd, tmp_path / "kh")
    opts = dict(known_hosts=str(kh), config=None, agent=False, look_for_keys=False,
                timeout=DEADLINE)
    with pylibssh.connect("127.0.0.1", pam_sshd.port, pam_sshd.user, password=pam_sshd.password,
                          **opts) as c:
        assert c.run("true").exit_status == 0
    with pytest.raises(pylibssh.AuthenticationError):
        pylibssh.connect("127.0.0.1", pam_sshd.port, pam_sshd.user,
                         kbdint=lambda n, i, p: ["wrong"] * len(p), **opts)


def test_multi_factor_partial_success(tmp_path, client_key):
    server = OpenSSHServer(tmp_path / "sshd-mfa", {"AuthenticationMethods": "publickey,password"})
    server.authorize((client_key.parent / "id_ed25519.pub").read_text())
    with server:
        kh = known_hosts_for(server, tmp_path / "kh")
        opts = dict(known_hosts=str(kh), config=None, agent=False, look_for_keys=False,
                    timeout=DEADLINE)
        with pylibssh.connect("127.0.0.1", server.port, server.user, keys=[str(client_key)],
                              password=server.password, **opts) as c:
            assert c.run("echo both").stdout == b"both\n"
        # one factor alone is not enough
        with pytest.raises(pylibssh.AuthenticationError):
            pylibssh.connect("127.0.0.1", server.port, server.user, keys=[str(client_key)],
                             **opts)


# -- host keys --------------------------------------------------------------------------------

def test_strict_refuses_unknown_host(connect, tmp_path):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(pylibssh.UnknownHostKeyError) as info:
        connect(known_hosts=str(empty))
    assert "SHA256:" in str(info.value) and "127.0.0.1" in str(info.value)


def test_accept_new_records_then_strict_accepts(connect, sshd, tmp_path):
    kh = tmp_path / "sub" / "known_hosts"
    c = connect(known_hosts=str(kh), host_key_policy="accept-new")
    text = kh.read_text()
    assert f"[127.0.0.1]:{sshd.port}" in text
    assert c.host_key.public_base64 in text
    connect(known_hosts=str(kh), host_key_policy="strict").run("true")
    connect(known_hosts=str(tmp_path / "k2"), host_key_policy="auto-add")
    assert (tmp_path / "k2").read_text().strip()


@pytest.mark.parametrize("policy", ["strict", "accept-new", "auto-add"])
def test_changed_key_always_refused(connect, sshd, tmp_path, policy):
    other = pylibssh.Key.generate("ed25519")
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} {other.public_line()}\n")
    with pytest.raises(pylibssh.HostKeyChangedError) as info:
        connect(known_hosts=str(kh), host_key_policy=policy)
    msg = str(info.value)
    assert f"[127.0.0.1]:{sshd.port}" in msg
    assert other.fingerprint() in msg and info.value.key.fingerprint() in msg
    assert info.value.known_key == other
    assert kh.read_text().count("\n") == 1  # not overwritten


def test_host_key_checked_on_every_connect(connect, sshd, tmp_path):
    # nothing about the server is kept between connections: a known_hosts file changed after
    # a successful connect refuses the next one
    kh = known_hosts_for(sshd, tmp_path / "known_hosts")
    connect(known_hosts=str(kh)).run("true")
    other = pylibssh.Key.generate("ed25519")
    kh.write_text(f"[127.0.0.1]:{sshd.port} {other.public_line()}\n")
    with pytest.raises(pylibssh.HostKeyChangedError):
        connect(known_hosts=str(kh))
    kh.write_text("")
    with pytest.raises(pylibssh.UnknownHostKeyError):
        connect(known_hosts=str(kh))


def test_host_key_recorded_beside_a_corrupt_line(connect, sshd, tmp_path):
    # a line of the host whose key cannot be read does not hide the line that records the
    # server's key (OpenSSH skips such a line too); alone, it is no record of the key
    good = known_hosts_for(sshd, tmp_path / "good").read_text()
    bad = f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhZA==\n"  # 3 of 32
    kh = tmp_path / "known_hosts"
    for text in (bad + good, good + bad):
        kh.write_text(text)
        assert connect(known_hosts=str(kh)).run("echo ok").stdout == b"ok\n"
    kh.write_text(bad)
    with pytest.raises(pylibssh.HostKeyError):
        connect(known_hosts=str(kh))


def test_callback_policy(connect, tmp_path):
    empty = tmp_path / "none"
    seen = []
    c = connect(known_hosts=str(empty),
                host_key_policy=lambda host, port, key: seen.append((host, port, key)) or True)
    assert seen and seen[0][2] == c.host_key
    with pytest.raises(pylibssh.UnknownHostKeyError):
        connect(known_hosts=str(empty), host_key_policy=lambda h, p, k: False)
    assert not empty.exists()


def test_ignore_policy_and_bad_policy(connect, tmp_path):
    connect(known_hosts=None, host_key_policy="ignore").run("true")
    with pytest.raises(ValueError):
        connect(host_key_policy="maybe")


def test_algorithm_preferences(connect):
    from pylibssh.client.client import cpu_has_aes

    # by default AES-GCM leads where the CPU has AES instructions (libssh's order otherwise)
    default = "aes128-gcm@openssh.com" if cpu_has_aes() else "chacha20-poly1305@openssh.com"
    assert connect().session.cipher_out == default
    c = connect(ciphers="aes128-gcm@openssh.com", kex="curve25519-sha256",
                host_key_algorithms="ssh-ed25519")
    assert c.session.cipher_out == "aes128-gcm@openssh.com"
    assert c.session.kex_algorithm == "curve25519-sha256"
    c2 = connect(kex="sntrup761x25519-sha512@openssh.com", ciphers=["chacha20-poly1305@openssh.com"],
                 compression=True)
    assert c2.session.kex_algorithm == "sntrup761x25519-sha512@openssh.com"
    assert c2.run("echo pq").stdout == b"pq\n"
    with pytest.raises(pylibssh.SSHError):
        connect(ciphers="no-such-cipher")


def test_host_key_algorithm_follows_known_hosts(connect, sshd, tmp_path):
    # libssh offers the host key algorithms recorded for the server first (read from the
    # files' key types: vendor/libssh/patches/0014), plain or hashed names, other hosts' and
    # marker lines skipped
    lines = {line.split()[1]: line for line in sshd.known_hosts_lines()}
    expect = {"ssh-ed25519": "ssh-ed25519", "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
              "ssh-rsa": "rsa-sha2-512"}
    noise = ["# a comment", "other.example ssh-foo AAAA", "@revoked * ssh-ed25519 AAAA", ""]
    for kind, negotiated in expect.items():
        hashed = tmp_path / f"hashed-{kind}"
        hashed.write_text(lines[kind] + "\n")
        subprocess.run(["ssh-keygen", "-H", "-f", str(hashed)], check=True,
                       capture_output=True, timeout=60)
        assert hashed.read_text().startswith("|1|")
        for line in (lines[kind], hashed.read_text().strip()):
            kh = tmp_path / f"kh-{kind}"
            kh.write_text("\n".join(noise + [line]) + "\n")
            assert connect(known_hosts=str(kh)).algorithms.host_key == negotiated
    # a line of the host with an unknown key type voids the order (libssh's default then
    # picks Ed25519), and the check refuses the file
    kh = tmp_path / "kh-unknown-type"
    kh.write_text(f"{lines['ssh-rsa']}\n[127.0.0.1]:{sshd.port} ssh-foo AAAA\n")
    with pytest.raises(pylibssh.UnknownHostKeyError) as info:
        connect(known_hosts=str(kh))
    assert info.value.key.type_name == "ssh-ed25519"


def test_hashed_known_hosts_among_many_hosts(connect, sshd, tmp_path):
    # names hashed by OpenSSH's ssh-keygen -H are matched by HMAC-SHA1 of the host with each
    # line's salt (vendor/libssh/patches/0025): the server's line is found among 300 other
    # hosts', and the same key recorded for another port is not the server's
    lines = sshd.known_hosts_lines()
    key = lines[0].split(None, 1)[1]
    others = [f"host{i}.example.org,10.1.{i // 200}.{i % 200} {key}" for i in range(300)]
    kh = tmp_path / "known_hosts"
    kh.write_text("\n".join(others[:150] + lines + others[150:]) + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True,
                   timeout=60)
    assert all(line.startswith("|1|") for line in kh.read_text().splitlines())
    c = connect(known_hosts=str(kh), host_key_policy="strict")
    assert c.run("echo ok").stdout == b"ok\n"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("\n".join(others + [f"[127.0.0.1]:{sshd.port + 1} {key}"]) + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(elsewhere)], check=True,
                   capture_output=True, timeout=60)
    with pytest.raises(pylibssh.UnknownHostKeyError):
        connect(known_hosts=str(elsewhere), host_key_policy="strict")


def test_a_global_known_hosts_file_counts_as_the_users_does(connect, sshd, tmp_path):
    # the global file is read for the check and for the host key order; without one, the
    # user's file alone decides (an empty file stands in for the global one)
    lines = {line.split()[1]: line for line in sshd.known_hosts_lines()}
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    glob = tmp_path / "ssh_known_hosts"
    glob.write_text(lines["ecdsa-sha2-nistp256"] + "\n")
    c = connect(known_hosts=str(empty), global_known_hosts=str(glob), host_key_policy="strict")
    assert c.algorithms.host_key == "ecdsa-sha2-nistp256"
    assert c.run("echo ok").stdout == b"ok\n"
    user = tmp_path / "known_hosts"
    user.write_text(lines["ssh-ed25519"] + "\n")
    c = connect(known_hosts=str(user), global_known_hosts=str(tmp_path / "missing"),
                host_key_policy="strict")
    assert c.algorithms.host_key == "ssh-ed25519"
    with pytest.raises(pylibssh.UnknownHostKeyError):
        connect(known_hosts=str(empty), global_known_hosts=str(tmp_path / "missing"),
                host_key_policy="strict")


def test_known_hosts_that_name_no_file_log_no_warning(connect, sshd, tmp_path, caplog):
    # /dev/null (OpenSSH's way to say "no file") and a missing global file stand for no
    # entries: libssh reads them as missing files, without a warning per connection
    with caplog.at_level(logging.WARNING, logger="pylibssh"):
        c = connect(global_known_hosts=str(tmp_path / "missing"), host_key_policy="strict")
        assert c.run("echo ok").stdout == b"ok\n"
        c = connect(known_hosts="/dev/null", global_known_hosts="/dev/null",
                    host_key_policy="accept-new")
        assert c.run("echo ok").stdout == b"ok\n"
        with pytest.raises(pylibssh.UnknownHostKeyError):
            connect(known_hosts="/dev/null", global_known_hosts="/dev/null",
                    host_key_policy="strict")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []


def test_connect_calls_libssh_once_per_pass(connect, monkeypatch):
    # the connecting task's ssh_connect (a poll of the socket each) runs once per pass of the
    # session, not again after a dispatch that delivered nothing
    from pylibssh._binding import client as client_api
    from pylibssh.client.session import ClientSession

    per_pass = [0]
    real_connect, real_service = client_api.connect, ClientSession._service

    def counted_connect(s):
        per_pass[-1] += 1
        return real_connect(s)

    def counted_service(self, *args):
        per_pass.append(0)
        real_service(self, *args)
    monkeypatch.setattr(client_api, "connect", counted_connect)
    monkeypatch.setattr(ClientSession, "_service", counted_service)
    for _ in range(3):
        del per_pass[:]
        per_pass.append(0)  # (the task's first step, before any pass)
        connect().run("true")
        assert sum(per_pass) >= 3 and max(per_pass) == 1, per_pass


# -- connection errors and timeouts ------------------------------------------------------------

def test_refused(connect):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(pylibssh.SSHConnectionRefusedError):
        connect(port=port)


def test_unresolvable(connect):
    with pytest.raises(pylibssh.HostNotFoundError):
        connect(host="no-such-host.invalid")


def test_silent_server_times_out(connect):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        t0 = time.monotonic()
        with pytest.raises(pylibssh.SSHTimeoutError) as info:
            connect(port=listener.getsockname()[1], timeout=0.5)
        assert isinstance(info.value, TimeoutError)
        assert time.monotonic() - t0 < 5


def test_server_closes_at_once(connect):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve():
            conn, _ = listener.accept()
            conn.close()
        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(pylibssh.SSHConnectionError):
            connect(port=listener.getsockname()[1], timeout=5)


def test_a_given_socket_whose_peer_hung_up(connect):
    # poll reports the hang-up with no error pending on the socket: the peer closed it
    ours, peer = socket.socketpair()
    peer.close()
    with pytest.raises(pylibssh.DisconnectedError) as info:
        connect(sock=ours, timeout=5)
    assert "Success" not in str(info.value)


@pytest.mark.parametrize("when", ["before-connect", "after-banner"])
def test_libssh_leaves_a_given_socket_to_its_owner(when):
    # the client gives libssh its TCP socket (SSH_OPTIONS_FD) and closes it at teardown: had
    # libssh closed it first (a hang-up while connecting, a failed write), the number could
    # belong to another socket by then, and the teardown would take that one down
    from pylibssh._binding import ffi, lib

    ours, peer = socket.socketpair()
    fd = ours.detach()
    s = lib.ssh_new()
    try:
        assert lib.ssh_options_set(s, lib.SSH_OPTIONS_FD, ffi.new("int *", fd)) == lib.SSH_OK
        assert lib.ssh_options_set(s, lib.SSH_OPTIONS_HOST, b"127.0.0.1") == lib.SSH_OK
        lib.ssh_set_blocking(s, 0)
        if when == "before-connect":
            peer.close()
        rc = lib.ssh_connect(s)
        if when == "after-banner":  # its KEXINIT then meets a closed peer
            peer.sendall(b"SSH-2.0-peer\r\n")
            peer.settimeout(DEADLINE)
            assert peer.recv(100).startswith(b"SSH-2.0-")
            peer.close()
            deadline = time.monotonic() + DEADLINE
            while rc == lib.SSH_AGAIN and time.monotonic() < deadline:
                rc = lib.ssh_connect(s)
                time.sleep(0.01)
        assert rc == lib.SSH_ERROR
        os.fstat(fd)  # still open: OSError (EBADF) if libssh closed it
    finally:
        lib.ssh_free(s)
    os.fstat(fd)
    os.close(fd)


def test_not_ssh(connect):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve():
            conn, _ = listener.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            time.sleep(1)
            conn.close()
        threading.Thread(target=serve, daemon=True).start()
        with pytest.raises(pylibssh.SSHError):
            connect(port=listener.getsockname()[1], timeout=5)


def test_connect_with_descriptors_past_fd_setsize(connect):
    # a process serving many connections holds descriptors numbered past select()'s 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1200
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE's hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    held = []
    try:
        with open(os.devnull) as null:
            while not held or held[-1] < 1100:
                held.append(os.dup(null.fileno()))
        c = connect()
        assert c.session._fd > 1024
        assert c.run("echo hello").stdout == b"hello\n"
        c.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- run ----------------------------------------------------------------------------------------

def test_run_outputs_and_status(connect):
    c = connect()
    r = c.run("printf out; printf err >&2; exit 7")
    assert (r.stdout, r.stderr, r.exit_status, r.exit_signal) == (b"out", b"err", 7, None)
    with pytest.raises(pylibssh.ProcessError) as info:
        c.run("echo bad >&2; exit 2", check=True)
    assert "bad" in str(info.value) and info.value.result.exit_status == 2
    r = c.run(["printf", "%s|", "a b", "c"])
    assert r.stdout == b"a b|c|"


def test_run_exit_signal(connect):
    r = connect().run("kill -TERM $$")
    assert r.exit_signal == "TERM" and r.exit_status is None and r.returncode == -15


def test_run_input_and_env(connect):
    c = connect()
    assert c.run("cat", input=b"x" * 100000).stdout == b"x" * 100000
    r = c.run("echo $PYLIBSSH_X", env={"PYLIBSSH_X": "from-env"})
    assert r.stdout == b"from-env\n"


def test_run_timeout_then_session_still_usable(connect):
    c = connect()
    t0 = time.monotonic()
    with pytest.raises(pylibssh.SSHTimeoutError):
        c.run("sleep 10", timeout=0.5)
    assert time.monotonic() - t0 < 4
    assert c.run("echo still").stdout == b"still\n"


def test_use_after_close(connect):
    c = connect()
    c.close()
    c.close()
    with pytest.raises(pylibssh.ClosedError):
        c.run("true")


def test_known_hosts_path_under_the_home_directory(connect, sshd):
    # libssh's %d is the home directory of the user's password entry, looked up once per set of
    # options and kept by each session copied from them (vendor/libssh/patches/0024)
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    d = Path(tempfile.mkdtemp(prefix=".pylibssh-test-", dir=home))
    try:
        known_hosts_for(sshd, d / "known_hosts")
        for _ in range(2):  # the first copy of these options, and another
            client = connect(known_hosts=f"%d/{d.name}/known_hosts")
            assert client.run("echo ok").stdout == b"ok\n"
        with pytest.raises(pylibssh.HostKeyError):
            connect(known_hosts=f"%d/{d.name}/other")
    finally:
        shutil.rmtree(d)


def test_known_hosts_path_with_escapes(connect, sshd, tmp_path):
    # libssh expands %r (the remote user), %p (the port) and %% in the known_hosts path
    # (vendor/libssh/patches/0019 copies each expansion without padding libssh's buffer)
    path = tmp_path / f"{sshd.user}-{sshd.port}-%-known_hosts"
    known_hosts_for(sshd, path)
    client = connect(known_hosts=str(tmp_path / "%r-%p-%%-known_hosts"))
    assert client.run("echo ok").stdout == b"ok\n"
    with pytest.raises(pylibssh.HostKeyError):
        connect(known_hosts=str(tmp_path / "%r-%p-other"))
