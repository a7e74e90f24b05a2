"""Large range reads of the fsspec file system (``cat_file`` with start/end, ``cat_ranges``, an
open file's fetches): bulk reads of the engine's C receiver into the ``bytes`` returned. Against
OpenSSH's sshd and ``pylibssh serve`` for the bytes of real files at their edges, and a pylibssh
server that holds READs back for a cancel in the middle."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from clientkit import known_hosts  # noqa: F401 - a fixture
from fsspeckit import (  # noqa: F401 - base, fs, serve and no_cached_connections are fixtures
    base,
    fresh_dir,
    fs,
    no_cached_connections,
    scripted_fs,
    serve,
    serve_fs,
)
from serverkit import DEADLINE, wait_until

from pylibssh.fsspec import SFTPFileSystem
from pylibssh.server.sftp_local import LocalFilesystem

pytestmark = [pytest.mark.peer, pytest.mark.usefixtures("no_cached_connections")]

MiB = 1 << 20
SIZE = 5 * MiB + 4321  # not a multiple of any read length


@pytest.fixture(params=["sshd", "serve"])
def target(request, fs, base, serve, client_keys):  # noqa: F811
    """A file system (the sshd's or ``pylibssh serve``'s), a fresh directory on it holding the
    file ``f`` of SIZE random bytes, and those bytes."""
    data = random.Random(23).randbytes(SIZE)
    if request.param == "sshd":
        fs.pipe_file(f"{base}/f", data)
        yield fs, f"{base}/f", data
        return
    sfs = serve_fs(serve, client_keys)
    try:
        for d in fresh_dir(sfs, "/"):
            sfs.pipe_file(f"{d}/f", data)
            yield sfs, f"{d}/f", data
    finally:
        sfs.close()


def _engine(fs: SFTPFileSystem):
    from fsspec.asyn import sync
    return sync(fs.loop, fs._sftp)._engine


def test_cat_file_ranges_at_the_edges(target):
    """Large ranges anywhere, to the end, past the end, from past the end, counted from the
    end, empty, and one whose end lies far past the file (bounded by its size, not set aside
    in memory): each the file's bytes, as ``bytes``."""
    fs, path, data = target
    cases = [(0, None), (None, None), (1, SIZE - 1), (MiB + 7, 3 * MiB), (SIZE - 2 * MiB, SIZE),
             (SIZE - 2 * MiB, SIZE + 3 * MiB), (SIZE + 10, SIZE + 3 * MiB), (-3 * MiB, None),
             (-3 * MiB, -5), (2 * MiB, 2 * MiB), (3 * MiB, MiB), (0, 1 << 50)]
    for start, end in cases:
        got = fs.cat_file(path, start=start, end=end)
        assert type(got) is bytes
        assert got == data[slice(start, end)], (start, end)
    assert _engine(fs)._bulks == {}


def test_cat_ranges_large_and_small_together(target):
    """cat_ranges with large and small ranges of one file (and one of a missing file): all
    read at once on one handle, each its bytes."""
    fs, path, data = target
    rng = random.Random(4)
    starts = [rng.randrange(SIZE) for _ in range(40)]
    lengths = [rng.choice([100, 4096, 300_000, 2 * MiB]) for _ in starts]
    ends = [s + n for s, n in zip(starts, lengths)]
    paths = [path] * len(starts) + [path + "-missing"]
    got = fs.cat_ranges(paths, starts + [0], ends + [10])
    for s, e, g in zip(starts, ends, got):
        assert g == data[s:e]
    assert isinstance(got[-1], FileNotFoundError)


def test_reading_an_open_file_forward(target):
    """An open file read forward in large pieces (the prefetched ranges are bulk reads),
    then a jump back: the file's bytes."""
    fs, path, data = target
    with fs.open(path, "rb", block_size=256 * 1024) as f:
        got = b"".join(iter(lambda: f.read(MiB + 17), b""))
        f.seek(123)
        assert f.read(2 * MiB) == data[123:123 + 2 * MiB]
    assert got == data


def test_a_range_runs_while_a_get_runs(target, tmp_path):
    """A large range and a bulk get of the same file over the one connection at once: both
    whole."""
    fs, path, data = target

    async def both():
        return await asyncio.gather(fs._cat_file(path, start=3, end=SIZE - 3),
                                    fs._get_file(path, str(tmp_path / "copy")))

    from fsspec.asyn import sync
    got, _ = sync(fs.loop, both)
    assert got == data[3:SIZE - 3]
    assert (tmp_path / "copy").read_bytes() == data


