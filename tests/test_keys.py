"""Keys: generation, import/export, fingerprints, and interop with OpenSSH's ssh-keygen."""

import os
import subprocess

import pytest

import pylibssh
from pylibssh import Key, KeyType, load_authorized_keys

KINDS = [
    ("ed25519", None, "ssh-ed25519", 256),
    ("ecdsa", 256, "ecdsa-sha2-nistp256", 256),
    ("ecdsa", 384, "ecdsa-sha2-nistp384", 384),
    ("ecdsa", 521, "ecdsa-sha2-nistp521", 521),
    ("rsa", 2048, "ssh-rsa", 2048),
    ("rsa", 3072, "ssh-rsa", 3072),
]
IDS = [f"{k}-{b or ''}" for k, b, _, _ in KINDS]


def keygen(*args, input=None):
    out = subprocess.run(["ssh-keygen", *args], capture_output=True, text=True, timeout=120,
                         input=input)
    assert out.returncode == 0, out.stderr
    return out.stdout


def keygen_fingerprint(path):
    # "256 SHA256:xxxx comment (ED25519)"
    return keygen("-l", "-E", "sha256", "-f", str(path)).split()[1]


@pytest.fixture(scope="module")
def rsa_key():
    return Key.generate("rsa", 2048)


# -- generation and export --------------------------------------------------------------------------

@pytest.mark.parametrize("kind, bits, name, size", KINDS, ids=IDS)
def test_generate(kind, bits, name, size):
    key = Key.generate(kind, bits)
    assert key.type_name == name
    assert key.is_private
    assert key.bits == size
    pub = key.public_key()
    assert not pub.is_private
    assert pub == key and hash(pub) == hash(key)
    assert key.fingerprint().startswith("SHA256:") and len(key.fingerprint()) == 50
    assert key.fingerprint("md5").startswith("MD5:")
    assert key != Key.generate(kind, bits)


@pytest.mark.peer
@pytest.mark.parametrize("kind, bits, name, size", KINDS, ids=IDS)
def test_generated_keys_are_read_by_ssh_keygen(tmp_path, kind, bits, name, size):
    key = Key.generate(kind, bits, comment="made-by-pylibssh")
    path = tmp_path / "id"
    key.write_private_file(path)
    assert (os.stat(path).st_mode & 0o777) == 0o600
    # ssh-keygen -y derives the public key from our private file: same key
    derived = keygen("-y", "-f", str(path)).split()
    assert derived[:2] == key.public_line().split()[:2]
    assert keygen_fingerprint(path) == key.fingerprint()
    key.write_public_file(tmp_path / "id.pub")
    assert keygen_fingerprint(tmp_path / "id.pub") == key.fingerprint()
    assert (tmp_path / "id.pub").read_text().strip().endswith("made-by-pylibssh")


@pytest.mark.peer
@pytest.mark.parametrize("kind, bits, name, size", KINDS[:2] + KINDS[4:5], ids=IDS[:2] + IDS[4:5])
def test_encrypted_export_is_read_by_ssh_keygen(tmp_path, kind, bits, name, size):
    key = Key.generate(kind, bits)
    path = tmp_path / "id"
    key.write_private_file(path, passphrase="s3cret pass")
    assert b"BEGIN OPENSSH PRIVATE KEY" in path.read_bytes()
    derived = keygen("-y", "-P", "s3cret pass", "-f", str(path)).split()
    assert derived[:2] == key.public_line().split()[:2]
    # and ssh-keygen refuses it with a wrong passphrase, as we do
    bad = subprocess.run(["ssh-keygen", "-y", "-P", "wrong", "-f", str(path)],
                         capture_output=True, timeout=60)
    assert bad.returncode != 0
    with pytest.raises(pylibssh.WrongPassphraseError):
        Key.from_private_file(path, passphrase="wrong")
    assert Key.from_private_file(path, passphrase="s3cret pass") == key


