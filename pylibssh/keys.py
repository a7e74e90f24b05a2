"""SSH keys: generate, import, export, fingerprint and compare.

A :class:`Key` owns one libssh ``ssh_key``. Private keys are read in OpenSSH's format and in PEM
(PKCS#1, SEC1, PKCS#8), encrypted or not; public keys as OpenSSH lines (``authorized_keys``,
``*.pub``). Fingerprints use OpenSSH's ``SHA256:...`` form.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import re
import struct
from collections.abc import Iterable
from typing import Union

from ._binding import NULL, CData, to_bytes
from ._binding import keys as c_keys
from ._binding.constants import (
    SSH_FILE_FORMAT_OPENSSH, SSH_FILE_FORMAT_PEM, SSH_KEYTYPE_ECDSA_P256, SSH_KEYTYPE_ECDSA_P384,
    SSH_KEYTYPE_ECDSA_P521, SSH_KEYTYPE_ED25519, SSH_KEYTYPE_RSA, SSH_KEYTYPE_UNKNOWN)
from .errors import (
    KeyFormatError,
    PassphraseRequiredError,
    UnsupportedKeyTypeError,
    WrongPassphraseError,
)

__all__ = ["Key", "KeyType", "load_authorized_keys", "parse_public_key_line"]

PathLike = Union[str, "os.PathLike[str]"]
Passphrase = Union[str, bytes, None]


class KeyType(enum.IntEnum):
    """libssh's key types that pylibssh generates and uses."""

    RSA = SSH_KEYTYPE_RSA
    ECDSA_P256 = SSH_KEYTYPE_ECDSA_P256
    ECDSA_P384 = SSH_KEYTYPE_ECDSA_P384
    ECDSA_P521 = SSH_KEYTYPE_ECDSA_P521
    ED25519 = SSH_KEYTYPE_ED25519

    @property
    def ssh_name(self) -> str:
        """The key type's name in SSH, e.g. ``ssh-ed25519``, ``ecdsa-sha2-nistp256``, ``ssh-rsa``
        (libssh's ``ssh_key_type_to_char``)."""
        return c_keys.type_name(self)


# the names users pass to Key.generate (OpenSSH's `ssh-keygen -t` spellings and the wire names)
_GENERATE_NAMES = {
    "ed25519": KeyType.ED25519,
    "ssh-ed25519": KeyType.ED25519,
    "rsa": KeyType.RSA,
    "ssh-rsa": KeyType.RSA,
    "ecdsa": KeyType.ECDSA_P256,
    "ecdsa-sha2-nistp256": KeyType.ECDSA_P256,
    "ecdsa-sha2-nistp384": KeyType.ECDSA_P384,
    "ecdsa-sha2-nistp521": KeyType.ECDSA_P521,
}
_ECDSA_BITS = {256: KeyType.ECDSA_P256, 384: KeyType.ECDSA_P384, 521: KeyType.ECDSA_P521}
_FIXED_BITS: dict[int, int] = {
    KeyType.ED25519: 256,
    KeyType.ECDSA_P256: 256,
    KeyType.ECDSA_P384: 384,
    KeyType.ECDSA_P521: 521,
}
_FORMATS = {"openssh": SSH_FILE_FORMAT_OPENSSH, "pem": SSH_FILE_FORMAT_PEM}
_OPENSSH_MAGIC = b"openssh-key-v1\0"


