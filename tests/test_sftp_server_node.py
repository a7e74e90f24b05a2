"""node-libssh's SFTP test, ported: an application answers stat/lstat/opendir/readdir/close with
fixed answers, then serves a file through open/fstat/read handlers; OpenSSH's ``sftp`` and
paramiko download it with parallel reads and the checksums match."""

import os
import time

import pytest
from serverkit import DEADLINE, PASSWORD, md5
from sftpkit import paramiko_sftp, sftp_server

from pylibssh import Stat

pytestmark = pytest.mark.peer

CONTENT = os.urandom(3 * 1024 * 1024 + 12345)  # several parallel reads, a short last one


def tricky_app(log, path):
    """node-libssh's trickysftp: pretend a directory /foo/bar/ with foo, bar, baz, and serve the
    same file whatever is opened."""
    now = int(time.time())

    def setup(channel):
        handles = {}
        last = {"type": None}

        @channel.on("sftp:realpath")
        def realpath(msg):
            log.append(("realpath", msg.filename))
            if msg.filename in (".", "") or msg.filename.endswith("/"):
                msg.reply_name("/foo/bar/", {"permissions": Stat("755").dir()})
            else:
                msg.reply_name(msg.filename, {"permissions": Stat("644").reg()})

        def stat_handle(msg):
            log.append((msg.type, msg.filename))
            if msg.filename.rstrip("/") in ("/foo/bar", "/foo/bar/."):
                return msg.reply_attr({"permissions": Stat("755").dir(), "uid": 101, "gid": 202,
                                       "atime": now, "mtime": now})
            msg.reply_attr({"permissions": Stat("644").reg(), "uid": 101, "gid": 202,
                            "size": len(CONTENT), "atime": now, "mtime": now})

        channel.on("sftp:stat", stat_handle)
        channel.on("sftp:lstat", stat_handle)

        @channel.on("sftp:opendir")
        def opendir(msg):
            log.append(("opendir", msg.filename))
            msg.reply_handle(msg.filename)

        @channel.on("sftpmessage")
        def remember(msg):
            last["type"] = msg.type

        @channel.on("sftp:readdir")
        def readdir(msg):
            log.append(("readdir", msg.handle))
            if last["type"] == "readdir":  # 'sftpmessage' comes after sftp:*: the previous one
                return msg.reply_status("eof")
            msg.reply_names([
                {"filename": "foo", "longname": "-rw-r--r--    1 101  202  0 Jan 1 00:00 foo",
                 "attrs": {"permissions": Stat("644").reg()}},
                {"filename": "bar", "longname": "drwxr-x---    1 101  202  0 Jan 1 00:00 bar",
                 "attrs": {"permissions": Stat("750").dir()}},
                {"filename": "baz", "longname": "-rw-------    1 101  202  0 Jan 1 00:00 baz",
                 "attrs": {"permissions": Stat("600").reg()}},
            ])

        @channel.on("sftp:open")
        def open_(msg):
            log.append(("open", msg.filename, int(msg.open_flags)))
            handle = b"@" + msg.filename.encode()
            handles[handle] = os.open(path, os.O_RDONLY)
            msg.reply_handle(handle)

        @channel.on("sftp:fstat")
        def fstat(msg):
            log.append(("fstat", msg.handle))
            st = os.fstat(handles[msg.handle])
            msg.reply_attr({"permissions": Stat("644").reg(), "size": st.st_size,
                            "atime": now, "mtime": now})

        @channel.on("sftp:read")
        def read(msg):
            data = os.pread(handles[msg.handle], msg.length, msg.offset)
            log.append(("read", msg.offset, msg.length))
            if not data:
                return msg.reply_status("eof")
            if msg.offset >= 1_000_000 and "delayed" not in handles:
                # answer one read later: a parallel reader (past OpenSSH's slow start) sends
                # more meanwhile
                handles["delayed"] = msg.offset
                def later():
                    log.append(("first reply",))
                    msg.reply_data(data, len(data))

                channel.session.loop.call_later(0.3, later)
                return
            msg.reply_data(data, len(data))

        @channel.on("sftp:close")
        def close(msg):
            log.append(("close", msg.handle))
            fd = handles.pop(msg.handle, None)
            if isinstance(fd, int) and msg.handle != "delayed":
                os.close(fd)
            msg.reply_status("ok")

    return setup


@pytest.fixture
def tricky(make_server, tmp_path, client_keys):
    path = tmp_path / "fileforyou.txt"
    path.write_bytes(CONTENT)
    log = []
    rs = sftp_server(make_server, tricky_app(log, path), keys=[client_keys["ed25519"]])
    return rs, log


def test_openssh_sftp_lists_and_downloads_with_parallel_reads(tricky, openssh_client, tmp_path,
                                                             client_keys):
    rs, log = tricky
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    local = tmp_path / "downloaded"
    result = client.sftp(f"ls -l\nget fileforyou.txt {local}\n", timeout=DEADLINE * 3)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    for name in ("foo", "bar", "baz"):
        assert f" {name}" in out
    assert local.read_bytes() == CONTENT and md5(local.read_bytes()) == md5(CONTENT)
    kinds = [entry[0] for entry in log]
    assert ("realpath", ".") in log
    assert ("opendir", "/foo/bar/") in log or ("opendir", "/foo/bar") in log
    assert kinds.count("readdir") == 2
    assert ("open", "/foo/bar/fileforyou.txt", 1) in log  # SSH_FXF_READ
    assert "fstat" in kinds or "stat" in kinds
    reads = [entry for entry in log if entry[0] == "read"]
    offsets = sorted(o for _, o, _ in reads)
    assert offsets[0] == 0 and offsets[-1] + reads[-1][2] >= len(CONTENT)
    # parallel reads: the client asked for more while one read waited for its reply
    delayed = next(i for i, e in enumerate(log) if e[0] == "read" and e[1] >= 1_000_000)
    first_reply = log.index(("first reply",))
    assert len([e for e in log[delayed + 1:first_reply] if e[0] == "read"]) >= 2
    assert len(reads) <= len(CONTENT) // 32768 + 80  # full-size reads (limits answered)
    assert kinds.count("close") >= 2  # the directory and the file


def test_paramiko_lists_stats_and_prefetches(tricky):
    rs, log = tricky
    client, sftp = paramiko_sftp(rs.port)
    try:
        assert sftp.normalize(".") == "/foo/bar/"
        names = sorted(a.filename for a in sftp.listdir_attr("/foo/bar/"))
        assert names == ["bar", "baz", "foo"]
        st = sftp.stat("fileforyou.txt")
        assert (st.st_size, st.st_uid, st.st_gid, st.st_mode) == (len(CONTENT), 101, 202,
                                                                  0o100644)
        assert sftp.lstat("x").st_size == len(CONTENT)
        with sftp.open("fileforyou.txt", "rb") as f:
            f.prefetch()  # paramiko's parallel reads
            data = f.read()
        assert md5(data) == md5(CONTENT)
        with sftp.open("fileforyou.txt", "rb") as f:
            f.seek(1000)
            assert f.read(10) == CONTENT[1000:1010]
        # no listener: operation unsupported
        with pytest.raises(IOError) as err:
            sftp.mkdir("newdir")
        assert "unsupported" in str(err.value).lower() or err.value.errno is None
    finally:
        client.close()
