"""Bytes received and not yet read, kept as the chunks they arrived in.

Why chunks rather than one bytearray copied out with ``bytes(buf)``: that is two copies per byte,
and since clearing a bytearray frees its storage, every refill writes into freshly mapped pages
(a page fault per 4 KiB: a third of the client's CPU on a long exec stream, measured). Kept as
chunks, taking everything is one join (none for a single chunk), and each chunk is a
packet-sized allocation that malloc reuses.
"""

from __future__ import annotations

from collections import deque

__all__ = ["ByteQueue"]


class ByteQueue:
    __slots__ = ("_chunks", "_pos", "_len")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._pos = 0  # bytes of the first chunk already taken
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(bytes(data))
            self._len += len(data)

    def push(self, chunk: bytes) -> int:
        """``append`` for a non-empty bytes object (the per-packet path); returns the new
        length."""
        self._chunks.append(chunk)
        self._len += len(chunk)
        return self._len

    def extend(self, other: ByteQueue | bytes) -> None:
        if isinstance(other, ByteQueue):
            for i, chunk in enumerate(other._chunks):
                self.append(chunk[other._pos:] if i == 0 and other._pos else chunk)
        else:
            self.append(other)

    def clear(self) -> None:
        self._chunks.clear()
        self._pos = self._len = 0

    def take(self, n: int = -1) -> bytes:
        """The first ``n`` bytes (all of them when ``n`` < 0), removed."""
        chunks = self._chunks
        if n < 0 or n >= self._len:
            if not chunks:
                return b""
            if len(chunks) == 1:
                data = chunks[0][self._pos:] if self._pos else chunks[0]
            else:
                if self._pos:
                    chunks[0] = chunks[0][self._pos:]
                data = b"".join(chunks)
            self.clear()
            return data
        parts = []
        need = n
        while need:
            chunk = chunks[0]
            left = len(chunk) - self._pos
            if left <= need:
                parts.append(chunk[self._pos:] if self._pos else chunk)
                chunks.popleft()
                self._pos = 0
                need -= left
            else:
                # slice only what is returned: many small reads of one chunk stay linear
                parts.append(chunk[self._pos:self._pos + need])
                self._pos += need
                need = 0
        self._len -= n
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def find(self, byte: bytes) -> int:
        """Index of the first occurrence of one byte (e.g. b"\\n"), or -1."""
        if len(byte) != 1:
            raise ValueError("find() looks for a single byte")
        offset = -self._pos
        for i, chunk in enumerate(self._chunks):
            at = chunk.find(byte, self._pos if i == 0 else 0)
            if at >= 0:
                return offset + at
            offset += len(chunk)
        return -1

    def __contains__(self, byte: bytes) -> bool:
        return self.find(byte) >= 0

    def __bytes__(self) -> bytes:
        if not self._chunks:
            return b""
        if self._pos:
            self._chunks[0] = self._chunks[0][self._pos:]
            self._pos = 0
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
