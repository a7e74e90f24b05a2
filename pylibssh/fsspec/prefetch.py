""":class:`ForwardPrefetchCache`: fsspec's read-ahead, plus the next range fetched in the
background while reads move forward through the file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from fsspec.caching import BaseCache

__all__ = ["ForwardPrefetchCache"]


class Pending(Protocol):
    """A fetch under way: :class:`concurrent.futures.Future` and
    :class:`~pylibssh.fsspec.connection.PendingRead` are ones."""

    def done(self) -> bool:
        """Whether the bytes (or the error) are in."""

    def result(self, timeout: float | None = None) -> bytes:
        """The bytes, waiting for them; raises what the fetch raised."""

    def cancel(self) -> bool:
        """Stop the fetch if it can be stopped (it is then done): whether it was."""


class _Ahead:
    """A range asked of the server ahead of the reader: ``[start, end)`` and its bytes to be."""

    __slots__ = ("start", "end", "future")

    def __init__(self, start: int, end: int, future: Pending):
        self.start, self.end, self.future = start, end, future


class ForwardPrefetchCache(BaseCache):  # type: ignore[misc]  # fsspec has no types
    """The cache of a file opened to read (``cache_type="prefetch"``): fsspec's
    ``readahead`` (a read is served from the last range fetched when it lies inside it; a miss
    fetches at least ``blocksize`` bytes from where the read starts), and, when a fetch carries
    on exactly where the previous one ended, the range that follows, of the same length, is
    asked for at once and arrives while the caller works on what it got.

    A columnar reader moving through a file one row group at a time (pyarrow on Parquet) thus
    has its next group's READs in flight while it decodes the current one; so has a plain
    ``read()`` loop. A read that takes the range ahead asks for the one after it before
    waiting, so the server goes on from range to range; one that goes past it asks for the rest
    before waiting too. What is held is bounded: the last range fetched, the range a read waits
    for and at most one range ahead (a range dropped while still arriving delays the next one
    until it is in). A read anywhere else drops the range ahead; a read that needs it waits for
    it and raises its error (a failed range that no read needs is never raised). Bytes past
    ``size`` (the size when the file was opened) are never asked for.

    ``fetcher(start, end)`` returns the bytes of ``[start, end)`` (fewer at the end of the file);
    ``start_fetch(start, end)`` starts the same fetch and returns its future at once.
    """

    name = "prefetch"

    def __init__(self, blocksize: int, fetcher: Callable[[int, int], bytes], size: int,
                 start_fetch: Callable[[int, int], Pending] | None = None) -> None:
        super().__init__(blocksize, fetcher, size)
        if start_fetch is None:
            raise TypeError("ForwardPrefetchCache needs start_fetch (the background fetch)")
        self._start_fetch = start_fetch
        self._block = b""
        self._at = 0  # where _block starts in the file
        self._fetched_to: int | None = None  # where the last fetch from the server ended
        self._ahead: _Ahead | None = None
        self._dropped: Pending | None = None  # a range ahead nobody reads, still arriving

    def _fetch(self, start: int | None, end: int | None) -> bytes:
        start = 0 if start is None else start
        end = self.size if end is None or end > self.size else end
        if start >= self.size or start >= end:
            return b""
        block, at = self._block, self._at
        if at <= start and end <= at + len(block):
            self.hit_count += 1
            if start == at and end == at + len(block):
                return block
            return block[start - at:end - at]
        self.miss_count += 1
        head = b""
        if at <= start < at + len(block):  # the start is here, the rest is further on
            head = block[start - at:]
            start = at + len(block)
        onward = start == self._fetched_to
        data = self._take_ahead(start, end)
        if data is None:
            data = self._get(start, max(end, start + self.blocksize))
        self._block, self._at = data, start
        if onward:
            self._prefetch(start, len(data))
        want = end - start
        if not head:
            return data if want >= len(data) else data[:want]
        return head + data[:want]

    def _take_ahead(self, start: int, end: int) -> bytes | None:
        """The range ahead if it starts at ``start`` (waiting for it; what ``end`` needs past it
        fetched now), else None, the range ahead dropped."""
        ahead = self._ahead
        if ahead is None:
            return None
        self._ahead = None
        if ahead.start != start:
            self._drop(ahead.future)
            return None
        rest: Pending | None = None
        if end <= ahead.end:  # the read stays inside it: the range after it is asked for now,
            # so the server goes on from one range to the next without waiting for the reader
            self._ask(ahead.end, ahead.end - ahead.start)
        elif ahead.end < self.size:  # the read goes past it: the rest is asked for now too
            rest = self._start_fetch(ahead.end, min(end, self.size))
            self.total_requested_bytes += min(end, self.size) - ahead.end
        try:
            data = ahead.future.result()  # its error is this read's
        except BaseException:
            if rest is not None:
                self._drop(rest)
            raise
        self._fetched_to = ahead.start + len(data)
        if rest is not None:
            if len(data) < ahead.end - ahead.start:  # the file ended inside the range ahead
                self._drop(rest)
            else:
                more: bytes = rest.result()
                self._fetched_to = ahead.end + len(more)
                data = b"".join((data, more))
        return data

    def _get(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        self.total_requested_bytes += end - start
        data: bytes = self.fetcher(start, end)
        self._fetched_to = start + len(data)
        return data

    def _prefetch(self, start: int, length: int) -> None:
        """After ``length`` bytes at ``start`` came in, continuing the fetch before them: the
        next ``length``, unless the end of the file cut them short or is reached, or a dropped
        range is still arriving (memory stays bounded however the reader jumps)."""
        nxt = start + length
        if length and self._fetched_to == nxt and self._ahead is None:
            self._ask(nxt, length)

    def _ask(self, nxt: int, length: int) -> None:
        """Start fetching the ``length`` bytes at ``nxt`` as the range ahead, unless the end of
        the file is reached or a dropped range is still arriving."""
        if nxt >= self.size:
            return
        if self._dropped is not None:
            if not self._dropped.done():
                return
            self._dropped = None
        stop = min(self.size, nxt + length)
        self.total_requested_bytes += stop - nxt
        self._ahead = _Ahead(nxt, stop, self._start_fetch(nxt, stop))

    def _drop(self, future: Pending) -> None:
        """Forget a range ahead: it is cancelled (what was asked of the server is answered
        and dropped); its bytes and error go unseen."""
        future.cancel()
        if not future.done():
            self._dropped = future

    def ahead(self) -> tuple[int, int, bool] | None:
        """The range being fetched ahead of the reader: ``(start, end, arrived)``, or None."""
        a = self._ahead
        return None if a is None else (a.start, a.end, a.future.done())

    def close(self) -> None:
        """Drop what is held and the range ahead (cancelled: no more of it is asked for)."""
        if self._ahead is not None:
            self._drop(self._ahead.future)
            self._ahead = None
        self._block = b""
