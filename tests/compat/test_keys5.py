"""paramiko 5's key API as its documentation shows it: ``pkey.PEM``/``pkey.OPENSSH`` for writing,
``PKey.from_path`` (with a ``-cert.pub`` beside the key), ``identifiers``/``from_type_string``,
``private_key``, SHA-2 RSA signatures by default, ``__version__``. OpenSSH's ssh-keygen reads
what is written and makes the certificates."""

from __future__ import annotations

import io
import subprocess

import pytest

from openssh import keygen

DEADLINE = 20


def test_version_is_paramiko_5(paramiko):
    assert paramiko.__version__.split(".")[0] == "5"


def _keygen_reads(path, password=None) -> str:
    args = ["ssh-keygen", "-y", "-f", str(path)]
    if password:
        args[2:2] = ["-P", password]
    return subprocess.run(args, capture_output=True, text=True, timeout=DEADLINE,
                          check=True).stdout.split()[1]


@pytest.mark.parametrize("kind,tag", [("rsa", "RSA"), ("ecdsa", "EC")])
def test_write_private_key_is_pem_by_default(paramiko, tmp_path, kind, tag):
    cls = {"rsa": paramiko.RSAKey, "ecdsa": paramiko.ECDSAKey}[kind]
    key = cls.from_private_key_file(str(keygen(tmp_path / "id", kind)))
    buf = io.StringIO()
    key.write_private_key(buf)
    assert buf.getvalue().startswith(f"-----BEGIN {tag} PRIVATE KEY-----")
    path = tmp_path / "pem"
    key.write_private_key_file(str(path), password="pw")
    text = path.read_text()
    assert text.startswith(f"-----BEGIN {tag} PRIVATE KEY-----") and "ENCRYPTED" in text
    assert (path.stat().st_mode & 0o777) == 0o600
    assert _keygen_reads(path, "pw") == key.get_base64()
    assert cls.from_private_key_file(str(path), password="pw") == key


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_write_private_key_openssh_format(paramiko, tmp_path, kind):
    from paramiko import pkey

    cls = {"rsa": paramiko.RSAKey, "ecdsa": paramiko.ECDSAKey}[kind]
    key = cls.from_private_key_file(str(keygen(tmp_path / "id", kind)))
    path = tmp_path / "out"
    key.write_private_key_file(str(path), file_format=pkey.OPENSSH)
    assert path.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert _keygen_reads(path) == key.get_base64()
    buf = io.StringIO()
    key.write_private_key(buf, password="pw", file_format=pkey.OPENSSH)
    assert buf.getvalue().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert cls.from_private_key(io.StringIO(buf.getvalue()), password="pw") == key


def test_private_key_is_a_cryptography_key(paramiko, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    rsa_key = paramiko.RSAKey.from_private_key_file(str(keygen(tmp_path / "r", "rsa")))
    assert isinstance(rsa_key.private_key, rsa.RSAPrivateKey)
    ec_key = paramiko.ECDSAKey.from_private_key_file(str(keygen(tmp_path / "e", "ecdsa")))
    assert isinstance(ec_key.private_key, ec.EllipticCurvePrivateKey)
    # a cryptography key goes back in through key=
    again = paramiko.RSAKey(key=rsa_key.private_key)
    assert again == rsa_key and again.can_sign()


def test_rsa_signs_with_sha2_512_by_default(paramiko, tmp_path):
    key = paramiko.RSAKey.from_private_key_file(str(keygen(tmp_path / "id", "rsa")))
    sig = key.sign_ssh_data(b"payload")
    msg = paramiko.Message(sig.asbytes())
    assert msg.get_text() == "rsa-sha2-512"
    public = paramiko.PKey.from_type_string("ssh-rsa", key.asbytes())
    assert public.verify_ssh_sig(b"payload", paramiko.Message(sig.asbytes()))
    sha256 = key.sign_ssh_data(b"payload", algorithm="rsa-sha2-256")
    assert paramiko.Message(sha256.asbytes()).get_text() == "rsa-sha2-256"
    assert public.verify_ssh_sig(b"payload", paramiko.Message(sha256.asbytes()))


def test_identifiers_from_type_string_and_str(paramiko, tmp_path):
    assert "rsa-sha2-512" in paramiko.RSAKey.identifiers()
    assert "ssh-rsa" in paramiko.RSAKey.identifiers()
    assert paramiko.ECDSAKey.identifiers() == ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                               "ecdsa-sha2-nistp521"]
    assert paramiko.Ed25519Key.identifiers() == ["ssh-ed25519"]
    ed = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "ed", "ed25519")))
    public = paramiko.PKey.from_type_string("ssh-ed25519", ed.asbytes())
    assert isinstance(public, paramiko.Ed25519Key) and public == ed and not public.can_sign()
    with pytest.raises(paramiko.UnknownKeyType):
        paramiko.PKey.from_type_string("ssh-dss", b"\x00\x00\x00\x07ssh-dss")
    rsa_key = paramiko.RSAKey.from_private_key_file(str(keygen(tmp_path / "r", "rsa")))
    assert str(rsa_key).startswith("\x00\x00\x00\x07ssh-rsa")
    assert "ED25519" in repr(ed)


def test_from_path_with_password_and_certificate(paramiko, tmp_path):
    path = keygen(tmp_path / "id_ed25519", "ed25519", passphrase="pw")
    ca = keygen(tmp_path / "ca", "ed25519")
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "test-cert", "-n", "someone",
                    str(path) + ".pub"], check=True, capture_output=True, timeout=DEADLINE)
    cert_text = (tmp_path / "id_ed25519-cert.pub").read_text()
    # paramiko hands the password to cryptography, which wants bytes
    key = paramiko.PKey.from_path(path, password=b"pw")
    assert isinstance(key, paramiko.Ed25519Key) and key.can_sign()
    assert key.public_blob is not None
    assert key.public_blob.key_type == "ssh-ed25519-cert-v01@openssh.com"
    assert key.public_blob == paramiko.PublicBlob.from_string(cert_text)
    # the certificate's path names the same key
    same = paramiko.PKey.from_path(str(tmp_path / "id_ed25519-cert.pub"), password=b"pw")
    assert same == key and same.public_blob == key.public_blob
    # paramiko lets cryptography's TypeError through; the layer says what is missing
    with pytest.raises((paramiko.PasswordRequiredException, TypeError)):
        paramiko.PKey.from_path(path)
    # load_certificate refuses a certificate of another key type
    rsa_key = paramiko.RSAKey.from_private_key_file(str(keygen(tmp_path / "r", "rsa")))
    with pytest.raises(ValueError):
        rsa_key.load_certificate(cert_text)


def test_agent_key_of_unknown_type_and_fields_equality(paramiko, tmp_path):
    # fabric's tests build AgentKeys from any blob and PKey subclasses that only set _fields
    blob = b"\x00\x00\x00\x0bssh-unknown\x00\x00\x00\x01x"
    key = paramiko.AgentKey(None, blob)
    assert key.get_name() == "ssh-unknown" and key.inner_key is None
    assert key.asbytes() == blob
    ed = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "ed", "ed25519")))
    wrapped = paramiko.AgentKey(None, ed.asbytes())
    assert wrapped.inner_key == ed and wrapped == ed and wrapped.get_bits() == 256

    class Fake(paramiko.PKey):
        def __init__(self, name):
            self._name = name

        @property
        def _fields(self):
            return (self._name,)

    assert Fake("a") == Fake("a") and Fake("a") != Fake("b") and Fake("a") != ed
