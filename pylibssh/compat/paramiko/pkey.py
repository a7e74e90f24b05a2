"""paramiko's key classes (paramiko 5.1's API) over :class:`pylibssh.keys.Key`.

Loading, OpenSSH-format export and fingerprints are libssh's; PEM export, signing and verifying
(``sign_ssh_data`` / ``verify_ssh_sig``, which libssh does not expose for raw data) and
``private_key`` use ``cryptography``, which paramiko itself depends on. OpenSSH certificates
(``load_certificate``, ``-cert.pub`` files beside a key) are kept as paramiko keeps them: the key
stays a plain key and ``public_blob`` holds the certificate, which authentication offers.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import NamedTuple, Optional

from cryptography.hazmat.primitives import serialization

from ...errors import KeyFormatError, PassphraseRequiredError, WrongPassphraseError
from ...keys import Key, KeyType
from .message import Message
from .ssh_exception import PasswordRequiredException, SSHException

__all__ = ["PKey", "RSAKey", "ECDSAKey", "Ed25519Key", "DSSKey", "PublicBlob", "UnknownKeyType",
           "FileFormat", "PEM", "OPENSSH"]

_CERT_SUFFIX = "-cert-v01@openssh.com"


class UnknownKeyType(Exception):
    """An unknown public/private key algorithm was attempted to be read."""

    def __init__(self, key_type=None, key_bytes=None):
        super().__init__(key_type, key_bytes)
        self.key_type = key_type
        self.key_bytes = key_bytes

    def __str__(self):
        return f"UnknownKeyType(type={self.key_type!r}, bytes=<{len(self.key_bytes or b'')}>)"


class FileFormat(NamedTuple):
    """A private-key file format: ``cryptography``'s format and encoding (paramiko 4+)."""

    format: serialization.PrivateFormat
    encoding: serialization.Encoding


#: PEM (``BEGIN RSA/EC PRIVATE KEY``), paramiko's default for writing keys
PEM = FileFormat(format=serialization.PrivateFormat.TraditionalOpenSSL,
                 encoding=serialization.Encoding.PEM)
#: OpenSSH's own format (``BEGIN OPENSSH PRIVATE KEY``)
OPENSSH = FileFormat(format=serialization.PrivateFormat.OpenSSH,
                     encoding=serialization.Encoding.PEM)


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


def _from_crypto(obj) -> Key:
    """A pylibssh Key from a ``cryptography`` private or public key object."""
    if hasattr(obj, "private_bytes"):
        return Key.from_private_bytes(obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption()))
    return Key.from_public_line(obj.public_bytes(serialization.Encoding.OpenSSH,
                                                 serialization.PublicFormat.OpenSSH))


def _plain_blob(blob: bytes) -> tuple[bytes, bytes | None]:
    """(the plain public key blob, the certificate blob or None) of a key or certificate blob:
    a certificate's key fields follow its nonce (PROTOCOL.certkeys)."""
    m = Message(blob)
    type_ = m.get_text()
    if not type_.endswith(_CERT_SUFFIX):
        return blob, None
    m.get_string()  # nonce
    plain = Message()
    plain.add_string(type_[: -len(_CERT_SUFFIX)])
    nfields = {"ssh-rsa": 2, "ssh-ed25519": 1}.get(type_[: -len(_CERT_SUFFIX)], 2)
    for _ in range(nfields):  # RSA: e, n; Ed25519: pk; ECDSA: curve, Q (all strings/mpints)
        plain.add_string(m.get_binary())
    return plain.asbytes(), blob


