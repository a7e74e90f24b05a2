"""The selector loop: fd callbacks, timers, thread-safe scheduling, waiting, stopping."""

import socket
import threading
import time

import pytest

from pylibssh.events import EventEmitter
from pylibssh.loop import Loop


@pytest.fixture
def loop():
    lp = Loop("test-loop")
    yield lp
    lp.close()


def test_timers_run_in_order(loop):
    seen = []
    loop.call_later(0.05, seen.append, "b")
    loop.call_later(0.01, seen.append, "a")
    cancelled = loop.call_later(0.02, seen.append, "never")
    cancelled.cancel()
    loop.call_later(0.08, loop.stop)
    start = time.monotonic()
    loop.run_forever()
    assert seen == ["a", "b"]
    assert 0.07 <= time.monotonic() - start < 2


def test_reader_callback_and_removal(loop):
    a, b = socket.socketpair()
    got = []

    def on_read():
        got.append(a.recv(100))
        loop.remove_reader(a.fileno())
        loop.stop()

    loop.add_reader(a.fileno(), on_read)
    b.send(b"ping")
    loop.run_forever()
    assert got == [b"ping"]
    a.close()
    b.close()


def test_background_thread_threadsafe_calls_and_stop(loop):
    thread = loop.start()
    assert thread.is_alive() and loop.running
    result = loop.submit(lambda: threading.current_thread().name).result(5)
    assert result == "test-loop"
    done = threading.Event()
    loop.call_soon(done.set)
    assert done.wait(5)
    loop.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_wait_for_drives_an_idle_loop_or_waits_on_a_running_one(loop):
    flag = []
    loop.call_later(0.02, flag.append, 1)
    assert loop.wait_for(lambda: flag, timeout=5)  # nobody runs the loop: the waiter drives it
    assert not loop.wait_for(lambda: False, timeout=0.05)
    loop.start()
    loop.call_later(0.02, flag.append, 2)
    assert loop.wait_for(lambda: len(flag) == 2, timeout=5)  # the loop thread does the work


class _CountingCondition(threading.Condition):
    """A condition that counts the waits: how often a waiting thread went back to sleep."""

    def __init__(self, lock):
        super().__init__(lock)
        self.waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        return super().wait(timeout)


def test_client_wait_sleeps_until_its_future_settles_not_after_every_pass(loop):
    # a client call waits for its future while the transport's thread runs the loop: the loop
    # makes a pass per packet, and waking the caller for each costs CPU and GIL hand-offs
    from concurrent.futures import Future

    from pylibssh.client._task import wait

    loop.cond = _CountingCondition(loop.lock)
    if hasattr(loop, "_done_cond"):
        loop._done_cond = _CountingCondition(loop.lock)
    loop.start()
    future = Future()
    passes = []

    def another_pass():
        passes.append(1)
        if len(passes) < 100:
            # a pass each, the loop sleeping in between (without its lock) as between packets
            loop.call_later(0.002, another_pass)
        else:
            future.set_result("done")

    loop.call_soon(another_pass)
    assert wait(loop, future, 10, "test") == "done"
    assert len(passes) == 100
    waits = loop.cond.waits + getattr(getattr(loop, "_done_cond", None), "waits", 0)
    assert waits <= 3, f"the waiting thread woke {waits} times for one result"


def test_wait_future_drives_an_idle_loop_waits_on_a_running_one_and_takes_over(loop):
    from concurrent.futures import Future

    f1 = Future()
    loop.call_later(0.02, f1.set_result, 1)
    assert loop.wait_future(f1, timeout=5)  # nobody runs the loop: the waiter drives it
    assert not loop.wait_future(Future(), timeout=0.05)
    thread = loop.start()
    f2 = Future()
    loop.call_later(0.02, f2.set_result, 2)
    assert loop.wait_future(f2, timeout=5) and f2.result() == 2  # the loop thread settles it
    # the loop's thread stops while a thread waits: the waiter drives the loop from then on
    f3 = Future()
    loop.call_later(0.05, loop.stop)
    loop.call_later(0.3, f3.set_result, 3)
    assert loop.wait_future(f3, timeout=10) and f3.result() == 3
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("wait", ["wait_future", "wait_for"])
def test_a_blocking_wait_inside_the_loop_refuses(loop, wait):
    from concurrent.futures import Future

    errors = []

    def cb():
        try:
            if wait == "wait_future":
                loop.wait_future(Future(), 1)
            else:
                loop.wait_for(lambda: True, 1)
        except RuntimeError as exc:
            errors.append(exc)
        loop.stop()

    loop.call_soon(cb)
    loop.run_forever()
    assert errors


