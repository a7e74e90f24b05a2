"""pylibssh.asyncio's client against OpenSSH's sshd, on asyncio's default loop and on uvloop:
connect (the blocking client's options), run, processes and their streams, cancellation (the
channel closes, the connection goes on, nothing is left: fds, tasks, channels), many
connections from one loop without a thread."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import pytest

import pylibssh
import pylibssh.asyncio as pa
from asynciokit import fd_count, opts, run_on  # noqa: F401 - opts is a fixture
from clientkit import DEADLINE, known_hosts  # noqa: F401

pytestmark = [pytest.mark.peer, pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])]


def test_connect_and_run(loop_kind, opts):
    async def main():
        threads = set(threading.enumerate())
        async with pa.connect(**opts) as conn:
            r = await conn.run("echo hello; echo oops >&2; exit 3")
            assert (r.stdout, r.stderr, r.exit_status) == (b"hello\n", b"oops\n", 3)
            with pytest.raises(pa.ProcessError):
                await conn.run("exit 4", check=True)
            big = os.urandom(3 << 20)
            r = await conn.run("sha256sum", input=big)
            assert r.stdout.split()[0].decode() == hashlib.sha256(big).hexdigest()
            assert conn.host_key is not None
            # the engine added no thread
            assert not set(threading.enumerate()) - threads  # (no new thread)
        assert conn.closed
    run_on(loop_kind, main())


def test_connect_errors(loop_kind, opts, sshd, tmp_path):
    async def main():
        with pytest.raises(pylibssh.HostKeyError):
            await pa.connect(**dict(opts, known_hosts=str(tmp_path / "none")))
        with pytest.raises(pylibssh.AuthenticationError):
            await pa.connect(**dict(opts, keys=[]))
        with pytest.raises(pylibssh.SSHConnectionRefusedError):
            from openssh import free_port
            await pa.connect(**dict(opts, port=free_port()))
    run_on(loop_kind, main())


def test_connect_to_a_silent_server_times_out_or_is_cancelled(loop_kind, opts):
    """A server that accepts and never answers: the connect's ``timeout`` raises
    SSHTimeoutError, and a connect cancelled (``wait_for``) raises there; either way the
    attempt's socket is closed once its lingering close ends, nothing stays on the loop and
    asyncio reports nothing."""
    import socket

    async def main():
        aio = asyncio.get_running_loop()
        reported = []
        aio.set_exception_handler(lambda loop, context: reported.append(context))
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            silent = dict(opts, port=listener.getsockname()[1])
            base = fd_count()
            with pytest.raises(pylibssh.SSHTimeoutError):
                await pa.connect(**dict(silent, timeout=0.3))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pa.connect(**silent), 0.3)
            # (a close lingers until the server closes too, at most 2 s: this one never does)
            deadline = aio.time() + DEADLINE
            while pa.engine_loop()._masks and aio.time() < deadline:
                await asyncio.sleep(0.05)
            assert pa.engine_loop()._masks == {}
            # (not ==: a socket that an earlier test left to the collector may close meanwhile)
            assert fd_count() <= base
        import gc
        gc.collect()
        await asyncio.sleep(0)
        assert reported == []
    run_on(loop_kind, main())


def test_a_closed_connection_is_freed_without_the_collector(loop_kind, opts):
    """A connection closed and dropped is freed by reference counting: nothing of it is in a
    reference cycle, which would leave every connection's session (its libssh session, host
    key, lists and dicts) to the garbage collector."""
    import gc
    import weakref

    async def main():
        async with pa.connect(**opts) as conn:
            await conn.run("true")
        refs = [weakref.ref(o) for o in (conn, conn.client, conn.client.session)]
        del conn
        assert [r() for r in refs] == [None] * 3

    gc.collect()
    gc.disable()
    try:
        run_on(loop_kind, main())
    finally:
        gc.enable()


def test_process_streams(loop_kind, opts):
    async def main():
        async with pa.connect(**opts) as conn:
            proc = await conn.create_process("cat; echo err >&2; exit 5")
            proc.stdin.write(b"line one\nline two\npartial")
            await proc.stdin.drain()
            assert await proc.stdout.readline() == b"line one\n"
            assert await proc.stdout.readexactly(5) == b"line "
            proc.stdin.write_eof()
            lines = [line async for line in proc.stdout]
            assert lines == [b"two\n", b"partial"]
            assert await proc.stdout.read() == b""
            assert await proc.stderr.read() == b"err\n"
            result = await proc.wait()
            assert result.exit_status == 5 and proc.returncode == 5
            with pytest.raises(asyncio.IncompleteReadError):
                await proc.stdout.readexactly(1)

            # a large stream both ways, read while written, with a checksum
            proc = await conn.create_process("cat")
            data = os.urandom(8 << 20)

            async def feed():
                for i in range(0, len(data), 1 << 20):
                    proc.stdin.write(data[i:i + (1 << 20)])
                    await proc.stdin.drain()
                proc.stdin.write_eof()
            feeder = asyncio.create_task(feed())
            got = await proc.stdout.read()
            await feeder
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
            assert (await proc.wait()).exit_status == 0
    run_on(loop_kind, main())


def test_terminal_and_signals(loop_kind, opts):
    async def main():
        async with pa.connect(**opts) as conn:
            proc = await conn.create_process(
                "stty size; read x; stty size", term_type="xterm", term_size=(100, 30))
            assert await proc.stdout.readline() == b"30 100\r\n"
            proc.change_terminal_size(120, 40)
            proc.stdin.write(b"go\n")
            out = b""
            while b"40 120" not in out:
                chunk = await proc.stdout.read(1024)
                assert chunk, out
                out += chunk
            await proc.wait()

            # (a signal before the command started would go nowhere: it says when it runs)
            proc = await conn.create_process("echo started; exec sleep 30")
            assert await proc.stdout.readline() == b"started\n"
            proc.terminate()
            result = await proc.wait()
            assert result.exit_signal == "TERM" and proc.returncode == -15
    run_on(loop_kind, main())


def test_cancellation_leaves_connection_usable(loop_kind, opts):
    async def main():
        async with pa.connect(**opts) as conn:
            await conn.run("true")  # (settle the lazily made objects before counting)
            fds, tasks = fd_count(), len(asyncio.all_tasks())
            session = conn.client.session
            # a run cut by asyncio.timeout
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await conn.run("sleep 30")
            # a read cut by wait_for
            proc = await conn.create_process("sleep 30")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(proc.stdout.read(10), 0.5)
            # a task cancelled while it waits
            proc2 = await conn.create_process("sleep 30")
            task = asyncio.create_task(proc2.wait())
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the channels go away (the server answers their close); the connection runs on
            deadline = asyncio.get_running_loop().time() + DEADLINE
            while session.channels and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            assert session.channels == []
            assert (await conn.run("echo still")).stdout == b"still\n"
            assert fd_count() == fds
            assert len(asyncio.all_tasks()) == tasks
    run_on(loop_kind, main())


def test_packets_the_socket_takes_need_no_write_interest(loop_kind, opts, monkeypatch):
    # connect, authenticate, run and close send small packets that the socket takes whole: no
    # writer is registered with the loop (each would cost a loop callback and two epoll_ctl
    # calls, and a pass of the session that only sees the socket writable again)
    from pylibssh.asyncio._loop import AsyncioLoop

    writers = []
    real = AsyncioLoop.add_writer

    def counted(self, fd, callback):
        writers.append(callback)
        real(self, fd, callback)
    monkeypatch.setattr(AsyncioLoop, "add_writer", counted)

    async def main():
        for _ in range(3):
            async with pa.connect(**opts) as conn:
                assert (await conn.run("echo hi")).stdout == b"hi\n"
        assert writers == []
    run_on(loop_kind, main())


def test_many_connections_one_loop(loop_kind, opts):
    async def main():
        threads = set(threading.enumerate())
        base = fd_count()
        conns = await asyncio.gather(*(pa.connect(**opts) for _ in range(16)))
        # one socket each, no thread
        assert fd_count() - base == 16
        assert not set(threading.enumerate()) - threads  # (no new thread)
        results = await asyncio.gather(*(c.run(f"echo {i}") for i, c in enumerate(conns)))
        assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(16)]
        for c in conns:
            c.close()
        # the lingering closes end once the server answers: nothing stays on the loop
        engine = pa.engine_loop()
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while engine._masks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert engine._masks == {}
        assert fd_count() == base  # every connection's socket is closed
    run_on(loop_kind, main())


def test_proxy_jump(loop_kind, opts, sshd):
    async def main():
        async with pa.connect(**dict(opts, proxy_jump=f"{sshd.user}@127.0.0.1:{sshd.port}")
                              ) as conn:
            assert (await conn.run("echo jumped")).stdout == b"jumped\n"
    run_on(loop_kind, main())


def test_blocking_call_on_the_loop_raises(loop_kind, opts):
    async def main():
        async with pa.connect(**opts) as conn:
            with pytest.raises(RuntimeError, match="coroutines"):
                conn.client.run("true")
            assert (await conn.run("echo ok")).stdout == b"ok\n"
    run_on(loop_kind, main())


def test_finished_loops_are_not_kept(loop_kind, opts):
    """The engine's per-loop state does not keep an asyncio loop alive once it is done."""
    import gc
    import weakref

    from pylibssh.asyncio import _loop

    async def use():
        async with pa.connect(**opts) as conn:
            await conn.run("true")
        return weakref.ref(asyncio.get_running_loop())

    refs = [run_on(loop_kind, use()) for _ in range(3)]
    gc.collect()
    assert [r() for r in refs] == [None] * 3
    assert not any(r() in _loop._loops for r in refs)