class Key:
    """An SSH key pair or public key.

    Create one with :meth:`generate`, :meth:`from_private_bytes`, :meth:`from_private_file`,
    :meth:`from_public_line` or :meth:`from_public_file`. Keys compare equal when their public
    halves are equal, so a private key equals its own public key.
    """

    # (_sha256: the SHA256 fingerprint once computed; a key's public half never changes)
    __slots__ = ("_key", "comment", "options", "_sha256", "__weakref__")

    def __init__(self, _key: CData, comment: str | None = None, options: str | None = None):
        # private constructor: takes ownership of an ssh_key cdata
        if _key == NULL:
            raise KeyFormatError("no key")
        self._key = c_keys.own(_key)
        self.comment = comment
        self.options = options
        self._sha256: str | None = None

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def generate(cls, kind: str | KeyType = "ed25519", bits: int | None = None,
                 comment: str | None = None) -> Key:
        """A new key pair: ``ed25519`` (default), ``ecdsa`` (bits 256/384/521) or ``rsa``
        (bits >= 2048, default 3072)."""
        if isinstance(kind, KeyType):
            ktype = kind
        else:
            try:
                ktype = _GENERATE_NAMES[str(kind).lower()]
            except KeyError:
                raise UnsupportedKeyTypeError(
                    f"cannot generate {kind!r} keys; use one of: ed25519, ecdsa, rsa"
                ) from None
        if ktype in (KeyType.ECDSA_P256, KeyType.ECDSA_P384, KeyType.ECDSA_P521):
            if bits is not None:
                if bits not in _ECDSA_BITS:
                    raise ValueError(f"ECDSA keys have 256, 384 or 521 bits, not {bits}")
                ktype = _ECDSA_BITS[bits]
        elif ktype == KeyType.ED25519:
            if bits not in (None, 256):
                raise ValueError("Ed25519 keys have a fixed size (256 bits)")
        elif ktype == KeyType.RSA:
            bits = 3072 if bits is None else bits
            if bits < 2048 or bits > 16384:
                raise ValueError(f"RSA keys must have 2048 to 16384 bits, not {bits}")

        key = c_keys.generate(int(ktype), bits if ktype == KeyType.RSA else None)
        if key is None:
            raise KeyFormatError(f"libssh could not generate a {ktype.ssh_name} key")
        return cls(key, comment=comment)

    @classmethod
    def from_private_bytes(cls, data: str | bytes, passphrase: Passphrase = None) -> Key:
        """Import a private key in OpenSSH or PEM format, decrypting it with ``passphrase``."""
        text = data.encode() if isinstance(data, str) else bytes(data)
        text = text.strip()
        encrypted = _looks_encrypted(text) if b"\0" not in text else None
        if encrypted is None:
            raise KeyFormatError(
                "not a private key: expected an OpenSSH (BEGIN OPENSSH PRIVATE KEY) or PEM "
                "(BEGIN ... PRIVATE KEY) block"
            )
        if encrypted and passphrase is None:
            raise PassphraseRequiredError("the private key is encrypted: a passphrase is needed")
        # never pass NULL: libssh would then let OpenSSL prompt on the terminal
        secret = to_bytes(passphrase, "passphrase") if passphrase is not None else b""
        imported = c_keys.import_private(text, secret)
        if imported is None:
            if encrypted:
                raise WrongPassphraseError("wrong passphrase, or the encrypted key is corrupt")
            raise KeyFormatError("libssh could not read the private key (corrupt, truncated or "
                                 "of an unsupported type)")
        key = cls(imported)
        if not c_keys.is_private(key._key):
            raise KeyFormatError("the data holds no private key")
        return key

    @classmethod
    def from_private_file(cls, path: PathLike, passphrase: Passphrase = None) -> Key:
        """Load a private key from a file in OpenSSH or PEM format, encrypted or not (see
        :meth:`from_private_bytes`). ``passphrase`` (default None) decrypts it.

        Raises :class:`OSError` when the file cannot be read, and the
        :class:`~pylibssh.errors.KeyFormatError` subclasses of :meth:`from_private_bytes`
        (``WrongPassphraseError``, ``PassphraseRequiredError``, ``UnsupportedKeyTypeError``), their
        message starting with the path."""
        with open(path, "rb") as f:
            data = f.read()
        return cls._from_file_data(path, data, passphrase)

    @classmethod
    def _from_file_data(cls, path: PathLike, data: bytes, passphrase: Passphrase) -> Key:
        # from_private_bytes with the errors of from_private_file (their message names the file)
        try:
            return cls.from_private_bytes(data, passphrase)
        except KeyFormatError as exc:
            raise type(exc)(f"{os.fspath(path)}: {exc.message}") from None

    @classmethod
    def from_public_line(cls, line: str | bytes) -> Key:
        """Import an OpenSSH public key line: ``[options] type base64 [comment]``."""
        parsed = parse_public_key_line(line)
        if parsed is None:
            raise KeyFormatError("not a public key line (expected 'type base64 [comment]')")
        options, type_name, b64, comment = parsed
        return cls._from_public_base64(type_name, b64, comment, options)

    @classmethod
    def from_public_blob(cls, blob: bytes, comment: str | None = None) -> Key:
        """Import a public key from its SSH wire encoding."""
        type_name = _blob_type(blob)
        return cls._from_public_base64(type_name, base64.b64encode(blob).decode(), comment, None)

    @classmethod
    def from_public_file(cls, path: PathLike) -> Key:
        """Import the first public key of a ``.pub`` or ``authorized_keys`` file."""
        keys = load_authorized_keys(path)
        if not keys:
            raise KeyFormatError(f"{os.fspath(path)}: no public key found")
        return keys[0]

    @classmethod
    def _from_public_base64(cls, type_name: str, b64: str, comment: str | None,
                            options: str | None) -> Key:
        ktype = c_keys.type_from_name(type_name)
        if ktype == SSH_KEYTYPE_UNKNOWN:
            raise UnsupportedKeyTypeError(f"unsupported key type {type_name!r}")
        try:
            blob = base64.b64decode(b64, validate=True)
        except ValueError:
            raise KeyFormatError("the public key's base64 is invalid") from None
        if _blob_type(blob) != type_name:
            raise KeyFormatError(f"the key data is not a {type_name} key")
        key = c_keys.import_public(b64, ktype, certificate="-cert-" in type_name)
        if key is None:
            raise KeyFormatError(f"libssh could not read the {type_name} public key")
        return cls(key, comment=comment, options=options)

    # -- properties ------------------------------------------------------------------------------

    @property
    def type(self) -> KeyType | int:
        """The key's :class:`KeyType` (a plain int for a type this binding has no name for)."""
        t = c_keys.key_type(self._key)
        try:
            return KeyType(t)
        except ValueError:
            return t

    @property
    def type_name(self) -> str:
        """The SSH name of the key type, e.g. ``ssh-ed25519``, ``ecdsa-sha2-nistp256``."""
        return c_keys.type_name(c_keys.key_type(self._key))

    @property
    def is_private(self) -> bool:
        """True when the key holds its private part (loaded from a private key or generated), False
        for a public key."""
        return c_keys.is_private(self._key)

    @property
    def bits(self) -> int:
        """The key's size in bits: 256 for Ed25519, the curve's size for ECDSA (256, 384, 521), the
        modulus's for RSA; 0 when unknown."""
        fixed = _FIXED_BITS.get(self.type)
        if fixed:
            return fixed
        if self.type == KeyType.RSA:
            fields = _read_strings(self.public_blob, 3)  # type, e, n
            return int.from_bytes(fields[2], "big").bit_length()
        return 0

    @property
    def public_base64(self) -> str:
        """The public key as the base64 blob of an ``authorized_keys`` line (without type or
        comment). Raises :class:`~pylibssh.errors.KeyFormatError` if libssh cannot export it."""
        exported = c_keys.export_public_base64(self._key)
        if exported is None:
            raise KeyFormatError("libssh could not export the public key")
        return exported

    @property
    def public_blob(self) -> bytes:
        """The public key in SSH wire encoding (what fingerprints hash)."""
        return base64.b64decode(self.public_base64)

    def public_key(self) -> Key:
        """The public half as its own key (a public key returns a copy of itself)."""
        public = c_keys.export_public(self._key)
        if public is None:
            raise KeyFormatError("libssh could not derive the public key")
        return Key(public, comment=self.comment)

    def public_line(self, comment: str | None = None) -> str:
        """The OpenSSH public key line (``type base64 [comment]``), as in ``*.pub`` files."""
        comment = self.comment if comment is None else comment
        line = f"{self.type_name} {self.public_base64}"
        return f"{line} {comment}" if comment else line

    def fingerprint(self, hash: str = "sha256") -> str:
        """OpenSSH's fingerprint: ``SHA256:<base64>`` (default) or ``MD5:aa:bb:...``."""
        if hash.lower() == "sha256":
            if self._sha256 is None:
                digest = hashlib.sha256(self.public_blob).digest()
                self._sha256 = "SHA256:" + base64.b64encode(digest).decode().rstrip("=")
            return self._sha256
        blob = self.public_blob
        if hash.lower() == "md5":
            hexed = hashlib.md5(blob, usedforsecurity=False).hexdigest()
            return "MD5:" + ":".join(hexed[i:i + 2] for i in range(0, len(hexed), 2))
        raise ValueError(f"unknown fingerprint hash {hash!r}; use 'sha256' or 'md5'")

    # -- export ----------------------------------------------------------------------------------

    def private_bytes(self, passphrase: Passphrase = None, format: str = "openssh") -> bytes:
        """The private key as text: OpenSSH format (default) or ``pem``, encrypted when a
        passphrase is given."""
        if not self.is_private:
            raise KeyFormatError("this is a public key; it has no private part to export")
        try:
            fmt = _FORMATS[format.lower()]
        except KeyError:
            raise ValueError(f"unknown key format {format!r}; use 'openssh' or 'pem'") from None
        secret = to_bytes(passphrase, "passphrase") if passphrase else None
        text = c_keys.export_private(self._key, secret, fmt)
        if text is None:
            raise UnsupportedKeyTypeError(
                f"libssh could not export this {self.type_name} key in {format} format"
            )
        return text.encode() if text.endswith("\n") else (text + "\n").encode()

    def write_private_file(self, path: PathLike, passphrase: Passphrase = None,
                           format: str = "openssh") -> None:
        """Write the private key to ``path`` with mode 0600 (never readable by others, even
        briefly)."""
        data = self.private_bytes(passphrase, format)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)

    def write_public_file(self, path: PathLike, comment: str | None = None) -> None:
        """Write the public key as one OpenSSH line (``type base64 [comment]``, see
        :meth:`public_line`) to ``path``, replacing the file. ``comment`` defaults to none.
        Raises :class:`OSError` when the file cannot be written."""
        with open(path, "w") as f:
            f.write(self.public_line(comment) + "\n")

    # -- comparison ------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return c_keys.same_public(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.public_blob)

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        return f"<pylibssh.Key {self.type_name} {kind} {self.fingerprint()}>"

    def _dup(self) -> CData:
        """A new ssh_key copy for libssh APIs that take ownership of the key they are given."""
        return c_keys.dup(self._key)


