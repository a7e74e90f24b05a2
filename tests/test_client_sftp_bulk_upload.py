"""Bulk uploads (csrc/pylibssh_sftp_client.c): a file larger than the window of WRITEs is read
and written to the channel by C after each pass of the loop, and the receiver takes the STATUS OK
replies, so Python takes part only at the start, at the end, for a reply that is not OK and for
progress. Peers: OpenSSH's sshd (internal-sftp), and pylibssh's own server where replies must
fail or be wrong."""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import time
import uuid

import pytest
from clientkit import (  # noqa: F401
    DEADLINE,
    assert_served_during,
    connect,
    freeze_after,
    known_hosts,
)
from sftpkit import one_file_sftp_server, password_client

import pylibssh
from pylibssh.client import sftp_engine

pytestmark = pytest.mark.peer


@pytest.fixture
def python_replies(monkeypatch):
    """The WRITE replies Python handles, by offset."""
    seen: list[int] = []
    orig = sftp_engine._Upload._on_write

    def counted(self, kind, payload, *, rid):
        seen.append(self.inflight[rid][0])
        return orig(self, kind, payload, rid=rid)

    monkeypatch.setattr(sftp_engine._Upload, "_on_write", counted)
    return seen


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _remote_sha256(c, name: str) -> str:
    out: str = c.run(f"sha256sum {name}", check=True).stdout.split()[0].decode()
    return out


def test_a_large_put_writes_from_c(connect, tmp_path, python_replies):
    """64 MiB to OpenSSH's sshd: the file arrives whole, Python handles no WRITE reply (instead
    of one per WRITE), and the progress calls rise to the size."""
    c = connect()
    name = f"bulk-up-{uuid.uuid4().hex[:8]}.bin"
    size = (64 << 20) + 12345  # not a multiple of any write length
    local = tmp_path / "big"
    local.write_bytes(os.urandom(size))
    try:
        seen = []
        with c.sftp() as s:
            assert s.put(local, name, progress=lambda d, t: seen.append((d, t))) == size
            assert size // s.engine.write_chunk > 100  # so many WRITEs, if each went to Python
            assert s.engine._pending == {} and s.engine._uploads == {}
        assert _remote_sha256(c, name) == _sha256(local)
        assert python_replies == []
        done = [d for d, _ in seen]
        assert done[-1] == size and done == sorted(done) and len(done) > 1
        assert {t for _, t in seen} == {size}
    finally:
        c.run(f"rm -f {name}")


def test_several_bulk_uploads_at_once_and_a_resumed_one(connect, tmp_path, python_replies):
    """put_many of six files larger than its window (8 WRITEs each): six bulks at once, each
    file whole; then a resumed put of a large file sends only the missing part."""
    c = connect()
    base = f"bulk-up-many-{uuid.uuid4().hex[:8]}"
    sizes = [(4 << 20) + i * 1000 for i in range(6)]
    for i, n in enumerate(sizes):
        (tmp_path / str(i)).write_bytes(os.urandom(n))
    c.run(f"mkdir {base}", check=True)
    try:
        with c.sftp() as s:
            assert 8 * s.engine.write_chunk < sizes[0]
            pairs = [(tmp_path / str(i), f"{base}/{i}") for i in range(len(sizes))]
            assert s.put_many(pairs) == sum(sizes)
            sums = c.run(f"cd {base} && sha256sum *", check=True).stdout.decode().split("\n")
            for line in filter(None, sums):
                digest, name = line.split()
                assert _sha256(tmp_path / name) == digest
            assert python_replies == []

            big = tmp_path / "big"
            big.write_bytes(os.urandom((32 << 20) + 7))
            part = (12 << 20) + 3
            s.put(big, f"{base}/big")
            c.run(f"truncate -s {part} {base}/big", check=True)
            assert s.put(big, f"{base}/big", resume=True) == big.stat().st_size - part
            assert _remote_sha256(c, f"{base}/big") == _sha256(big)
            assert s.engine._uploads == {}
    finally:
        c.run(f"rm -rf {base}")


def _scripted(make_server, answer):
    """pylibssh's server taking uploads into ``store`` (offset -> data); ``answer(msg)`` may
    answer a WRITE itself (True) or leave it to the default (OK)."""
    store: dict[int, bytes] = {}

    def on_write(msg):
        if not answer(msg):
            store[msg.offset] = bytes(msg.data)
            msg.reply_status("ok")
    return one_file_sftp_server(make_server, lambda: sum(len(d) for d in store.values()),
                                on_write=on_write), store


_client = password_client


def _put(c, s, local, progress=None):
    """Put /f with 4 WRITEs in flight (the blocking client drives the loop while it waits)."""
    from pylibssh.client._task import wait
    return wait(c.session._loop, s.engine.put(local, "/f", in_flight=4, progress=progress),
                DEADLINE, "put")


CHUNKS = 64  # a 64-WRITE file, 4 WRITEs in flight: the bulk runs for all of it


