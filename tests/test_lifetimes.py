"""The safety net under close(): a client, a server (its sessions and their channels) or a loop
collected without close() frees its C objects and descriptors and says so with a
ResourceWarning naming it, as ``socket`` and ``asyncio`` do; one that was closed says nothing.
The teardown never runs inside a libssh call: the loop runs it between its callbacks."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import warnings

import paramiko
import pytest
from clientkit import DEADLINE, known_hosts  # noqa: F401  (fixture)
from serverkit import PASSWORD, paramiko_client, standard_app, wait_until

import pylibssh
from pylibssh.client.client import Client
from pylibssh.client.process import ClientChannel
from pylibssh.server import _live, descriptors

pytestmark = pytest.mark.peer


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def resource_warnings():
    """``with resource_warnings() as messages:`` the ResourceWarnings given inside the block
    (``del`` of a last reference finalizes at once) and by collecting garbage at its end."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield messages
        for _ in range(3):
            gc.collect()
            # (a record keeps its source, the object warned about, alive: keep only the text)
            messages.extend(str(w.message) for w in caught
                            if issubclass(w.category, ResourceWarning))
            caught.clear()


def collect() -> None:
    for _ in range(3):
        gc.collect()


@pytest.fixture
def sshd_client(sshd, client_key, known_hosts):  # noqa: F811
    def make(**kwargs):
        return pylibssh.connect("127.0.0.1", sshd.port, sshd.user, keys=[str(client_key)],
                                known_hosts=str(known_hosts), config=None, agent=False,
                                look_for_keys=False, timeout=DEADLINE, op_timeout=DEADLINE,
                                **kwargs)
    return make


def test_a_dropped_client_is_freed_with_a_resource_warning(sshd_client):
    collect()
    before = fds()
    client = sshd_client()
    process = client.exec("sleep 60")
    assert fds() > before  # the socket, the loop's descriptors
    with resource_warnings() as messages:
        del client, process
    assert len(messages) == 1 and messages[0].startswith("unclosed <pylibssh.Client "), messages
    assert fds() == before


def test_a_closed_client_says_nothing(sshd_client):
    collect()
    before = fds()
    client = sshd_client()
    client.exec("true").wait()
    client.close()
    with resource_warnings() as messages:
        del client
    assert messages == []
    assert fds() == before


def test_a_connect_refused_by_its_own_options_leaves_nothing(sshd_client):
    """A connect that fails before it reaches the network (an unknown cipher) closes the loop
    it made for itself."""
    collect()
    before = fds()
    with resource_warnings() as messages:
        with pytest.raises(pylibssh.SSHError):
            sshd_client(ciphers="no-such-cipher")
        assert fds() == before
    assert messages == []


def test_a_dropped_loop_is_freed_with_a_resource_warning():
    collect()
    before = fds()
    loop = pylibssh.Loop("dropped")
    assert fds() == before + 3  # epoll and the wakeup pair
    with resource_warnings() as messages:
        del loop
    assert [m for m in messages if "pylibssh.Loop dropped" in m], messages
    assert fds() == before
    closed = pylibssh.Loop("closed")
    closed.close()
    with resource_warnings() as messages:
        del closed
    assert messages == []
    assert fds() == before


def test_a_dropped_server_frees_its_sessions_and_their_channels(make_server, host_key_files):
    """A server, its loop and a client's session with two open channels, dropped together:
    every session, channel and message is freed, the client sees the connection end."""
    collect()
    descriptors.take_spare()  # (the process's spare descriptor, made at the first accept)
    counts = _live.counts()
    before = fds()
    loop = pylibssh.Loop("server-loop")
    server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]], loop=loop)

    class Holder:  # (a plain object: the test keeps nothing of the server's)
        pass

    app = Holder()
    app.server = server
    app.log = []
    standard_app(app)  # password auth
    opened = []
    server.on("connection", lambda s: s.on("channel", lambda ch: opened.append(1)))
    server.listen(0, "127.0.0.1")
    port = server.port
    clients: list[paramiko.SSHClient] = []

    def in_thread(fn, done: list) -> None:
        """``fn()`` in a thread (paramiko blocks) while this one drives the loop; its result
        appended to ``done``."""
        count = len(done)

        def run() -> None:
            done.append(fn())
            loop.wakeup()

        threading.Thread(target=run, daemon=True).start()
        assert loop.run_until(lambda: len(done) > count, DEADLINE)

    in_thread(lambda: paramiko_client(port, password=PASSWORD), clients)
    transport = clients[0].get_transport()
    channels: list[paramiko.Channel] = []  # (a paramiko channel closes when collected)
    for _ in range(2):
        in_thread(lambda: transport.open_session(timeout=DEADLINE), channels)
    assert len(opened) == 2
    assert _live.counts()["channels"] == counts["channels"] + 2
    with resource_warnings() as messages:
        del server, app, loop
    assert [m for m in messages if m.startswith("unclosed <pylibssh.Server ")], messages
    assert _live.counts() == counts  # sessions, channels, messages: all freed
    wait_until(lambda: not transport.is_active(), what="the client to see the end")
    clients[0].close()
    assert fds() == before


def test_a_client_dropped_inside_a_libssh_callback_is_freed_after_it(sshd_client, monkeypatch):
    """Two clients on one loop that a thread runs: the second is dropped (and collected) from
    inside the first's libssh data callback; its teardown waits for the loop, outside libssh."""
    collect()
    loop = pylibssh.Loop("shared")
    loop.start()
    first = sshd_client(loop=loop)
    holder = [sshd_client(loop=loop)]
    state = {"inside": False, "collected": []}
    original = Client._collected

    def recording(self):
        state["collected"].append(state["inside"])
        original(self)

    monkeypatch.setattr(Client, "_collected", recording)
    # (stderr goes through the callback; it is sent once the hook is in place: the loop's thread
    # would otherwise deliver it before)
    process = first.exec("read go; echo data >&2; sleep 60")
    own = process.channel._c_data

    def hook(data, length, is_stderr):
        state["inside"] = True
        try:
            if holder:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ResourceWarning)
                    holder.clear()
                    gc.collect()
                state["warned"] = [str(w.message) for w in caught]
        finally:
            state["inside"] = False
        return own(data, length, is_stderr)

    process.channel._c_data = hook
    process.write(b"go\n")
    wait_until(lambda: state["collected"], what="the dropped client's teardown")
    assert state["collected"] == [False]  # not inside the callback
    assert any(m.startswith("unclosed <pylibssh.Client ") for m in state["warned"])
    assert process.read_stderr(timeout=DEADLINE) == b"data\n"
    first.close()
    loop.close()
    assert isinstance(process.channel, ClientChannel)
