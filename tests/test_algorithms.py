"""The algorithms a session negotiated, read on both sides: pylibssh's client against OpenSSH's
sshd, pylibssh's server against paramiko's client (which says what it agreed on)."""

from __future__ import annotations

import paramiko
import pytest
from clientkit import connect, known_hosts  # noqa: F401  (fixtures)
from serverkit import DEADLINE, PASSWORD, paramiko_exec, standard_app, wait_until

import pylibssh

pytestmark = pytest.mark.peer


def test_client_algorithms_are_the_ones_asked_for(connect):
    client = connect(ciphers=["aes192-ctr"], macs=["hmac-sha2-512"], kex=["ecdh-sha2-nistp256"],
                     compression=True)
    algs = client.algorithms
    assert isinstance(algs, pylibssh.Algorithms)
    assert (algs.kex, algs.send_cipher, algs.recv_cipher) == (
        "ecdh-sha2-nistp256", "aes192-ctr", "aes192-ctr")
    assert (algs.send_mac, algs.recv_mac) == ("hmac-sha2-512", "hmac-sha2-512")
    assert algs.host_key == "ssh-ed25519"
    assert (algs.send_compression, algs.recv_compression) == ("zlib@openssh.com",) * 2
    client.close()
    assert client.algorithms is None


def test_client_algorithms_with_an_aead_cipher_and_no_compression(connect):
    algs = connect(ciphers=["aes256-gcm@openssh.com"]).algorithms
    assert (algs.send_cipher, algs.recv_cipher) == ("aes256-gcm@openssh.com",) * 2
    assert (algs.send_mac, algs.recv_mac) == ("aead-gcm",) * 2
    assert (algs.send_compression, algs.recv_compression) == ("none", "none")


def test_server_session_algorithms_match_paramikos(make_server):
    rs = make_server()
    standard_app(rs)
    sessions: list = []
    rs.server.on("connection", sessions.append)
    rs.start()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", rs.port, username="tester", password=PASSWORD,
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE,
                   disabled_algorithms={"ciphers": ["aes128-ctr", "aes256-ctr",
                                                    "aes128-gcm@openssh.com",
                                                    "aes256-gcm@openssh.com",
                                                    "chacha20-poly1305@openssh.com"],
                                       "kex": [k for k in paramiko.Transport._preferred_kex
                                               if k != "ecdh-sha2-nistp384"]})
    try:
        assert paramiko_exec(client, "true")[2] == 0
        t = client.get_transport()
        session = wait_until(lambda: sessions, what="the server session")[0]
        algs = session.algorithms
        # paramiko's local_* protect what it sends: the server receives with them
        assert (algs.recv_cipher, algs.send_cipher) == (t.local_cipher, t.remote_cipher)
        assert (algs.recv_mac, algs.send_mac) == (t.local_mac, t.remote_mac)
        assert algs.host_key == t.host_key_type == "ssh-ed25519"
        assert algs.kex == "ecdh-sha2-nistp384"
        assert (algs.send_compression, algs.recv_compression) == ("none", "none")
    finally:
        client.close()


def test_connections_with_other_options_in_turn_get_their_own(connect, monkeypatch):
    # the options of each set of values are prepared once and copied for each connection
    # (pylibssh/client/prepared.py): connections alternating between sets, with fewer kept
    # than there are sets, each negotiate what they asked for
    from pylibssh.client import prepared

    monkeypatch.setattr(prepared, "MAX_TEMPLATES", 2)
    asked = ["aes192-ctr", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr",
             "aes256-gcm@openssh.com"]
    for cipher in asked:
        client = connect(ciphers=[cipher], compression=cipher == "aes128-ctr")
        algs = client.algorithms
        assert (algs.send_cipher, algs.recv_cipher) == (cipher, cipher)
        assert algs.send_compression == ("zlib@openssh.com" if cipher == "aes128-ctr"
                                         else "none")
        client.close()
    assert len(prepared._templates) <= 2
    # a value libssh refuses raises, and is not kept
    with pytest.raises(pylibssh.SSHError, match="no-such-cipher"):
        connect(ciphers=["no-such-cipher"])
    assert connect(ciphers=["aes128-ctr"]).algorithms.send_cipher == "aes128-ctr"
