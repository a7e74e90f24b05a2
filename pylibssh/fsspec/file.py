""":class:`SFTPFile`: fsspec's buffered file over one open SFTP handle."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fsspec.asyn import sync
from fsspec.spec import AbstractBufferedFile

from .prefetch import ForwardPrefetchCache

if TYPE_CHECKING:
    from .connection import PendingRead, SFTPConnection
    from .spec import SFTPFileSystem

__all__ = ["SFTPFile"]


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class SFTPFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec has no types
    """A remote file opened by :meth:`SFTPFileSystem.open
    <pylibssh.fsspec.SFTPFileSystem.open>` in ``rb``, ``wb``, ``xb`` or ``ab`` mode.

    The handle is opened at once, so a missing file (``FileNotFoundError``), a directory
    (``IsADirectoryError``) or an existing file in ``xb`` mode (``FileExistsError``) fails the
    ``open`` itself. Reads go through a cache (``cache_type``, any of fsspec's, by default
    ``"prefetch"``: :class:`~pylibssh.fsspec.prefetch.ForwardPrefetchCache`, read-ahead of
    ``block_size``, 5 MiB, and the next range fetched in the background while reads move
    forward): each fetch is one batch of pipelined READs. Writes are buffered
    (``block_size``) and each full buffer goes out as pipelined WRITEs; ``close`` writes the
    rest and closes the handle. Transactions (``autocommit=False``) are not supported
    (NotImplementedError).
    """

    def __init__(self, fs: SFTPFileSystem, path: str, mode: str = "rb",
                 block_size: Any = "default", autocommit: bool = True,
                 cache_type: str = "prefetch", cache_options: Any = None, **kwargs: Any):
        if not autocommit:
            raise NotImplementedError("SFTP files are written in place: no transactions")
        if mode not in ("rb", "wb", "xb", "ab"):
            raise NotImplementedError(f"mode {mode!r} (use rb, wb, xb or ab)")
        self._sftp, self._handle, size = sync(fs.loop, fs._open_for_file, path, mode)
        self._base = size if mode == "ab" else 0  # where appended data goes
        ours = cache_type == ForwardPrefetchCache.name
        try:
            super().__init__(fs, path, mode, block_size=block_size, autocommit=autocommit,
                             cache_type="none" if ours else cache_type,
                             cache_options=None if ours else cache_options,
                             size=size if mode == "rb" else None, **kwargs)
            if ours and mode == "rb":
                self.cache = ForwardPrefetchCache(self.blocksize, self._fetch_range, self.size,
                                                  self._start_fetch, **(cache_options or {}))
        except BaseException:
            self._close_handle()
            raise
        if mode == "ab":
            self.loc = size

    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = self._start_fetch(start, end).result()
        return data

    def _start_fetch(self, start: int, end: int) -> PendingRead:
        # straight to the connection's thread: fsspec's loop has nothing to do in a range read
        if self._handle is None:
            raise ValueError("I/O operation on closed file.")
        sftp: SFTPConnection = self._sftp
        return sftp.start_read(self._handle, start, min(end, self.size), self.path)

    def _initiate_upload(self) -> None:
        pass  # the handle is open since __init__

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getbuffer()
        try:
            if len(data):
                sync(self.fs.loop, self._sftp.write, self._handle, self._base + self.offset,
                     data, self.path)
        finally:
            data.release()
            if final:
                self._close_handle()
        return True

    def _close_handle(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            sync(self.fs.loop, self._sftp.close_handle, handle, self.path)

    def __del__(self) -> None:
        # dropped without close(): a handle is closed without waiting, since this may run
        # anywhere (the connection's loop thread, fsspec's, or after fsspec's loop stopped at
        # the end of the program); a written file's buffer is written first where waiting is
        # possible
        if getattr(self, "closed", True):  # closed, or never opened
            return
        if self.mode != "rb" and not self._sftp.in_loop_thread() and not _in_event_loop():
            super().__del__()  # writes what is buffered, waiting for it
            return
        handle, self._handle = self._handle, None
        if handle is not None:
            self._sftp.close_handle_soon(handle, self.path)
        self.closed = True

    def close(self) -> None:
        """Write what is buffered (write modes) and close the handle; idempotent."""
        try:
            super().close()
        finally:
            if self._handle is not None:
                self._close_handle()