@pytest.mark.peer
@pytest.mark.parametrize("kind, bits", [("ecdsa", 256), ("ecdsa", 521), ("rsa", 2048)])
def test_pem_export_is_read_by_ssh_keygen(tmp_path, kind, bits):
    key = Key.generate(kind, bits)
    path = tmp_path / "id"
    key.write_private_file(path, format="pem")
    assert b"-----BEGIN" in path.read_bytes() and b"OPENSSH" not in path.read_bytes()
    assert keygen_fingerprint(path) == key.fingerprint()
    assert Key.from_private_file(path) == key


# -- import of ssh-keygen's keys --------------------------------------------------------------------

KEYGEN_KINDS = [
    ("ed25519", None), ("ecdsa", "256"), ("ecdsa", "384"), ("ecdsa", "521"), ("rsa", "2048"),
    ("rsa", "4096"),
]


@pytest.mark.peer
@pytest.mark.parametrize("fmt", ["openssh", "pem"])
@pytest.mark.parametrize("passphrase", ["", "correct horse"], ids=["plain", "encrypted"])
@pytest.mark.parametrize("kind, bits", KEYGEN_KINDS, ids=[f"{k}{b or ''}" for k, b in KEYGEN_KINDS])
def test_ssh_keygen_keys_load(tmp_path, kind, bits, fmt, passphrase):
    if fmt == "pem" and kind == "ed25519":
        fmt = "pkcs8"  # ssh-keygen writes Ed25519 in PEM only as PKCS#8... or not at all
    path = tmp_path / "id"
    args = ["-q", "-t", kind, "-N", passphrase, "-C", "keygen-comment", "-f", str(path)]
    if bits:
        args += ["-b", bits]
    if fmt != "openssh":
        args += ["-m", fmt.upper()]
    made = subprocess.run(["ssh-keygen", *args], capture_output=True, text=True, timeout=120)
    if made.returncode != 0 and kind == "ed25519" and fmt != "openssh":
        # OpenSSH cannot write Ed25519 keys in PEM/PKCS#8: nothing to import, and that is
        # OpenSSH's documented limit, not ours
        assert "PEM" in made.stderr or "PKCS8" in made.stderr or "format" in made.stderr
        return
    assert made.returncode == 0, made.stderr
    key = Key.from_private_file(path, passphrase=passphrase or None)
    assert key.is_private
    assert key.fingerprint() == keygen_fingerprint(str(path) + ".pub")
    pub = Key.from_public_file(str(path) + ".pub")
    assert pub == key and pub.comment == "keygen-comment"
    if passphrase:
        with pytest.raises(pylibssh.PassphraseRequiredError):
            Key.from_private_file(path)
        with pytest.raises(pylibssh.WrongPassphraseError):
            Key.from_private_file(path, passphrase="not it")


# -- public keys and authorized_keys ----------------------------------------------------------------

def test_public_line_round_trip(rsa_key):
    line = rsa_key.public_line("me@host")
    back = Key.from_public_line(line)
    assert back == rsa_key and back.comment == "me@host" and not back.is_private
    assert back.public_line() == line
    assert Key.from_public_blob(rsa_key.public_blob) == rsa_key


def test_authorized_keys_with_options_and_comments(tmp_path, rsa_key):
    ed = Key.generate("ed25519")
    text = "\n".join([
        "# a comment",
        "",
        f'from="127.0.0.1",command="echo \\"hi there\\"" {ed.public_line("ed key")}',
        f"no-pty {rsa_key.public_line()}",
        rsa_key.public_line("plain"),
    ])
    path = tmp_path / "authorized_keys"
    path.write_text(text + "\n")
    for source in (path, str(path), text, text.splitlines()):
        keys = load_authorized_keys(source)
        assert keys == [ed, rsa_key, rsa_key]
    keys = load_authorized_keys(path)
    assert keys[0].options == 'from="127.0.0.1",command="echo \\"hi there\\""'
    assert keys[0].comment == "ed key"
    assert keys[1].options == "no-pty" and keys[2].comment == "plain"


