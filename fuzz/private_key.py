"""Private key files: :meth:`pylibssh.Key.from_private_bytes` (pylibssh/keys.py over libssh's
OpenSSH-format parser and OpenSSL's PEM/PKCS#8 readers), then the key's round trip.

Input: the bytes of a private key file. Encrypted keys are opened with the passphrase ``fuzzfuzz``
(the seed corpus's encrypted keys use it), except an OpenSSH-format key whose bcrypt KDF asks for
more than :data:`MAX_ROUNDS` rounds: that work is the key owner's choice (ssh-keygen ``-a``)
and would only make the input slow, so it is opened without a passphrase.

Contract: the bytes either make a private key or raise :class:`~pylibssh.errors.KeyFormatError`
(or its subclasses: passphrase required or wrong, unsupported type), as the method documents.
A key that loads must export again: its public half, fingerprint and public line, and its
private bytes, which load back to an equal key. Any other exception, a hang, a native crash or
a sanitizer report is a failure.
"""

from __future__ import annotations

import base64
import re
import struct

from pylibssh import Key
from pylibssh.errors import KeyFormatError

MAX_LEN = 16384
EXPECTED: tuple[type[BaseException], ...] = (KeyFormatError,)

#: the most bcrypt rounds an input may ask for (ssh-keygen's default is 16)
MAX_ROUNDS = 64

_OPENSSH = re.compile(rb"-----BEGIN OPENSSH PRIVATE KEY-----(.*?)(-----END|$)", re.S)


def _bcrypt_rounds(data: bytes) -> int:
    """The bcrypt rounds an OpenSSH-format key asks for (0 when it is not one, or cannot be
    read this far: libssh then fails before any KDF work)."""
    m = _OPENSSH.search(data)
    if not m:
        return 0
    try:
        raw = base64.b64decode(b"".join(m.group(1).split()) + b"==")
    except ValueError:
        return 0
    pos = len(b"openssh-key-v1\0")
    fields = []
    for _ in range(3):  # cipher, kdf name, kdf options
        if pos + 4 > len(raw):
            return 0
        (n,) = struct.unpack_from(">I", raw, pos)
        fields.append(raw[pos + 4:pos + 4 + n])
        pos += 4 + n
    options = fields[2]
    if fields[1] != b"bcrypt" or len(options) < 4:
        return 0
    (salt,) = struct.unpack_from(">I", options, 0)
    if 4 + salt + 4 > len(options):
        return 0
    return struct.unpack_from(">I", options, 4 + salt)[0]


def test_one_input(data: bytes) -> None:
    passphrase = "fuzzfuzz" if _bcrypt_rounds(data) <= MAX_ROUNDS else None
    key = Key.from_private_bytes(data, passphrase)
    public = key.public_key()
    assert public == key and not public.is_private
    key.fingerprint()
    key.fingerprint("md5")
    again = Key.from_public_line(public.public_line())
    assert again == key, "the public line does not load back to the same key"
    for fmt in ("openssh", "pem"):
        try:
            text = key.private_bytes(format=fmt)
        except KeyFormatError:
            continue  # a type libssh cannot write in this format (documented)
        assert Key.from_private_bytes(text) == key, f"the {fmt} export loads another key"
