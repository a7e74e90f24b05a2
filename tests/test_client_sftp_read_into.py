"""Range reads into memory (:meth:`SFTPEngine.read_into`): a range longer than one READ is a
bulk of the C receiver that copies each DATA into the caller's buffer inside libssh's poll.
Peers: OpenSSH's sshd (internal-sftp) for the file's real bytes, and pylibssh's own server where
replies must be short, failing, wrong or missing."""

from __future__ import annotations

import struct
import threading
import uuid

import pytest
from clientkit import DEADLINE, connect, known_hosts  # noqa: F401
from serverkit import wait_until
from sftpkit import one_file_sftp_server, password_client

import pylibssh
from pylibssh.client import sftp_engine
from pylibssh.client._task import wait

pytestmark = pytest.mark.peer

CHUNK = 32768


@pytest.fixture
def python_replies(monkeypatch):
    """The READ replies of range reads that Python handles, by offset."""
    seen: list[int] = []
    orig = sftp_engine._ReadInto._on_read

    def counted(self, kind, payload, offset, length, rid=None):
        seen.append(offset)
        return orig(self, kind, payload, offset, length, rid)

    monkeypatch.setattr(sftp_engine._ReadInto, "_on_read", counted)
    return seen


def _w(s, future):
    """The future's result, the calling thread driving the client's loop meanwhile."""
    return wait(s.engine.session._loop, future, DEADLINE, "SFTP")


def _read(s, handle, offset, buffer, **kwargs):
    return _w(s, s.engine.read_into(handle, offset, buffer, **kwargs))


@pytest.fixture
def remote(connect):
    """A 6 MiB + 12345-byte file of random bytes on the sshd, its content, and an SFTP client."""
    c = connect()
    name = f"range-{uuid.uuid4().hex[:8]}.bin"
    size = (6 << 20) + 12345
    c.run(f"head -c {size} /dev/urandom > {name}", check=True, timeout=60)
    try:
        with c.sftp() as s:
            content = s.read_bytes(name)
            assert len(content) == size
            yield s, name, content
    finally:
        c.run(f"rm -f {name}")


def test_ranges_of_a_file_from_sshd(remote, python_replies):
    """Whole, in the middle, at the end, past the end, from past the end, empty: each the
    file's bytes, fewer only where the file ends; Python handles no reply of the ranges that
    end inside the file, and one per READ past the end."""
    s, name, content = remote
    size = len(content)
    handle = _w(s, s.engine.open(name, 1))
    chunk = s.engine.read_chunk
    cases = [(0, size), (12345, 5 << 20), (size - 3 * chunk - 7, 3 * chunk + 7),
             (size - 100_000, 400_000), (size + 10, 2 * chunk + 1), (1000, 0),
             (77, chunk + 1)]
    for offset, length in cases:
        del python_replies[:]
        buffer = bytearray(length)
        n = _read(s, handle, offset, buffer)
        assert n == max(0, min(length, size - offset))
        assert bytes(buffer[:n]) == content[offset:offset + n]
        if offset + length <= size:
            assert python_replies == []
        else:  # the READs at or past the end: answered EOF (or short, then EOF)
            assert python_replies and min(python_replies) >= min(offset, size - chunk)
    assert s.engine._bulks == {} and s.engine._pending == {}
    _w(s, s.engine.close_handle(handle))


def test_a_read_runs_while_a_download_on_the_same_session_runs(remote, tmp_path, monkeypatch):
    """A bulk download of the file into a local file and range reads of it into memory at the
    same time on one SFTP session: both kinds of bulk in the receiver at once, each gets its
    bytes."""
    s, name, content = remote
    together = []
    orig = sftp_engine.SFTPEngine._tick_bulks

    def tick(self):
        together.append({type(t).__name__ for t in self._bulks.values()})
        return orig(self)

    monkeypatch.setattr(sftp_engine.SFTPEngine, "_tick_bulks", tick)
    handle = _w(s, s.engine.open(name, 1))
    got = s.engine.get(name, tmp_path / "copy", in_flight=4)  # a bulk: 4 READs < the file
    buffers = [bytearray(len(content) - i * 1000) for i in range(3)]
    reads = [s.engine.read_into(handle, i * 1000, b) for i, b in enumerate(buffers)]
    for i, (f, b) in enumerate(zip(reads, buffers)):
        assert _w(s, f) == len(b)
        assert bytes(b) == content[i * 1000:]
    assert _w(s, got).transferred == len(content)
    assert (tmp_path / "copy").read_bytes() == content
    assert {"_Download", "_ReadInto"} in together
    _w(s, s.engine.close_handle(handle))


def test_a_read_only_buffer_is_refused(remote):
    s, name, content = remote
    with pytest.raises(TypeError):
        _read(s, b"h", 0, bytes(100))