@pytest.fixture
def held(make_server, host_key_files, client_keys, tmp_path):
    """A file system on a pylibssh server serving a directory holding ``/f`` (SIZE random
    bytes) whose READs at or past 1 MiB wait (the server's loop goes on) until ``release()``,
    which answers them; also the held READs."""
    root = tmp_path / "root"
    root.mkdir()
    data = random.Random(8).randbytes(SIZE)
    (root / "f").write_bytes(data)
    local = LocalFilesystem(root)
    gate = threading.Event()
    waiting: list = []

    def setup(channel):
        session = local.attach(channel)
        default = session.read
        channel.off("sftp:read", session.read)

        @channel.on("sftp:read")
        def read(msg):
            if msg.offset >= MiB and not gate.is_set():
                waiting.append((msg, default))
                return
            default(msg)

        channel.on("sftp:read", lambda msg: None)  # two listeners: every READ comes to Python

    fs, rs = scripted_fs(make_server, setup, client_keys, host_key_files, tmp_path)

    def release():
        gate.set()
        for msg, default in waiting:
            rs.loop.call_soon(default, msg)

    yield fs, data, waiting, release
    gate.set()
    fs.close()


def test_cancelling_a_cat_file_in_the_middle_stops_its_reads(held):
    """A cat_file cancelled while the server holds its READs: the call ends with
    CancelledError at once and its bulk is stopped; the held READs answered later are
    dropped, and the connection serves the next range whole."""
    fs, data, waiting, release = held
    from fsspec.asyn import sync

    async def cancelled():
        task = asyncio.ensure_future(fs._cat_file("/f", start=0, end=SIZE))
        eng = (await fs._sftp())._engine
        for _ in range(int(DEADLINE * 100)):
            if waiting and eng._bulks:
                break
            await asyncio.sleep(0.01)
        assert waiting and eng._bulks
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return eng

    eng = sync(fs.loop, cancelled)
    wait_until(lambda: not eng._bulks)
    release()
    assert fs.cat_file("/f", start=MiB - 5, end=3 * MiB) == data[MiB - 5:3 * MiB]
    assert fs.cat_file("/f") == data
    assert eng._bulks == {} and eng._pending == {}


def test_closing_a_file_cancels_its_range_ahead(held):
    """A file closed while its range ahead waits for the server: the range is cancelled (its
    bulk gone at once, not when the server answers), and the connection reads on."""
    fs, data, waiting, release = held
    eng = _engine(fs)
    f = fs.open("/f", "rb", block_size=64 * 1024)
    assert f.read(MiB // 2) == data[:MiB // 2]
    assert f.read(MiB // 2) == data[MiB // 2:MiB]  # the range after it is asked for: held
    wait_until(lambda: waiting and eng._bulks)
    f.close()
    wait_until(lambda: not eng._bulks)
    release()
    assert fs.cat_file("/f", start=MiB, end=2 * MiB) == data[MiB:2 * MiB]


@pytest.mark.parametrize("length", [MiB // 2, MiB], ids=["inside", "past"])
def test_a_read_of_the_range_ahead_asks_for_what_follows_before_waiting(held, length):
    """A forward reader that takes the range ahead while the server still holds it: what
    follows is asked for at once (its READs reach the server while the reader waits), so the
    server never idles between ranges: the range after it for a read inside it, the rest of
    the read for one that goes past it. The reader then gets the bytes, once."""
    fs, data, waiting, release = held
    half = MiB // 2
    f = fs.open("/f", "rb", block_size=64 * 1024)
    try:
        assert f.read(half) == data[:half]
        assert f.read(half) == data[half:MiB]  # the range ahead, [1, 1.5) MiB: held
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(f.read(length)))
        reader.start()
        try:
            wait_until(lambda: any(msg.offset >= MiB + half for msg, _ in waiting),
                       what="READs past the range the reader waits for")
            assert reader.is_alive() and not got  # still waiting for the held range
        finally:
            release()
            reader.join(DEADLINE)
        assert got == [data[MiB:MiB + length]]
        assert f.read(half) == data[MiB + length:MiB + length + half]
    finally:
        f.close()
