"""Tasks: multi-step client operations (connect, authenticate, open a channel, run a command)
written as generators and driven by the loop, so that one thread can run many at once.

A task's generator yields *pollers*: callables that retry a nonblocking libssh call (or check a
condition) and return :data:`AGAIN` while it has not finished, or its result. The session pokes
its tasks after every poll of its socket (see ``ClientSession._dispatch``); a poller that finishes
resumes the generator with its result (an exception a poller raises is thrown into it). The
generator's return value completes :attr:`Task.future`.

A task's timeout throws :class:`~pylibssh.errors.SSHTimeoutError` into the generator, which can
clean up (close what it opened) and let it propagate. Everything here runs under the loop lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any, TypeVar

from ..errors import SSHTimeoutError
from ..loop import Loop, TimerHandle

log = logging.getLogger("pylibssh.client")


class _Again:
    def __repr__(self) -> str:
        return "AGAIN"


#: returned by a poller that has not finished yet
AGAIN: Any = _Again()

Poller = Callable[[], Any]
TaskGen = Generator[Poller, Any, Any]
_T = TypeVar("_T")


class Task:
    """One running generator; ``future`` carries its result or exception: a
    ``concurrent.futures.Future`` made for it (which cannot be cancelled), or the ``future``
    given, which the task completes unless it is done already (an asyncio future that its
    awaiting coroutine cancelled). A given future is completed on the loop's thread."""

    __slots__ = ("future", "name", "_gen", "_poller", "_timer", "_owner", "_running",
                 "_given")

    def __init__(self, owner: Any, gen: TaskGen, name: str, timeout: float | None = None,
                 future: Any = None):
        self._given = future is not None
        if future is None:
            future = Future()
            future.set_running_or_notify_cancel()
        self.future: Future[Any] = future
        self.name = name
        self._gen: TaskGen | None = gen
        self._poller: Poller | None = None
        self._owner = owner  # has _tasks (a list) and _loop
        self._running = False
        loop: Loop = owner._loop
        self._timer: TimerHandle | None = None
        if timeout is not None:
            self._timer = loop.call_later(timeout, self._time_out, timeout)
        owner._tasks.append(self)
        self._advance(None, None)

    @property
    def done(self) -> bool:
        return self._gen is None

    def poke(self) -> bool:
        """Retry the current poller (after socket activity); whether the task moved on (its
        poller finished or raised)."""
        if self._gen is None or self._poller is None or self._running:
            return False
        try:
            value = self._poller()
        except BaseException as exc:  # noqa: BLE001 - handed to the generator
            self._advance(None, exc)
            return True
        if value is AGAIN:
            return False
        self._advance(value, None)
        return True

    def throw(self, exc: BaseException) -> None:
        """End the task's wait with ``exc`` (thrown into the generator)."""
        if self._gen is not None and not self._running:
            self._advance(None, exc)
        elif self._gen is not None:
            log.debug("%s: %r arrived while running", self.name, exc)

    def _time_out(self, timeout: float) -> None:
        with self._owner._loop.lock:
            self._timer = None
            self.throw(SSHTimeoutError(f"{self.name} timed out after {timeout:g} s"))

    def _advance(self, value: Any, exc: BaseException | None) -> None:
        gen = self._gen
        if gen is None:
            return
        self._running = True
        try:
            while True:
                try:
                    poller = gen.throw(exc) if exc is not None else gen.send(value)
                except StopIteration as stop:
                    self._finish(stop.value, None)
                    return
                except BaseException as err:  # noqa: BLE001 - the task's outcome
                    self._finish(None, err)
                    return
                exc = None
                try:
                    value = poller()
                except BaseException as err:  # noqa: BLE001 - thrown into the generator
                    exc = err
                    continue
                if value is AGAIN:
                    self._poller = poller
                    return
        finally:
            self._running = False

    def _finish(self, result: Any, exc: BaseException | None) -> None:
        self._gen = None
        self._poller = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self._owner._tasks.remove(self)
        except ValueError:
            pass
        future = self.future
        if self._given and future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def __repr__(self) -> str:
        return f"<Task {self.name} {'done' if self.done else 'running'}>"


def wait(loop: Loop, future: Future[_T], timeout: float | None, what: str) -> _T:
    """Block until ``future`` is done (driving ``loop`` if nobody runs it); its result."""
    if not loop.wait_future(future, timeout):
        raise SSHTimeoutError(f"{what} timed out after {timeout:g} s")
    return future.result()
