"""A TCP relay between a real client and a server under test, for the tests of what a client can
make the server do: stop reading its socket (the relay stops taking the server's bytes, so TCP
holds the server back as a client that does not read would), or damage what the client sends
(a bit flipped in an encrypted packet: a bad MAC, as on a faulty path).

Each relay serves one connection; ``close()`` ends it and joins its threads.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from serverkit import DEADLINE


class Relay:
    """Listens on 127.0.0.1:``port`` and relays its first connection to 127.0.0.1:``target``.

    ``hold_down``: while set, the server's bytes are not read (the server's socket fills up).
    ``tamper``: called with each chunk going up (client -> server) and the count of bytes that
    went up before it; what it returns is sent instead.
    ``down_bytes``: bytes relayed from the server to the client so far."""

    def __init__(self, target: int,
                 tamper: Callable[[bytes, int], bytes] | None = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = target
        self.tamper = tamper
        self.hold_down = threading.Event()
        self.down_bytes = 0
        self.up_bytes = 0
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
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if up:
                    if self.tamper is not None:
                        data = self.tamper(data, self.up_bytes)
                    self.up_bytes += len(data)
                else:
                    self.down_bytes += len(data)
                self._send(dst, data)
        except OSError:
            pass

    def _send(self, dst: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = dst.send(view)
            except socket.timeout:
                continue
            view = view[n:]

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
