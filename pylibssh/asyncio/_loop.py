"""The engine on a running asyncio loop: :class:`AsyncioLoop` offers what sessions, channels and
the server take from a :class:`pylibssh.loop.Loop` (readiness callbacks, timers, scheduling, the
lock) on top of the asyncio loop's own ``add_reader``/``add_writer``/``call_at``. No thread and no
polling timer: the asyncio loop waits for the session sockets with everything else it serves.

Every pylibssh object on an :class:`AsyncioLoop` belongs to the asyncio loop's thread. Its lock
exists because the engine's code takes it; on one thread it is never contended. Blocking waits
(the synchronous client's calls) raise :class:`RuntimeError` there: coroutines await instead.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

from ..loop import Loop, TimerHandle

__all__ = ["AsyncioLoop", "engine_loop", "wrap"]

log = logging.getLogger("pylibssh.asyncio")

_T = TypeVar("_T")


class AsyncioLoop(Loop):
    """The interface of :class:`pylibssh.loop.Loop` on an asyncio event loop (the default loop
    or uvloop). Get the one for the running loop with :func:`engine_loop`. (A subclass so that
    what takes a ``Loop`` takes it; it overrides everything the engine calls and keeps none of
    the selector loop's state.)"""

    name = "pylibssh-asyncio"
    _owned = False
    _adding: list[int] | None = None  # descriptors registered meanwhile (close_lingering)
    _released = True  # (nothing of the selector loop's to release when collected)

    def __init__(self, aio: asyncio.AbstractEventLoop):  # noqa: the selector loop's is not run
        # (weakly: the loops are kept in a WeakKeyDictionary whose values must not hold
        # their keys, or every asyncio loop that ever used pylibssh would stay in memory)
        self._aio = weakref.ref(aio)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self._cond_waiters = 0
        self._thread_id = threading.get_ident()
        self._masks: dict[int, int] = {}  # fd -> 1 (reader) | 2 (writer)
        self._watchers: dict[int, list[asyncio.Future[None]]] = {}  # see released()
        # the engine's timers, in a heap of its own under one asyncio timer (that of the
        # earliest): asyncio orders its timers with a comparison written in Python, and a
        # fan-out's connect timeouts, cancelled soon after, would fill its heap; here the
        # entries are (when, seq, timer) tuples, compared in C
        # (asyncio's timer handles are not kept: one would hold the asyncio loop, which holds
        # this object through its callback, so a timer set earlier than the next one leaves
        # that one to fire for nothing)
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._cancelled_timers = 0
        self._wake_at = math.inf  # when asyncio's timer for the earliest of ours fires

    @property
    def aio(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop (RuntimeError once it was collected)."""
        aio = self._aio()
        if aio is None:
            raise RuntimeError("the asyncio loop is gone")
        return aio

    # -- time and scheduling -------------------------------------------------------------------

    def time(self) -> float:
        return self.aio.time()

    def _run(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        with self.lock:
            try:
                callback(*args)
            except Exception:
                # as the selector loop: a failing callback must not stop the others
                log.exception("unhandled exception in loop callback %r", callback)
            if self._cond_waiters:
                self.cond.notify_all()

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop's thread, under the lock, soon (any thread)."""
        if threading.get_ident() == self._thread_id:
            self.aio.call_soon(self._run, callback, args)
        else:
            self.aio.call_soon_threadsafe(self._run, callback, args)

    call_soon_threadsafe = call_soon

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.call_at(self.time() + max(0.0, delay), callback, *args)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` on the loop's thread, under the lock, at :meth:`time`
        ``when`` (asyncio's clock); the handle's ``cancel()`` drops the callback at once.
        From the loop's thread only (RuntimeError otherwise)."""
        self._check_thread("call_at")
        aio = self.aio
        timer = TimerHandle(when, callback, args, self)
        heapq.heappush(self._heap, (when, timer._seq, timer))
        if when < self._wake_at:
            self._arm(aio, when)
        return timer

    def _arm(self, aio: asyncio.AbstractEventLoop, when: float) -> None:
        self._wake_at = when
        aio.call_at(when, self._fire, when)

    def _fire(self, when: float) -> None:
        """asyncio's timer set for ``when``: run the timers due by then (not those they add:
        they run in a later iteration, as asyncio's own would), and set one for the next."""
        aio = self._aio()
        if aio is None:
            return
        if when == self._wake_at:
            self._wake_at = math.inf
        limit = max(when, aio.time())
        timers = self._heap
        due = []
        while timers and timers[0][0] <= limit:
            timer = heapq.heappop(timers)[2]
            timer._loop = None  # out of the heap: a late cancel() has nothing to count
            if timer._call is None:
                self._cancelled_timers = max(0, self._cancelled_timers - 1)
            else:
                due.append(timer)
        if timers and timers[0][0] < self._wake_at and not aio.is_closed():
            self._arm(aio, timers[0][0])
        for timer in due:
            call = timer._call
            if call is not None:
                self._run(*call)

    def _timer_cancelled(self) -> None:
        # (TimerHandle.cancel) cancelled entries stay in the heap until due: drop them once
        # they are most of it, so that many connections with long timeouts do not grow it
        self._cancelled_timers += 1
        timers = self._heap
        if self._cancelled_timers > 100 and self._cancelled_timers * 2 > len(timers):
            timers[:] = [t for t in timers if t[2]._call is not None]
            heapq.heapify(timers)
            self._cancelled_timers = 0

    def wakeup(self) -> None:
        """Nothing to interrupt: asyncio's loop sees new readiness interest and calls at once."""

    # -- file descriptors ----------------------------------------------------------------------

    def _check_thread(self, what: str) -> None:
        if threading.get_ident() != self._thread_id:
            raise RuntimeError(f"{what}: pylibssh objects on an asyncio loop belong to that "
                               "loop's thread (use loop.call_soon_threadsafe)")

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        self._update(fd, 0, callback)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        self._update(fd, 1, callback)

    def remove_reader(self, fd: int) -> None:
        self._update(fd, 0, None)

    def remove_writer(self, fd: int) -> None:
        self._update(fd, 1, None)

    def released(self, fds: Iterable[int]) -> list[asyncio.Future[None]]:
        """Futures that complete when each of ``fds`` still registered now is given up (a
        lingering close ending): what a ``wait_closed`` awaits, so that a connection closed
        just before the program's loop ends does not leave its socket to the collector."""
        out: list[asyncio.Future[None]] = []
        for fd in fds:
            if fd in self._masks:
                f = self.aio.create_future()
                self._watchers.setdefault(fd, []).append(f)
                out.append(f)
        return out

    def close_lingering(self, close: Callable[[], Any]) -> list[asyncio.Future[None]]:
        """Call ``close()``; :meth:`released` of the descriptors it left registered (sockets
        whose close lingers until the peer has read the last message)."""
        # (the descriptors it registers are noted as they come: no copy of every registered
        # one, twice per close, which grew with the number of connections)
        added = self._adding = []
        try:
            close()
        finally:
            self._adding = None
        return self.released(added)

    def _gone(self, fd: int) -> None:
        for f in self._watchers.pop(fd, ()):
            if not f.done():
                f.set_result(None)

    def remove_fd(self, fd: int) -> None:
        """Forget ``fd`` (before it is closed: its number is reused by the next open)."""
        mask = self._masks.pop(fd, 0)
        if self._watchers:
            self._gone(fd)
        if mask:
            self._check_thread("remove_fd")
            aio = self._aio()
            if aio is not None and not aio.is_closed():
                if mask & 1:
                    aio.remove_reader(fd)
                if mask & 2:
                    aio.remove_writer(fd)

    def _update(self, fd: int, which: int, callback: Callable[[], Any] | None) -> None:
        # only the asyncio loop holds the callbacks: what they keep alive (a lingering
        # socket, its timer) goes with that loop when it is closed and dropped
        self._check_thread("add_reader" if callback else "remove_reader")
        aio = self.aio
        bit = 1 << which
        mask = self._masks.get(fd, 0)
        if callback is None:
            if not mask & bit:
                return
            mask &= ~bit
            if mask:
                self._masks[fd] = mask
            else:
                del self._masks[fd]
                if self._watchers:
                    self._gone(fd)
            if not aio.is_closed():
                (aio.remove_reader if which == 0 else aio.remove_writer)(fd)
        else:
            if not mask and self._adding is not None:
                self._adding.append(fd)
            self._masks[fd] = mask | bit
            (aio.add_reader if which == 0 else aio.add_writer)(fd, self._run, callback, ())

    # -- running -------------------------------------------------------------------------------

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread_id

    def runs_unattended(self) -> bool:
        """Always: the asyncio loop runs its timers whoever awaits."""
        return True

    @property
    def running(self) -> bool:
        """True while the asyncio loop is open."""
        aio = self._aio()
        return aio is not None and not aio.is_closed()

    @property
    def closed(self) -> bool:
        """True once the asyncio loop is closed (or gone)."""
        aio = self._aio()
        return aio is None or aio.is_closed()

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """A blocking wait: only from another thread (the asyncio loop keeps running); on the
        loop's own thread it would never return, so it raises :class:`RuntimeError`."""
        if self.in_loop_thread():
            raise RuntimeError("a blocking pylibssh call on the asyncio loop's thread would "
                               "never return: use pylibssh.asyncio's coroutines")
        with self.cond:
            self._cond_waiters += 1
            try:
                return self.cond.wait_for(predicate, timeout)
            finally:
                self._cond_waiters -= 1

    def run_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        return self.wait_for(predicate, timeout)

    def wait_future(self, future: Future[Any], timeout: float | None = None) -> bool:
        """Block until ``future`` is done or ``timeout`` expires (as :meth:`wait_for`)."""
        return self.wait_for(future.done, timeout)

    def claim_solo(self, fd: int) -> bool:
        """Never: the asyncio loop, not a reader, waits for the sockets."""
        return False

    def release_solo(self) -> None:  # pragma: no cover - claim_solo never succeeds
        pass

    def _notify(self) -> None:
        if self._cond_waiters:
            self.cond.notify_all()

    def _reap(self, teardown: Callable[[], Any]) -> None:
        """Run the teardown of an object collected without ``close()`` on the loop's thread,
        between callbacks, with the lock held (at once when the asyncio loop is closed). Any
        thread, and from a finalizer."""
        if self.closed:
            self._run(teardown, ())
        else:
            try:
                self.aio.call_soon_threadsafe(self._run, teardown, ())
            except RuntimeError:  # closed meanwhile
                self._run(teardown, ())

    def start(self) -> None:
        """The asyncio loop runs already."""

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: the asyncio loop runs on its owner's thread, not one of ours."""

    def run_once(self, timeout: float | None = None) -> None:
        """Refused (:class:`RuntimeError`): the asyncio loop is its owner's to run."""
        raise RuntimeError("pylibssh.asyncio's engine runs on the asyncio loop: await "
                           "pylibssh.asyncio's coroutines instead of running it")

    def run_forever(self) -> None:
        """Refused (:class:`RuntimeError`), as :meth:`run_once`."""
        self.run_once()

    def stop(self) -> None:
        """The asyncio loop is its owner's to stop."""

    def close(self, timeout: float = 0.0) -> None:  # noqa: D102
        """The asyncio loop is its owner's to close."""

    def __repr__(self) -> str:
        return f"<pylibssh.asyncio.AsyncioLoop on {self._aio()!r} fds={len(self._masks)}>"


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncioLoop] = \
    weakref.WeakKeyDictionary()


def engine_loop(aio: asyncio.AbstractEventLoop | None = None) -> AsyncioLoop:
    """The :class:`AsyncioLoop` of ``aio`` (default: the running loop), made on first use."""
    aio = aio or asyncio.get_running_loop()
    loop = _loops.get(aio)
    if loop is None:
        loop = _loops[aio] = AsyncioLoop(aio)
    return loop


async def within(aw: Awaitable[_T], timeout: float | None) -> _T:
    """``await aw``, cancelled after ``timeout`` seconds (None: no limit) with
    :class:`TimeoutError`: ``asyncio.timeout`` where Python has it (3.11 on), else
    ``asyncio.wait_for`` (which runs ``aw`` as a task of its own, and raises asyncio's own
    TimeoutError before 3.11)."""
    timeout_after = getattr(asyncio, "timeout", None)
    if timeout_after is not None:
        async with timeout_after(timeout):
            return await aw
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"timed out after {timeout:g} s") from None


def asyncio_loop_of(loop: Loop) -> AsyncioLoop:
    """``loop`` as the :class:`AsyncioLoop` it is; TypeError for another kind of loop (the
    asyncio front end's objects live on one, as :func:`engine_loop` gives)."""
    if not isinstance(loop, AsyncioLoop):
        raise TypeError(f"{loop!r} is not an asyncio loop: pylibssh.asyncio's objects are made "
                        "by its connect() and create_server()")
    return loop


def wrap(future: Future[_T], aio: asyncio.AbstractEventLoop | None = None,
         on_cancel: Callable[[], Any] | None = None) -> asyncio.Future[_T]:
    """An asyncio future that completes with the engine's ``future``. The engine completes its
    futures on the loop's thread, so the result is copied over at once (``asyncio.wrap_future``
    would go through ``call_soon_threadsafe`` and a wakeup every time). ``on_cancel`` runs when
    the asyncio future is cancelled while the engine's is not done (to stop the work)."""
    aio = aio or asyncio.get_running_loop()
    out: asyncio.Future[_T] = aio.create_future()
    thread = threading.get_ident()

    def copy(f: Future[_T]) -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
            return
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(f.result())

    def done(f: Future[_T]) -> None:
        if threading.get_ident() == thread:
            copy(f)
        else:
            aio.call_soon_threadsafe(copy, f)

    if on_cancel is not None:
        def cancelled(o: asyncio.Future[_T]) -> None:
            if o.cancelled() and not future.done():
                on_cancel()
        out.add_done_callback(cancelled)
    future.add_done_callback(done)
    return out
