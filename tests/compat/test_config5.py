"""SSHConfig as paramiko 5 implements it: canonicalization (CanonicalizeHostname,
CanonicalDomains, CanonicalizeMaxDots, CanonicalizeFallbackLocal), ``Match canonical``/``final``
/``all`` and their placement rules, ``%h`` inside HostName; and a lookup used to connect to sshd
as applications do. ``127.0.0`` + CanonicalDomains ``1`` makes a name that resolves (127.0.0.1)
without DNS."""

from __future__ import annotations

import pytest

DEADLINE = 20

CANONICAL = """
Host 127.0.0.1
    User canon-user
Match canonical host 127.0.0.1
    Port 2201
Match !canonical
    ConnectTimeout 5
Match final
    Compression yes
Host *
    CanonicalizeHostname yes
    CanonicalDomains nope.invalid 1
    CanonicalizeMaxDots 2
"""


def test_canonicalize_with_domains(paramiko):
    got = paramiko.SSHConfig.from_text(CANONICAL).lookup("127.0.0")
    assert got["hostname"] == "127.0.0.1"
    assert got["user"] == "canon-user" and got["port"] == "2201"
    assert got["connecttimeout"] == "5"  # set in the first pass
    assert got["compression"] == "yes"


def test_canonicalize_max_dots_and_fallback(paramiko):
    # too many dots: not canonicalized, but the final pass still runs
    text = CANONICAL.replace("CanonicalizeMaxDots 2", "CanonicalizeMaxDots 1")
    got = paramiko.SSHConfig.from_text(text).lookup("127.0.0")
    assert got["hostname"] == "127.0.0" and "port" not in got
    assert got["compression"] == "yes"
    strict = paramiko.SSHConfig.from_text(
        "CanonicalizeHostname yes\nCanonicalDomains nope.invalid\n"
        "CanonicalizeFallbackLocal no\n")
    with pytest.raises(paramiko.CouldNotCanonicalize):
        strict.lookup("somehost")
    fallback = paramiko.SSHConfig.from_text(
        "CanonicalizeHostname yes\nCanonicalDomains nope.invalid\n")
    assert fallback.lookup("somehost")["hostname"] == "somehost"


def test_match_all_placement(paramiko):
    ok = paramiko.SSHConfig.from_text("Match canonical all\n    User x\n"
                                      "Match all\n    Port 23\n")
    assert ok.lookup("h")["port"] == "23"
    for bad in ("Match all host x\n", "Match all canonical\n", "Match final all\n"):
        with pytest.raises(paramiko.ConfigParseError):
            paramiko.SSHConfig.from_text(bad + "    User y\n")
    with pytest.raises(paramiko.ConfigParseError):
        paramiko.SSHConfig.from_text("Match host\n")  # no parameter


def test_hostname_token_and_final(paramiko):
    config = paramiko.SSHConfig.from_text(
        "Host web\n    HostName %h.example.com\n    IdentityFile ~/.ssh/%h-%r\n"
        "    User deploy\n"
        "Match final originalhost web\n    Port 2222\n")
    got = config.lookup("web")
    assert got["hostname"] == "web.example.com"
    assert got["port"] == "2222"
    assert got["identityfile"][0].endswith("/.ssh/web.example.com-deploy")


def test_lookup_drives_a_connection(paramiko, sshd, client_key, test_user, known_hosts_file):
    config = paramiko.SSHConfig.from_text(f"""
Host 127.0.0.1
    Port {sshd.port}
    User {test_user}
    IdentityFile {client_key}
Host *
    CanonicalizeHostname yes
    CanonicalDomains 1
    CanonicalizeMaxDots 2
""")
    got = config.lookup("127.0.0")
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(got["hostname"], int(got["port"]), got["user"],
                   key_filename=got["identityfile"], look_for_keys=False, allow_agent=False,
                   timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo configured", timeout=DEADLINE)
    assert stdout.read() == b"configured\n"
    client.close()
