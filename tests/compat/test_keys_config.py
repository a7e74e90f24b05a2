"""Keys (PKey and its subclasses), HostKeys, SSHConfig and ProxyCommand as paramiko documents them."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import time

import pytest

from openssh import keygen

DEADLINE = 20


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_key_from_ssh_keygen_file(paramiko, tmp_path, kind):
    path = keygen(tmp_path / f"id_{kind}", kind, comment="compat")
    cls = {"ed25519": paramiko.Ed25519Key, "ecdsa": paramiko.ECDSAKey, "rsa": paramiko.RSAKey}[kind]
    key = cls.from_private_key_file(str(path))
    kind_name, b64 = (tmp_path / f"id_{kind}.pub").read_text().split()[:2]
    assert key.get_base64() == b64
    assert key.get_name() == kind_name
    assert key.get_fingerprint() == hashlib.md5(base64.b64decode(b64)).digest()
    assert key.can_sign()
    expected = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True,
                              text=True, timeout=DEADLINE, check=True).stdout.split()[1]
    assert key.fingerprint == expected  # "SHA256:..."


def test_encrypted_key_needs_passphrase(paramiko, tmp_path):
    path = keygen(tmp_path / "id_enc", "ed25519", passphrase="s3cret")
    with pytest.raises(paramiko.PasswordRequiredException):
        paramiko.Ed25519Key.from_private_key_file(str(path))
    with pytest.raises(paramiko.SSHException):
        paramiko.Ed25519Key.from_private_key_file(str(path), password="wrong")
    key = paramiko.Ed25519Key.from_private_key_file(str(path), password="s3cret")
    assert key.get_name() == "ssh-ed25519"


def test_rsa_generate_write_and_read_back(paramiko, tmp_path):
    key = paramiko.RSAKey.generate(2048)
    assert key.get_bits() == 2048
    path = tmp_path / "rsa_key"
    key.write_private_key_file(str(path), password="pw")
    assert (path.stat().st_mode & 0o777) == 0o600
    again = paramiko.RSAKey.from_private_key_file(str(path), password="pw")
    assert again == key and again.get_base64() == key.get_base64()
    buf = io.StringIO()
    key.write_private_key(buf)
    assert paramiko.RSAKey.from_private_key(io.StringIO(buf.getvalue())) == key
    # OpenSSH can read what was written
    out = subprocess.run(["ssh-keygen", "-y", "-P", "pw", "-f", str(path)], capture_output=True,
                         text=True, timeout=DEADLINE, check=True).stdout
    assert out.split()[1] == key.get_base64()


def test_sign_and_verify(paramiko, tmp_path):
    key = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "id", "ed25519")))
    msg = paramiko.Message(key.sign_ssh_data(b"data to sign").asbytes())
    public = paramiko.PKey.from_type_string(key.get_name(), key.asbytes())
    assert public.verify_ssh_sig(b"data to sign", msg)
    msg.rewind()
    assert not public.verify_ssh_sig(b"other data", msg)


def test_host_keys_file_round_trip(paramiko, tmp_path, sshd):
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in sshd.known_hosts_lines()))
    host_keys = paramiko.HostKeys(str(path))
    name = f"[{sshd.host}]:{sshd.port}"
    assert name in host_keys
    entry = host_keys[name]
    some_type = next(iter(entry.keys()))
    key = entry[some_type]
    assert host_keys.check(name, key)
    new = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "k", "ed25519")))
    host_keys.add("example.invalid", new.get_name(), new)
    host_keys.save(str(tmp_path / "saved"))
    again = paramiko.HostKeys(str(tmp_path / "saved"))
    assert again.lookup("example.invalid")[new.get_name()] == new
    assert again.check(name, key)


def test_ssh_config_lookup(paramiko):
    config = paramiko.SSHConfig.from_text(
        "Host alias\n"
        "    HostName 127.0.0.1\n"
        "    Port 2200\n"
        "    User someone\n"
        "    IdentityFile ~/.ssh/special\n"
        "    ProxyJump jump1,jump2\n"
        "Host *.example\n"
        "    User wildcard\n"
        "    ConnectTimeout 7\n"
        "Host *\n"
        "    User fallback\n"
        "    ServerAliveInterval 30\n"
    )
    alias = config.lookup("alias")
    assert alias["hostname"] == "127.0.0.1"
    assert alias["port"] == "2200"
    assert alias["user"] == "someone"  # first obtained value wins, as in OpenSSH
    assert alias["identityfile"][0].endswith("/.ssh/special")
    assert alias["proxyjump"] == "jump1,jump2"
    other = config.lookup("db.example")
    assert other["user"] == "wildcard" and other["connecttimeout"] == "7"
    assert other["hostname"] == "db.example"
    assert config.lookup("plain")["serveraliveinterval"] == "30"
    assert "alias" in config.get_hostnames()


def test_ssh_config_parse_and_from_path(paramiko, tmp_path):
    path = tmp_path / "config"
    path.write_text("Host x\n  HostName 127.0.0.2\n  ProxyCommand nc %h %p\n")
    config = paramiko.SSHConfig.from_path(str(path))
    assert config.lookup("x")["proxycommand"] == "nc 127.0.0.2 22"
    config2 = paramiko.SSHConfig()
    with open(path) as f:
        config2.parse(f)
    assert config2.lookup("x")["hostname"] == "127.0.0.2"


def test_proxy_command_as_sock(paramiko, sshd, known_hosts_file, client_key, test_user):
    # OpenSSH's own ssh -W as the proxy: it connects the pipe to sshd's port
    command = (f"ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no "
               f"-o UserKnownHostsFile=/dev/null -i {client_key} -p {sshd.port} "
               f"-W {sshd.host}:{sshd.port} {test_user}@{sshd.host}")
    proxy = paramiko.ProxyCommand(command)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key), sock=proxy,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo proxied", timeout=DEADLINE)
    assert stdout.read() == b"proxied\n"
    client.close()


def test_agent_lists_keys_from_a_real_ssh_agent(paramiko, tmp_path, monkeypatch):
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        path = keygen(tmp_path / "id_agent", "ed25519")
        env = {"SSH_AUTH_SOCK": str(sock), "PATH": "/usr/bin:/bin"}
        subprocess.run(["ssh-add", str(path)], env=env, check=True, capture_output=True,
                       timeout=DEADLINE)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        agent_client = paramiko.Agent()
        keys = agent_client.get_keys()
        b64 = (tmp_path / "id_agent.pub").read_text().split()[1]
        assert [k.get_base64() for k in keys] == [b64]
        assert keys[0].get_name() == "ssh-ed25519"
        agent_client.close()
    finally:
        agent.terminate()
        agent.wait(DEADLINE)
