"""ssh_config applied like OpenSSH (aliases, HostName/User/Port/IdentityFile, ProxyJump through a
second sshd, ProxyCommand), and connecting over an existing socket or channel."""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import socket
import time

import pytest

import pylibssh
from clientkit import DEADLINE, connect, known_hosts, known_hosts_for  # noqa: F401
from openssh import OpenSSHServer
from pylibssh.client import config
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


@pytest.mark.parametrize("line", ["UserKnownHostsFile \r\r", "GlobalKnownHostsFile",
                                  "Port =", "HostName"])
def test_option_without_value_is_a_config_error(tmp_path, line):
    """ssh says "missing argument" for these; pylibssh raises ValueError naming the option, not
    whatever the option's conversion would trip over."""
    cfg = tmp_path / "config"
    cfg.write_text(f"Host *\n    {line}\n")
    options = pylibssh.client.client.ConnectOptions("web1", config=str(cfg))
    with pytest.raises(ValueError, match=line.split()[0].lower()):
        config.apply_config(options)


def test_keyword_named_like_the_include_markers(tmp_path):
    """Include's nesting is kept apart from the file's own words: a line whose keyword happens to
    be "include-end" (or "include-start") is an unknown option, ignored like any other."""
    cfg = tmp_path / "config"
    cfg.write_text("Host web*\n    include-end now\n    include-start x\n    User bob\n")
    assert read_config(str(cfg), "web1")["user"] == "bob"


def test_include_skips_directories(tmp_path):
    """As ssh does, an Include pattern that matches a directory reads nothing from it: the files
    it matches still apply."""
    conf_d = tmp_path / "config.d"
    (conf_d / "sub.d").mkdir(parents=True)
    (conf_d / "web").write_text("Host web*\n    User bob\n")
    cfg = tmp_path / "config"
    cfg.write_text(f"Include {conf_d}/*\nInclude {conf_d}\nHost *\n    Port 2200\n")
    assert read_config(str(cfg), "web1") == {"user": "bob", "port": "2200"}


def _age(path, seconds):
    """Make ``path`` look changed ``seconds`` ago; its new mtime in ns."""
    when = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(when, when))
    return when


def test_a_file_read_before_is_read_again_once_it_changes(tmp_path):
    """A fan-out's connections each apply the file: it is split into lines once and read again
    when its size, time or inode change (an included file's too), or while it changed too
    recently for its time to tell a same-size edit apart."""
    inc = tmp_path / "inc.conf"
    inc.write_text("Host web*\n    User bob\n")
    cfg = tmp_path / "config"
    cfg.write_text(f"Include {inc}\nHost web*\n    Port 2201\n")
    for path in (inc, cfg):
        _age(path, 60)
    assert read_config(str(cfg), "web1") == {"user": "bob", "port": "2201"}
    assert read_config(str(cfg), "web1") == {"user": "bob", "port": "2201"}
    cfg.write_text(f"Include {inc}\nHost web*\n    Port 2202\n")  # same size, new time
    assert read_config(str(cfg), "web1")["port"] == "2202"
    inc.write_text("Host web*\n    User alice\n")
    assert read_config(str(cfg), "web1") == {"user": "alice", "port": "2202"}
    # changed just now: a same-size edit that keeps the time is still seen
    when = _age(cfg, 0)
    assert read_config(str(cfg), "web1")["port"] == "2202"
    cfg.write_text(f"Include {inc}\nHost web*\n    Port 2203\n")
    os.utime(cfg, ns=(when, when))
    assert read_config(str(cfg), "web1")["port"] == "2203"
    cfg.unlink()
    assert read_config(str(cfg), "web1") == {}


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


# --- Match exec, tagged, localnetwork; canonicalization and the final pass ---

def _config(tmp_path, text: str) -> str:
    cfg = tmp_path / "config"
    cfg.write_text(text)
    return str(cfg)


def test_match_exec_status_and_negation(tmp_path):
    cfg = _config(tmp_path, """
Match exec "exit 3"
    HostName never
Match exec true
    Port 1001
Match !exec "test 1 = 2"
    User negated
Match !exec true
    ConnectTimeout 99
""")
    got = read_config(cfg, "any")
    assert got == {"port": "1001", "user": "negated"}