def test_a_failing_write_in_a_bulk_ends_the_put_with_its_status(make_server, tmp_path,
                                                                python_replies):
    """A WRITE in the middle answered with a failure: the put ends with that status as its
    exception (the reply goes to Python); the SFTP session goes on."""
    content = bytes(range(253)) * (CHUNKS * 32768 // 253 + 1)
    bad = 37 * 32768

    def answer(msg):
        if msg.offset == bad:
            msg.reply_status("permissiondenied", "no room for you")
            return True
        return False

    rs, store = _scripted(make_server, answer)
    (tmp_path / "f").write_bytes(content)
    with _client(rs) as c, c.sftp() as s:
        s.engine.write_chunk = 32768
        with pytest.raises(PermissionError, match="no room for you"):
            _put(c, s, tmp_path / "f")
        assert python_replies == [bad]
        assert s.engine._uploads == {}
        assert s.stat("/f").size > 0  # the SFTP session goes on
        assert s.engine._pending == {}


def test_a_malformed_reply_to_a_bulk_write_closes_that_sftp_session(make_server, tmp_path):
    """A DATA reply to a WRITE in the middle of a bulk: the SFTP session ends with BAD_MESSAGE,
    the put fails with it, the connection goes on."""
    def answer(msg):
        if msg.offset == 20 * 32768:
            msg._reply(103, [struct.pack(">I", 4), b"oops"])  # DATA where STATUS is due
            return True
        return False

    rs, store = _scripted(make_server, answer)
    (tmp_path / "f").write_bytes(bytes(CHUNKS * 32768))
    with _client(rs) as c:
        s = c.sftp()
        s.engine.write_chunk = 32768
        with pytest.raises(pylibssh.SFTPError, match="malformed") as info:
            _put(c, s, tmp_path / "f")
        assert info.value.status == pylibssh.SFTPStatus.BAD_MESSAGE
        assert s.closed
        assert c.sftp().stat("/f").size > 0


def test_a_local_file_that_shrinks_during_a_bulk_ends_the_put(make_server, tmp_path):
    """The local file is cut short while C reads it: the put ends with EIO saying so, and a
    later put on the same SFTP session works."""
    rs, store = _scripted(make_server, lambda msg: False)
    local = tmp_path / "f"
    size = 4 * CHUNKS * 32768
    local.write_bytes(bytes(size))

    def progress(done, total):
        if done >= size // 4:
            os.truncate(local, size // 2)

    with _client(rs) as c, c.sftp() as s:
        s.engine.write_chunk = 32768
        with pytest.raises(OSError, match="changed size during the upload") as info:
            _put(c, s, local, progress)
        assert info.value.errno == errno.EIO
        assert s.engine._uploads == {}
        store.clear()
        local.write_bytes(bytes(range(256)) * 4096)
        assert _put(c, s, local).transferred == 1 << 20
        assert b"".join(store[k] for k in sorted(store)) == local.read_bytes()


def test_a_progress_callback_that_raises_cancels_a_bulk_put(connect, tmp_path):
    """An exception from the progress callback ends the put with it; the SFTP session goes on
    and the next large put arrives whole."""
    c = connect()
    name = f"bulk-up-{uuid.uuid4().hex[:8]}.bin"
    local = tmp_path / "big"
    local.write_bytes(os.urandom(32 << 20))

    class Stop(Exception):
        pass

    def progress(done, total):
        if done >= 8 << 20:
            raise Stop(done)

    try:
        with c.sftp() as s:
            with pytest.raises(Stop):
                s.put(local, name, progress=progress)
            assert s.engine._uploads == {}
            assert s.put(local, name) == local.stat().st_size
        assert _remote_sha256(c, name) == _sha256(local)
    finally:
        c.run(f"rm -f {name}")


def test_a_server_that_stops_answering_mid_upload(sshd, connect, tmp_path):
    """The proxy stops relaying in the middle of a bulk upload: the put ends in SSHTimeoutError
    naming the WRITE that was not answered, not before its deadline."""
    from test_client_channels import _FreezableProxy

    proxy = _FreezableProxy(sshd.port)
    name = f"bulk-up-{uuid.uuid4().hex[:8]}.bin"
    local = tmp_path / "big"
    local.write_bytes(os.urandom(64 << 20))
    try:
        c = connect(port=proxy.port, host_key_policy="ignore")
        s = c.sftp(timeout=2)
        progress, frozen_at = freeze_after(proxy, 8 << 20)

        with pytest.raises(pylibssh.SSHTimeoutError) as info:
            s.put(local, name, progress=progress)
        waited = time.monotonic() - frozen_at[0]
        assert f"SFTP write {name!r} timed out after 2 s" in str(info.value)
        assert 1.0 <= waited < 2 + DEADLINE
    finally:
        proxy.close()
        with connect() as direct:
            direct.run(f"rm -f {name}")


def test_a_bulk_upload_leaves_the_loop_to_a_forward_and_keepalives(connect, tmp_path):
    """A 128 MiB put while a forward on the same connection carries data and keepalives (every
    0.2 s) are sent: seen from inside the transfer (its progress calls, on the loop's thread),
    keepalive replies and the forward's echoes keep arriving."""
    c = connect(keepalive_interval=0.2, keepalive_count_max=50)
    name = f"bulk-up-{uuid.uuid4().hex[:8]}.bin"
    local = tmp_path / "big"
    local.write_bytes(os.urandom(128 << 20))
    try:
        with c.sftp() as s:
            assert_served_during(
                c, lambda progress: s.put(local, name, progress=progress), 128 << 20)
    finally:
        c.run(f"rm -f {name}")