def test_read_bytes_from_sshd(remote):
    """read_bytes: the range as one ``bytes``, written in place by the receiver (or read by
    Python for one READ or less); shorter at the end of the file, empty past it."""
    s, name, content = remote
    size = len(content)
    handle = _w(s, s.engine.open(name, 1))
    for offset, length in [(0, size), (5, 3 << 20), (size - 70_000, 1 << 20), (size, 1 << 20),
                           (100, 1), (100, 2), (size - 1, 5), (0, 0)]:
        got = _w(s, s.engine.read_bytes(handle, offset, length))
        assert type(got) is bytes and got == content[offset:offset + length]
    _w(s, s.engine.close_handle(handle))


# -- a pylibssh server that answers as the test says --------------------------------------------

def _scripted(make_server, content: bytes, answer):
    """pylibssh's server holding ``content`` as every file; ``answer(msg)`` may answer a READ
    itself (True), leave it unanswered ("hold"), or leave it to the default (the data asked
    for)."""
    def on_read(msg):
        if not answer(msg):
            data = content[msg.offset:msg.offset + msg.length]
            if data:
                msg.reply_data(data)
            else:
                msg.reply_status("eof")
    return one_file_sftp_server(make_server, lambda: len(content), on_read=on_read)


_client = password_client


READS = 64  # a 64-READ range, 4 READs in flight


