"""Cancelled timers release what they would have called, and do not pile up in the loop."""

import gc
import weakref

from pylibssh.loop import Loop


class Owner:
    def fire(self):
        raise AssertionError("a cancelled timer ran")


def test_cancelled_timer_releases_its_callback_and_is_dropped():
    loop = Loop("timers")
    try:
        owner = Owner()
        ref = weakref.ref(owner)
        handle = loop.call_later(3600, owner.fire)
        del owner
        gc.collect()
        assert ref() is not None  # the pending timer keeps it
        handle.cancel()
        handle.cancel()  # idempotent
        gc.collect()
        assert ref() is None  # cancelled: released at once, long before it was due
        handles = [loop.call_later(3600, print) for _ in range(1000)]
        for h in handles[:900]:
            h.cancel()
        assert len(loop._timers) < 500  # compacted, not 1001 entries waiting an hour
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
    finally:
        loop.close()


def test_timers_cancelled_from_other_threads_while_the_loop_runs(caplog):
    """cancel() from any thread races with the loop running due timers: a timer either runs
    with its own arguments or not at all, and the loop never calls what a cancel took away."""
    import logging
    import sys
    import threading
    import time

    caplog.set_level(logging.ERROR, logger="pylibssh.loop")
    loop = Loop("timer-race")
    ran = []
    wrong = []

    def fire(i, token):
        ran.append(i)
        if token != ("token", i):
            wrong.append((i, token))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race is narrow
    loop.start()
    try:
        due = loop.time() + 0.3
        handles = [loop.call_at(due, fire, i, ("token", i)) for i in range(30000)]

        def cancel_some(part):
            time.sleep(max(0.0, due - loop.time()))  # cancel while the loop runs them
            for h in reversed(part):
                h.cancel()

        threads = [threading.Thread(target=cancel_some, args=(handles[k::3],)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        done = threading.Event()
        loop.call_soon(done.set)
        assert done.wait(30)
    finally:
        sys.setswitchinterval(interval)
        loop.close()
    assert not wrong
    assert len(ran) == len(set(ran))  # none ran twice
    assert not [r for r in caplog.records if "unhandled exception" in r.getMessage()]
    assert all(h.cancelled for h in handles)


def test_engine_timers_on_an_asyncio_loop():
    """The engine's timers on an asyncio loop (pylibssh.asyncio's AsyncioLoop, a heap of its own
    under one asyncio timer): they run in order of their time, a timer set earlier than every
    other still runs on time, a cancelled one never runs and releases its callback at once,
    cancelled ones do not pile up, one set by a running timer for now runs in a later
    iteration, and nothing keeps the asyncio loop alive once it is closed."""
    import asyncio

    from pylibssh.asyncio import engine_loop

    async def main():
        loop = engine_loop()
        aio = asyncio.get_running_loop()
        ran = []
        t0 = loop.time()
        loop.call_later(0.30, ran.append, "c")
        loop.call_later(0.20, ran.append, "b")
        gone = loop.call_later(0.15, ran.append, "cancelled")
        loop.call_later(0.10, ran.append, "a")  # earlier than all: asyncio's timer is set again
        gone.cancel()

        def chained():
            ran.append("d")
            loop.call_later(0, ran.append, "e")  # due at once, but after this timer's turn
            ran.append("d-end")
        loop.call_later(0.35, chained)
        owner = Owner()
        ref = weakref.ref(owner)
        long = loop.call_later(3600, owner.fire)
        del owner
        long.cancel()
        gc.collect()
        assert ref() is None
        handles = [loop.call_later(3600, print) for _ in range(1000)]
        for h in handles[:900]:
            h.cancel()
        assert len(loop._heap) < 500  # compacted, not 1000 entries waiting an hour
        for h in handles[900:]:
            h.cancel()
        deadline = aio.time() + 30
        while "e" not in ran and aio.time() < deadline:
            await asyncio.sleep(0.02)
        assert ran == ["a", "b", "c", "d", "d-end", "e"]
        assert loop.time() - t0 >= 0.35
        return weakref.ref(aio)

    aio = asyncio.new_event_loop()
    try:
        ref = aio.run_until_complete(main())
    finally:
        aio.close()
    del aio
    gc.collect()
    assert ref() is None
