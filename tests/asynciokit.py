"""Helpers for the asyncio tests (tests/test_asyncio*.py): running a coroutine on asyncio's
default loop or on uvloop, and counting this process's descriptors."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import Any


def run_on(kind: str, coro: Coroutine[Any, Any, Any], timeout: float = 120.0) -> Any:
    """Run ``coro`` on a new loop of ``kind`` ("asyncio" or "uvloop"), bounded by ``timeout``
    seconds (a hang fails the test instead of stopping the run)."""
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    if kind == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(bounded())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def fd_count() -> int:
    """Open descriptors of this process (after a collection: sockets of earlier tests' loops,
    dropped with them, are closed then rather than in the middle of a count)."""
    gc.collect()
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))
