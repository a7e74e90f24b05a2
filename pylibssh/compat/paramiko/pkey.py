"""paramiko's key classes over :class:`pylibssh.keys.Key`.

Loading, exporting and fingerprints are libssh's; signing and verifying (``sign_ssh_data`` /
``verify_ssh_sig``, which libssh does not expose for raw data) use ``cryptography``, which
paramiko itself depends on.
"""

from __future__ import annotations

import base64
import hashlib
import os

from ...errors import KeyFormatError, PassphraseRequiredError, WrongPassphraseError
from ...keys import Key, KeyType
from .message import Message
from .ssh_exception import PasswordRequiredException, SSHException

__all__ = ["PKey", "RSAKey", "ECDSAKey", "Ed25519Key", "PublicBlob", "UnknownKeyType"]


class UnknownKeyType(Exception):
    """An unknown public/private key algorithm was attempted to be read."""

    def __init__(self, key_type=None, key_bytes=None):
        super().__init__(key_type, key_bytes)
        self.key_type = key_type
        self.key_bytes = key_bytes

    def __str__(self):
        return f"UnknownKeyType(type={self.key_type!r}, bytes=<{len(self.key_bytes or b'')}>)"


def _password(password):
    return password.decode() if isinstance(password, bytes) else password


def _load_private(data: bytes | str, password) -> Key:
    try:
        return Key.from_private_bytes(data, _password(password))
    except PassphraseRequiredError as exc:
        raise PasswordRequiredException("private key file is encrypted") from exc
    except WrongPassphraseError as exc:
        raise SSHException(f"{exc.message}. Is the passphrase correct?") from exc
    except KeyFormatError as exc:
        raise SSHException(exc.message) from exc


class PKey:
    """Base class for public keys (a pylibssh :class:`~pylibssh.keys.Key` inside)."""

    #: the SSH key types this class handles (subclasses override)
    name_prefixes: tuple[str, ...] = ()

    def __init__(self, msg=None, data=None, filename=None, password=None, key=None,
                 file_obj=None):
        self.public_blob = None
        if isinstance(key, Key):
            self._lkey = key
        elif filename is not None:
            self._lkey = self._read_file(filename, password)
        elif file_obj is not None:
            self._lkey = _load_private(file_obj.read(), password)
        elif msg is not None or data is not None:
            blob = data if data is not None else msg.get_remainder()
            if msg is not None and data is None:
                blob = _whole_blob(msg)
            try:
                self._lkey = Key.from_public_blob(bytes(blob))
            except KeyFormatError as exc:
                raise SSHException(f"Invalid key: {exc.message}") from exc
        else:
            raise SSHException("no key data given")
        if self.name_prefixes and not self._lkey.type_name.startswith(self.name_prefixes):
            raise SSHException(f"Invalid key type for {type(self).__name__}: "
                               f"{self._lkey.type_name}")

    @staticmethod
    def _read_file(filename, password) -> Key:
        with open(filename, "rb") as f:
            return _load_private(f.read(), password)

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_private_key_file(cls, filename, password=None):
        return _wrap(cls._read_file(filename, password), cls)

    @classmethod
    def from_private_key(cls, file_obj, password=None):
        return _wrap(_load_private(file_obj.read(), password), cls)

    @classmethod
    def from_path(cls, path, passphrase=None):
        return cls.from_private_key_file(os.fspath(os.path.expanduser(str(path))), passphrase)

    @staticmethod
    def from_type_string(key_type, key_bytes):
        try:
            key = Key.from_public_blob(bytes(key_bytes))
        except KeyFormatError:
            raise UnknownKeyType(key_type=key_type, key_bytes=key_bytes) from None
        if key.type_name != key_type:
            raise UnknownKeyType(key_type=key_type, key_bytes=key_bytes)
        return _wrap(key, PKey)

    # -- identity -------------------------------------------------------------------------------

    def asbytes(self):
        return self._lkey.public_blob

    def __bytes__(self):
        return self.asbytes()

    def __eq__(self, other):
        if not isinstance(other, PKey):
            return NotImplemented
        return self.asbytes() == other.asbytes()

    def __hash__(self):
        return hash(self.asbytes())

    def __repr__(self):
        comment = f", comment={self._lkey.comment!r}" if self._lkey.comment else ""
        return f"PKey(alg={self.algorithm_name}, bits={self.get_bits()}, fp={self.fingerprint}{comment})"

    def get_name(self):
        return self._lkey.type_name

    @property
    def algorithm_name(self):
        name = self.get_name()
        if name.startswith("ecdsa"):
            return "ECDSA"
        return {"ssh-rsa": "RSA", "ssh-ed25519": "ED25519", "ssh-dss": "DSS"}.get(name, name)

    def get_bits(self):
        return self._lkey.bits

    def can_sign(self):
        return self._lkey.is_private

    def get_fingerprint(self):
        """The MD5 digest (16 bytes) of the public key blob."""
        return hashlib.md5(self.asbytes()).digest()

    @property
    def fingerprint(self):
        """OpenSSH's ``SHA256:...`` fingerprint."""
        return self._lkey.fingerprint("sha256")

    def get_base64(self):
        return self._lkey.public_base64

    # -- export ---------------------------------------------------------------------------------

    def write_private_key_file(self, filename, password=None):
        """Write the private key (OpenSSH format; encrypted when ``password``) with mode 0600."""
        self._lkey.write_private_file(filename, _password(password))

    def write_private_key(self, file_obj, password=None):
        data = self._lkey.private_bytes(_password(password)).decode()
        file_obj.write(data)

    # -- signatures -----------------------------------------------------------------------------

    def _crypto_private(self):
        from cryptography.hazmat.primitives import serialization

        return serialization.load_ssh_private_key(self._lkey.private_bytes(), None)

    def _crypto_public(self):
        from cryptography.hazmat.primitives import serialization

        return serialization.load_ssh_public_key(
            f"{self.get_name()} {self.get_base64()}".encode())

    def sign_ssh_data(self, data, algorithm=None):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        if not self.can_sign():
            raise SSHException("Not a private key")
        key = self._crypto_private()
        name = self.get_name()
        m = Message()
        if name == "ssh-ed25519":
            m.add_string(name)
            m.add_string(key.sign(data))
        elif name == "ssh-rsa":
            algorithm = algorithm or "ssh-rsa"
            digest = {"ssh-rsa": hashes.SHA1(), "rsa-sha2-256": hashes.SHA256(),
                      "rsa-sha2-512": hashes.SHA512()}[algorithm]
            m.add_string(algorithm)
            m.add_string(key.sign(data, padding.PKCS1v15(), digest))
        else:
            digest = _ECDSA_HASH[name]()
            r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
            inner = Message()
            inner.add_mpint(r)
            inner.add_mpint(s)
            m.add_string(name)
            m.add_string(inner.asbytes())
        return m

    def verify_ssh_sig(self, data, msg):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        algorithm = msg.get_text()
        sig = msg.get_binary()
        key = self._crypto_public()
        name = self.get_name()
        try:
            if name == "ssh-ed25519":
                key.verify(sig, data)
            elif name == "ssh-rsa":
                digest = {"ssh-rsa": hashes.SHA1(), "rsa-sha2-256": hashes.SHA256(),
                          "rsa-sha2-512": hashes.SHA512()}.get(algorithm)
                if digest is None:
                    return False
                key.verify(sig, data, padding.PKCS1v15(), digest)
            else:
                inner = Message(sig)
                r, s = inner.get_mpint(), inner.get_mpint()
                key.verify(utils.encode_dss_signature(r, s), data,
                           ec.ECDSA(_ECDSA_HASH[name]()))
        except InvalidSignature:
            return False
        return True

    def load_certificate(self, value):
        raise SSHException("certificates are not supported by pylibssh.compat.paramiko")


