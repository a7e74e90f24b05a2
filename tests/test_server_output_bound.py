"""What a client that does not read costs the server: output is held at a bounded size, the
producer (a spawned process, a forwarded socket, a paramiko-layer application) is held back, and
the server's loop sleeps instead of spinning, while other clients are served.

The client opens a 4 GiB window (paramiko's largest) and then stops reading its socket (a relay
between it and the server stops taking the server's bytes): the SSH window never holds the server
back, only what libssh has not written to the socket can."""

from __future__ import annotations

import socket
import threading
import time

import paramiko
import pytest
from fwdkit import ThreadedServer, forwarding_server
from relaykit import Relay, wait_steady
from serverkit import DEADLINE, PASSWORD, paramiko_client, paramiko_exec, standard_app, wait_until

from pylibssh.server import ServerSession, spawn

pytestmark = pytest.mark.peer

HUGE_WINDOW = 2**32 - 1


def relayed_transport(relay: Relay) -> paramiko.Transport:
    t = paramiko.Transport(socket.create_connection(("127.0.0.1", relay.port), timeout=DEADLINE))
    t.connect(username="tester", password=PASSWORD)
    return t


def loop_cpu(rs) -> float:
    return rs.call(time.thread_time)  # the loop thread's own CPU time


def assert_bounded_and_idle(rs) -> None:
    """libssh holds at most about its mark for the stalled session, and the loop sleeps."""
    pending = rs.call(lambda: [s.pending_output for s in rs.server.sessions])
    assert pending and max(pending) <= 2 * ServerSession.output_high_water, pending
    cpu, start = loop_cpu(rs), time.monotonic()
    time.sleep(1.0)
    spent = loop_cpu(rs) - cpu
    # a loop spinning on a pipe or on POLLOUT takes whatever CPU it is given (here a whole
    # core); a sleeping one only serves the other client
    assert spent < 0.25 * (time.monotonic() - start), spent


