"""The SSH client (issue 5): connect and authenticate, verify host keys, run commands, shells
and subsystems, and SFTP. See :func:`connect`."""

from .client import Client, ConnectOptions, connect, connect_async
from .hostkeys import POLICIES
from .process import Process, ProcessError, RunResult

__all__ = ["Client", "ConnectOptions", "connect", "connect_async", "Process", "ProcessError",
           "RunResult", "POLICIES"]
