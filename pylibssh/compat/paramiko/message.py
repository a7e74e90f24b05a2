"""paramiko.Message: an SSH wire-format buffer (strings, integers, mpints, booleans)."""

from __future__ import annotations

import io
import struct

from .common import asbytes


class Message:
    """Read and write SSH wire data (RFC 4251 section 5)."""

    big_int = 0xFF000000

    def __init__(self, content=None):
        self.packet = io.BytesIO(content) if content is not None else io.BytesIO()

    def __bytes__(self):
        return self.asbytes()

    def __repr__(self):
        return "paramiko.Message(" + repr(self.packet.getvalue()) + ")"

    def asbytes(self):
        """The whole message's bytes."""
        return self.packet.getvalue()

    def rewind(self):
        """Go back to the start, for reading again."""
        self.packet.seek(0)

    def get_remainder(self):
        """The bytes from the current position to the end (the position moves to the end)."""
        position = self.packet.tell()
        remainder = self.packet.read()
        self.packet.seek(position)
        return remainder

    def get_so_far(self):
        """The bytes before the current position (the position stays)."""
        position = self.packet.tell()
        self.rewind()
        return self.packet.read(position)

    def get_bytes(self, n):
        """The next ``n`` bytes, zero-padded when fewer remain (as paramiko)."""
        b = self.packet.read(n)
        if len(b) < n < 0x100000:
            return b + b"\x00" * (n - len(b))
        return b

    def get_byte(self):
        """Read one byte (as ``bytes``) at the current position and move past it."""
        return self.get_bytes(1)

    def get_boolean(self):
        """Read a boolean byte at the current position and move past it."""
        return self.get_bytes(1) != b"\x00"

    def get_adaptive_int(self):
        """Read paramiko's adaptive int (a 32-bit int, or an mpint after an 0xFF byte) at the
        current position and move past it."""
        byte = self.get_bytes(1)
        if byte == b"\xff":
            return int.from_bytes(self.get_binary(), "big", signed=True)
        return struct.unpack(">I", byte + self.get_bytes(3))[0]

    def get_int(self):
        """Read a 32-bit unsigned int at the current position and move past it."""
        return struct.unpack(">I", self.get_bytes(4))[0]

    def get_int64(self):
        """Read a 64-bit unsigned int at the current position and move past it."""
        return struct.unpack(">Q", self.get_bytes(8))[0]

    def get_mpint(self):
        """Read an SSH mpint (a signed big-endian integer with its length) at the current position
        and move past it."""
        return int.from_bytes(self.get_binary(), "big", signed=True)

    def get_string(self):
        """Read an SSH string (bytes with a 32-bit length) at the current position and move past it.
        """
        return self.get_bytes(self.get_int())

    def get_text(self):
        """Read an SSH string, decoded as UTF-8 at the current position and move past it."""
        return self.get_string().decode("utf-8", "replace")

    def get_binary(self):
        """Read an SSH string, as bytes at the current position and move past it."""
        return self.get_bytes(self.get_int())

    def get_list(self):
        """Read a comma-separated name-list (as a list of str) at the current position and move past
        it."""
        return self.get_text().split(",")

    def add_bytes(self, b):
        """Append raw bytes; returns the message, for chaining."""
        self.packet.write(b)
        return self

    def add_byte(self, b):
        """Append one byte; returns the message, for chaining."""
        self.packet.write(b)
        return self

    def add_boolean(self, b):
        """Append a boolean byte; returns the message, for chaining."""
        self.packet.write(b"\x01" if b else b"\x00")
        return self

    def add_int(self, n):
        """Append a 32-bit unsigned int; returns the message, for chaining."""
        self.packet.write(struct.pack(">I", n))
        return self

    def add_adaptive_int(self, n):
        """Append paramiko's adaptive int (a 32-bit int, or 0xFF and an mpint when larger); returns
        the message, for chaining."""
        if n >= Message.big_int:
            self.packet.write(b"\xff")
            self.add_string(_mpint_bytes(n))
        else:
            self.packet.write(struct.pack(">I", n))
        return self

    def add_int64(self, n):
        """Append a 64-bit unsigned int; returns the message, for chaining."""
        self.packet.write(struct.pack(">Q", n))
        return self

    def add_mpint(self, z):
        """Append an SSH mpint; returns the message, for chaining."""
        self.add_string(_mpint_bytes(z))
        return self

    def add_string(self, s):
        """Append an SSH string (str is encoded as UTF-8); returns the message, for chaining."""
        s = asbytes(s)
        self.add_int(len(s))
        self.packet.write(s)
        return self

    def add_list(self, items):
        """Append a comma-separated name-list; returns the message, for chaining."""
        self.add_string(",".join(items))
        return self

    def _add(self, i):
        if isinstance(i, bool):
            return self.add_boolean(i)
        if isinstance(i, int):
            return self.add_adaptive_int(i)
        if isinstance(i, list):
            return self.add_list(i)
        return self.add_string(i)

    def add(self, *seq):
        """Append each value by its type (bool, int, str/bytes, list); returns the message."""
        for item in seq:
            self._add(item)


def _mpint_bytes(n: int) -> bytes:
    if n == 0:
        return b""
    length = (n.bit_length() + 8) // 8  # room for the sign bit
    return _trim(n.to_bytes(length, "big", signed=True))


def _trim(b: bytes) -> bytes:
    # minimal two's complement: drop redundant leading 0x00 / 0xff bytes
    while len(b) > 1 and ((b[0] == 0 and b[1] < 0x80) or (b[0] == 0xFF and b[1] >= 0x80)):
        b = b[1:]
    return b
