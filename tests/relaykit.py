"""A TCP relay between a real client and a server under test, for the tests of what a client can
make the server do: stop reading its socket (the relay stops taking the server's bytes, so TCP
holds the server back as a client that does not read would), damage what the client sends (a
bit flipped in an encrypted packet: a bad MAC, as on a faulty path), or keep what the client
sends and deliver it in one burst.

Each relay serves one connection; ``close()`` ends it and joins its threads.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from serverkit import DEADLINE, wait_until


def wait_steady(read: Callable[[], Any], what: str, interval: float = 0.5) -> Any:
    """Wait until ``read()`` gives the same value twice ``interval`` apart (a producer that is
    held back: a count of bytes or messages that stopped growing); return it. Bounded by
    twice the usual deadline: filling the sockets on the way takes a while on a busy machine."""
    last = [read()]

    def same() -> bool:
        time.sleep(interval)
        now = read()
        done = now == last[0]
        last[0] = now
        return done

    wait_until(same, timeout=DEADLINE * 2, what=what, interval=0)
    return last[0]


class Relay:
    """Listens on 127.0.0.1:``port`` and relays its first connection to 127.0.0.1:``target``.

    ``hold_down``: while set, the server's bytes are not read (the server's socket fills up).
    ``hold_up``: while set, the client's bytes are read and kept; once it is cleared they go to
    the server as fast as the server reads them.
    ``tamper``: called with each chunk going up (client -> server) and the count of bytes that
    came up before it; what it returns is relayed instead.
    ``down_bytes``, ``up_bytes``: bytes the client, the server, took so far; ``held_bytes``:
    bytes kept while ``hold_up`` was set."""

    def __init__(self, target: int,
                 tamper: Callable[[bytes, int], bytes] | None = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target
        self.tamper = tamper
        self.hold_down = threading.Event()
        self.hold_up = threading.Event()
        self.down_bytes = 0
        self.up_bytes = 0
        self.held_bytes = 0
        self._came_up = 0
        self._held: list[bytes] = []
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        self.listener.settimeout(DEADLINE)
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.target), timeout=DEADLINE)
        self._socks += [client, server]
        for sock in (client, server):
            sock.settimeout(0.1)  # the pumps look at the stop and hold flags between reads
        pumps = [threading.Thread(target=self._pump, args=(client, server, True), daemon=True),
                 threading.Thread(target=self._pump, args=(server, client, False), daemon=True)]
        self._threads += pumps
        for t in pumps:
            t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while not self._stop.is_set():
                if not up and self.hold_down.is_set():
                    self._stop.wait(0.05)
                    continue
                if up and self._held and not self.hold_up.is_set():
                    held, self._held = b"".join(self._held), []
                    self._send(dst, held, up)
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if up:
                    if self.tamper is not None:
                        data = self.tamper(data, self._came_up)
                    self._came_up += len(data)
                    if self.hold_up.is_set() or self._held:  # (behind what is kept)
                        self._held.append(data)
                        self.held_bytes += len(data)
                        continue
                self._send(dst, data, up)
        except OSError:
            pass

    def _send(self, dst: socket.socket, data: bytes, up: bool) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = dst.send(view)
            except socket.timeout:
                continue
            view = view[n:]
            if up:
                self.up_bytes += n
            else:
                self.down_bytes += n

    def close(self) -> None:
        self._stop.set()
        self.hold_down.clear()
        self.listener.close()
        for t in self._threads:
            t.join(DEADLINE)
        for sock in self._socks:
            sock.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessRelay:
    """A :class:`Relay` in a process of its own (multiprocessing, spawned), so that it keeps the
    server's socket as full as a separate client would, whatever this process's threads do.
    ``set(flag, on)`` sets ``hold_down`` / ``hold_up``; ``counts()`` gives (up_bytes,
    held_bytes, down_bytes)."""

    def __init__(self, target: int):
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_relay_process, args=(target, child), daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(DEADLINE):
            self.close()
            raise TimeoutError("the relay process did not start")
        self.port = self._conn.recv()

    def _ask(self, *request: object) -> object:
        self._conn.send(request)
        if not self._conn.poll(DEADLINE):
            raise TimeoutError("the relay process does not answer")
        return self._conn.recv()

    def set(self, flag: str, on: bool) -> None:
        self._ask("set", flag, on)

    def counts(self) -> tuple[int, int, int]:
        return self._ask("counts")  # type: ignore[return-value]

    def close(self) -> None:
        try:
            self._conn.send(("close",))
        except OSError:
            pass
        self._proc.join(DEADLINE)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(DEADLINE)
        self._conn.close()

    def __enter__(self) -> ProcessRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _relay_process(target: int, conn) -> None:
    relay = Relay(target)
    conn.send(relay.port)
    try:
        while True:
            request = conn.recv()
            if request[0] == "set":
                flag = getattr(relay, request[1])
                flag.set() if request[2] else flag.clear()
                conn.send(None)
            elif request[0] == "counts":
                conn.send((relay.up_bytes, relay.held_bytes, relay.down_bytes))
            else:
                break
    except EOFError:
        pass
    finally:
        relay.close()
