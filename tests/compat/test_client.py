"""SSHClient as paramiko documents it: connect with its keyword arguments, host-key policies and
files, exec_command's file objects, invoke_shell, and the exceptions it raises."""

from __future__ import annotations

import socket
import time

import pytest

DEADLINE = 20


def test_connect_with_key_file_and_exec(connect):
    client = connect()
    stdin, stdout, stderr = client.exec_command("echo out; echo err >&2; exit 3", timeout=DEADLINE)
    assert stdout.read() == b"out\n"
    assert stderr.read() == b"err\n"
    assert stdout.channel.status_event.wait(DEADLINE)  # the exit status arrived
    assert stdout.channel.event.is_set()
    assert stdout.channel.recv_exit_status() == 3


def test_connect_with_password(connect, password):
    client = connect(password=password, key_filename=None)
    _, stdout, _ = client.exec_command("whoami", timeout=DEADLINE)
    assert stdout.read().strip() == client.get_transport().get_username().encode()


def test_connect_with_pkey_object(paramiko, connect, client_key):
    key = paramiko.Ed25519Key.from_private_key_file(str(client_key))
    client = connect(pkey=key, key_filename=None)
    assert client.get_transport().is_authenticated()


def test_context_manager_closes(paramiko, sshd, known_hosts_file, client_key, test_user):
    with paramiko.SSHClient() as client:
        client.load_host_keys(str(known_hosts_file))
        client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
        transport = client.get_transport()
        assert transport.is_active()
    assert not transport.is_active()


def test_stdin_file_object_and_readlines(connect):
    client = connect()
    stdin, stdout, _ = client.exec_command("sort", timeout=DEADLINE)
    stdin.write("b\nc\na\n")
    stdin.flush()
    stdin.channel.shutdown_write()
    assert stdout.readlines() == ["a\n", "b\n", "c\n"]
    assert stdout.channel.exit_status_ready() or stdout.channel.recv_exit_status() == 0


def test_iterating_stdout_yields_text_lines(connect):
    client = connect()
    _, stdout, _ = client.exec_command("printf 'one\\ntwo\\nthree'", timeout=DEADLINE)
    assert list(stdout) == ["one\n", "two\n", "three"]


def test_exec_environment(connect):
    client = connect()
    # sshd's AcceptEnv in the fixture lets PYLIBSSH_* through
    _, stdout, _ = client.exec_command("echo $PYLIBSSH_COMPAT", environment={"PYLIBSSH_COMPAT": "yes"},
                                       timeout=DEADLINE)
    assert stdout.read() == b"yes\n"


def test_exec_get_pty_merges_output_onto_the_terminal(connect):
    client = connect()
    _, stdout, _ = client.exec_command("tty; echo err >&2", get_pty=True, timeout=DEADLINE)
    text = stdout.read().decode()
    assert text.startswith("/dev/pts/")
    assert "err" in text


def test_large_output_on_both_streams(connect):
    client = connect()
    command = "head -c 3000000 /dev/zero; head -c 1000000 /dev/zero >&2"
    _, stdout, stderr = client.exec_command(command, timeout=DEADLINE)
    # the usual order: stdout to its end, then stderr (which waited within the channel's window)
    assert len(stdout.read()) == 3_000_000
    assert len(stderr.read()) == 1_000_000
    assert stdout.channel.recv_exit_status() == 0


def test_exec_timeout_raises_socket_timeout(connect):
    client = connect()
    _, stdout, _ = client.exec_command("sleep 5", timeout=0.5)
    with pytest.raises(socket.timeout):
        stdout.read()


def test_invoke_shell(connect):
    client = connect()
    chan = client.invoke_shell(term="xterm", width=100, height=30)
    chan.settimeout(DEADLINE)
    chan.send("stty size; echo marker-$((6*7))\n")
    seen = b""
    deadline = time.monotonic() + DEADLINE
    while b"marker-42" not in seen and time.monotonic() < deadline:
        seen += chan.recv(4096)
    assert b"30 100" in seen and b"marker-42" in seen
    chan.resize_pty(width=120, height=40)
    chan.send("stty size; exit\n")
    # read to EOF: the exit status may be in before the last output has been read
    while time.monotonic() < deadline:
        data = chan.recv(4096)
        if not data:
            break
        seen += data
    assert b"40 120" in seen
    chan.close()