def _hash(name):
    from cryptography.hazmat.primitives import hashes

    return getattr(hashes, name)


class _LazyHashes(dict):
    def __missing__(self, name):
        bits = name.rsplit("nistp", 1)[-1]
        return _hash({"256": "SHA256", "384": "SHA384", "521": "SHA512"}[bits])


_ECDSA_HASH = _LazyHashes()


def _whole_blob(msg: Message) -> bytes:
    # paramiko's PKey(msg=...) reads the key from the message at its position
    return msg.get_remainder()


class RSAKey(PKey):
    name_prefixes = ("ssh-rsa",)

    @staticmethod
    def generate(bits, progress_func=None):
        return RSAKey(key=Key.generate("rsa", bits))


class ECDSAKey(PKey):
    name_prefixes = ("ecdsa-sha2-",)

    @staticmethod
    def generate(curve=None, progress_func=None, bits=None):
        if bits is None and curve is not None:
            bits = getattr(curve, "key_size", 256)
        return ECDSAKey(key=Key.generate("ecdsa", bits or 256))

    def get_bits(self):
        return self._lkey.bits

    @classmethod
    def supported_key_format_identifiers(cls):
        return ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]


class Ed25519Key(PKey):
    name_prefixes = ("ssh-ed25519",)


class PublicBlob:
    """An OpenSSH public key or certificate blob (type name, data, comment)."""

    def __init__(self, type_, blob, comment=None):
        self.key_type = type_
        self.key_blob = blob
        self.comment = comment

    @classmethod
    def from_string(cls, string):
        fields = string.split(None, 2)
        if len(fields) < 2:
            raise ValueError("Not enough fields for public blob: {}".format(fields))
        comment = fields[2] if len(fields) > 2 else None
        return cls(fields[0], base64.b64decode(fields[1]), comment)

    @classmethod
    def from_file(cls, filename):
        with open(filename) as f:
            return cls.from_string(f.read())

    def __str__(self):
        ret = f"{self.key_type} public key/certificate"
        return ret + (f"- {self.comment}" if self.comment else "")

    def __eq__(self, other):
        return isinstance(other, PublicBlob) and (self.key_type, self.key_blob) == (
            other.key_type, other.key_blob)


_CLASSES = {KeyType.RSA: RSAKey, KeyType.ED25519: Ed25519Key, KeyType.ECDSA_P256: ECDSAKey,
            KeyType.ECDSA_P384: ECDSAKey, KeyType.ECDSA_P521: ECDSAKey}


def _wrap(key: Key, cls=PKey) -> PKey:
    """A PKey of the class that matches ``key``'s type (``cls`` when it is more specific)."""
    target = _CLASSES.get(key.type, PKey)
    if cls is not PKey and not issubclass(target, cls):
        raise SSHException(f"Invalid key type for {cls.__name__}: {key.type_name}")
    return target(key=key)


def key_from_pylibssh(key: Key) -> PKey:
    return _wrap(key)
