"""Private key files parsed once per process: the client's identity files, kept parsed.

Every connection offers the same key files, and parsing one (libssh's import, OpenSSL building
the key) is a fixed share of a connection's client CPU. :func:`load_identity` still reads the
file on every call, but parses it only when its bytes differ from those it parsed last time for
that path and passphrase: a key file replaced or rewritten is used at once (whatever the
file system's timestamp resolution), one that can no longer be read raises as before, and
nothing is kept for a file that failed to load (a wrong passphrase fails again next time).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

from ..keys import Key, Passphrase, PathLike

__all__ = ["load_identity", "clear_identities"]

#: key files kept (least recently used dropped first): a client offers a handful
MAX_IDENTITIES = 32
#: larger files are parsed every time (an RSA key of 16384 bits is 12 KiB)
MAX_KEPT_BYTES = 64 * 1024

_cache: OrderedDict[tuple[str, bytes], tuple[bytes, Key]] = OrderedDict()
_lock = threading.Lock()


def _secret_id(passphrase: Passphrase) -> bytes:
    # a digest, so the cache does not hold the passphrase itself
    if passphrase is None:
        return b""
    data = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    return b"p" + hashlib.sha256(data).digest()


def _read_file(name: str) -> bytes:
    """The bytes of file ``name``, read with the descriptor alone: a key file is read on every
    connection, and Python's buffered file object asks for more (whether it is a terminal,
    its position twice, its size twice)."""
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def load_identity(path: PathLike, passphrase: Passphrase = None) -> Key:
    """The private key in file ``path`` (decrypted with ``passphrase``, default None). The
    file is read on each call and parsed only when its bytes changed since the last call for
    the same path and passphrase; meanwhile the same :class:`~pylibssh.keys.Key` object is
    returned to every caller (see the module's docstring).

    Raises :class:`OSError` when the file cannot be read and the
    :class:`~pylibssh.errors.KeyFormatError` subclasses of
    :meth:`Key.from_private_file <pylibssh.keys.Key.from_private_file>`."""
    name = os.fspath(path)
    data = _read_file(name)
    entry = (name, _secret_id(passphrase))
    with _lock:
        kept = _cache.get(entry)
        if kept is not None and kept[0] == data:
            _cache.move_to_end(entry)
            return kept[1]
    key = Key._from_file_data(name, data, passphrase)
    if len(data) <= MAX_KEPT_BYTES:
        with _lock:
            _cache[entry] = (data, key)
            _cache.move_to_end(entry)
            while len(_cache) > MAX_IDENTITIES:
                _cache.popitem(last=False)
    return key


def clear_identities() -> None:
    """Forget every kept key (the next call parses its file again)."""
    with _lock:
        _cache.clear()
