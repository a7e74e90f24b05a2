"""The SFTP client on the loop (pylibssh/client/sftp_engine.py): a transfer leaves the loop to
the connection's other work, every request has its own deadline, many SFTP sessions share one
loop, and a malformed reply ends that SFTP session only. Peers: OpenSSH's sshd (internal-sftp)
and pylibssh's own server where it must misbehave."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from clientkit import (  # noqa: F401
    DEADLINE, assert_served_during, clients_on_one_loop, connect, freeze_after, known_hosts,
)

import pylibssh

pytestmark = pytest.mark.peer


def _remote_file(client, size: int) -> str:
    name = f"sftp-engine-{uuid.uuid4().hex[:8]}.bin"
    client.run(f"head -c {size} /dev/urandom > {name}", check=True, timeout=120)
    return name


def test_a_download_leaves_the_loop_to_a_forward_and_keepalives(connect, tmp_path):
    """A 256 MiB get while a forward on the same connection carries data and keepalives (every
    0.2 s) are sent: seen from inside the transfer (its progress calls, on the loop's thread),
    keepalive replies and the forward's echoes keep arriving."""
    c = connect(keepalive_interval=0.2, keepalive_count_max=50)
    remote = _remote_file(c, 256 << 20)
    try:
        with c.sftp() as s:
            assert_served_during(
                c, lambda progress: s.get(remote, tmp_path / "big", progress=progress),
                256 << 20)
    finally:
        c.run(f"rm -f {remote}")


def test_a_server_that_stops_answering_mid_transfer(sshd, connect, tmp_path):
    """The proxy stops relaying in the middle of a download: the call ends in SSHTimeoutError
    naming the READ that was not answered, not before its deadline; so does a STAT sent then."""
    from test_client_channels import _FreezableProxy

    proxy = _FreezableProxy(sshd.port)
    try:
        c = connect(port=proxy.port, host_key_policy="ignore")
        remote = _remote_file(c, 64 << 20)
        s = c.sftp(timeout=2)
        progress, frozen_at = freeze_after(proxy, 8 << 20)

        with pytest.raises(pylibssh.SSHTimeoutError) as info:
            s.get(remote, tmp_path / "part", progress=progress)
        waited = time.monotonic() - frozen_at[0]
        assert f"SFTP read {remote!r} timed out after 2 s" in str(info.value)
        assert 1.0 <= waited < 2 + DEADLINE  # the oldest READ was sent a little before
        assert 0 < (tmp_path / "part").stat().st_size < 64 << 20  # what came, in order
        t0 = time.monotonic()
        with pytest.raises(pylibssh.SSHTimeoutError, match=r"SFTP stat '\.' timed out after 2 s"):
            s.stat(".")
        assert time.monotonic() - t0 >= 1.95
    finally:
        proxy.close()


def test_many_sftp_sessions_on_one_loop_progress_together(clients_on_one_loop,  # noqa: F811
                                                          tmp_path):
    """Four connections on one loop, one thread: their downloads advance together (when the
    first ends, every other one has data already), and each file arrives whole."""
    from pylibssh.client.sftp_engine import start_engine

    loop, clients = clients_on_one_loop(4)
    remote = _remote_file(clients[0], 32 << 20)
    try:
        starting = [start_engine(c.session, DEADLINE) for c in clients]
        assert loop.run_until(lambda: all(f.done() for f in starting), DEADLINE)
        engines = [f.result() for f in starting]
        latest = [0] * len(engines)
        at_first_end: list[list[int]] = []

        def tracker(i):
            def progress(done, total):
                latest[i] = done
            return progress

        def ended(f):
            if not at_first_end:
                at_first_end.append(list(latest))

        gets = [e.get(remote, tmp_path / f"copy{i}", progress=tracker(i))
                for i, e in enumerate(engines)]
        for f in gets:
            f.add_done_callback(ended)
        assert loop.run_until(lambda: all(f.done() for f in gets), 5 * DEADLINE)
        assert [f.result().transferred for f in gets] == [32 << 20] * 4
        assert all(n > 0 for n in at_first_end[0]), at_first_end
        first = (tmp_path / "copy0").read_bytes()
        assert all((tmp_path / f"copy{i}").read_bytes() == first for i in range(1, 4))
        for e in engines:
            e.close()
    finally:
        clients[0].run(f"rm -f {remote}")


def test_a_malformed_reply_closes_that_sftp_session_only(make_server):
    """pylibssh's server made to answer wrongly: an ATTRS too short for its flags, and a packet
    length out of range. Each ends that SFTP session with a clear error (every later call
    raises it); the connection and a new SFTP session on it work."""
    import struct

    from serverkit import PASSWORD
    from sftpkit import sftp_server

    def setup(channel):
        @channel.on("sftp:stat")
        def stat(msg):
            if msg.filename == "/short-attrs":
                msg._reply(105, struct.pack(">I", 0xF))  # flags announce fields that are not there
            elif msg.filename == "/bad-length":
                channel.write(b"\xff\xff\xff\xff\x65" + b"\0" * 16)
            else:
                msg.reply_attr({"size": 7})

    rs = sftp_server(make_server, setup)
    c = pylibssh.connect("127.0.0.1", rs.port, "user", password=PASSWORD, host_key_policy="ignore",
                         config=None, agent=False, look_for_keys=False, timeout=DEADLINE)
    try:
        s = c.sftp()
        assert s.stat("/fine").size == 7
        with pytest.raises(pylibssh.SFTPError, match=r"malformed SFTP reply to SFTP stat "
                           r"'/short-attrs' \(truncated SFTP packet\)") as info:
            s.stat("/short-attrs")
        assert info.value.status == pylibssh.SFTPStatus.BAD_MESSAGE
        with pytest.raises(pylibssh.SFTPError, match="malformed"):
            s.stat("/fine")  # the session ended with it
        assert s.closed
        s2 = c.sftp()  # the connection goes on
        assert s2.stat("/fine").size == 7
        with pytest.raises(pylibssh.SFTPError, match="packet length of 4294967295"):
            s2.stat("/bad-length")
        assert s2.closed
        assert c.sftp().stat("/fine").size == 7
    finally:
        c.close()


def test_a_small_get_and_put_take_two_round_trips(make_server, tmp_path):
    """A server that holds some replies for a while shows what the client sends without waiting:
    a get's STAT goes before its OPEN is answered, and all its READs and the CLOSE before any
    READ is answered; a put's WRITEs and CLOSE go before any WRITE is answered. So a small file
    costs two round trips each way."""
    from serverkit import PASSWORD
    from sftpkit import sftp_server

    content = bytes(range(256)) * 2400  # 600 KiB: several READs and WRITEs
    events = []

    def later(fn, *args):
        loop.call_later(0.3, lambda: (events.append(("reply", fn.__name__)), fn(*args)))

    def setup(channel):
        @channel.on("sftp:open")
        def on_open(msg):
            events.append(("open", msg.filename))
            later(msg.reply_handle, b"h")

        @channel.on("sftp:stat")
        def on_stat(msg):
            events.append(("stat", msg.filename))
            later(msg.reply_attr, {"size": len(content), "permissions": 0o100644})

        @channel.on("sftp:read")
        def on_read(msg):
            events.append(("read", msg.offset))
            later(msg.reply_data, content[msg.offset:msg.offset + msg.length])

        @channel.on("sftp:write")
        def on_write(msg):
            events.append(("write", msg.offset))
            later(msg.reply_status, "ok")

        @channel.on("sftp:close")
        def on_close(msg):
            events.append(("close", None))
            msg.reply_status("ok")

    rs = sftp_server(make_server, setup)
    loop = rs.loop
    c = pylibssh.connect("127.0.0.1", rs.port, "user", password=PASSWORD, host_key_policy="ignore",
                         config=None, agent=False, look_for_keys=False, timeout=DEADLINE)
    try:
        s = c.sftp()
        assert s.get("/f", tmp_path / "f") == len(content)
        assert (tmp_path / "f").read_bytes() == content
        kinds = [e[0] for e in events]
        assert kinds[:kinds.index("reply")] == ["stat", "open"]  # one flight: STAT with OPEN
        after_handle = kinds[events.index(("reply", "reply_handle")) + 1:]
        reads = -(-len(content) // s.engine.read_chunk) + 1  # and the one that sees the end
        assert reads > 2
        assert after_handle[:after_handle.index("reply")] == ["read"] * reads + ["close"]
        events.clear()
        s.put(tmp_path / "f", "/g")
        kinds = [e[0] for e in events]
        assert kinds[:2] == ["open", "reply"]
        after_handle = kinds[kinds.index("reply") + 1:]
        writes = -(-len(content) // s.engine.write_chunk)
        assert writes > 1
        assert after_handle[:after_handle.index("reply")] == ["write"] * writes + ["close"]
    finally:
        c.close()


def test_a_small_put_is_two_ssh_packets(connect, tmp_path):
    """A put of a small file sends its OPEN, then its WRITE with the CLOSE (and the STAT that
    confirms it) in one channel write: two SSH packets from the client per file, not three."""
    c = connect()
    files = 20
    data = [tmp_path / f"f{i}" for i in range(files)]
    for i, path in enumerate(data):
        path.write_bytes(bytes([i]) * (16 * 1024 + i))
    work = f"sftp-engine-{uuid.uuid4().hex[:8]}"
    with c.sftp() as s:
        s.mkdir(work)
        try:
            sent = c.session._counters[1].out_packets
            for i, path in enumerate(data):
                result = s.wait(s.engine.put(str(path), f"{work}/f{i}", stat_after=True))
                assert result.attrs.size == 16 * 1024 + i
            packets = c.session._counters[1].out_packets - sent
            # (a window adjustment or two are allowed)
            assert packets <= 2 * files + 2, f"{packets} SSH packets for {files} puts"
            for i in range(files):
                assert s.stat(f"{work}/f{i}").size == 16 * 1024 + i
        finally:
            c.run(f"rm -rf {work}", timeout=DEADLINE)


def test_a_small_get_reads_while_its_local_file_is_made(connect, tmp_path, monkeypatch):
    """A get on a loop that another thread runs: when the remote file is open and small
    before the local file is ready (a slow file system, on the caller's thread), its READs
    and CLOSE go at once and the DATA waits in memory for the file. Seen from inside the
    making of the local file: the CLOSE went before it ended. A local file that cannot be made
    still ends that get with its error, and the next get works."""
    from pylibssh.client import sftp_engine

    loop = pylibssh.Loop()
    loop.start()
    try:
        c = connect(loop=loop)
        content = os.urandom(100_000)
        name = f"sftp-engine-{uuid.uuid4().hex[:8]}"
        with c.sftp() as s:
            with s.open(name, "wb") as f:
                f.write(content)
            seen = []
            open_local = sftp_engine._Download._open_local

            def slow_open_local(self):
                deadline = time.monotonic() + 5
                while not self.close_sent and time.monotonic() < deadline:
                    time.sleep(0.005)
                seen.append(self.close_sent)
                return open_local(self)

            monkeypatch.setattr(sftp_engine._Download, "_open_local", slow_open_local)
            for i in range(3):
                assert s.get(name, tmp_path / f"f{i}") == len(content)
                assert (tmp_path / f"f{i}").read_bytes() == content
            with pytest.raises(FileNotFoundError):
                s.get(name, tmp_path / "missing" / "f")
            monkeypatch.undo()
            assert seen == [True] * 4
            assert s.get(name, tmp_path / "after") == len(content)
            assert (tmp_path / "after").read_bytes() == content
            s.remove(name)
    finally:
        loop.close()


def test_the_engine_s_futures_from_asyncio(connect, tmp_path):
    """The engine's operations are futures an asyncio program awaits (asyncio.wrap_future)
    while the loop runs in its thread: many at once, replies matched to their requests."""
    import asyncio

    c = connect()
    s = c.sftp()
    e = s.engine
    base = f"sftp-async-{uuid.uuid4().hex[:8]}"
    c.loop.start()
    try:
        async def main():
            def aw(f):
                return asyncio.wrap_future(f)

            await aw(e.mkdir(base))
            await asyncio.gather(*(aw(e.mkdir(f"{base}/d{i}")) for i in range(20)))
            names = await aw(e.listdir(base))
            assert sorted(n.filename for n in names) == sorted(f"d{i}" for i in range(20))
            (tmp_path / "src").write_bytes(b"0123456789" * 5000)
            up = await aw(e.put(tmp_path / "src", f"{base}/f", stat_after=True))
            assert up.transferred == 50000 and up.attrs.size == 50000
            handle = await aw(e.open(f"{base}/f", pylibssh.sftp.OpenFlags.READ))
            chunks = await asyncio.gather(*(aw(e.read(handle, off, 10)) for off in (0, 49990,
                                                                                     50000)))
            assert chunks == [b"0123456789", b"0123456789", b""]
            assert "copy-data" in e.extensions  # OpenSSH's sftp-server (since 9.0) has it
            out = await aw(e.open(f"{base}/copy", pylibssh.sftp.OpenFlags.WRITE
                                  | pylibssh.sftp.OpenFlags.CREAT))
            await aw(e.copy_data(handle, 10, 20, out, 0))
            await aw(e.close_handle(out))
            await aw(e.close_handle(handle))
            with pytest.raises(FileNotFoundError):
                await aw(e.stat(f"{base}/nope"))
            return await aw(e.realpath(base))

        assert asyncio.run(main()).endswith("/" + base)
        assert s.read_bytes(f"{base}/copy") == b"01234567890123456789"
    finally:
        c.run(f"rm -rf {base}")
