"""paramiko.common's public constants (channel-open failure codes, auth results, sizes)."""

from __future__ import annotations

import logging

from ...errors import ChannelOpenFailure

# channel open failure reasons (RFC 4254: pylibssh's one table, errors.ChannelOpenFailure)
OPEN_SUCCEEDED = 0
OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED = int(ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED)
OPEN_FAILED_CONNECT_FAILED = int(ChannelOpenFailure.CONNECT_FAILED)
OPEN_FAILED_UNKNOWN_CHANNEL_TYPE = int(ChannelOpenFailure.UNKNOWN_CHANNEL_TYPE)
OPEN_FAILED_RESOURCE_SHORTAGE = int(ChannelOpenFailure.RESOURCE_SHORTAGE)

CONNECTION_FAILED_CODE = {int(reason): reason.label.capitalize() for reason in ChannelOpenFailure}

# ServerInterface.check_auth_* results
AUTH_SUCCESSFUL, AUTH_PARTIALLY_SUCCESSFUL, AUTH_FAILED = range(3)

DISCONNECT_SERVICE_NOT_AVAILABLE = 7
DISCONNECT_AUTH_CANCELLED_BY_USER = 13
DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE = 14

MSG_CHANNEL_OPEN_FAILURE = 92

DEFAULT_WINDOW_SIZE = 64 * 2 ** 15
DEFAULT_MAX_PACKET_SIZE = 2 ** 15
MIN_WINDOW_SIZE = 2 ** 15
MIN_PACKET_SIZE = 2 ** 12
MAX_WINDOW_SIZE = 2 ** 32 - 1

DEBUG = logging.DEBUG
INFO = logging.INFO
WARNING = logging.WARNING
ERROR = logging.ERROR
CRITICAL = logging.CRITICAL

io_sleep = 0.01

zero_byte = b"\x00"
one_byte = b"\x01"
max_byte = b"\xff"
cr_byte = b"\r"
linefeed_byte = b"\n"
crlf = cr_byte + linefeed_byte
cr_byte_value = 13
linefeed_byte_value = 10
xffffffff = 0xFFFFFFFF
x80000000 = 0x80000000
o666 = 0o666
o660 = 0o660
o644 = 0o644
o600 = 0o600
o777 = 0o777
o700 = 0o700
o70 = 0o70


def byte_ord(c):
    """The int value of one byte (``c`` an int or a one-byte ``bytes``)."""
    return c if isinstance(c, int) else ord(c)


def byte_chr(c):
    """The one byte ``c`` (an int 0-255) as ``bytes``."""
    return bytes([c])


def asbytes(s):
    """``s`` as bytes (str is UTF-8 encoded; objects with asbytes() are asked)."""
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode("utf-8")
    if isinstance(s, (bytearray, memoryview)):
        return bytes(s)
    if hasattr(s, "asbytes"):
        return s.asbytes()
    raise TypeError(f"cannot make bytes of {type(s).__name__}")