def test_match_exec_expands_tokens(tmp_path):
    out = tmp_path / "tokens"
    cfg = _config(tmp_path, f"""
Host tok
    HostName real.example
    Port 2022
    User bob
Match exec "echo %h %p %r %n %u %d %L %l %%%% %C > {out}"
    Compression yes
""")
    assert read_config(cfg, "tok")["compression"] == "yes"
    here = socket.gethostname()
    conn = hashlib.sha1(f"{here}real.example2022bob".encode()).hexdigest()
    assert out.read_text().split() == ["real.example", "2022", "bob", "tok", getpass.getuser(),
                                       os.path.expanduser("~"), here.split(".")[0], here, "%%",
                                       conn]
    # an explicit user and port win over the file's, in the tokens too; %j: the last jump host
    read_config(cfg, "tok", user="carol", port=2400, jump="a@hop1,b@hop2:2222")
    words = out.read_text().split()
    assert words[1:3] == ["2400", "carol"]
    assert words[-1] == hashlib.sha1(f"{here}real.example2400carolhop2".encode()).hexdigest()


def test_match_exec_timeout(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(config, "EXEC_TIMEOUT", 0.3)
    marker = tmp_path / "finished"
    cfg = _config(tmp_path, f"""
Match exec "sleep 2; touch {marker}"
    Port 1001
Match !exec "sleep 2"
    Port 1002
Host *
    User after
""")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="pylibssh.client"):
        got = read_config(cfg, "slow")
    assert time.monotonic() - start < 1.5
    assert got == {"user": "after"}  # a timed-out exec matches neither way
    assert sum("still running after 0.3 s" in r.getMessage() for r in caplog.records) == 2
    time.sleep(2.2)
    assert not marker.exists()  # the shell's process group was killed


def test_match_exec_runs_only_after_matching_criteria(tmp_path):
    skipped, ran = tmp_path / "skipped", tmp_path / "ran"
    cfg = _config(tmp_path, f"""
Match host other exec "touch {skipped}"
    Port 1001
Match exec "touch {ran}" host other
    Port 1002
Match originalhost web exec "test %n = web"
    User web
""")
    assert read_config(cfg, "web") == {"user": "web"}
    assert not skipped.exists()  # host did not match: exec not run
    assert ran.exists()  # exec first: it runs, the later host criterion fails the line
    ran.unlink()
    assert read_config(cfg, "other")["port"] == "1001"
    assert skipped.exists() and ran.exists()


def test_tag_and_match_tagged_localnetwork(tmp_path):
    cfg = _config(tmp_path, """
Host t*
    Tag work
Match tagged work
    User worker
Match !tagged work
    User other
Match localnetwork 203.0.113.0/24
    Port 1001
Match localnetwork 127.0.0.0/8,203.0.113.0/24
    Port 1002
""")
    assert read_config(cfg, "tx") == {"tag": "work", "user": "worker", "port": "1002"}
    assert read_config(cfg, "ux")["user"] == "other"


def test_canonicalize_address_and_final_pass(tmp_path):
    cfg = _config(tmp_path, """
Host 127.0.0.1
    User canon-host
Match canonical host 127.0.0.1
    Port 1001
Match !canonical
    ConnectTimeout 5
Match final
    Compression yes
Host *
    CanonicalizeHostname yes
""")
    got = read_config(cfg, "127.1")  # an address literal: canonicalized to its numeric form
    assert got["hostname"] == "127.0.0.1" and got["port"] == "1001"
    assert got["user"] == "canon-host" and got["connecttimeout"] == "5"
    assert got["compression"] == "yes"
    # no canonicalization: still a final pass, which "Match final" asked for
    plain = _config(tmp_path, """
Match !final
    User first
Match final
    Port 1001
    User final
Host *
    Compression yes
""")
    got = read_config(plain, "somehost")
    assert got == {"user": "first", "compression": "yes", "hostname": "somehost",
                   "port": "1001"}
    # neither: no final pass, so a canonical block never applies
    none = _config(tmp_path, "Match canonical\n    Port 1001\nMatch !canonical\n    User x\n")
    assert read_config(none, "somehost") == {"user": "x"}


