"""The read cache of fsspec files (:class:`pylibssh.fsspec.prefetch.ForwardPrefetchCache`)
against OpenSSH's sshd, and a pylibssh server that fails READs past an offset: the range after
a forward read is fetched in the background, and whatever the reader does next (jump, go
back, close, meet a file that changed size or a failed READ) it gets the file's bytes or the
error, never other bytes."""

from __future__ import annotations

import errno
import os
import random

import pytest
from clientkit import known_hosts  # noqa: F401 - a fixture
from fsspeckit import base, fs, no_cached_connections, scripted_fs  # noqa: F401 - fixtures
from serverkit import wait_until

from pylibssh.errors import SSHError
from pylibssh.fsspec.prefetch import ForwardPrefetchCache
from pylibssh.server.sftp_local import LocalFilesystem

pytestmark = [pytest.mark.peer, pytest.mark.usefixtures("no_cached_connections")]

KiB = 1024
STEP = 512 * KiB  # each read: larger than the files' block_size below, so misses fetch it all


@pytest.fixture
def data():
    return random.Random(5).randbytes(8 * STEP + 1234)


@pytest.fixture
def path(fs, base, data):  # noqa: F811
    fs.pipe_file(f"{base}/f", data)
    return f"{base}/f"


def _arrived(f) -> bool:
    ahead = f.cache.ahead()
    return ahead is not None and ahead[2]


def test_forward_reads_fetch_the_next_range_in_the_background(fs, path, data):  # noqa: F811
    f = fs.open(path, "rb", block_size=64 * KiB)
    assert isinstance(f.cache, ForwardPrefetchCache)
    assert f.read(STEP) == data[:STEP]
    assert f.cache.ahead() is None  # one read is no direction yet
    assert f.read(STEP) == data[STEP:2 * STEP]
    assert f.cache.ahead()[:2] == (2 * STEP, 3 * STEP)
    wait_until(lambda: _arrived(f))
    # the connection gone, the range ahead is still there to read, and the next one is not
    fs.close()
    assert f.read(STEP) == data[2 * STEP:3 * STEP]
    with pytest.raises(SSHError):
        f.read(STEP)
    with pytest.raises(SSHError):  # its handle cannot be closed either
        f.close()


def test_random_access_and_going_back_after_a_prefetch(fs, path, data):  # noqa: F811
    rng = random.Random(9)
    with fs.open(path, "rb", block_size=64 * KiB) as f:
        for _ in range(20):
            at = rng.randrange(len(data))
            f.seek(at)
            for _ in range(rng.randrange(1, 4)):  # a few forward reads: a range ahead starts
                n = rng.choice([1000, STEP, STEP + 77])
                at = f.tell()
                assert f.read(n) == data[at:at + n]
            jump = rng.choice(["back", "into the range ahead", "far"])
            ahead = f.cache.ahead()
            if jump == "back":
                at = max(0, f.tell() - rng.randrange(1, 3 * STEP))
            elif jump == "into the range ahead" and ahead is not None:
                at = rng.randrange(ahead[0], ahead[1])
            else:
                at = rng.randrange(len(data))
            f.seek(at)
            n = rng.choice([10, STEP])
            assert f.read(n) == data[at:at + n]
        f.seek(0)
        assert f.read() == data


def test_a_read_elsewhere_drops_the_range_ahead(fs, path, data):  # noqa: F811
    with fs.open(path, "rb", block_size=64 * KiB) as f:
        f.read(STEP)
        f.read(STEP)
        assert f.cache.ahead() is not None
        f.seek(5 * STEP)
        assert f.read(100) == data[5 * STEP:5 * STEP + 100]
        assert f.cache.ahead() is None  # a jump is no direction


def test_a_file_that_grows_is_read_to_its_size_at_open(fs, path, data):  # noqa: F811
    with fs.open(path, "rb", block_size=64 * KiB) as f:
        fs.pipe_file(path, data + b"more" * 100_000)
        got = b"".join(iter(lambda: f.read(STEP), b""))
    assert got == data


def test_a_file_that_shrinks_is_read_to_its_new_end(fs, path, data):  # noqa: F811
    with fs.open(path, "rb", block_size=64 * KiB) as f:
        assert f.read(STEP) == data[:STEP]
        assert f.read(STEP) == data[STEP:2 * STEP]
        wait_until(lambda: _arrived(f))  # [2, 3) steps already here: they are the old bytes
        short = 4 * STEP + 10
        fs.pipe_file(path, data[:short])  # truncated in place: the same file
        got = b"".join(iter(lambda: f.read(STEP), b""))
    assert got == data[2 * STEP:short]


def test_close_while_a_range_ahead_arrives(fs, path, data):  # noqa: F811
    big = 64 * STEP
    fs.pipe_file(path, data * 8)
    for _ in range(3):
        f = fs.open(path, "rb", block_size=64 * KiB)
        f.read(big // 8)
        f.read(big // 8)
        assert f.cache.ahead() is not None
        f.close()
        f.close()
        with pytest.raises(ValueError):
            f.read(1)
    assert fs.cat_file(path, start=STEP, end=2 * STEP) == (data * 8)[STEP:2 * STEP]
    with fs.open(path, "rb") as f:  # the connection still serves whole reads
        assert f.read() == data * 8


@pytest.fixture
def failing(make_server, host_key_files, client_keys, tmp_path):
    """A file system on a pylibssh server whose READs at or past 3 steps of ``/f`` fail (EIO)."""
    root = tmp_path / "root"
    root.mkdir()
    data = random.Random(3).randbytes(6 * STEP)
    (root / "f").write_bytes(data)
    local = LocalFilesystem(root)

    def setup(channel):
        session = local.attach(channel)
        channel.off("sftp:read", session.read)

        @channel.on("sftp:read")
        def read(msg):
            if msg.offset >= 3 * STEP:
                raise OSError(errno.EIO, "the disk failed")
            msg.reply_data(os.pread(session._file(msg).fd, msg.length, msg.offset))

        channel.on("sftp:read", lambda msg: None)  # two listeners: every READ comes to Python

    fs, _rs = scripted_fs(make_server, setup, client_keys, host_key_files, tmp_path)
    yield fs, data
    fs.close()


def test_a_failed_range_ahead_fails_the_read_that_needs_it(failing):
    fs, data = failing
    with fs.open("/f", "rb", block_size=64 * KiB) as f:
        assert f.read(STEP) == data[:STEP]
        assert f.read(2 * STEP) == data[STEP:3 * STEP]  # [3, 5) steps ahead: they fail
        wait_until(lambda: _arrived(f))
        with pytest.raises(OSError) as raised:
            f.read(10)
        assert "the disk failed" in str(raised.value) or raised.value.errno == errno.EIO
        f.seek(0)  # what can be read still is
        assert f.read(STEP) == data[:STEP]


def test_a_failed_range_ahead_nobody_reads_is_not_raised(failing):
    fs, data = failing
    with fs.open("/f", "rb", block_size=64 * KiB) as f:
        assert f.read(STEP) == data[:STEP]
        assert f.read(2 * STEP) == data[STEP:3 * STEP]  # [3, 5) steps ahead: they fail
        wait_until(lambda: _arrived(f))
        f.seek(10)
        assert f.read(STEP) == data[10:STEP + 10]