class PKey:
    """Base class for public keys (a pylibssh :class:`~pylibssh.keys.Key` inside).

    ``PKey(msg=..., data=...)`` reads a public key (or certificate) blob; the subclasses'
    ``filename=``/``file_obj=`` (with ``password=``) read private keys in OpenSSH or PEM format,
    and ``key=`` takes a ``cryptography`` key object or a pylibssh Key. Raises
    :class:`SSHException` for data that is not a key of the class,
    :class:`PasswordRequiredException` for an encrypted key without password.
    """

    #: the SSH key types this class handles (subclasses override)
    name_prefixes: tuple[str, ...] = ()

    def __init__(self, msg=None, data=None, filename=None, password=None, key=None,
                 file_obj=None):
        self.public_blob = None
        self._crypto = None
        if isinstance(key, Key):
            self._lkey = key
        elif key is not None:
            self._lkey = _from_crypto(key)
        elif filename is not None:
            self._lkey = self._read_file(filename, password)
        elif file_obj is not None:
            self._lkey = _load_private(file_obj.read(), password)
        elif msg is not None or data is not None:
            if data is None:
                msg.rewind()
                data = msg.asbytes()
            plain, cert = _plain_blob(bytes(data))
            try:
                self._lkey = Key.from_public_blob(plain)
            except KeyFormatError as exc:
                raise SSHException(f"Invalid key: {exc.message}") from exc
            if cert is not None:
                self.load_certificate(Message(cert))
        else:
            raise SSHException("Key object may not be empty")
        if self.name_prefixes and not self._lkey.type_name.startswith(self.name_prefixes):
            raise SSHException(f"Invalid key (class: {type(self).__name__}, data type: "
                               f"{self._lkey.type_name})")

    @staticmethod
    def _read_file(filename, password) -> Key:
        with open(filename, "rb") as f:
            return _load_private(f.read(), password)

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_private_key_file(cls, filename, password=None):
        """The private key in ``filename`` (OpenSSH or PEM format), as an instance of the class
        that matches its type. Raises OSError, :class:`PasswordRequiredException`, or
        :class:`SSHException` for an invalid file or wrong password."""
        return _wrap(cls._read_file(filename, password), cls)

    @classmethod
    def from_private_key(cls, file_obj, password=None):
        """As :meth:`from_private_key_file`, from a file object."""
        return _wrap(_load_private(file_obj.read(), password), cls)

    @staticmethod
    def from_path(path, password: Optional[str] = None):
        """The key at ``path`` (``~`` expanded), of the class for its type, with the
        certificate ``<path>-cert.pub`` loaded when that file exists; ``path`` may also name the
        certificate, the key being beside it. Raises :class:`UnknownKeyType` for a key type
        this layer does not know, and as :meth:`from_private_key_file`."""
        path = str(path)
        cert_suffix = "-cert.pub"
        if path.endswith(cert_suffix):
            key_path, cert_path = path[: -len(cert_suffix)], path
        else:
            key_path, cert_path = path, path + cert_suffix
        key_path = Path(key_path).expanduser()
        cert_path = Path(cert_path).expanduser()
        data = key_path.read_bytes()
        lkey = _load_private(data, password)
        if lkey.type not in _CLASSES:
            raise UnknownKeyType(key_type=lkey.type_name, key_bytes=data)
        key = _wrap(lkey)
        if cert_path.exists():
            key.load_certificate(str(cert_path))
        return key

    @staticmethod
    def from_type_string(key_type, key_bytes, password=None):
        """The key of type ``key_type`` (e.g. ``"ssh-ed25519"``) from its public blob, as the
        class of ``paramiko.key_classes`` that lists the type in its :meth:`identifiers`.
        Raises :class:`UnknownKeyType` when no class does."""
        from . import key_classes

        for key_class in key_classes:
            if key_type in key_class.identifiers():
                return key_class(data=key_bytes, password=password)
        raise UnknownKeyType(key_type=key_type, key_bytes=key_bytes)

    @classmethod
    def identifiers(cls):
        """The key-format names this class reads."""
        return [cls.name]

    # -- identity -------------------------------------------------------------------------------

    def asbytes(self):
        """The public key blob (SSH wire format)."""
        lkey = getattr(self, "_lkey", None)
        return lkey.public_blob if lkey is not None else b""

    def __bytes__(self):
        return self.asbytes()

    @property
    def _fields(self):
        """What equality compares (paramiko's hook; subclasses may override it)."""
        return (self.get_name(), self.asbytes())

    def __eq__(self, other):
        return isinstance(other, PKey) and self._fields == other._fields

    def __hash__(self):
        fields = self._fields
        return hash(tuple(fields) if isinstance(fields, list) else fields)

    def __repr__(self):
        comment = ""
        if getattr(self, "comment", None):
            comment = f", comment={self.comment!r}"
        elif self._lkey is not None and self._lkey.comment:
            comment = f", comment={self._lkey.comment!r}"
        return f"PKey(alg={self.algorithm_name}, bits={self.get_bits()}, fp={self.fingerprint}{comment})"  # noqa: E501

    def get_name(self):
        """The key's SSH type name (``ssh-rsa``, ``ssh-ed25519``, ``ecdsa-sha2-nistp256``)."""
        return self._lkey.type_name

    @property
    def algorithm_name(self):
        """The algorithm as OpenSSH prints it: ``RSA``, ``ED25519``, ``ECDSA``."""
        name = self.get_name().replace("ssh-", "")
        if _CERT_SUFFIX in name:
            return name.replace(_CERT_SUFFIX, "-cert").upper()
        return name.split("-")[0].upper()

    def get_bits(self):
        """The key's size in bits."""
        return self._lkey.bits

    def can_sign(self):
        """True when the private half is here."""
        return self._lkey.is_private

    def get_fingerprint(self):
        """The MD5 digest (16 bytes) of the public key blob."""
        return hashlib.md5(self.asbytes()).digest()

    @property
    def fingerprint(self):
        """OpenSSH's ``SHA256:...`` fingerprint."""
        return self._lkey.fingerprint("sha256")

    def get_base64(self):
        """The public key as the base64 blob of an ``authorized_keys`` line."""
        return self._lkey.public_base64

    # -- export ---------------------------------------------------------------------------------

    @property
    def private_key(self):
        """The private key as a ``cryptography`` key object (None for a public key)."""
        if not self._lkey.is_private:
            return None
        if self._crypto is None:
            self._crypto = serialization.load_ssh_private_key(self._lkey.private_bytes(), None)
        return self._crypto

    def _private_text(self, password, file_format) -> str:
        if not self.can_sign():
            raise SSHException("Not a private key")
        if file_format == OPENSSH or (file_format == PEM and self._lkey.type == KeyType.ED25519):
            # libssh's own writer; Ed25519 has no PEM form (paramiko 5.1 cannot write one)
            return self._lkey.private_bytes(_password(password)).decode()
        if password is None:
            encryption = serialization.NoEncryption()
        else:
            encryption = serialization.BestAvailableEncryption(
                password if isinstance(password, bytes) else str(password).encode())
        return self.private_key.private_bytes(file_format.encoding, file_format.format,
                                              encryption).decode()

    def write_private_key_file(self, filename, password=None, file_format: FileFormat = PEM):
        """Write the private key to ``filename``, created with mode 0600: PEM by default (RSA,
        ECDSA; Ed25519 keys in OpenSSH's format), or ``file_format=OPENSSH``; encrypted when
        ``password`` is given. Raises OSError, or :class:`SSHException` for a public key."""
        text = self._private_text(password, file_format)
        fd = os.open(filename, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def write_private_key(self, file_obj, password=None, file_format: FileFormat = PEM):
        """As :meth:`write_private_key_file`, into a text file object."""
        file_obj.write(self._private_text(password, file_format))

    # -- signatures -----------------------------------------------------------------------------

    def _crypto_public(self):
        return serialization.load_ssh_public_key(
            f"{self.get_name()} {self.get_base64()}".encode())

    def sign_ssh_data(self, data, algorithm=None):
        """An SSH signature :class:`Message` of ``data``: RSA keys sign with ``algorithm``
        (``rsa-sha2-512`` by default, or ``rsa-sha2-256``). Raises :class:`SSHException` for a
        public key, KeyError for an RSA algorithm other than those."""
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        if not self.can_sign():
            raise SSHException("Not a private key")
        key = self.private_key
        name = self.get_name()
        m = Message()
        if name == "ssh-ed25519":
            m.add_string(name)
            m.add_string(key.sign(data))
        elif name == "ssh-rsa":
            algorithm = algorithm or "rsa-sha2-512"
            digest = RSAKey.HASHES[algorithm]()
            m.add_string(algorithm.replace(_CERT_SUFFIX, ""))
            m.add_string(key.sign(data, padding.PKCS1v15(), digest))
        else:
            r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(_ecdsa_hash(name))))
            inner = Message()
            inner.add_mpint(r)
            inner.add_mpint(s)
            m.add_string(name)
            m.add_string(inner.asbytes())
        return m

    def verify_ssh_sig(self, data, msg):
        """Whether ``msg`` (an SSH signature :class:`Message`) signs ``data`` with this key
        (RSA: ``rsa-sha2-256``/``-512`` only, as paramiko 5)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

        algorithm = msg.get_text()
        sig = msg.get_binary()
        key = self._crypto_public()
        name = self.get_name()
        try:
            if name == "ssh-ed25519":
                if algorithm != name:
                    return False
                key.verify(sig, data)
            elif name == "ssh-rsa":
                if algorithm not in RSAKey.HASHES:
                    return False
                short = key.key_size - len(sig) * 8  # some signers do not pad
                if short > 0:
                    sig = b"\x00" * ((short + 7) // 8) + sig
                key.verify(sig, data, padding.PKCS1v15(), RSAKey.HASHES[algorithm]())
            else:
                if algorithm != name:
                    return False
                inner = Message(sig)
                r, s = inner.get_mpint(), inner.get_mpint()
                key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(_ecdsa_hash(name)))
        except InvalidSignature:
            return False
        return True

    # -- certificates ---------------------------------------------------------------------------

    def load_certificate(self, value):
        """Attach an OpenSSH certificate for this key: a ``-cert.pub`` file's path or text, or a
        :class:`Message` of the blob. Authentication then offers the certificate. Raises
        ValueError when the certificate is for another key type."""
        if isinstance(value, Message):
            blob = PublicBlob.from_message(value)
        elif os.path.isfile(value):
            blob = PublicBlob.from_file(value)
        else:
            blob = PublicBlob.from_string(value)
        if not blob.key_type.startswith(self.get_name()):
            raise ValueError(f"PublicBlob type {blob.key_type} incompatible with key type "
                             f"{self.get_name()}")
        self.public_blob = blob


def _ecdsa_hash(name):
    from cryptography.hazmat.primitives import hashes

    bits = name.rsplit("nistp", 1)[-1]
    return {"256": hashes.SHA256, "384": hashes.SHA384, "521": hashes.SHA512}[bits]()


def _hashes():
    from cryptography.hazmat.primitives import hashes

    return {"rsa-sha2-256": hashes.SHA256, "rsa-sha2-256" + _CERT_SUFFIX: hashes.SHA256,
            "rsa-sha2-512": hashes.SHA512, "rsa-sha2-512" + _CERT_SUFFIX: hashes.SHA512}


class RSAKey(PKey):
    """An RSA key (``ssh-rsa``); signatures are SHA-2 (``rsa-sha2-512`` by default)."""

    name = "ssh-rsa"
    name_prefixes = ("ssh-rsa",)
    HASHES = _hashes()

    @classmethod
    def identifiers(cls):
        """The algorithm names an RSA key signs with (``rsa-sha2-512``, ``rsa-sha2-256``, ``ssh-
        rsa``) and its certificate type."""
        return list(cls.HASHES.keys()) + ["ssh-rsa", "ssh-rsa" + _CERT_SUFFIX]

    @property
    def size(self):
        """The modulus's size in bits (as :meth:`get_bits`)."""
        return self.get_bits()

    def __str__(self):
        return self.asbytes().decode("utf8", errors="ignore")

    @staticmethod
    def generate(bits, progress_func=None):
        """A new RSA private key of ``bits`` bits."""
        return RSAKey(key=Key.generate("rsa", bits))


