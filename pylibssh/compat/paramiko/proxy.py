"""paramiko.ProxyCommand: a command whose stdin/stdout carry the SSH connection.

The command runs on one end of a socketpair, so the transport hands libssh a real descriptor
(no pump thread in between); ``send``/``recv`` work as in paramiko for code that uses the object
directly.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time

from .ssh_exception import ProxyCommandFailure

__all__ = ["ProxyCommand"]


class ProxyCommand:
    """paramiko's ProxyCommand: runs ``command_line`` (split as a shell would, without a shell) with
    a socket as its stdin and stdout, and carries the SSH connection over it. Raises
    :class:`~pylibssh.compat.paramiko.ssh_exception.ProxyCommandFailure` when the command cannot
    start."""

    def __init__(self, command_line):
        self.cmd = shlex.split(command_line)
        self._command_line = command_line
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(self.cmd, stdin=theirs, stdout=theirs,
                                            stderr=subprocess.PIPE, bufsize=0,
                                            start_new_session=True)
        except OSError as exc:
            ours.close()
            raise ProxyCommandFailure(command_line, str(exc)) from exc
        finally:
            theirs.close()
        self._sock = ours
        self.timeout = None

    def _pylibssh_socket(self):
        """A socket for libssh (a duplicate of ours, so both may be closed independently)."""
        return socket.socket(fileno=os.dup(self._sock.fileno()))

    def fileno(self):
        """The socket's descriptor (for ``select``)."""
        return self._sock.fileno()

    def send(self, content):
        """Send ``content`` to the command; returns the bytes sent. Raises ``ProxyCommandFailure``
        on a failure."""
        try:
            return self._sock.send(content)
        except OSError as e:
            raise ProxyCommandFailure(self._command_line, e.strerror) from e

    def recv(self, size):
        """Up to ``size`` bytes from the command, waiting within the timeout. Raises
        :class:`socket.timeout` when it passes, ``ProxyCommandFailure`` on a failure."""
        self._sock.settimeout(self.timeout)
        try:
            return self._sock.recv(size)
        except socket.timeout:
            raise
        except OSError as e:
            raise ProxyCommandFailure(self._command_line, e.strerror) from e

    def close(self):
        """Close the socket and end the command (SIGTERM to its process group, SIGKILL after 2 s).
        """
        try:
            self._sock.close()
        finally:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                except OSError:
                    pass
                deadline = time.monotonic() + 2
                while self.process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                if self.process.poll() is None:
                    self.process.kill()
            self.process.wait(2)
            if self.process.stderr is not None:
                self.process.stderr.close()

    @property
    def closed(self):
        """True once the command has exited."""
        return self.process.returncode is not None

    @property
    def _closed(self):
        return self.closed

    def settimeout(self, timeout):
        """The time limit of :meth:`recv`, in seconds (None, the default: no limit)."""
        self.timeout = timeout
