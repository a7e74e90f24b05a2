"""An exception in a channel's data path (inside a libssh callback, or a ``data`` listener) is
stored and raised to the code that waits on the channel, as that exception, and the channel is
closed with it: never logged and dropped with the window shut (the channel stalled)."""

from __future__ import annotations

import threading

import pytest
from clientkit import connect, known_hosts  # noqa: F401  (fixtures)
from serverkit import DEADLINE, PASSWORD, paramiko_client, paramiko_exec, standard_app, wait_until

from pylibssh.client.process import ClientChannel
from pylibssh.server import ServerChannel, spawn

pytestmark = pytest.mark.peer


class Injected(Exception):
    """What the tests raise inside the data path."""


def test_an_exception_in_the_data_callback_reaches_the_waiting_caller(connect):
    """The client's stderr goes through its channel's libssh data callback; one that raises
    closes the channel, and ``wait`` raises that very exception (before, the callback's 0 left
    the bytes in libssh with the window shut: the wait timed out)."""
    c = connect()
    # nothing comes before a line on stdin, so that every byte meets the hook installed below
    p = c.exec("read go; echo begin >&2; head -c 300000 /dev/zero >&2; sleep 30")
    injected = Injected("in the data path")
    calls = []

    def raising(data, length, is_stderr):
        calls.append(length)
        raise injected

    p.channel._c_data = raising  # the owner's hook, called by the trampoline
    p.write(b"go\n", timeout=DEADLINE)
    with pytest.raises(Injected) as info:
        p.wait(timeout=DEADLINE)
    assert info.value is injected
    assert p.channel.closed and p.channel.error is injected
    assert len(calls) == 1  # closed at once, not fed on
    with pytest.raises(Injected):
        p.read_stderr(timeout=DEADLINE)  # every later wait says it too
    with pytest.raises(Injected):
        p.write(b"more", timeout=DEADLINE)
    assert c.run("echo still").stdout == b"still\n"  # the connection goes on


def test_run_raises_what_its_channel_raised(connect, monkeypatch):
    c = connect()
    injected = Injected("while running")

    def raising(self, data, length, is_stderr):
        raise injected

    monkeypatch.setattr(ClientChannel, "_c_data", raising)
    with pytest.raises(Injected) as info:
        # (with input: a run on a ClientChannel, whose data path is Python's; one without
        # input gathers its output in C, csrc/pylibssh_run.c)
        c.run("cat; echo err >&2", input=b"out\n", timeout=DEADLINE)
    assert info.value is injected
    monkeypatch.undo()
    assert c.run("echo fine").stdout == b"fine\n"


def test_a_server_channel_whose_data_callback_raises_is_closed_with_the_error(make_server):
    """The client sends stdin: the server channel's data callback raises; the channel emits ``error`` with that exception and closes, and the client sees the
    close (before: the bytes stayed in libssh, the window shut, the client's sendall hung)."""
    injected = Injected("server data path")
    errors, closed = [], threading.Event()

    class Raising(ServerChannel):
        def _c_data(self, data, length, is_stderr):
            raise injected

    rs = make_server()
    standard_app(rs)

    @rs.server.on("connection")
    def on_connection(session):
        session.channel_class = Raising

        @session.on("channel")
        def on_channel(channel):
            channel.on("error", errors.append)
            channel.on("close", closed.set)

    rs.start()
    with paramiko_client(rs.port, password=PASSWORD) as client:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        chan.exec_command("cat")
        with pytest.raises(OSError):  # the channel closes under the writer
            for _ in range(1000):
                chan.sendall(b"x" * 65536)
        assert closed.wait(DEADLINE)
        wait_until(lambda: chan.closed, what="the client to see the close")
        assert errors == [injected]
        assert paramiko_exec(client, "echo other") == (b"other\n", b"", 0)


def test_a_data_listener_that_raises_closes_the_channel(make_server):
    """A ``data`` listener that raises would lose the bytes it did not take: the channel closes
    with its exception (before, it was logged and the channel went on without them)."""
    injected = Injected("listener")
    seen, errors = [], []

    def on_channel(channel):
        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()
            if msg.exec_command != "listen":
                spawn(channel, msg.exec_command)
                return

            def on_data(data, is_stderr):
                seen.append(data)
                raise injected

            channel.on("data", on_data)
            channel.on("error", errors.append)

    rs = make_server()
    standard_app(rs, on_channel=on_channel)
    rs.start()
    with paramiko_client(rs.port, password=PASSWORD) as client:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        chan.exec_command("listen")
        chan.sendall(b"first")
        wait_until(lambda: chan.closed or chan.eof_received, what="the channel to close")
        assert errors == [injected] and seen == [b"first"]
        assert paramiko_exec(client, "echo other") == (b"other\n", b"", 0)


def test_an_internal_error_in_a_recorded_event_closes_its_channel(connect, monkeypatch):
    """Recorded events run after libssh returns; one of a channel's that raises (pylibssh's
    own code) closes that channel with the exception, which the waiter gets."""
    c = connect()
    injected = Injected("eof handler")

    def raising(self):
        raise injected

    monkeypatch.setattr(ClientChannel, "_on_eof", raising)
    p = c.exec("echo out")
    with pytest.raises(Injected):
        p.wait(timeout=DEADLINE)
    assert p.channel.closed and p.channel.error is injected
    monkeypatch.undo()
    assert c.run("echo fine").stdout == b"fine\n"

