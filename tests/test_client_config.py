"""ssh_config applied like OpenSSH (aliases, HostName/User/Port/IdentityFile, ProxyJump through a
second sshd, ProxyCommand), and connecting over an existing socket or channel."""

from __future__ import annotations

import socket

import pytest

import pylibssh
from clientkit import DEADLINE, connect, known_hosts, known_hosts_for  # noqa: F401
from openssh import OpenSSHServer
from pylibssh.client.config import read_config

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def jump_sshd(tmp_path_factory, client_key):
    server = OpenSSHServer(tmp_path_factory.mktemp("jump-sshd"))
    server.authorize((client_key.parent / "id_ed25519.pub").read_text())
    server.start()
    yield server
    server.cleanup()


def test_read_config_first_value_wins_patterns_include(tmp_path):
    inc = tmp_path / "inc.conf"
    inc.write_text("Host web*\n  Port 2200\n")
    cfg = tmp_path / "config"
    cfg.write_text(f"""
# comment
Include {inc}
Host web1 !web2
    HostName 10.0.0.1
    User alice
    IdentityFile ~/.ssh/a
Host web*
    User bob
    Port 2222
    IdentityFile=/b
Match originalhost web2 user carol
    Port 2300
Host *
    ConnectTimeout 7
""")
    one = read_config(str(cfg), "web1")
    assert one["hostname"] == "10.0.0.1" and one["user"] == "alice" and one["port"] == "2200"
    assert one["identityfile"] == ["~/.ssh/a", "/b"] and one["connecttimeout"] == "7"
    two = read_config(str(cfg), "web2")
    assert "hostname" not in two and two["user"] == "bob"
    assert read_config(str(cfg), "web2", user="carol")["port"] == "2200"  # Include came first
    assert read_config(str(cfg), "other") == {"connecttimeout": "7"}


def test_alias_hostname_user_port_identityfile(sshd, client_key, known_hosts, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text(f"""
Host myalias
    HostName 127.0.0.1
    Port {sshd.port}
    User {sshd.user}
    IdentityFile {client_key}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    ConnectTimeout 9
""")
    with pylibssh.connect("myalias", config=str(cfg), timeout=DEADLINE) as c:
        assert c.options.host == "127.0.0.1" and c.options.port == sshd.port
        assert c.options.user == sshd.user
        assert c.run("whoami").stdout.decode().strip() == sshd.user
    with pylibssh.connect("myalias", config=str(cfg)) as c:
        assert c.options.timeout == 9
    # explicit arguments win over the file
    with pytest.raises(pylibssh.SSHConnectionRefusedError):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        pylibssh.connect("myalias", port=port, config=str(cfg))


def test_no_config(sshd, client_key, known_hosts, tmp_path):
    # config=None: nothing read, so an alias cannot resolve
    with pytest.raises(pylibssh.HostNotFoundError):
        pylibssh.connect("myalias-unknown.invalid", config=None, keys=[str(client_key)])


def test_proxy_jump_through_second_sshd(sshd, jump_sshd, client_key, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("\n".join(sshd.known_hosts_lines() + jump_sshd.known_hosts_lines()) + "\n")
    before = jump_sshd.log_text().count("Accepted publickey")
    cfg = tmp_path / "config"
    cfg.write_text(f"""
Host jump
    HostName 127.0.0.1
    Port {jump_sshd.port}
    User {jump_sshd.user}
Host target
    HostName 127.0.0.1
    Port {sshd.port}
    User {sshd.user}
    ProxyJump jump
Host *
    IdentityFile {client_key}
    UserKnownHostsFile {kh}
""")
    with pylibssh.connect("target", config=str(cfg), timeout=DEADLINE) as c:
        assert c.run("echo via-jump").stdout == b"via-jump\n"
        r = c.run("head -c 3000000 /dev/zero")
        assert len(r.stdout) == 3000000
    assert jump_sshd.log_text().count("Accepted publickey") == before + 1
    # a chain given directly: jump, then jump again (two hops)
    hop = f"{jump_sshd.user}@127.0.0.1:{jump_sshd.port}"
    with pylibssh.connect("127.0.0.1", sshd.port, sshd.user, proxy_jump=[hop, hop],
                          keys=[str(client_key)], known_hosts=str(kh), config=None,
                          timeout=DEADLINE) as c:
        assert c.run("echo two-hops").stdout == b"two-hops\n"
    assert jump_sshd.log_text().count("Accepted publickey") == before + 3


def test_proxy_command(sshd, jump_sshd, client_key, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("\n".join(sshd.known_hosts_lines() + jump_sshd.known_hosts_lines()) + "\n")
    cfg = tmp_path / "config"
    cfg.write_text(f"""
Host viacmd
    HostName 127.0.0.1
    Port {sshd.port}
    User {sshd.user}
    IdentityFile {client_key}
    UserKnownHostsFile {kh}
    ProxyCommand ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile={kh} -i {client_key} -p {jump_sshd.port} -W %h:%p {jump_sshd.user}@127.0.0.1
""")
    with pylibssh.connect("viacmd", config=str(cfg), timeout=DEADLINE) as c:
        assert c.run("echo via-command").stdout == b"via-command\n"


def test_over_existing_socket_and_channel(connect, sshd):
    sock = socket.create_connection(("127.0.0.1", sshd.port))
    c = connect(sock=sock)
    assert c.run("echo sock").stdout == b"sock\n"
    sock.close()
    outer = connect()
    channel = outer.open_channel_to("127.0.0.1", sshd.port)
    inner = connect(sock=channel, loop=outer.loop)
    assert inner.run("echo nested").stdout == b"nested\n"
