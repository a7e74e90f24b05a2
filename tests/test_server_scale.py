"""Scale: many concurrent OpenSSH clients, clients that stall or do not read (they must not slow
the others), and thousands of sequential connections with flat memory (the server runs in its
own process, tests/server_app.py, so that its RSS is measured apart from the clients')."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest
from serverkit import DEADLINE, raw_connect, standard_app, wait_until

import pylibssh
from pylibssh.server import _live

pytestmark = pytest.mark.peer

HERE = Path(__file__).parent


def pubkey(path):
    return pylibssh.Key.from_public_file(str(path) + ".pub")


def test_200_concurrent_openssh_clients(make_server, client_keys, openssh_client):
    rs = make_server(max_unauthenticated=1000)
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])])
    rs.start()
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    # 200 ssh processes starting at once on a small, busy machine can starve the server's one
    # thread for longer than the usual 10 s banner timeout; correctness is the point here
    client.connect_timeout = 60
    env = client.env()
    start = time.monotonic()
    procs = [subprocess.Popen(client.ssh_args(f"echo client-{i}; exit {i % 7}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env) for i in range(200)]
    results = []
    try:
        for proc in procs:
            remaining = max(1.0, 120 - (time.monotonic() - start))
            out, err = proc.communicate(timeout=remaining)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - start
    bad = [(i, r) for i, r in enumerate(results)
           if r[:2] != (i % 7, f"client-{i}\n".encode())]
    assert not bad, bad[:3]
    print(f"200 concurrent ssh execs in {elapsed:.1f}s")
    wait_until(lambda: _live.counts()["sessions"] == 0, what="all sessions to end")


def timed_execs(client, n: int) -> float:
    start = time.monotonic()
    for i in range(n):
        result = client.ssh(f"echo {i}", timeout=DEADLINE)
        assert result.stdout == f"{i}\n".encode(), result.stderr
    return time.monotonic() - start


def test_stalled_and_non_reading_clients_do_not_slow_the_others(make_server, client_keys,
                                                                 openssh_client):
    rs = make_server(max_unauthenticated=1000)
    flood_channels = []
    block = os.urandom(1 << 18)

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            if msg.exec_command != "flood":
                channel.write(msg.exec_command.removeprefix("echo ") + "\n")
                channel.send_exit_status(0)
                channel.close()
                return
            flood_channels.append(channel)

            def pump():  # endless output, as fast as the client takes it (it never does)
                while channel.buffered < channel.high_water and not channel.closed:
                    channel.write(block)
                if not channel.closed:
                    channel.once("drain", pump)

            pump()

    standard_app(rs, keys=[pubkey(client_keys["ed25519"])], on_channel=on_channel)
    rs.start()
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    timed_execs(client, 3)  # warm up
    baseline = timed_execs(client, 10)

    stalled = [raw_connect(rs.port) for _ in range(20)]  # connected, silent
    half = [raw_connect(rs.port) for _ in range(5)]
    for s in half:  # a banner, then nothing: stuck in the key exchange
        s.sendall(b"SSH-2.0-Stalled\r\n")
    readers = []
    for _ in range(3):  # exec output nobody reads: ssh blocks on its full stdout pipe
        readers.append(subprocess.Popen(client.ssh_args("flood"), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        env=client.env()))
    try:
        wait_until(lambda: len(flood_channels) == 3, what="the flooding channels")
        time.sleep(0.5)  # let the floods fill every window and buffer
        loaded = timed_execs(client, 10)
        for channel in flood_channels:
            # held back by the window: never much more than the high-water mark in memory
            assert channel.buffered <= channel.high_water + len(block)
    finally:
        for s in stalled + half:
            s.close()
        for proc in readers:
            proc.kill()
            proc.wait()
    print(f"10 execs: {baseline:.2f}s alone, {loaded:.2f}s beside 25 stalled connections and "
          f"3 clients not reading")
    assert loaded < baseline * 2 + 1.0


def _stats(port, key):
    async def run():
        async with asyncssh.connect("127.0.0.1", port, username="u", client_keys=[key],
                                    known_hosts=None, agent_path=None) as conn:
            return json.loads((await conn.run("__stats__", check=True)).stdout)
    return asyncio.run(asyncio.wait_for(run(), DEADLINE))


def _connections(port, key, count, concurrency=8):
    async def one(i, sem):
        async with sem, asyncssh.connect("127.0.0.1", port, username="u", client_keys=[key],
                                         known_hosts=None, agent_path=None) as conn:
            result = await conn.run(f"hello {i}", check=True)
            assert result.stdout == f"hello {i}\n"

    async def run():
        sem = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(one(i, sem) for i in range(count)))

    start = time.monotonic()
    asyncio.run(asyncio.wait_for(run(), 120))
    return time.monotonic() - start


def test_2000_sequential_connections_leave_memory_flat(host_key_files, client_keys):
    """connect, key exchange, public-key auth, exec, close: 2000 times (asyncssh, 8 at a time).
    The server's RSS after them equals its RSS after a warm-up; nothing is left alive."""
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server_app.py"), "--host-key", str(host_key_files["ed25519"]),
         "--authorized-key", str(client_keys["ed25519"]) + ".pub"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        key = asyncssh.read_private_key(str(client_keys["ed25519"]))
        _connections(port, key, 300)
        before = _stats(port, key)
        elapsed = _connections(port, key, 2000)
        after = _stats(port, key)
    finally:
        server.terminate()
        server.wait(DEADLINE)
    growth = after["rss_kib"] - before["rss_kib"]
    print(f"2000 connections in {elapsed:.1f}s ({2000 / elapsed:.0f}/s); server RSS "
          f"{before['rss_kib']} -> {after['rss_kib']} KiB")
    # the one live session and channel are the stats connection itself
    assert (after["sessions"], after["channels"], after["messages"]) == (1, 1, 0)
    assert growth < 1024, f"RSS grew {growth} KiB over 2000 connections"
    assert server.returncode == 0


