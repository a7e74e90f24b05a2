"""pylibssh.asyncio's SFTP client against OpenSSH's sftp server (internal-sftp), on the default
loop and uvloop: operations, file objects, get/put/mget/mput (globs, recursion, progress,
preserve, resume, the batch engine) with checksums, and cancellation (the transfer ends, its
descriptors and the session's are released, the client goes on)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
import uuid

import pytest

import pylibssh.asyncio as pa
from asynciokit import fd_count, opts, run_on  # noqa: F401 - opts is a fixture
from clientkit import DEADLINE, known_hosts  # noqa: F401

pytestmark = [pytest.mark.peer, pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path) -> str:
    with open(path, "rb") as f:
        return sha(f.read())


async def remote_sha(conn, path: str) -> str:
    return (await conn.run(["sha256sum", path], check=True)).stdout.split()[0].decode()


def with_sftp(loop_kind, opts, body):
    """Run ``body(conn, sftp, base)`` with a fresh remote directory, removed afterwards."""
    async def main():
        async with pa.connect(**opts) as conn:
            base = f"aio-sftp-{uuid.uuid4().hex[:8]}"
            try:
                async with conn.start_sftp_client() as sftp:
                    await sftp.mkdir(base)
                    await body(conn, sftp, base)
            finally:
                await conn.run(f"chmod -R u+rwx {base}; rm -rf {base}")
    run_on(loop_kind, main())


def test_operations_and_files(loop_kind, opts, sshd):
    async def body(conn, sftp, base):
        home = await sftp.realpath(".")
        assert home == f"/home/{sshd.user}" and sftp.version == 3
        data = os.urandom(300_000)
        async with await sftp.open(f"{base}/a.bin", "w") as f:
            assert await f.write(data) == len(data)
        assert (await sftp.stat(f"{base}/a.bin")).size == len(data)
        assert await remote_sha(conn, f"{base}/a.bin") == sha(data)
        async with await sftp.open(f"{base}/a.bin") as f:
            assert await f.read(10) == data[:10]
            assert f.tell() == 10
            assert await f.read(5, offset=1000) == data[1000:1005]
            assert await f.read() == data[10:]
            assert await f.read() == b""
        async with await sftp.open(f"{base}/a.bin", "a") as f:
            await f.write(b"tail")
        await sftp.mkdir(f"{base}/d")
        await sftp.rename(f"{base}/a.bin", f"{base}/d/b.bin")
        await sftp.symlink("b.bin", f"{base}/d/link")
        assert await sftp.readlink(f"{base}/d/link") == "b.bin"
        assert sorted(await sftp.listdir(f"{base}/d")) == ["b.bin", "link"]
        assert await sftp.isdir(f"{base}/d") and await sftp.isfile(f"{base}/d/link")
        assert (await sftp.stat(f"{base}/d/link")).size == len(data) + 4
        await sftp.chmod(f"{base}/d/b.bin", 0o600)
        assert (await sftp.stat(f"{base}/d/b.bin")).permissions & 0o777 == 0o600
        await sftp.makedirs(f"{base}/x/y/z")
        assert await sftp.glob(f"{base}/*/b.*") == [f"{base}/d/b.bin"]
        assert await sftp.glob(f"{base}/?/y") == [f"{base}/x/y"]
        with pytest.raises(FileNotFoundError):
            await sftp.stat(f"{base}/nothing")
        with pytest.raises(FileNotFoundError):
            await sftp.open(f"{base}/nothing")
        await sftp.remove(f"{base}/d/link")
        assert not await sftp.exists(f"{base}/d/link")
        await sftp.rmdir(f"{base}/x/y/z")
        # many requests at once from many coroutines, one SFTP session
        names = [f"{base}/x/f{i}" for i in range(50)]
        for n in names:
            async with await sftp.open(n, "w") as f:
                await f.write(n.encode())
        stats = await asyncio.gather(*(sftp.stat(n) for n in names))
        assert [s.size for s in stats] == [len(n) for n in names]
    with_sftp(loop_kind, opts, body)


def test_get_put_checksums(loop_kind, opts, tmp_path):
    async def body(conn, sftp, base):
        src = tmp_path / "up.bin"
        data = os.urandom(24 << 20)
        src.write_bytes(data)
        seen = []
        n = await sftp.put(src, f"{base}/up.bin",
                           progress_handler=lambda s, d, done, total: seen.append((done, total)))
        assert n == len(data) and seen[-1] == (len(data), len(data))
        assert await remote_sha(conn, f"{base}/up.bin") == sha(data)
        dst = tmp_path / "down.bin"
        assert await sftp.get(f"{base}/up.bin", dst, preserve=True) == len(data)
        assert file_sha(dst) == sha(data)
        # resume a partial download
        dst.write_bytes(data[:5_000_000])
        await sftp.get(f"{base}/up.bin", dst, resume=True)
        assert file_sha(dst) == sha(data)
    with_sftp(loop_kind, opts, body)


def test_a_bulk_download_paces_the_socket_then_lets_it_go(loop_kind, opts, tmp_path):
    # while a bulk download streams, the asyncio loop's socket signals readiness only once the
    # session's bulk_lowat bytes wait (SO_RCVLOWAT: one pass per 256 KiB, not per segment);
    # after it, every byte is signalled again and a short reply is not held. A pass that
    # reads 64 KiB may not come on a loaded machine: the download is tried up to 5 times.
    async def body(conn, sftp, base):
        session = conn._session
        data = os.urandom(32 << 20)
        (tmp_path / "up.bin").write_bytes(data)
        await sftp.put(tmp_path / "up.bin", f"{base}/big.bin")
        marks: list[int] = []
        set_lowat = session._set_lowat
        session._set_lowat = lambda n: (marks.append(n), set_lowat(n))
        sock = socket.socket(fileno=session._fd)  # (detached below: the session owns the fd)
        try:
            for _ in range(5):
                assert await sftp.get(f"{base}/big.bin", tmp_path / "down.bin") == len(data)
                if session.bulk_lowat in marks:
                    break
            assert session.bulk_lowat in marks, marks
            deadline = time.monotonic() + DEADLINE
            while sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) != 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            assert (await sftp.stat(f"{base}/big.bin")).size == len(data)
        finally:
            sock.detach()
        assert file_sha(tmp_path / "down.bin") == sha(data)
    with_sftp(loop_kind, opts, body)


def test_mget_mput_trees_and_batches(loop_kind, opts, tmp_path):
    async def body(conn, sftp, base):
        # a tree up (recursive) and back down, compared file by file
        tree = tmp_path / "tree"
        files = {}
        for i in range(40):
            p = tree / f"d{i % 4}" / f"f{i}.dat"
            p.parent.mkdir(parents=True, exist_ok=True)
            files[p.relative_to(tree)] = os.urandom(16 << 10)
            p.write_bytes(files[p.relative_to(tree)])
        await sftp.put(tree, f"{base}/tree", recurse=True)
        out = tmp_path / "back"
        await sftp.get(f"{base}/tree", out, recurse=True)
        for rel, data in files.items():
            assert file_sha(out / rel) == sha(data)
        # globs both ways: 200 small files go through the batch engine
        small = tmp_path / "small"
        small.mkdir()
        blobs = {f"s{i:03}.bin": os.urandom(16 << 10) for i in range(200)}
        for name, data in blobs.items():
            (small / name).write_bytes(data)
        (small / "skip.txt").write_bytes(b"not matched")
        await sftp.mkdir(f"{base}/small")
        assert await sftp.mput(str(small / "s*.bin"), f"{base}/small") == 200 * (16 << 10)
        assert sorted(await sftp.listdir(f"{base}/small")) == sorted(blobs)
        got = tmp_path / "got"
        got.mkdir()
        assert await sftp.mget(f"{base}/small/s1*.bin", got) == 100 * (16 << 10)
        assert sorted(os.listdir(got)) == sorted(n for n in blobs if n.startswith("s1"))
        for name in os.listdir(got):
            assert file_sha(got / name) == sha(blobs[name])
        with pytest.raises(FileNotFoundError):
            await sftp.mget(f"{base}/small/nothing*", got)
        # a directory without recurse=True is an error, not an empty file
        with pytest.raises(pa.SFTPError):
            await sftp.get(f"{base}/tree", tmp_path / "not-a-tree")
    with_sftp(loop_kind, opts, body)


def test_cancelled_transfers_release_everything(loop_kind, opts, tmp_path):
    async def body(conn, sftp, base):
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(48 << 20))
        await sftp.put(src, f"{base}/big.bin")
        session = conn.client.session
        fds, tasks = fd_count(), len(asyncio.all_tasks())
        channels = len(session.channels)
        # a single download cut mid-way
        got = []

        async def get():
            await sftp.get(f"{base}/big.bin", tmp_path / "part.bin",
                           progress_handler=lambda *a: got.append(a[2]))
        task = asyncio.create_task(get())
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while not got and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        part = tmp_path / "part.bin"
        assert not part.exists() or part.stat().st_size < 48 << 20  # it did stop
        # a batch of uploads cut mid-way (it ran on a channel of its own)
        small = tmp_path / "small"
        small.mkdir()
        for i in range(300):
            (small / f"f{i}").write_bytes(os.urandom(8 << 10))
        await sftp.mkdir(f"{base}/small")
        batch = asyncio.create_task(sftp.mput(str(small / "f*"), f"{base}/small"))
        while (asyncio.get_running_loop().time() < deadline
               and len(session.channels) == channels):
            await asyncio.sleep(0.001)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch
        assert len(await sftp.listdir(f"{base}/small")) < 300  # it did stop
        # the transfers' local files and the batch's channel are released
        while ((fd_count() != fds or len(session.channels) != channels)
               and asyncio.get_running_loop().time() < deadline):
            await asyncio.sleep(0.02)
        assert fd_count() == fds
        assert len(session.channels) == channels
        assert len(asyncio.all_tasks()) == tasks
        # the SFTP client and the connection go on
        assert (await sftp.stat(f"{base}/big.bin")).size == 48 << 20
        assert (await conn.run("echo ok")).stdout == b"ok\n"
        n = await sftp.get(f"{base}/big.bin", tmp_path / "whole.bin")
        assert n == 48 << 20 and file_sha(tmp_path / "whole.bin") == file_sha(src)
    with_sftp(loop_kind, opts, body)
