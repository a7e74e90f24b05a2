"""known_hosts files as the client checks a server's host key: libssh's reader and matcher
(``ssh_session_is_known_server``: plain, wildcard and hashed names, ``[host]:port``, markers) and
pylibssh's lookup of the recorded keys for a changed-key error
(pylibssh/client/hostkeys.py, ``ssh_known_hosts_parse_line``).

Input: the bytes of a known_hosts file, checked for the live connection's server (the host
``fuzz``, port 22; see fuzz/_live.py), under the strict policy, then looked up as ``fuzz`` and
``[fuzz]:2222``. Every ``@KEY@`` in the input becomes the server's Ed25519 host key (its
base64), so that seeds can name the key of a server that is made anew in every run.

Contract: :func:`~pylibssh.client.hostkeys.verify_host_key` returns the server's key (known) or
raises one of the errors it documents, all :class:`~pylibssh.errors.HostKeyError`
(:class:`~pylibssh.errors.UnknownHostKeyError`, :class:`~pylibssh.errors.HostKeyChangedError`);
the lookup returns a list of keys. Any other exception, a hang, a native crash or a sanitizer
report is a failure.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from pylibssh.client.hostkeys import _known_keys, verify_host_key
from pylibssh.client.session import set_option
from pylibssh.errors import HostKeyError

from ._live import LiveSession

MAX_LEN = 8192
EXPECTED: tuple[type[BaseException], ...] = (HostKeyError,)

_live: LiveSession | None = None
_path = ""
_key = b""


def setup() -> None:
    global _live, _path, _key
    _live = LiveSession(lambda channel: None)
    _key = _live.host_key.public_base64.encode()
    fd, _path = tempfile.mkstemp(prefix="known_hosts-")
    os.close(fd)
    s: Any = _live.client.session._s
    set_option(s, "knownhosts", _path)
    set_option(s, "global_knownhosts", os.devnull)



def test_one_input(data: bytes) -> None:
    assert _live is not None
    with open(_path, "wb") as f:
        f.write(data.replace(b"@KEY@", _key))
    with _live.loop.lock:
        try:
            key = verify_host_key(_live.client.session._s, "fuzz", 22, "strict", _path)
            assert key == _live.host_key
        finally:
            for port in (22, 2222):
                _known_keys([_path], "fuzz", port)