def test_bad_authorized_keys_line_names_the_line(tmp_path):
    path = tmp_path / "authorized_keys"
    path.write_text(Key.generate().public_line() + "\nssh-ed25519 !!!notbase64\n")
    with pytest.raises(pylibssh.KeyFormatError, match="line 2"):
        load_authorized_keys(path)


def test_authorized_keys_file_that_is_not_utf8(tmp_path):
    """OpenSSH reads the file as bytes: a comment in another encoding (Latin-1 here) keeps its
    key, and a line of bytes that are no key raises KeyFormatError naming its line."""
    key = Key.generate()
    path = tmp_path / "authorized_keys"
    path.write_bytes(key.public_line().encode() + b" Jos\xe9's laptop\n")
    assert load_authorized_keys(path) == [key]
    assert load_authorized_keys(path)[0].comment == "Jos\ufffd's laptop"
    path.write_bytes(key.public_line().encode() + b"\n\xf7\xff\n")
    with pytest.raises(pylibssh.KeyFormatError, match="line 2"):
        load_authorized_keys(path)


# -- bad input: clear exceptions, never a crash -----------------------------------------------------

@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\x00\x01\x02" * 100,
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    ],
)
def test_garbage_private_keys_raise(data):
    with pytest.raises(pylibssh.KeyFormatError):
        Key.from_private_bytes(data)


def test_truncated_private_keys_raise(rsa_key):
    for key in (rsa_key, Key.generate("ed25519"), Key.generate("ecdsa")):
        for fmt in ("openssh",) + (("pem",) if key.type != KeyType.ED25519 else ()):
            data = key.private_bytes(format=fmt)
            lines = data.splitlines()
            cut = b"\n".join(lines[: len(lines) // 2] + lines[-1:]) + b"\n"
            with pytest.raises(pylibssh.KeyFormatError):
                Key.from_private_bytes(cut)
            with pytest.raises(pylibssh.KeyFormatError):
                Key.from_private_bytes(data[: len(data) // 2])


def test_wrong_and_missing_passphrase(rsa_key):
    for fmt in ("openssh", "pem"):
        data = rsa_key.private_bytes(passphrase="pw", format=fmt)
        with pytest.raises(pylibssh.PassphraseRequiredError):
            Key.from_private_bytes(data)
        with pytest.raises(pylibssh.WrongPassphraseError):
            Key.from_private_bytes(data, passphrase="nope")
        assert Key.from_private_bytes(data, passphrase="pw") == rsa_key


@pytest.mark.parametrize(
    "line, error",
    [
        ("ssh-ed25519", pylibssh.KeyFormatError),
        ("ssh-foo AAAAB3NzaC1yc2E= x", pylibssh.KeyFormatError),
        ("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB", pylibssh.KeyFormatError),  # rsa blob, ed name
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==", pylibssh.KeyFormatError),  # truncated
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP==", pylibssh.KeyFormatError),
    ],
)
def test_bad_public_lines_raise(line, error):
    with pytest.raises(error):
        Key.from_public_line(line)


def test_argument_checks():
    with pytest.raises(pylibssh.UnsupportedKeyTypeError):
        Key.generate("dsa")
    with pytest.raises(ValueError):
        Key.generate("rsa", 1024)
    with pytest.raises(ValueError):
        Key.generate("ecdsa", 300)
    with pytest.raises(ValueError):
        Key.generate("ed25519", 512)
    with pytest.raises(pylibssh.KeyFormatError):
        Key.generate().public_key().private_bytes()
    with pytest.raises(ValueError):
        Key.generate().private_bytes(format="der")
    with pytest.raises(FileNotFoundError):
        Key.from_private_file("/nonexistent/key")


def test_key_types_enum():
    assert KeyType.ED25519.ssh_name == "ssh-ed25519"
    assert Key.generate("ecdsa", 384).type is KeyType.ECDSA_P384
