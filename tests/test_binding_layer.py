"""Which modules call libssh: the binding, the engine, and the few front-end modules listed here.
A new module that imports ``lib`` fails this test, so calls into C stay where they are checked
(errors.py, the engine's lock) instead of spreading through the front ends."""

from __future__ import annotations

import pathlib
import re

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pylibssh"

#: the binding and the engine, which own every libssh object
ENGINE = {
    "__init__.py", "_callbacks.py", "_channel.py", "_log.py", "_session.py", "bridge.py",
    "errors.py", "keys.py", "sftp/constants.py",
    "client/agent_x11.py", "client/auth.py", "client/client.py", "client/forward.py",
    "client/hostkeys.py", "client/incoming.py", "client/process.py", "client/session.py",
    "client/sftp_engine.py",
    "server/channel.py", "server/forwarding.py", "server/messages.py", "server/server.py",
    "server/session.py", "server/sftp.py",
}
#: front-end modules that still make calls of their own
FRONT_ENDS = {
    "asyncio/process.py",
    "compat/paramiko/channel.py", "compat/paramiko/server.py",
    "compat/paramiko/sftp_client.py", "compat/paramiko/transport.py",
}

IMPORTS_LIB = re.compile(r"from \.+_binding import [^\n]*\blib\b|_binding\.lib\b|import _libssh")


def modules_calling_libssh() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if IMPORTS_LIB.search(path.read_text()):
            found.add(path.relative_to(PACKAGE).as_posix())
    return found - {"_binding.py"}


def test_only_the_listed_modules_import_lib():
    found = modules_calling_libssh()
    assert found - ENGINE - FRONT_ENDS == set(), "a new module calls libssh directly"
    assert (ENGINE | FRONT_ENDS) - found == set(), "a listed module no longer calls libssh"