def _content(seed: int) -> bytes:
    return bytes((i * seed) & 0xFF for i in range(256)) * (READS * CHUNK // 256) + b"tail"


def test_short_answers_are_asked_again(make_server, python_replies):
    """Two READs answered with half their data stop the bulk: Python asks for what they left
    out and reads the rest itself; the range arrives whole, never short."""
    content = _content(7)
    short = []

    def answer(msg):
        if msg.offset in (10 * CHUNK, 20 * CHUNK) and msg.length == CHUNK:
            short.append(msg.offset)
            msg.reply_data(content[msg.offset:msg.offset + msg.length // 2])
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = CHUNK
        buffer = bytearray(len(content))
        assert _read(s, b"h", 0, buffer, in_flight=4) == len(content)
        assert bytes(buffer) == content
        assert short == [10 * CHUNK, 20 * CHUNK]
        assert 10 * CHUNK in python_replies
        assert s.engine._bulks == {} and s.engine._pending == {}


def test_a_server_that_always_answers_short(make_server):
    """Every READ answered with at most 10,000 bytes (less than the read length the client
    uses): each is asked again until the range is whole, and the end of the file ends it."""
    content = _content(11)

    def answer(msg):
        msg.reply_data(content[msg.offset:msg.offset + min(msg.length, 10_000)]) \
            if msg.offset < len(content) else msg.reply_status("eof")
        return True

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = CHUNK
        buffer = bytearray(len(content) + 5000)
        assert _read(s, b"h", 0, buffer) == len(content)
        assert bytes(buffer[:len(content)]) == content


@pytest.mark.parametrize("how", ["failure", "eof"])
def test_a_failing_read_ends_the_range(make_server, how):
    """A READ in the middle answered with a failure fails the range with that error; an early
    end of file there (the file shrank) gives the bytes before it, no more."""
    content = _content(13)
    bad = 37 * CHUNK

    def answer(msg):
        if msg.offset >= bad and (how == "eof" or msg.offset == bad):
            msg.reply_status("eof" if how == "eof" else "permissiondenied")
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = CHUNK
        buffer = bytearray(len(content))
        if how == "failure":
            with pytest.raises(PermissionError):
                _read(s, b"h", 0, buffer, in_flight=4)
        else:
            assert _read(s, b"h", 0, buffer, in_flight=4) == bad
            assert bytes(buffer[:bad]) == content[:bad]
        assert s.engine._bulks == {}
        buffer.extend(b"x")  # no longer held
        assert s.stat("/f").size == len(content)  # the SFTP session goes on


def test_a_malformed_reply_closes_that_sftp_session(make_server):
    """A DATA reply longer than its READ in the middle of the range: BAD_MESSAGE, the SFTP
    session ends, the buffer is let go, the connection goes on."""
    content = bytes(READS * CHUNK)

    def answer(msg):
        if msg.offset == 20 * CHUNK:
            msg._reply(103, [struct.pack(">I", 40000), bytes(40000)])
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c:
        s = c.sftp()
        s.engine.read_chunk = CHUNK
        buffer = bytearray(len(content))
        with pytest.raises(pylibssh.SFTPError, match="malformed") as info:
            _read(s, b"h", 0, buffer, in_flight=4)
        assert info.value.status == pylibssh.SFTPStatus.BAD_MESSAGE
        assert s.closed
        buffer.extend(b"x")
        assert c.sftp().stat("/f").size == len(content)


def test_a_server_that_stops_answering_fails_the_range_at_its_deadline(make_server):
    """READs past a point are never answered: the range fails with SSHTimeoutError once no
    reply came for its timeout; the buffer is let go and the session serves what follows."""
    content = _content(17)
    held = []

    def answer(msg):
        if msg.offset >= 30 * CHUNK:
            held.append(msg)  # never answered
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = CHUNK
        buffer = bytearray(len(content))
        with pytest.raises(pylibssh.SSHTimeoutError, match="read"):
            _read(s, b"h", 0, buffer, in_flight=4, timeout=1.0)
        assert held
        assert s.engine._bulks == {} and s.engine._pending == {}
        buffer.extend(b"x")
        assert s.stat("/f").size == len(content)


def test_cancel_in_the_middle(make_server):
    """A range cancelled while its READs are held by the server: the future is cancelled at
    once, the buffer is let go (a bytearray can grow again), no bulk is left and no more
    READs are asked for; what the server answers afterwards is dropped, and the session goes
    on with another range."""
    content = _content(19)
    gate = threading.Event()
    held = []
    asked = []

    def answer(msg):
        asked.append(msg.offset)
        if msg.offset >= 8 * CHUNK and not gate.is_set():
            held.append(msg)
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = CHUNK
        c.loop.start()  # the loop runs while this thread waits for nothing
        buffer = bytearray(len(content))
        f = s.engine.read_into(b"h", 0, buffer, in_flight=4)
        wait_until(lambda: len(held) == 4)  # 8 READs answered, 4 held: the window is full
        assert f.cancel() and f.cancelled()
        buffer.extend(b"x")  # let go at once
        assert s.engine._bulks == {}
        before = bytes(buffer)
        gate.set()
        for msg in held:  # answered late: dropped, and they call for no more READs
            rs.loop.call_soon(lambda m=msg: m.reply_data(content[m.offset:m.offset + m.length]))
        s.stat("/f")
        s.stat("/f")  # (after the late answers, and after any READ they would have called for)
        assert sorted(asked) == [i * CHUNK for i in range(12)]
        again = bytearray(len(content))
        assert s.engine.read_into(b"h", 0, again).result(DEADLINE) == len(content)
        assert bytes(again) == content
        assert bytes(buffer) == before
        assert s.engine._pending == {}


def test_a_read_lets_go_of_its_bytes_with_the_caller(remote):
    """Once the caller drops a range's future and bytes, nothing else holds them (no cycle
    left for the garbage collector: a large range's memory is reused by the next one at
    once)."""
    import gc
    s, name, content = remote
    handle = _w(s, s.engine.open(name, 1))
    gc.disable()
    try:
        f = s.engine.read_bytes(handle, 0, 3 << 20)
        assert _w(s, f) == content[:3 << 20]
        del f
        assert not [o for o in gc.get_objects() if isinstance(o, sftp_engine._ReadInto)]
    finally:
        gc.enable()
    _w(s, s.engine.close_handle(handle))


def test_large_reads_of_a_blocking_file_are_bulk_reads(remote, monkeypatch):
    """SFTPFile.read of a megabyte or more with nothing read ahead, and readinto of a large
    buffer, are bulk reads (into the bytes returned, into the caller's buffer); small reads
    around them keep their place; at the end a read is short, then empty."""
    s, name, content = remote
    size = len(content)
    bulks = []
    orig = sftp_engine._ReadInto.begin

    def begin(self):
        bulks.append((self.base, self.end - self.base))
        return orig(self)

    monkeypatch.setattr(sftp_engine._ReadInto, "begin", begin)
    with s.open(name, "rb") as f:
        assert f.read(2 << 20) == content[:2 << 20]
        assert f.read(10) == content[2 << 20:(2 << 20) + 10]  # read-ahead starts here
        assert f.read(3 << 20) == content[(2 << 20) + 10:(5 << 20) + 10]
        f.seek(1000)
        target = bytearray(3 << 20)
        assert f.readinto(target) == len(target) and target == content[1000:1000 + len(target)]
        assert f.tell() == 1000 + len(target)
        f.seek(size - 5000)
        assert f.read(4 << 20) == content[size - 5000:]
        assert f.read(4 << 20) == b""
    assert bulks[0] == (0, 2 << 20)
    assert (1000, 3 << 20) in bulks and (size - 5000, 4 << 20) in bulks


def test_a_huge_read_of_a_blocking_file_is_bounded_by_its_size(remote):
    """read() of far more than the file holds sets aside no more than the file's size: the
    rest of the file, then nothing."""
    s, name, content = remote
    with s.open(name, "rb") as f:
        f.seek(1000)
        assert f.read(1 << 50) == content[1000:]
        assert f.read(1 << 50) == b""
        f.seek(len(content) - 10)
        assert f.read(1 << 40) == content[-10:]