class ECDSAKey(PKey):
    """An ECDSA key on NIST P-256, P-384 or P-521."""

    name_prefixes = ("ecdsa-sha2-",)

    def __init__(self, msg=None, data=None, filename=None, password=None, vals=None,
                 file_obj=None, validate_point=True, key=None):
        if vals is not None:
            key = vals[0] if vals[0] is not None else vals[1]
        super().__init__(msg=msg, data=data, filename=filename, password=password, key=key,
                         file_obj=file_obj)

    @staticmethod
    def generate(curve=None, progress_func=None, bits=None):
        """A new ECDSA private key: ``bits`` 256/384/521, or a ``cryptography`` curve."""
        if bits is None and curve is not None:
            bits = getattr(curve, "key_size", 256)
        return ECDSAKey(key=Key.generate("ecdsa", bits or 256))

    @classmethod
    def identifiers(cls):
        """The ECDSA key types: ``ecdsa-sha2-nistp256``, ``-nistp384``, ``-nistp521``."""
        return ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]

    @classmethod
    def supported_key_format_identifiers(cls):
        """As :meth:`identifiers`."""
        return cls.identifiers()

    def __str__(self):
        # paramiko 5.1 returns the blob's bytes here (so str() raises): the text, as RSAKey's
        return self.asbytes().decode("utf8", errors="ignore")


