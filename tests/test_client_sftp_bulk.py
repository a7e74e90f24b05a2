"""Bulk downloads (csrc/pylibssh_sftp_client.c): a file larger than the window of READs is read
by the C receiver, which sends the next READs itself as replies come, so Python takes part only
at the start, at the end and for a reply that is not a whole DATA. Peers: OpenSSH's sshd
(internal-sftp), and pylibssh's own server where replies must be short, failing or wrong."""

from __future__ import annotations

import hashlib
import struct
import uuid

import pytest
from clientkit import DEADLINE, connect, known_hosts  # noqa: F401
from sftpkit import one_file_sftp_server, password_client

import pylibssh
from pylibssh.client import sftp_engine

pytestmark = pytest.mark.peer


@pytest.fixture
def python_replies(monkeypatch):
    """The READ replies Python handles, by offset."""
    seen: list[int] = []
    orig = sftp_engine._Download._on_read

    def counted(self, kind, payload, rid):
        seen.append(self.inflight[rid][0])
        return orig(self, kind, payload, rid)

    monkeypatch.setattr(sftp_engine._Download, "_on_read", counted)
    return seen


def test_a_large_get_sends_its_reads_from_c(connect, tmp_path, python_replies):
    """64 MiB from OpenSSH's sshd: the file arrives whole, and Python handles one READ reply
    (the end of file) instead of one per READ; the progress calls rise to the size."""
    c = connect()
    name = f"bulk-{uuid.uuid4().hex[:8]}.bin"
    size = (64 << 20) + 12345  # not a multiple of any read length
    c.run(f"head -c {size} /dev/urandom > {name}", check=True, timeout=120)
    try:
        seen = []
        with c.sftp() as s:
            assert s.get(name, tmp_path / "copy", progress=lambda d, t: seen.append(d)) == size
            assert size // s.engine.read_chunk > 100  # so many READs, if each went to Python
            assert s.engine._pending == {}
        want = c.run(f"sha256sum {name}", check=True).stdout.split()[0].decode()
        assert hashlib.sha256((tmp_path / "copy").read_bytes()).hexdigest() == want
        assert python_replies == [size]
        assert seen[-1] == size and seen == sorted(seen) and len(seen) > 1
    finally:
        c.run(f"rm -f {name}")


def test_several_bulk_downloads_at_once(connect, tmp_path, python_replies):
    """get_many of six files larger than its window (8 READs each): six bulks in the receiver
    at once, each file whole, Python handling only the READs that see the ends."""
    c = connect()
    base = f"bulk-many-{uuid.uuid4().hex[:8]}"
    sizes = [(4 << 20) + i * 1000 for i in range(6)]
    c.run(f"mkdir {base} && " + " && ".join(
        f"head -c {n} /dev/urandom > {base}/{i}" for i, n in enumerate(sizes)), check=True)
    try:
        with c.sftp() as s:
            assert 8 * s.engine.read_chunk < sizes[0]
            pairs = [(f"{base}/{i}", tmp_path / str(i)) for i in range(len(sizes))]
            assert s.get_many(pairs) == sum(sizes)
        sums = c.run(f"cd {base} && sha256sum *", check=True).stdout.decode().split("\n")
        for line in filter(None, sums):
            digest, name = line.split()
            assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest
        assert sorted(python_replies) == sorted(sizes)
    finally:
        c.run(f"rm -rf {base}")


def _scripted(make_server, content: bytes, answer):
    """pylibssh's server holding ``content`` as every file; ``answer(msg)`` may answer a READ
    itself (True) or leave it to the default (the data asked for)."""
    def on_read(msg):
        if not answer(msg):
            msg.reply_data(content[msg.offset:msg.offset + msg.length])
    return one_file_sftp_server(make_server, lambda: len(content), on_read=on_read)


_client = password_client


def _get(c, s, local, progress=None):
    """Get /f with 4 READs in flight (the blocking client drives the loop while it waits)."""
    from pylibssh.client._task import wait
    return wait(c.session._loop, s.engine.get("/f", local, in_flight=4, progress=progress),
                DEADLINE, "get")


CHUNKS = 64  # a 64-READ file, 4 READs in flight: the bulk runs for all but the first window


def test_short_reads_in_a_bulk_are_asked_again(make_server, tmp_path, python_replies):
    """Two READs are answered with half their data: the first stops the bulk and goes to
    Python, which asks for the rest and goes on with READs of its own; the file arrives whole,
    and progress never goes back (the bulk's reports counted what its receiver wrote).
    (Not in the last window: its CLOSE is sent with the READ that sees the end, so a short reply
    there cannot be asked again.)"""
    content = bytes(range(251)) * (CHUNKS * 32768 // 251 + 1)
    short = []

    def answer(msg):
        if msg.offset in (40 * 32768, 50 * 32768) and msg.length == 32768:
            short.append(msg.offset)
            msg.reply_data(content[msg.offset:msg.offset + msg.length // 2])
            return True
        return False

    rs = _scripted(make_server, content, answer)
    seen: list[int] = []
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = 32768
        r = _get(c, s, tmp_path / "f", lambda done, total: seen.append(done))
        assert r.transferred == len(content)
        assert (tmp_path / "f").read_bytes() == content
        assert short == [40 * 32768, 50 * 32768]
        assert set(short) <= set(python_replies)
        assert len(python_replies) < CHUNKS  # not every READ
        assert seen == sorted(seen) and seen[-1] == len(content)  # progress never goes back


@pytest.mark.parametrize("how", ["failure", "eof"])
def test_a_failing_read_in_a_bulk_ends_the_get_with_what_came_in_order(make_server, tmp_path,
                                                                       how):
    """A READ in the middle answered with a failure (or an early end of file: the file shrank)
    ends the get with that error; the local file keeps exactly the bytes before it."""
    content = bytes(range(253)) * (CHUNKS * 32768 // 253 + 1)
    bad = 37 * 32768

    def answer(msg):
        if msg.offset >= bad and (how == "eof" or msg.offset == bad):
            msg.reply_status("eof" if how == "eof" else "permissiondenied")
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c, c.sftp() as s:
        s.engine.read_chunk = 32768
        if how == "failure":
            with pytest.raises(PermissionError):
                _get(c, s, tmp_path / "f")
        else:
            with pytest.raises(pylibssh.SFTPError, match=f"download incomplete: {bad} of "):
                _get(c, s, tmp_path / "f")
        assert (tmp_path / "f").read_bytes() == content[:bad]
        assert s.engine._bulks == {}
        assert s.stat("/f").size == len(content)  # the SFTP session goes on


def test_a_malformed_reply_in_a_bulk_closes_that_sftp_session(make_server, tmp_path):
    """A DATA reply longer than its READ in the middle of a bulk: the SFTP session ends with
    BAD_MESSAGE, the get fails with it, the connection goes on."""
    content = bytes(CHUNKS * 32768)

    def answer(msg):
        if msg.offset == 20 * 32768:
            msg._reply(103, [struct.pack(">I", 40000), bytes(40000)])  # DATA: 40000 bytes for a READ of 32768
            return True
        return False

    rs = _scripted(make_server, content, answer)
    with _client(rs) as c:
        s = c.sftp()
        s.engine.read_chunk = 32768
        with pytest.raises(pylibssh.SFTPError, match="malformed") as info:
            _get(c, s, tmp_path / "f")
        assert info.value.status == pylibssh.SFTPStatus.BAD_MESSAGE
        assert s.closed
        assert c.sftp().stat("/f").size == len(content)
