"""Public keys as OpenSSH writes them: ``authorized_keys`` files
(:func:`pylibssh.load_authorized_keys`: options, quoting, comments), public key lines
(:meth:`pylibssh.Key.from_public_line`, :func:`pylibssh.keys.parse_public_key_line`) and wire
blobs (:meth:`pylibssh.Key.from_public_blob`), over libssh's public key and certificate
parsers.

Input: the bytes of an ``authorized_keys`` (or ``*.pub``) file, loaded from a file as
applications do (``pylibssh serve --authorized-keys``, ``reply_auth_success`` checks); each
key line's base64, decoded, is also fed to ``from_public_blob``.

Contract: a file loads to a list of keys or raises :class:`~pylibssh.errors.KeyFormatError` (or
its subclass for unsupported types) naming the line; a blob loads or raises the same. Every key
loaded must give its public line back, which loads to an equal key. Any other exception, a hang,
a native crash or a sanitizer report is a failure.
"""

from __future__ import annotations

import binascii
import os
import tempfile

from pylibssh import Key, load_authorized_keys
from pylibssh.errors import KeyFormatError
from pylibssh.keys import parse_public_key_line

MAX_LEN = 16384
EXPECTED: tuple[type[BaseException], ...] = (KeyFormatError,)


def _check(key: Key) -> None:
    line = key.public_line()
    assert Key.from_public_line(line) == key, "a key's public line loads another key"
    key.fingerprint()


_path = ""


def setup() -> None:
    global _path
    fd, _path = tempfile.mkstemp(prefix="authorized_keys-")
    os.close(fd)



def test_one_input(data: bytes) -> None:
    for line in data.splitlines():
        parsed = parse_public_key_line(line)
        if parsed is None:
            continue
        try:
            blob = binascii.a2b_base64(parsed[2])
        except ValueError:  # binascii.Error, or characters that are not ASCII
            continue
        try:
            _check(Key.from_public_blob(blob))
        except KeyFormatError:
            pass
    with open(_path, "wb") as f:
        f.write(data)
    for key in load_authorized_keys(_path):
        _check(key)
