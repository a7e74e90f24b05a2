"""Helpers for the asyncio tests (tests/test_asyncio*.py): running a coroutine on asyncio's
default loop or on uvloop, counting this process's descriptors, and the options that log in to
the test sshd."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import Any

import pytest
from clientkit import DEADLINE


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


@pytest.fixture
def opts(sshd, client_key, known_hosts):
    """``pylibssh.asyncio.connect``'s options for the test sshd (the module imports
    ``known_hosts`` from clientkit)."""
    return dict(host="127.0.0.1", port=sshd.port, user=sshd.user, keys=[str(client_key)],
                known_hosts=str(known_hosts), config=None, agent=False, look_for_keys=False,
                timeout=DEADLINE, op_timeout=DEADLINE)