def wchar(pid: int) -> int:
    with open(f"/proc/{pid}/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))


def test_spawned_output_is_held_when_the_client_stops_reading(make_server):
    rs = make_server()
    children = []

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            children.append(spawn(channel, msg.exec_command))

    standard_app(rs, on_channel=on_channel)
    rs.start()
    with Relay(rs.port) as relay:
        t = relayed_transport(relay)
        try:
            chan = t.open_session(window_size=HUGE_WINDOW, timeout=DEADLINE)
            chan.settimeout(DEADLINE)
            chan.exec_command("cat /dev/zero")
            assert chan.recv(1 << 16).count(0) > 0
            relay.hold_down.set()
            wait_until(lambda: children, what="the child")
            child = children[0]
            # the server stops reading the child's pipe: the child blocks writing it
            wait_steady(lambda: wchar(child.pid), "the child to be held back")
            assert_bounded_and_idle(rs)
            with paramiko_client(rs.port, password=PASSWORD) as other:
                assert paramiko_exec(other, "echo served") == (b"served\n", b"", 0)

            # nothing was lost: the stream goes on where it stopped
            relay.hold_down.clear()
            got = 0
            while got < (32 << 20):
                data = chan.recv(1 << 20)
                assert data and data.count(0) == len(data)
                got += len(data)
        finally:
            t.close()
    wait_until(lambda: children[0].returncode is not None, what="the child to end")


def test_forwarded_output_is_held_when_the_client_stops_reading(make_server, client_keys):
    sent = [0]

    def source(conn):  # a target that sends for as long as it is read
        block = b"\x5a" * (1 << 16)
        try:
            while True:
                sent[0] += conn.send(block)
        except OSError:
            pass

    rs = forwarding_server(make_server, client_keys)
    with ThreadedServer(source) as target, Relay(rs.port) as relay:
        t = relayed_transport(relay)
        try:
            chan = t.open_channel("direct-tcpip", ("127.0.0.1", target.port), ("127.0.0.1", 1),
                                  window_size=HUGE_WINDOW, timeout=DEADLINE)
            chan.settimeout(DEADLINE)
            assert chan.recv(1 << 16)
            relay.hold_down.set()
            # the bridge stops reading the target's socket: its sends stop
            wait_steady(lambda: sent[0], "the target to be held back")
            assert_bounded_and_idle(rs)
            with paramiko_client(rs.port, password=PASSWORD) as other:
                assert paramiko_exec(other, "echo served") == (b"served\n", b"", 0)
            relay.hold_down.clear()
            got = 0
            while got < (32 << 20):
                data = chan.recv(1 << 20)
                assert data and data.count(0x5A) == len(data)
                got += len(data)
        finally:
            t.close()


def test_channel_writes_wait_for_the_socket(make_server):
    """An application's writes (here one that writes whenever write() says it may): held in the
    channel's queue, write() False, and ``drain`` once the client reads again."""
    rs = make_server()
    stats = {"written": 0, "false": 0, "drains": 0}
    block = bytes(1 << 18)

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()

            def pump():
                for _ in range(16):  # then let the loop run (a write fails once the client left)
                    if channel.closed:
                        return
                    stats["written"] += len(block)
                    if not channel.write(block):
                        stats["false"] += 1
                        channel.once("drain", on_drain)
                        return
                rs.loop.call_soon(pump)

            def on_drain():
                stats["drains"] += 1
                pump()

            pump()

    standard_app(rs, on_channel=on_channel)
    rs.start()
    with Relay(rs.port) as relay:
        t = relayed_transport(relay)
        try:
            chan = t.open_session(window_size=HUGE_WINDOW, timeout=DEADLINE)
            chan.settimeout(DEADLINE)
            chan.exec_command("flood")
            assert chan.recv(1 << 16)
            relay.hold_down.set()
            wait_steady(lambda: stats["written"], "the writer to be held back")
            channels = rs.call(lambda: [c for s in rs.server.sessions for c in s.channels])
            assert len(channels) == 1
            assert channels[0].buffered >= channels[0].high_water  # kept in the queue
            assert stats["false"] == stats["drains"] + 1
            assert_bounded_and_idle(rs)
            relay.hold_down.clear()
            got = 0
            while got < (32 << 20):
                data = chan.recv(1 << 20)
                assert data and data.count(0) == len(data)
                got += len(data)
            assert stats["drains"] >= 1
        finally:
            t.close()



def test_paramiko_layer_sendall_waits_for_the_socket(host_key_files):
    """pylibssh's paramiko layer as a server (``Transport.start_server``): ``sendall`` blocks
    while the client does not read its socket, instead of buffering without bound."""
    from pylibssh.compat import paramiko as compat

    class Interface(compat.ServerInterface):
        def __init__(self):
            self.exec = threading.Event()

        def get_allowed_auths(self, username):
            return "password"

        def check_auth_password(self, username, password):
            return compat.AUTH_SUCCESSFUL if password == PASSWORD else compat.AUTH_FAILED

        def check_channel_request(self, kind, chanid):
            return compat.OPEN_SUCCEEDED

        def check_channel_exec_request(self, channel, command):
            self.exec.set()
            return True

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(DEADLINE)
    sent = [0]
    transports = []

    def serve():
        conn, _ = listener.accept()
        t = compat.Transport(conn)
        transports.append(t)
        t.add_server_key(compat.Ed25519Key(filename=str(host_key_files["ed25519"])))
        server = Interface()
        t.start_server(server=server)
        chan = t.accept(DEADLINE)
        if chan is None or not server.exec.wait(DEADLINE):
            return
        chan.settimeout(DEADLINE * 3)
        block = bytes(1 << 16)
        try:
            while True:
                chan.sendall(block)
                sent[0] += len(block)
        except OSError:
            pass  # the client left

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with Relay(listener.getsockname()[1]) as relay:
            t = relayed_transport(relay)
            try:
                chan = t.open_session(window_size=HUGE_WINDOW, timeout=DEADLINE)
                chan.settimeout(DEADLINE)
                chan.exec_command("flood")
                assert chan.recv(1 << 16)
                relay.hold_down.set()
                wait_steady(lambda: sent[0], "sendall to block")
                session = transports[0]._session  # the layer's pylibssh session
                pending = session.loop.submit(lambda: session.pending_output).result(DEADLINE)
                assert 0 <= pending <= 2 * ServerSession.output_high_water, pending
                relay.hold_down.clear()
                got = 0
                while got < (8 << 20):
                    data = chan.recv(1 << 20)
                    assert data and data.count(0) == len(data)
                    got += len(data)
            finally:
                t.close()
    finally:
        listener.close()
        for t in transports:
            t.close()
        thread.join(DEADLINE)
    assert not thread.is_alive()