def test_async_with_waits_for_the_lingering_close(loop_kind, opts):
    """Leaving ``async with`` ends the lingering close (the server read the DISCONNECT):
    nothing of the connection stays on the loop for the collector to find."""
    async def main():
        async with pa.connect(**opts) as conn:
            await conn.run("true")
        assert pa.engine_loop()._masks == {}
        conn = await pa.connect(**opts)
        conn.close()
        await conn.wait_closed()
        assert pa.engine_loop()._masks == {}
    run_on(loop_kind, main())


def test_connect_and_wait_without_asyncio_timeout(loop_kind, opts, monkeypatch):
    """Python 3.9 and 3.10 have no ``asyncio.timeout``: connect and a process's
    ``wait(timeout=...)`` work without it (taken away here, on a Python that has it), and the
    wait still ends with TimeoutError, the channel closed and the connection usable."""
    async def main():
        monkeypatch.delattr(asyncio, "timeout")  # (run_on's own bound is entered already)
        async with pa.connect(**opts) as conn:
            proc = await conn.create_process("sleep 30")
            with pytest.raises(TimeoutError):
                await proc.wait(timeout=0.5)
            assert proc.channel.closed
            assert (await conn.run("echo ok")).stdout == b"ok\n"
    run_on(loop_kind, main())


def test_the_engine_loop_answers_every_loop_method(loop_kind, opts):
    """The engine's loop on asyncio has every method of pylibssh's own Loop: overridden, or
    one that only uses overridden ones (``submit`` schedules with ``call_soon``; ``solo_wait``
    follows a ``claim_solo``, which it never grants). Running or joining it is its owner's job:
    ``join`` returns, ``run_once``/``run_forever`` raise a RuntimeError that says so."""
    from pylibssh.asyncio._loop import AsyncioLoop
    from pylibssh.loop import Loop

    inherited = {n for n in vars(Loop) if not n.startswith("_") and n not in vars(AsyncioLoop)}
    assert inherited == {"submit", "solo_wait"}

    async def main():
        async with pa.connect(**opts) as conn:
            engine = pa.engine_loop()
            engine.join(1)
            for run in (engine.run_once, engine.run_forever):
                with pytest.raises(RuntimeError, match="asyncio loop"):
                    run()
            done = engine.submit(lambda: 42)
            while not done.done():
                await asyncio.sleep(0.01)
            assert done.result() == 42
            assert (await conn.run("echo ok")).stdout == b"ok\n"
    run_on(loop_kind, main())
