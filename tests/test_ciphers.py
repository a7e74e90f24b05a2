"""Every cipher and MAC family, and the key exchanges, that libssh and OpenSSH share, on both
sides: pylibssh's server with OpenSSH's ``ssh``, pylibssh's client with OpenSSH's ``sshd``.
1 MiB each way must arrive intact, so a packet encrypted or authenticated wrongly, or a key
exchange that computes a different secret, is refused by the peer. (Our libssh encrypts
packets in place: vendor/libssh/patches/0001-encrypt-packets-in-place.patch.)"""

from __future__ import annotations

import os

import pytest
from clientkit import connect, known_hosts  # noqa: F401
from serverkit import PASSWORD, RunningServer, md5, standard_app

from pylibssh import _log

pytestmark = pytest.mark.peer

PAYLOAD = os.urandom(1 << 20)

# AEAD ciphers (no MAC), and CTR with a MAC in each mode (MAC over the plaintext, and
# encrypt-then-MAC over the ciphertext)
SUITES = [
    ("chacha20-poly1305@openssh.com", None),
    ("aes128-gcm@openssh.com", None),
    ("aes256-gcm@openssh.com", None),
    ("aes128-ctr", "hmac-sha2-256"),
    ("aes192-ctr", "hmac-sha2-512"),
    ("aes256-ctr", "hmac-sha2-512-etm@openssh.com"),
    ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
]
IDS = [f"{c}+{m}" if m else c for c, m in SUITES]


@pytest.fixture(scope="module")
def cat_server(host_key_files):
    rs = RunningServer([host_key_files["ed25519"]])
    standard_app(rs)
    rs.start()
    yield rs
    rs.close()


@pytest.mark.parametrize("cipher,mac", SUITES, ids=IDS)
def test_server_with_openssh_client(cat_server, openssh_client, cipher, mac):
    options = ["-c", cipher] + (["-m", mac] if mac else [])
    result = openssh_client(cat_server.port, password=PASSWORD).ssh(*options, "-v", "cat",
                                                                   input=PAYLOAD)
    assert result.returncode == 0, result.stderr[-2000:]
    assert md5(result.stdout) == md5(PAYLOAD)
    # the suite asked for is the one in use
    assert f"cipher: {cipher}".encode() in result.stderr
    if mac:
        assert f"MAC: {mac}".encode() in result.stderr


@pytest.mark.parametrize("cipher,mac", SUITES, ids=IDS)
def test_client_with_sshd(connect, cipher, mac):  # noqa: F811
    client = connect(ciphers=cipher, **({"macs": mac} if mac else {}))
    assert client.session.cipher_out == cipher
    result = client.run("cat", input=PAYLOAD, check=True)
    assert md5(result.stdout) == md5(PAYLOAD)


# key exchanges both sides have; the post-quantum hybrid several times, each with new keys
# (our libssh computes sntrup761 with fewer reductions:
# vendor/libssh/patches/0005-sntrup761-fewer-reductions.patch)
KEXES = [
    ("sntrup761x25519-sha512@openssh.com", 6),
    ("sntrup761x25519-sha512", 2),
    ("curve25519-sha256", 1),
    ("ecdh-sha2-nistp256", 1),
    ("diffie-hellman-group16-sha512", 1),
]


@pytest.mark.parametrize("kex,times", KEXES, ids=[k for k, _ in KEXES])
def test_kex_server_with_openssh_client(cat_server, openssh_client, kex, times):
    for _ in range(times):
        result = openssh_client(cat_server.port, password=PASSWORD).ssh(
            "-o", f"KexAlgorithms={kex}", "-v", "cat", input=PAYLOAD)
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"kex: algorithm: {kex}".encode() in result.stderr
        assert md5(result.stdout) == md5(PAYLOAD)


@pytest.mark.parametrize("kex,times", KEXES, ids=[k for k, _ in KEXES])
def test_kex_client_with_sshd(connect, kex, times):  # noqa: F811
    for _ in range(times):
        client = connect(kex=kex)
        assert client.session.kex_algorithm == kex
        assert md5(client.run("cat", input=PAYLOAD, check=True).stdout) == md5(PAYLOAD)
        client.close()


# every exchange after the first starts from a new state: the last one's is freed once both
# directions use its keys (vendor/libssh/patches/0008, 0009); 1 MiB each way with new keys
# every 128 KiB (OpenSSH's RekeyLimit, libssh's rekey_data) makes several
REKEY = 128 * 1024


@pytest.mark.parametrize("kex", [k for k, _ in KEXES])
def test_rekeying_server_with_openssh_client(cat_server, openssh_client, kex):
    result = openssh_client(cat_server.port, password=PASSWORD).ssh(
        "-o", f"KexAlgorithms={kex}", "-o", f"RekeyLimit={REKEY}", "-vv", "cat", input=PAYLOAD)
    assert result.returncode == 0, result.stderr[-2000:]
    assert md5(result.stdout) == md5(PAYLOAD)
    assert result.stderr.count(b"SSH2_MSG_NEWKEYS received") >= 4, result.stderr[-2000:]


@pytest.mark.parametrize("kex", [k for k, _ in KEXES])
def test_rekeying_client_with_sshd(connect, caplog, kex):  # noqa: F811
    # 4 MiB: libssh sends the packets it queued during a re-exchange under the new keys without
    # counting them against the limit, so how many exchanges 1 MiB makes depends on timing
    payload = PAYLOAD * 4
    with caplog.at_level(_log.PACKET, logger="pylibssh"):
        client = connect(kex=kex, rekey_data=REKEY)
        assert md5(client.run("cat", input=payload, check=True).stdout) == md5(payload)
        client.close()
    newkeys = [r for r in caplog.records if "Received SSH_MSG_NEWKEYS" in r.getMessage()]
    assert len(newkeys) >= 3, [r.getMessage() for r in caplog.records][-20:]