# -- helpers ---------------------------------------------------------------------------------------

_KEY_TYPE_RE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+|ssh-dss|"
    r"[a-z0-9-]+-cert-v01@openssh\.com)$"
)


def parse_public_key_line(line: str | bytes) -> tuple[str | None, str, str, str | None] | None:
    """Split an OpenSSH public key line into (options, type, base64, comment).

    Returns None for blank lines and comments. Options (``authorized_keys`` only) may contain
    quoted spaces.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n and len(tokens) < 4:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start, quoted = i, False
        while i < n and (quoted or line[i] not in " \t"):
            if line[i] == '"':
                quoted = not quoted
            elif line[i] == "\\" and quoted:
                i += 1
            i += 1
        tokens.append(line[start:i])
        if len(tokens) in (2, 3) and _KEY_TYPE_RE.match(tokens[-2]):
            # type and base64 found: the rest of the line is the comment
            rest = line[i:].strip()
            options = tokens[0] if len(tokens) == 3 else None
            return options, tokens[-2], tokens[-1], rest or None
    return None


def load_authorized_keys(source: PathLike | str | Iterable[str]) -> list[Key]:
    """Every public key in an ``authorized_keys`` file (a path, its text, or lines).

    Lines that are not keys raise :class:`KeyFormatError` naming the line number. A file is
    read as UTF-8, bytes that are not replaced (key lines are ASCII; a comment may be in any
    encoding, as OpenSSH allows).
    """
    if isinstance(source, (str, os.PathLike)) and (
        not isinstance(source, str) or ("\n" not in source and os.path.exists(source))
    ):
        with open(source, encoding="utf-8", errors="replace") as f:
            lines: Iterable[str] = f.read().splitlines()
        where = os.fspath(source)
    elif isinstance(source, str):
        lines, where = source.splitlines(), "authorized keys"
    else:
        lines, where = list(source), "authorized keys"
    keys = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            keys.append(Key.from_public_line(stripped))
        except KeyFormatError as exc:
            raise type(exc)(f"{where}, line {number}: {exc.message}") from None
    return keys


def _read_strings(blob: bytes, count: int) -> list[bytes]:
    out, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(blob):
            raise KeyFormatError("truncated key data")
        (length,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if pos + length > len(blob):
            raise KeyFormatError("truncated key data")
        out.append(blob[pos:pos + length])
        pos += length
    return out


def _blob_type(blob: bytes) -> str:
    try:
        return _read_strings(blob, 1)[0].decode("ascii")
    except UnicodeDecodeError:
        raise KeyFormatError("the key data does not start with a key type name") from None


def _looks_encrypted(text: bytes) -> bool | None:
    """True/False for a recognised private key block; None when it is no private key at all."""
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in text:
        body = text.split(b"-----BEGIN OPENSSH PRIVATE KEY-----", 1)[1]
        body = body.split(b"-----END OPENSSH PRIVATE KEY-----", 1)[0]
        try:
            raw = base64.b64decode(b"".join(body.split()), validate=True)
        except ValueError:
            return False  # let libssh report the corruption
        if not raw.startswith(_OPENSSH_MAGIC):
            return False
        try:
            cipher = _read_strings(raw[len(_OPENSSH_MAGIC):], 1)[0]
        except KeyFormatError:
            return False
        return cipher != b"none"
    if re.search(rb"-----BEGIN (RSA |EC |DSA )?PRIVATE KEY-----", text):
        return b"Proc-Type: 4,ENCRYPTED" in text
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in text:
        return True
    return None
