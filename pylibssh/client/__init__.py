"""The SSH client: connect and authenticate, verify host keys, run commands, shells
and subsystems, SFTP, and forwarding. See :func:`connect`."""

from .client import Client, ConnectOptions, connect, connect_async
from .forward import LocalForwarder, RemoteForwarder
from .hostkeys import POLICIES
from .incoming import ChannelOpenRequest
from .process import Process, ProcessError, RunResult
from .socks import SOCKSForwarder

__all__ = ["Client", "ConnectOptions", "connect", "connect_async", "Process", "ProcessError",
           "RunResult", "POLICIES", "LocalForwarder", "RemoteForwarder", "SOCKSForwarder",
           "ChannelOpenRequest"]
