"""Helpers shared by the paramiko layer's tests (tests/compat/test_*.py), for code written as
paramiko's users write it: the same helper runs against real paramiko and the layer."""

from __future__ import annotations


def read_to_eof(chan, stderr: bool = False, size: int = 65536) -> bytes:
    """Everything a paramiko ``Channel`` delivers until EOF, read with ``recv(size)`` (or
    ``recv_stderr``) as paramiko's documentation loops: EOF is an empty read, and the
    channel's timeout bounds each wait."""
    recv = chan.recv_stderr if stderr else chan.recv
    data = b""
    while True:
        chunk = recv(size)
        if not chunk:
            return data
        data += chunk