class Ed25519Key(PKey):
    """An Ed25519 key (``ssh-ed25519``)."""

    name = "ssh-ed25519"
    name_prefixes = ("ssh-ed25519",)


class DSSKey(PKey):
    """DSA keys, which paramiko 4 removed and libssh does not support: the class exists so
    that libraries written for older paramiko (pysftp imports it) load; reading a key raises
    :class:`SSHException`."""

    name = "ssh-dss"

    def __init__(self, msg=None, data=None, filename=None, password=None, vals=None,
                 file_obj=None):
        raise SSHException("DSA (ssh-dss) keys are not supported")

    @staticmethod
    def generate(bits=1024, progress_func=None):
        """Raises :class:`~pylibssh.compat.paramiko.ssh_exception.SSHException`: DSA keys are not
        supported (paramiko 4 removed them; the class exists so that older code imports)."""
        raise SSHException("DSA (ssh-dss) keys are not supported")


class PublicBlob:
    """An OpenSSH public key or certificate blob (type name, data, comment)."""

    def __init__(self, type_, blob, comment=None):
        self.key_type = type_
        self.key_blob = blob
        self.comment = comment

    @classmethod
    def from_file(cls, filename):
        """From a ``-cert.pub``-style file."""
        with open(filename) as f:
            return cls.from_string(f.read())

    @classmethod
    def from_string(cls, string):
        """From a ``-cert.pub``-style line. Raises ValueError when it is not one or its type
        field does not match the blob's."""
        fields = string.split(None, 2)
        if len(fields) < 2:
            raise ValueError("Not enough fields for public blob: {}".format(fields))
        key_type = fields[0]
        key_blob = base64.b64decode(fields[1])
        comment = fields[2].strip() if len(fields) > 2 else None
        blob_type = Message(key_blob).get_text()
        if blob_type != key_type:
            raise ValueError(f"Invalid PublicBlob contents: key type={key_type!r}, but blob "
                             f"type={blob_type!r}")
        return cls(type_=key_type, blob=key_blob, comment=comment)

    @classmethod
    def from_message(cls, message):
        """From a :class:`Message` holding the blob."""
        type_ = message.get_text()
        return cls(type_=type_, blob=message.asbytes())

    def __str__(self):
        ret = f"{self.key_type} public key/certificate"
        return ret + (f"- {self.comment}" if self.comment else "")

    def __eq__(self, other):
        return bool(self and other and self.key_blob == other.key_blob)

    def __ne__(self, other):
        return not self == other


_CLASSES = {KeyType.RSA: RSAKey, KeyType.ED25519: Ed25519Key, KeyType.ECDSA_P256: ECDSAKey,
            KeyType.ECDSA_P384: ECDSAKey, KeyType.ECDSA_P521: ECDSAKey}


def _wrap(key: Key, cls=PKey) -> PKey:
    """A PKey of the class that matches ``key``'s type (``cls`` when it is more specific)."""
    target = _CLASSES.get(key.type, PKey)
    if cls is not PKey:
        if issubclass(cls, target):
            target = cls  # an application's subclass of the key's class
        elif not issubclass(target, cls):
            raise SSHException(f"Invalid key type for {cls.__name__}: {key.type_name}")
    return target(key=key)


def key_from_pylibssh(key: Key) -> PKey:
    """The paramiko key object (``RSAKey``, ``ECDSAKey``, ``Ed25519Key``, or ``PKey``) around a
    :class:`pylibssh.Key`."""
    return _wrap(key)
