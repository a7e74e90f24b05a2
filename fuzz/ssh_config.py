"""ssh_config files as the client applies them (pylibssh/client/config.py: ``read_config``'s
two passes, ``Host``/``Match`` evaluation, ``Include``, tokens, canonicalization; then
``apply_config``'s conversion into connect options).

Input: the bytes of a ``~/.ssh/config``, applied for the host ``fuzzhost`` (with and without an
explicit user and port). What a config can reach outside the parser is replaced by fixed
stand-ins, so that an input can neither run commands nor wait for the network: ``Match exec``
matches when the command is ``true``; name resolution knows only names ending in
``.example.``; ``Include`` sees only the files under a private ``~/.ssh`` (``inc-hosts``,
``inc-loop`` which includes itself, ``inc-bad`` with unbalanced quotes).

Contract: a config applies, or raises ``ValueError`` (a malformed line: unbalanced quotes, a
number that is not one, ``Include`` nested too deeply) or
:class:`~pylibssh.errors.HostNotFoundError` (canonicalization without a fallback), as
``read_config`` documents. Any other exception, a hang, a native crash or a sanitizer report is
a failure.
"""

from __future__ import annotations

import glob as _glob
import os
import tempfile
import types

from pylibssh.client import config
from pylibssh.client.client import ConnectOptions
from pylibssh.errors import HostNotFoundError

MAX_LEN = 4096
EXPECTED: tuple[type[BaseException], ...] = (ValueError, HostNotFoundError)

_home = ""
_path = ""


def _resolve(name: str, port: int) -> str | None:
    return name.rstrip(".") if name.lower().endswith(".example.") else None


def _run_exec(command: str) -> bool | None:
    return command.strip() == "true"


def _glob_home(pattern: str, **kwargs: object) -> list[str]:
    if not os.path.abspath(pattern).startswith(_home + os.sep):
        return []
    return _glob.glob(pattern, **kwargs)


def setup() -> None:
    global _home, _path
    _home = tempfile.mkdtemp(prefix="ssh-config-home-")
    ssh = os.path.join(_home, ".ssh")
    os.makedirs(ssh)
    files = {"inc-hosts": "Host fuzz*\n  User included\n  Port 2200\nHost *\n  Compression yes\n",
             "inc-loop": "Include inc-loop\n",
             "inc-bad": 'Host "unbalanced\n'}
    for name, text in files.items():
        with open(os.path.join(ssh, name), "w") as f:
            f.write(text)
    _path = os.path.join(ssh, "config")
    os.environ["HOME"] = _home
    config._resolve = _resolve
    config._run_exec = _run_exec
    config.glob = types.SimpleNamespace(glob=_glob_home)


def test_one_input(data: bytes) -> None:
    with open(_path, "wb") as f:
        f.write(data)
    config.read_config(_path, "fuzzhost", user="me", port=2022, proxied=True, jump="a@b:1")
    options = config.apply_config(ConnectOptions("fuzzhost", config=_path))
    assert options.config is None