def test_callback_exception_is_logged_and_loop_continues(loop, caplog):
    def boom():
        raise ValueError("boom")

    seen = []
    loop.call_soon(boom)
    loop.call_soon(seen.append, "after")
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == ["after"]
    assert any("boom" in r.exc_text for r in caplog.records if r.exc_text)


def test_run_in_two_threads_is_refused(loop):
    loop.start()
    with pytest.raises(RuntimeError):
        loop.run_forever()


def test_emitter_on_once_off():
    em = EventEmitter()
    calls = []
    em.on("x", lambda v: calls.append(("on", v)))
    em.once("x", lambda v: calls.append(("once", v)))

    @em.on("y")
    def handler():
        calls.append("y")

    assert em.emit("x", 1) and em.emit("x", 2)
    assert calls == [("on", 1), ("once", 1), ("on", 2)]
    assert em.listener_count("x") == 1
    em.off("y", handler)
    assert not em.emit("y") and not em.emit("nothing")
    fn = em.listeners("x")[0]
    em.off("x", fn)
    assert em.listener_count("x") == 0


def test_wait_for_from_nested_locked_calls_lets_the_loop_thread_in(loop):
    """A thread that holds the loop lock at any depth and waits for the loop releases it at
    every depth meanwhile, so the thread running the loop (and any other) gets through."""
    loop.start()
    hits = []
    with loop.lock:
        with loop.lock:
            with loop.lock:
                loop.call_soon(lambda: hits.append(threading.get_ident()))
                assert loop.wait_for(lambda: hits, 10)
        assert loop.lock.acquire(False)  # still held by this thread (at depth 2 again)
        loop.lock.release()
    assert hits and hits[0] != threading.get_ident()


def test_release_all_and_restore():
    from pylibssh.loop import release_all, restore

    lock = threading.RLock()
    assert release_all(lock) == 0  # not held: nothing to release
    lock.acquire()
    lock.acquire()
    depth = release_all(lock)
    assert depth == 2
    other = []
    t = threading.Thread(target=lambda: other.append(lock.acquire(True, 5) and lock.release()))
    t.start()
    t.join(10)
    assert other == [None]  # the other thread took it and gave it back
    restore(lock, depth)
    lock.release()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_off_removes_a_bound_method():
    class Owner:
        def __init__(self):
            self.calls = 0

        def hit(self, *args):
            self.calls += 1

    emitter = EventEmitter()
    owner = Owner()
    emitter.on("x", owner.hit)
    emitter.once("y", owner.hit)
    emitter.off("x", owner.hit)  # another bound-method object, equal to the one added
    emitter.off("y", owner.hit)
    emitter.emit("x")
    emitter.emit("y")
    assert owner.calls == 0
    assert emitter.listener_count("x") == emitter.listener_count("y") == 0


def _wake_byte_pending(loop):
    import select
    return bool(select.select([loop._wake_r], [], [], 0)[0])


def test_work_added_while_nobody_runs_the_loop_writes_no_wakeup(loop):
    # a blocking client adds its work (a task, its timer, its socket) between its calls, while
    # no thread runs the loop: the next run sees it without a wakeup byte (a write, a read and
    # a pass of the loop's own)
    ran = []
    a, b = socket.socketpair()
    loop.call_soon(ran.append, "soon")
    loop.call_later(0.01, ran.append, "later")
    loop.add_reader(a.fileno(), lambda: ran.append(a.recv(1)))
    b.send(b"x")
    assert not _wake_byte_pending(loop)
    assert loop.run_until(lambda: len(ran) == 3, 10)
    assert sorted(map(str, ran)) == ["b'x'", "later", "soon"]
    loop.remove_fd(a.fileno())
    a.close()
    b.close()
    # a thread asleep in run_once (even without run_forever) is woken by another's call
    done = threading.Event()
    sleeper = threading.Thread(target=lambda: (loop.run_once(), done.set()))
    sleeper.start()
    deadline = time.monotonic() + 10
    while not loop._sleeping and time.monotonic() < deadline:
        time.sleep(0.001)
    loop.call_soon(ran.append, "woken")
    assert done.wait(10)
    sleeper.join(10)
    assert ran[-1] == "woken"
