"""pylibssh: SSH and SFTP for Python over libssh.

The package is layered: ``_binding`` is the only module that touches the compiled CFFI extension;
``errors`` maps libssh's failures to exceptions; the public objects (keys, and the server, client
and SFTP modules) sit on top.
"""

from __future__ import annotations

from typing import NamedTuple

from . import _log
from . import _binding
from ._version import __version__
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .algorithms import Algorithms
from .errors import ChannelOpenFailure
from .keys import Key, KeyType, load_authorized_keys
from .loop import Loop
from .sftp import SFTPAttributes, SFTPStatus, Stat

# the server
from .server import (
    AuthMessage,
    ChannelRequestMessage,
    Server,
    ServerChannel,
    ServerSession,
    create_server,
)

# the client
from .client import Client, ConnectOptions, Process, ProcessError, RunResult, connect
from .client import connect_async


class LibsshVersion(NamedTuple):
    """The libssh pylibssh runs on: its version, crypto/compression backends, and whether it is
    the release vendored by pin (False: a system libssh)."""

    version: str
    backends: tuple[str, ...]
    vendored: bool

    def __str__(self) -> str:
        return "/".join((self.version, *self.backends))


def libssh_version() -> LibsshVersion:
    """The version of the libssh in use, e.g. ``0.12.2/openssl/zlib``."""
    version, *backends = _binding.LIBSSH_VERSION.split("/")
    return LibsshVersion(version, tuple(backends), _binding.VENDORED)


TRACE = _log.TRACE

__all__ = [
    "__version__",
    "libssh_version",
    "LibsshVersion",
    "Algorithms",
    "Key",
    "KeyType",
    "load_authorized_keys",
    "TRACE",
    "Loop",
    "Stat",
    "SFTPAttributes",
    "SFTPStatus",
    "create_server",
    "Server",
    "ServerSession",
    "ServerChannel",
    "AuthMessage",
    "ChannelRequestMessage",
    "connect",
    "connect_async",
    "Client",
    "ConnectOptions",
    "Process",
    "ProcessError",
    "RunResult",
    "ChannelOpenFailure",
    *_errors_all,
]
