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