def test_canonical_domains_not_found(tmp_path):
    rules = """
Host *.invalid
    User suffixed
Host *
    CanonicalizeHostname yes
    CanonicalDomains invalid
    CanonicalizeMaxDots 1
"""
    got = read_config(_config(tmp_path, rules), "nohost")  # nohost.invalid. does not resolve
    assert got["hostname"] == "nohost" and "user" not in got  # CanonicalizeFallbackLocal yes
    strict = _config(tmp_path, "CanonicalizeFallbackLocal no\n" + rules)
    with pytest.raises(pylibssh.HostNotFoundError):
        read_config(strict, "nohost")
    # too many dots for CanonicalizeMaxDots: left alone
    assert read_config(strict, "a.b.nohost")["hostname"] == "a.b.nohost"
    # proxied names are canonicalized only with "always"
    assert read_config(strict, "nohost", proxied=True)["hostname"] == "nohost"
    always = _config(tmp_path, "CanonicalizeHostname always\nCanonicalizeFallbackLocal no\n"
                     + rules)
    with pytest.raises(pylibssh.HostNotFoundError):
        read_config(always, "nohost", proxied=True)
    # a name ending in "." is tried as it is, without the domains
    with pytest.raises(pylibssh.HostNotFoundError, match="nohost.invalid."):
        read_config(strict, "nohost.invalid.")


def test_match_exec_selects_where_to_connect(sshd, client_key, known_hosts, tmp_path):
    flag = tmp_path / "use-local"
    cfg = _config(tmp_path, f"""
Match originalhost e2e exec "test -e {flag}"
    HostName 127.0.0.1
    Port {sshd.port}
Host e2e
    HostName nohost.invalid
    Port 1
Host *
    User {sshd.user}
    IdentityFile {client_key}
    UserKnownHostsFile {known_hosts}
""")
    with pytest.raises(pylibssh.HostNotFoundError):
        pylibssh.connect("e2e", config=cfg, timeout=DEADLINE)
    flag.touch()
    with pylibssh.connect("e2e", config=cfg, timeout=DEADLINE) as c:
        assert (c.options.host, c.options.port) == ("127.0.0.1", sshd.port)
        assert c.run("echo via-exec").stdout == b"via-exec\n"


def test_canonical_match_selects_port(sshd, client_key, known_hosts, tmp_path):
    cfg = _config(tmp_path, f"""
CanonicalizeHostname yes
Match canonical host 127.0.0.1
    Port {sshd.port}
Match !canonical
    User {sshd.user}
Host *
    IdentityFile {client_key}
    UserKnownHostsFile {known_hosts}
""")
    with pylibssh.connect("127.1", config=cfg, timeout=DEADLINE) as c:
        assert (c.options.host, c.options.port) == ("127.0.0.1", sshd.port)
        assert c.run("echo canonical").stdout == b"canonical\n"
        assert c.options.user == sshd.user  # set in the first pass


def test_permitted_cnames_rules():
    # getaddrinfo's canonical name is followed only where a source:target rule allows it (no
    # name resolves to another offline, so the rule check is exercised with the CNAME given)
    cfg = {"canonicalizepermittedcnames": "*.a.example:*.b.example,*.c.example *.d.example:*"}
    follow = config._follow_cname
    assert follow("www.a.example", "cdn.c.example", cfg) == "cdn.c.example"
    assert follow("www.a.example", "cdn.other.example", cfg) == "www.a.example"
    assert follow("x.d.example", "Anything.Example", cfg) == "anything.example"
    assert follow("x.e.example", "cdn.b.example", cfg) == "x.e.example"
    assert follow("www.a.example", "cdn.b.example", {}) == "www.a.example"
    none = {"canonicalizepermittedcnames": "none"}
    assert follow("www.a.example", "cdn.b.example", none) == "www.a.example"
