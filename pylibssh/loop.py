"""The poll loop: a ``selectors``-based event loop with timers, shared by servers and clients.

One :class:`Loop` drives any number of servers and client sessions from one thread. libssh objects
are not thread-safe, so the loop has one lock, :attr:`Loop.lock` (an ``RLock``), that guards every
libssh object it drives: the loop thread holds it while it dispatches and releases it only while it
sleeps in ``select()``. Another thread may call into pylibssh objects directly: their methods take
the lock (see :func:`locked`) and wake the loop afterwards so that it notices new work (pending
output, for one). Waiting for the loop to do something is done with :attr:`Loop.cond`, a condition
on the same lock, so a waiter never blocks the loop.

The loop can run in the calling thread (:meth:`Loop.run_forever`, :meth:`Loop.run_until`) or in a
background thread (:meth:`Loop.start`), and be stopped from any thread (:meth:`Loop.stop`).

Objects collected without ``close()`` (sessions, clients: see ``__del__`` in their modules) hand
their teardown to their loop (:meth:`Loop._reap`): a finalizer may run on any thread, even inside
a libssh callback, so it never calls libssh itself. The loop runs the teardowns between its
callbacks, with its lock held; a closed loop, or one being collected (then nothing can be using
its objects), runs them at once. A loop collected without ``close()`` says so with a
``ResourceWarning``, as asyncio's does.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import os
import select
import selectors
import socket
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Loop", "TimerHandle", "locked", "get_default_loop", "reap_unclosed"]

log = logging.getLogger("pylibssh.loop")

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE

F = TypeVar("F", bound=Callable[..., Any])


def release_all(lock: threading.RLock) -> int:
    """Release an ``RLock`` the calling thread holds, at every depth it holds it; returns the
    depth for :func:`restore`. (``RLock`` tells a release it does not own with RuntimeError.)"""
    depth = 0
    while True:
        try:
            lock.release()
        except RuntimeError:
            return depth
        depth += 1


def restore(lock: threading.RLock, depth: int) -> None:
    """Take ``lock`` back at the depth :func:`release_all` returned."""
    for _ in range(depth):
        lock.acquire()


class TimerHandle:
    """A scheduled call; :meth:`cancel` prevents it from running (from any thread)."""

    __slots__ = ("when", "_call", "_seq", "_loop")
    _counter = itertools.count()

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...],
                 loop: Loop | None = None):
        self.when = when
        # (callback, args) in one attribute: the loop reads it once, so a cancel() from another
        # thread either wins (nothing runs) or comes too late, never half-way
        self._call: tuple[Callable[..., Any], tuple[Any, ...]] | None = (callback, args)
        self._seq = next(self._counter)
        self._loop = loop

    @property
    def cancelled(self) -> bool:
        """Whether the timer was cancelled (or has run)."""
        return self._call is None

    @property
    def callback(self) -> Callable[..., Any] | None:
        """The callback the timer will call (None once cancelled or run)."""
        call = self._call
        return None if call is None else call[0]

    def cancel(self) -> None:
        """Cancel the timer (from any thread; nothing if it ran already)."""
        if self._call is None:
            return
        # a cancelled handle stays in the heap until it is due (a login grace timer: minutes);
        # it must not keep its callback's object (a whole session) alive that long
        self._call = None
        loop = self._loop
        if loop is not None:
            loop._timer_cancelled()

    def __lt__(self, other: TimerHandle) -> bool:
        return (self.when, self._seq) < (other.when, other._seq)


class _FdEntry:
    __slots__ = ("fd", "reader", "writer")

    def __init__(self, fd: int):
        self.fd = fd
        self.reader: Callable[[], Any] | None = None
        self.writer: Callable[[], Any] | None = None

    def mask(self) -> int:
        return (EVENT_READ if self.reader else 0) | (EVENT_WRITE if self.writer else 0)


class Loop:
    """A selector loop with fd readiness callbacks, timers and thread-safe scheduling."""

    #: the process that made the default loop (get_default_loop: a forked child makes its own)
    _pid = -1

    def __init__(self, name: str = "pylibssh-loop"):
        self.name = name
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self._cond_waiters = 0  # threads in cond.wait (wait_for): notified after each pass
        # threads in wait_future: notified when their future settles or the loop stops, not
        # after each pass (a pass per packet would wake them for nothing)
        self._done_cond = threading.Condition(self.lock)
        self._done_waiters = 0
        self._selector = selectors.DefaultSelector()
        self._fds: dict[int, _FdEntry] = {}
        self._timers: list[TimerHandle] = []
        self._cancelled_timers = 0
        self._ready: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._stopping = False
        self._closed = False
        self._released = True  # (until the resources below exist: see __del__)
        #: created by an object whose own ResourceWarning covers it (a Client's, a Server's)
        self._owned = False
        # teardowns of objects collected without close() (see _reap)
        self._reaps: deque[Callable[[], Any]] = deque()
        self._thread: threading.Thread | None = None
        self._running_thread: int | None = None
        self._sleeping = False
        self._new_wakeup()
        self._released = False
        self._solo_poller: Any = None  # see solo_wait
        self._solo_fd: int | None = None
        self._solo_key: int | None = None

    # -- time and scheduling --------------------------------------------------------------------

    def time(self) -> float:
        """The loop's clock (:func:`time.monotonic`), which timers use."""
        return time.monotonic()

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop thread at its next iteration (any thread)."""
        self._ready.append((callback, args))  # deque.append is atomic
        self.wakeup()

    call_soon_threadsafe = call_soon

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` on the loop after ``delay`` seconds; returns a handle to cancel
        it (from any thread)."""
        return self.call_at(self.time() + max(0.0, delay), callback, *args)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Call ``callback(*args)`` on the loop at :meth:`time` ``when``; returns a handle to
        cancel it (from any thread)."""
        handle = TimerHandle(when, callback, args, self)
        with self.lock:
            heapq.heappush(self._timers, handle)
        self.wakeup()
        return handle

    def _timer_cancelled(self) -> None:
        # drop cancelled handles once they are most of the heap (as asyncio does), so that
        # many short connections with long timers do not grow it without bound
        with self.lock:
            self._cancelled_timers += 1
            if self._cancelled_timers > 100 and self._cancelled_timers * 2 > len(self._timers):
                self._timers = [h for h in self._timers if not h.cancelled]
                heapq.heapify(self._timers)
                self._cancelled_timers = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the loop thread; the returned future carries its result."""
        future: Future[Any] = Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)

        self.call_soon(run)
        return future

    def wakeup(self) -> None:
        """Interrupt a blocking select() so the loop re-examines its work (any thread)."""
        # from another thread always write while a thread drives the loop: it may be just
        # about to sleep, and checking a "sleeping" flag first would lose that wakeup. While no
        # thread drives it and none sleeps in it (a blocking client between its calls), the
        # next to run it looks at its work before it sleeps (run_once marks itself sleeping
        # first, then looks): a byte would only cost it a pass and two system calls
        running = self._running_thread
        if running != threading.get_ident() and not self._closed and (
                running is not None or self._sleeping):
            try:
                os.write(self._wake_w, b"\0")
            except OSError:
                pass  # the pipe is full: the loop will wake anyway (or it was just closed)

    # -- file descriptors -----------------------------------------------------------------------

    def add_reader(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` on the loop whenever ``fd`` is readable (replacing a reader it had)."""
        self._set(fd, "reader", callback)

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` for reading."""
        self._set(fd, "reader", None)

    def add_writer(self, fd: int, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` on the loop whenever ``fd`` is writable (replacing a writer it had)."""
        self._set(fd, "writer", callback)

    def remove_writer(self, fd: int) -> None:
        """Stop watching ``fd`` for writing."""
        self._set(fd, "writer", None)

    def remove_fd(self, fd: int) -> None:
        """Forget an fd entirely (before it is closed: its number is reused by the next open)."""
        with self.lock:
            entry = self._fds.pop(fd, None)
            if self._solo_fd == fd:
                self._solo_poller.unregister(fd)
                self._solo_fd = self._solo_key = None
            if entry is not None and entry.mask():
                try:
                    self._selector.unregister(fd)
                except (KeyError, ValueError, OSError):
                    pass

    def _set(self, fd: int, which: str, callback: Callable[[], Any] | None) -> None:
        with self.lock:
            entry = self._fds.get(fd)
            if entry is None:
                if callback is None:
                    return
                entry = self._fds[fd] = _FdEntry(fd)
            before = entry.mask()
            setattr(entry, which, callback)
            after = entry.mask()
            if before == after:
                return
            if not before:
                self._selector.register(fd, after, entry)
            elif not after:
                self._selector.unregister(fd)
            else:
                self._selector.modify(fd, after, entry)
        self.wakeup()

    # -- running --------------------------------------------------------------------------------

    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the one running the loop now."""
        return self._running_thread == threading.get_ident()

    @property
    def running(self) -> bool:
        """Whether a thread is running the loop."""
        return self._running_thread is not None

    def runs_unattended(self) -> bool:
        """Whether the loop runs, and its timers fire, with no caller waiting on it: run by
        its own thread (:meth:`start`), not only by callers' waits."""
        return self._thread is not None and self._running_thread == self._thread.ident

    def run_once(self, timeout: float | None = None) -> None:
        """One iteration: wait for readiness (at most ``timeout`` seconds, less if a timer is due
        or work is ready), then run fd callbacks, due timers and scheduled calls."""
        with self.lock:
            # sleeping before looking at the work: a wakeup() that saw neither a driver nor a
            # sleeper wrote no byte, so its work must be seen here (see wakeup)
            self._sleeping = True
            if self._ready or self._reaps:
                timeout = 0
            elif self._timers:
                due = max(0.0, self._timers[0].when - self.time())
                timeout = due if timeout is None else min(timeout, due)
            # sleep without the lock (all recursion levels) so that other threads can use libssh
            # objects meanwhile
            depth = release_all(self.lock)
            try:
                events = self._selector.select(timeout)
            finally:
                restore(self.lock, depth)
                self._sleeping = False
            for key, mask in events:
                entry: _FdEntry | None = key.data
                if entry is None:
                    self._drain_wakeup()
                    continue
                ran = None
                if mask & EVENT_READ and entry.reader is not None:
                    ran = entry.reader
                    self._run(ran, ())
                if (mask & EVENT_WRITE and entry.writer is not None
                        and self._fds.get(entry.fd) is entry
                        and not (ran is not None and entry.writer == ran)):
                    # (one call serves both when reading and writing share a callback: a
                    # session's poll handles POLLIN and POLLOUT at once)
                    self._run(entry.writer, ())
            now = self.time()
            while self._timers and self._timers[0].when <= now:
                handle = heapq.heappop(self._timers)
                handle._loop = None  # out of the heap: a late cancel() has nothing to count
                call = handle._call
                if call is None:
                    self._cancelled_timers = max(0, self._cancelled_timers - 1)
                else:
                    self._run(*call)
            for _ in range(len(self._ready)):
                callback, args = self._ready.popleft()
                self._run(callback, args)
            if self._reaps:
                self._run_reaps()
            self._notify()

    def run_forever(self) -> None:
        """Run until :meth:`stop` is called (from a callback or any thread)."""
        self._enter()
        try:
            while not self._stopping:
                self.run_once()
        finally:
            self._leave()

    def run_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Run until ``predicate()`` is true (checked after every iteration) or ``timeout``
        expires; returns the predicate's last value."""
        deadline = None if timeout is None else self.time() + timeout
        self._enter()
        try:
            while not predicate():
                if self._stopping:
                    return predicate()
                remaining = None if deadline is None else deadline - self.time()
                if remaining is not None and remaining <= 0:
                    return predicate()
                self.run_once(remaining)
            return True
        finally:
            self._leave()

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Block until ``predicate()`` is true or ``timeout`` expires; returns its last value.

        When another thread runs the loop, this waits on :attr:`cond` (the loop keeps running);
        when nobody does, the caller drives the loop itself until the predicate holds. Several
        threads may wait at once: when the one driving the loop is done, another takes over.
        The predicate is evaluated under :attr:`lock`. Never call this from a loop callback.
        """
        self._refuse_in_loop_thread()
        return self._block(predicate, timeout, until_done=False)

    def wait_future(self, future: Future[Any], timeout: float | None = None) -> bool:
        """Block until ``future`` is done or ``timeout`` expires; whether it is done.

        As :meth:`wait_for` with ``future.done`` as the predicate, but while another thread
        runs the loop the caller sleeps until the future settles (or the loop stops, then it
        drives the loop itself), instead of waking after every pass of the loop. Never call
        this from a loop callback (``RuntimeError``).
        """
        if future.done():
            return True
        self._refuse_in_loop_thread()
        future.add_done_callback(self._future_done)
        return self._block(future.done, timeout, until_done=True)

    def _refuse_in_loop_thread(self) -> None:
        if self.in_loop_thread():
            raise RuntimeError("a blocking wait inside a loop callback would never return; "
                               "react to events instead")

    def _block(self, predicate: Callable[[], bool], timeout: float | None,
               until_done: bool) -> bool:
        """wait_for and wait_future: drive the loop while nobody does, else sleep on
        :attr:`cond` (woken after every pass) or, ``until_done``, on the condition a settled
        future notifies."""
        deadline = None if timeout is None else self.time() + timeout
        cond = self._done_cond if until_done else self.cond
        with self.lock:
            while True:
                if predicate():
                    return True
                remaining = None if deadline is None else deadline - self.time()
                if remaining is not None and remaining <= 0:
                    return False
                if self._running_thread is None:
                    try:
                        return self.run_until(predicate, remaining)
                    except RuntimeError:
                        if self._running_thread is None:
                            raise
                        continue  # another thread started driving it meanwhile
                # another thread drives the loop: it notifies after every iteration (or when
                # a future settles), and when it stops driving (then this thread takes over)
                if until_done:
                    self._done_waiters += 1
                else:
                    self._cond_waiters += 1
                try:
                    cond.wait(remaining)
                finally:
                    if until_done:
                        self._done_waiters -= 1
                    else:
                        self._cond_waiters -= 1

    def _future_done(self, future: Future[Any]) -> None:
        # (under the lock: a waiter checks done() and sleeps without letting go of it between)
        with self.lock:
            if self._done_waiters:
                self._done_cond.notify_all()

    # -- one fd waited for directly (a blocking read: pylibssh/client/process.py) ----------------

    def claim_solo(self, fd: int) -> bool:
        """Let the calling thread (lock held) drive the loop by waiting for ``fd`` alone: true
        when nobody runs the loop (so this is not a loop callback), ``fd`` is the only one
        registered and no call is scheduled. The loop then counts as running in this thread
        (other threads wait on :attr:`cond` or wake it) until :meth:`release_solo`."""
        if (self._running_thread is not None or self._ready or self._reaps or self._closed
                or len(self._fds) != 1 or fd not in self._fds):
            return False
        self._enter()
        return True

    def release_solo(self) -> None:
        """End a solo wait begun with :meth:`claim_solo`: the loop runs again."""
        self._leave()

    def solo_wait(self, fd: int, write: bool, deadline: float | None) -> bool | None:
        """Wait (lock released meanwhile) until ``fd`` is readable (or writable, with
        ``write``) or another thread wakes the loop: True, look again. False: ``deadline``
        passed. None: the loop has other work (a scheduled call, a due timer, another fd): go
        back to :meth:`wait_for`. Called once per pass of a blocking read: kept lean."""
        if self._ready or self._reaps or len(self._fds) != 1:
            return None
        ms = -1
        until = deadline
        if self._timers and (until is None or self._timers[0].when < until):
            until = self._timers[0].when
        if until is not None:
            ms = math.ceil((until - time.monotonic()) * 1000)
            if ms <= 0:
                return None if until != deadline else False
        key = -fd - 1 if write else fd  # what the poller waits for
        if key != self._solo_key:
            self._solo_register(fd, write)
            self._solo_key = key
        lock = self.lock
        depth = release_all(lock)
        try:
            events = self._solo_poller.poll(ms)
        finally:
            restore(lock, depth)
        if not events:
            return None if until != deadline else False
        if len(events) > 1 or events[0][0] != fd:
            self._drain_wakeup()
            if self._ready or self._reaps or len(self._fds) != 1:
                return None
        return True

    def _solo_register(self, fd: int, write: bool) -> None:
        poller = self._solo_poller
        if poller is None:
            poller = self._solo_poller = select.poll()
            poller.register(self._wake_r, select.POLLIN)
        if self._solo_fd is not None and self._solo_fd != fd:
            poller.unregister(self._solo_fd)
        poller.register(fd, select.POLLIN | (select.POLLOUT if write else 0))
        self._solo_fd = fd

    def stop(self) -> None:
        """Ask a running loop to return from run_forever/run_until (any thread)."""
        self._stopping = True
        self.wakeup()

    def start(self) -> threading.Thread | None:
        """Run the loop in a background (daemon) thread, which it returns; :meth:`stop` or
        :meth:`close` ends it. (None from a loop that other code runs: an AsyncioLoop.)"""
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                return self._thread
            ready = threading.Event()

            def main() -> None:
                self._running_thread = threading.get_ident()
                ready.set()
                self.run_forever()

            self._thread = threading.Thread(target=main, name=self.name, daemon=True)
            self._thread.start()
        ready.wait(10)
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds (None: no limit) for the loop's own thread to end
        (nothing when called from it)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop (and its thread) and release its resources. Idempotent. From a loop
        callback, the loop stops and is released once the running call returns."""
        if self._closed:
            return
        self.stop()
        if self.in_loop_thread():
            self._closed = True  # released by _leave, after this iteration
            return
        self.join(timeout)
        with self.lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        """Free the loop's own resources, after the teardowns still waiting (lock held)."""
        if self._released:
            return
        self._run_reaps()
        self._released = True
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._fds.clear()
        self._timers.clear()
        self._ready.clear()

    # -- objects collected without close() ------------------------------------------------------

    def _reap(self, teardown: Callable[[], Any]) -> None:
        """Run ``teardown`` (a collected object's: it frees C objects) where libssh may be
        called: by the loop between its callbacks, with the lock held, at its next iteration;
        at once on a closed loop (nothing drives it: the calling thread takes the lock). Any
        thread, and from a finalizer: it only queues and wakes the loop. An idle loop nobody
        runs keeps it until it runs, is closed or is collected."""
        self._reaps.append(teardown)  # deque.append is atomic
        if not self._closed:
            self.wakeup()
        elif not self.in_loop_thread():  # (a loop closed from its callback: _leave runs it)
            self._run_reaps()

    def _run_reaps(self) -> None:
        with self.lock:
            while self._reaps:
                teardown = self._reaps.popleft()
                try:
                    teardown()
                except Exception:
                    log.exception("freeing an object collected without close(): %r", teardown)

    def __del__(self) -> None:
        # collected: no thread runs the loop or is inside a call on its objects (they would
        # hold it), so the teardowns its objects queued run here
        if getattr(self, "_released", True):
            return
        try:
            if not self._closed and not self._owned:
                warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
            self._closed = True
            self._release()
        except Exception:  # (at interpreter exit modules may be gone)
            pass

    @property
    def closed(self) -> bool:
        """Whether the loop is closed."""
        return self._closed

    def _after_fork(self) -> None:
        """In a child of ``os.fork()``: give the loop its own selector, wakeup socket and lock.
        The parent's epoll instance is one kernel object shared across the fork (registering a
        descriptor here would change the parent's), and a lock another parent thread held at
        the fork stays held forever in the child. Descriptors registered before the fork are
        forgotten; timers and scheduled calls stay. The caller is the child's only thread."""
        for old in (self._wake_r, self._wake_w):
            os.close(old)
        self._selector.close()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self._cond_waiters = 0
        self._done_cond = threading.Condition(self.lock)
        self._done_waiters = 0
        self._selector = selectors.DefaultSelector()
        self._fds.clear()
        self._thread = None
        self._running_thread = None
        self._stopping = False
        self._sleeping = False
        self._new_wakeup()
        self._solo_poller = None
        self._solo_fd = self._solo_key = None

    # -- internals ------------------------------------------------------------------------------

    def _new_wakeup(self) -> None:
        # the self-pipe: another thread writes a byte to interrupt select(). Kept as descriptors:
        # socket objects collected in the same cycle as the loop would warn before __del__
        # closed them
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_r, self._wake_w = wake_r.detach(), wake_w.detach()
        self._selector.register(self._wake_r, EVENT_READ, None)

    def _enter(self) -> None:
        if self._closed:
            raise RuntimeError("the loop is closed")
        ident = threading.get_ident()
        if self._running_thread not in (None, ident):
            raise RuntimeError("the loop is already running in another thread")
        self._running_thread = ident
        self._stopping = False

    def _leave(self) -> None:
        self._running_thread = None
        self._stopping = False
        with self.lock:
            if self._closed:
                self._release()  # closed from one of its callbacks
            self._notify()
            if self._done_waiters:  # nobody drives the loop now: one of them takes over
                self._done_cond.notify_all()

    def _notify(self) -> None:
        """Wake the threads waiting on :attr:`cond` (lock held)."""
        if self._cond_waiters:
            self.cond.notify_all()

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            callback(*args)
        except Exception:
            # a failing callback must not take down everything else the loop drives
            log.exception("unhandled exception in loop callback %r", callback)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self.running else "idle"
        return f"<pylibssh.Loop {self.name} {state} fds={len(self._fds)}>"


def reap_unclosed(obj: object, loop: Loop, teardown: Callable[[], Any], *,
                  warn: bool = True) -> None:
    """What ``__del__`` of an object that owns C objects does when it was not closed: a
    ``ResourceWarning`` naming ``obj`` (unless ``warn`` is false: its owner's warning names it),
    then ``teardown`` (which frees them, in order) handed to ``loop`` (:meth:`Loop._reap`: run
    between the loop's callbacks with its lock held, never from the finalizer's own frame).
    Never raises: a finalizer may run at interpreter exit."""
    try:
        if warn:
            warnings.warn(f"unclosed {obj!r}", ResourceWarning, source=obj)
        loop._reap(teardown)
    except Exception:
        pass


def locked(method: F) -> F:
    """Decorator for methods of objects with a ``_loop``: run under the loop's lock and, when
    called from outside the loop thread, wake the loop afterwards so it sees the new work."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        loop: Loop = self._loop
        with loop.lock:
            result = method(self, *args, **kwargs)
        if not loop.in_loop_thread():
            loop.wakeup()
        return result

    return wrapper  # type: ignore[return-value]


_default_loop: Loop | None = None
_default_lock = threading.Lock()


def get_default_loop() -> Loop:
    """The process-wide loop that client sessions use when given none, running in a daemon
    thread (started on first use; a forked child gets its own)."""
    global _default_loop
    with _default_lock:
        if _default_loop is None or _default_loop.closed or _default_loop._pid != os.getpid():
            _default_loop = Loop("pylibssh-default-loop")
            _default_loop._pid = os.getpid()
            _default_loop.start()
        return _default_loop
