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