def test_a_client_vanishing_mid_stream_does_not_disturb_others(make_server, client_keys,
                                                               openssh_client):
    rs = make_server()
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])])
    errors = []
    rs.server.on("connection", lambda s: s.on("error", errors.append))
    rs.start()
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    data = os.urandom(16 << 20)
    # one client streams both ways and is killed half-way; another does the same meanwhile
    victim = subprocess.Popen(client.ssh_args("cat"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=client.env())
    victim.stdin.write(data[:4 << 20])
    victim.stdin.flush()
    victim.stdout.read(1 << 20)
    other = subprocess.Popen(client.ssh_args("cat"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client.env())
    victim.kill()  # no EOF, no close, no DISCONNECT: the TCP connection just ends
    victim.wait()
    out, err = other.communicate(data, timeout=60)
    assert other.returncode == 0 and out == data, err
    wait_until(lambda: len(rs.server.sessions) == 0, what="both sessions to end")
    assert len(errors) == 1 and isinstance(errors[0], pylibssh.SSHError)
    # and the server still serves
    assert client.ssh("echo", "fine").stdout == b"fine\n"


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no Rss in smaps_rollup")


def test_idle_authenticated_connections_cost_under_25_kib_each(host_key_files, client_keys):
    """500 asyncssh connections, authenticated and idle: the server's RSS grows by less than
    25 KiB per connection (39 KiB before libssh patches 0008-0010 and the session's smaller
    Python state)."""
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server_app.py"), "--host-key", str(host_key_files["ed25519"]),
         "--authorized-key", str(client_keys["ed25519"]) + ".pub"],
        stdout=subprocess.PIPE, text=True)
    key = asyncssh.read_private_key(str(client_keys["ed25519"]))
    count = 500

    async def run():
        async def one():
            return await asyncssh.connect("127.0.0.1", port, username="u", client_keys=[key],
                                          known_hosts=None, agent_path=None)

        async def open_many(n):
            conns = []
            for start in range(0, n, 50):
                conns += await asyncio.gather(*(one() for _ in range(min(50, n - start))))
            return conns

        async def close(conns):
            for conn in conns:
                conn.close()
            await asyncio.gather(*(conn.wait_closed() for conn in conns))

        await close(await open_many(50))  # warm-up: the allocator's arenas, code paths
        await asyncio.sleep(0.5)
        before = _rss_bytes(server.pid)
        conns = await open_many(count)
        try:
            await asyncio.sleep(0.5)
            return before, _rss_bytes(server.pid)
        finally:
            await close(conns)

    try:
        line = server.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        before, after = asyncio.run(asyncio.wait_for(run(), 180))
    finally:
        server.terminate()
        server.wait(DEADLINE)
    per_connection = (after - before) / count
    print(f"{count} idle connections: server RSS {before >> 10} -> {after >> 10} KiB, "
          f"{per_connection / 1024:.1f} KiB each")
    assert per_connection < 25 * 1024


def test_an_authenticated_session_keeps_fewer_than_30_attributes(make_server, client_keys):
    """CPython shares the attribute names of instances with fewer than 30 attributes; past
    that, each server session carries a dict of its own (1.6 KiB instead of 0.3 KiB, for
    every connection a server holds). State set late in a session's life belongs in
    class-level defaults (see LoopSession)."""
    rs = make_server()
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])])
    rs.start()
    key = asyncssh.read_private_key(str(client_keys["ed25519"]))

    async def run():
        async with asyncssh.connect("127.0.0.1", rs.port, username="u", client_keys=[key],
                                    known_hosts=None, agent_path=None) as conn:
            result = await conn.run("echo hi", check=True)
            assert result.stdout == "hi\n"
            sessions = rs.call(lambda: list(rs.server.sessions))
            return {len(vars(s)): sorted(vars(s)) for s in sessions}

    counts = asyncio.run(asyncio.wait_for(run(), DEADLINE))
    assert counts and all(n < 30 for n in counts), counts
