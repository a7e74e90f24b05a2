"""A paramiko-compatible layer over pylibssh: existing paramiko code runs unchanged on libssh.

Two ways in::

    import pylibssh.compat.paramiko as paramiko      # explicit

    import pylibssh.compat.paramiko
    pylibssh.compat.paramiko.install()              # every later ``import paramiko`` (and
    import paramiko                                 # paramiko.client, paramiko.sftp_client...)
                                                    # resolves here, for libraries too

Each name does what paramiko's documentation (docs.paramiko.org) says of it; the docstrings
here are short, and say where this layer differs. Differences from paramiko are listed in
docs/compat-paramiko.md.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

from .agent import Agent, AgentKey
from .auth_strategy import (
    AuthFailure,
    AuthResult,
    AuthSource,
    AuthStrategy,
    InMemoryPrivateKey,
    NoneAuth,
    OnDiskPrivateKey,
    Password,
    PrivateKey,
    SourceResult,
)
from .channel import Channel, ChannelFile, ChannelStderrFile, ChannelStdinFile
from .client import AutoAddPolicy, MissingHostKeyPolicy, RejectPolicy, SSHClient, WarningPolicy
from .common import (
    AUTH_FAILED,
    AUTH_PARTIALLY_SUCCESSFUL,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_FAILED_CONNECT_FAILED,
    OPEN_FAILED_RESOURCE_SHORTAGE,
    OPEN_FAILED_UNKNOWN_CHANNEL_TYPE,
    OPEN_SUCCEEDED,
    io_sleep,
)
from .config import SSHConfig, SSHConfigDict
from .ecdsakey import ECDSAKey
from .ed25519key import Ed25519Key
from .file import BufferedFile
from .hostkeys import HostKeys
from .message import Message
from .pkey import DSSKey, PKey, PublicBlob, UnknownKeyType  # DSSKey: for pre-4.0 importers
from .proxy import ProxyCommand
from .rsakey import RSAKey
from .sftp import (
    SFTP_BAD_MESSAGE,
    SFTP_CONNECTION_LOST,
    SFTP_EOF,
    SFTP_FAILURE,
    SFTP_NO_CONNECTION,
    SFTP_NO_SUCH_FILE,
    SFTP_OK,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
    BaseSFTP,
    SFTPError,
)
from .server import InteractiveQuery, ServerInterface, SubsystemHandler
from .sftp_attr import SFTPAttributes
from .sftp_client import SFTP, SFTPClient
from .sftp_file import SFTPFile
from .sftp_handle import SFTPHandle
from .sftp_server import SFTPServer
from .sftp_si import SFTPServerInterface
from .ssh_exception import (
    AuthenticationException,
    BadAuthenticationType,
    BadHostKeyException,
    ChannelException,
    ConfigParseError,
    CouldNotCanonicalize,
    IncompatiblePeer,
    MessageOrderError,
    PasswordRequiredException,
    ProxyCommandFailure,
    SSHException,
)
from .transport import SecurityOptions, ServiceRequestingTransport, Transport

#: the fixture (and anyone curious) can tell this layer from real paramiko
__pylibssh__ = True
#: the paramiko release whose public API this layer implements
__version__ = "5.1.0"
__version_info__ = (5, 1, 0)
__author__ = "pylibssh"
__license__ = "LGPL-2.1-or-later (as pylibssh)"

key_classes = [RSAKey, Ed25519Key, ECDSAKey]

#: paramiko submodules this layer provides (imported and aliased by install())
SUBMODULES = (
    "agent", "auth_strategy", "channel", "client", "common", "config", "ecdsakey", "ed25519key",
    "file", "hostkeys", "message", "pkey", "proxy", "rsakey", "sftp", "sftp_attr", "sftp_client",
    "sftp_file", "ssh_exception", "transport", "util", "server", "sftp_handle", "sftp_server",
    "sftp_si",
)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """Resolves ``paramiko.X`` to ``pylibssh.compat.paramiko.X`` while ``sys.modules["paramiko"]``
    is this layer. ``paramiko`` itself is only aliased in ``sys.modules``, so code that removes
    the alias (as test fixtures do) gets real paramiko back on its next import."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith("paramiko."):
            return None
        if sys.modules.get("paramiko") is not _self():
            return None
        ours = __name__ + fullname[len("paramiko"):]
        if importlib.util.find_spec(ours) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(ours))


_finder = _Finder()
_installed = False


def _self():
    return sys.modules[__name__]


def install() -> None:
    """Make ``import paramiko`` (and its submodules) resolve to this layer from now on in this
    process. Modules that already imported real paramiko keep their reference."""
    global _installed
    _installed = True
    sys.modules["paramiko"] = _self()
    for name in SUBMODULES:
        sys.modules[f"paramiko.{name}"] = importlib.import_module(f"{__name__}.{name}")
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    """Undo :func:`install`: the next ``import paramiko`` finds real paramiko again."""
    global _installed
    _installed = False
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name, module in list(sys.modules.items()):
        if (name == "paramiko" or name.startswith("paramiko.")) and \
                getattr(module, "__name__", "").startswith(__name__):
            del sys.modules[name]


def installed() -> bool:
    """True while :func:`install` is in effect (``import paramiko`` gives this layer)."""
    return _installed and sys.modules.get("paramiko") is _self()