def test_reject_policy_refuses_unknown_host(paramiko, sshd, client_key, test_user):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException) as info:
        client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    assert "not found in known_hosts" in str(info.value)
    client.close()


def test_default_policy_is_reject(paramiko, sshd, client_key, test_user):
    client = paramiko.SSHClient()
    with pytest.raises(paramiko.SSHException):
        client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    client.close()


def test_auto_add_policy_and_save_host_keys(paramiko, sshd, client_key, test_user, tmp_path):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    server_key = client.get_transport().get_remote_server_key()
    saved = tmp_path / "saved_hosts"
    client.save_host_keys(str(saved))
    client.close()
    host_keys = paramiko.HostKeys(str(saved))
    entry = host_keys.lookup(f"[{sshd.host}]:{sshd.port}")
    assert entry is not None
    assert entry[server_key.get_name()] == server_key


def test_custom_policy_subclass_sees_host_and_key(paramiko, sshd, client_key, test_user):
    seen = []

    class Remember(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            seen.append((hostname, key.get_name(), key.get_fingerprint()))

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(Remember())
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    client.close()
    assert len(seen) == 1
    hostname, name, fingerprint = seen[0]
    assert hostname == f"[{sshd.host}]:{sshd.port}"
    assert name.startswith(("ssh-", "ecdsa-", "rsa-"))
    assert isinstance(fingerprint, bytes) and len(fingerprint) == 16  # MD5 digest bytes


def test_warning_policy_connects_and_warns(paramiko, sshd, client_key, test_user):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.WarningPolicy())
    with pytest.warns(UserWarning):
        client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    assert client.get_transport().is_authenticated()
    client.close()


def test_changed_host_key_raises_bad_host_key(paramiko, sshd, client_key, test_user, tmp_path):
    other = paramiko.Ed25519Key.from_private_key_file(str(client_key))  # not the server's key
    path = tmp_path / "wrong_hosts"
    path.write_text(f"[{sshd.host}]:{sshd.port} {other.get_name()} {other.get_base64()}\n")
    client = paramiko.SSHClient()
    client.load_host_keys(str(path))
    with pytest.raises(paramiko.BadHostKeyException) as info:
        client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    assert info.value.hostname in (sshd.host, f"[{sshd.host}]:{sshd.port}")
    assert info.value.expected_key == other
    assert isinstance(info.value, paramiko.SSHException)
    client.close()


def test_wrong_password_raises_authentication_exception(paramiko, connect):
    with pytest.raises(paramiko.AuthenticationException):
        connect(password="not the password", key_filename=None)


def test_no_credentials_raises_ssh_exception(paramiko, connect):
    with pytest.raises(paramiko.SSHException):
        connect(key_filename=None)


def test_refused_port_raises_no_valid_connections(paramiko, known_hosts_file, test_user):
    from openssh import free_port

    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError) as info:
        client.connect("127.0.0.1", free_port(), test_user, password="x",
                       look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    assert isinstance(info.value, OSError)
    assert info.value.errors  # {(address, port): exception}


def test_connect_over_given_sock(paramiko, sshd, known_hosts_file, client_key, test_user):
    sock = socket.create_connection((sshd.host, sshd.port), timeout=DEADLINE)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key), sock=sock,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo via-sock", timeout=DEADLINE)
    assert stdout.read() == b"via-sock\n"
    client.close()


def test_disabled_algorithms(connect):
    client = connect(disabled_algorithms={"ciphers": ["chacha20-poly1305@openssh.com",
                                                      "aes256-gcm@openssh.com",
                                                      "aes128-gcm@openssh.com"]})
    _, stdout, _ = client.exec_command("echo ok", timeout=DEADLINE)
    assert stdout.read() == b"ok\n"


def test_exception_hierarchy(paramiko):
    assert issubclass(paramiko.AuthenticationException, paramiko.SSHException)
    assert issubclass(paramiko.BadAuthenticationType, paramiko.AuthenticationException)
    assert issubclass(paramiko.PasswordRequiredException, paramiko.AuthenticationException)
    assert issubclass(paramiko.BadHostKeyException, paramiko.SSHException)
    assert issubclass(paramiko.ChannelException, paramiko.SSHException)
    assert issubclass(paramiko.ProxyCommandFailure, paramiko.SSHException)
    assert issubclass(paramiko.ssh_exception.NoValidConnectionsError, socket.error)
    assert issubclass(paramiko.SSHException, Exception)
