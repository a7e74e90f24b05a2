"""The local-filesystem backend with real clients: OpenSSH's sftp (batch mode, every operation),
scp both ways (files and directories), paramiko; read-only mode; long names; paging."""

import os
import stat
import time

import paramiko
import pytest
from serverkit import DEADLINE, md5
from sftpkit import local_sftp_server, paramiko_sftp

pytestmark = pytest.mark.peer


@pytest.fixture
def served(make_server, tmp_path, client_keys):
    root = tmp_path / "root"
    root.mkdir()
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]])
    return rs, root


@pytest.fixture
def ossh(served, openssh_client, client_keys):
    rs, _root = served
    return openssh_client(rs.port, identity=client_keys["ed25519"])


def run_batch(client, batch: str):
    result = client.sftp(batch, timeout=DEADLINE * 3)
    assert result.returncode == 0, (result.stdout.decode(), result.stderr.decode())
    return result.stdout.decode()


def test_openssh_sftp_batch_every_operation(served, ossh, tmp_path):
    rs, root = served
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 7))
    small = tmp_path / "small.txt"
    small.write_text("hello\n")
    back = tmp_path / "back.bin"
    out = run_batch(ossh, f"""
pwd
put {src} up.bin
put -f {small} synced.txt
get up.bin {back}
mkdir d
cd d
pwd
put {small} s.txt
cd ..
rename up.bin d/moved.bin
ln -s moved.bin d/link
ln d/moved.bin d/hard
chmod 600 d/moved.bin
chmod -h 640 d/s.txt
df .
ls -la d
get d/link {tmp_path / "via-link"}
""")
    assert "Remote working directory: /\n" in out
    assert "Remote working directory: /d" in out
    assert md5(back.read_bytes()) == md5(src.read_bytes())
    assert (tmp_path / "via-link").read_bytes() == src.read_bytes()
    d = root / "d"
    assert (d / "moved.bin").read_bytes() == src.read_bytes() and not (root / "up.bin").exists()
    assert os.readlink(d / "link") == "moved.bin"
    assert os.stat(d / "hard").st_ino == os.stat(d / "moved.bin").st_ino
    assert stat.S_IMODE(os.stat(d / "moved.bin").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "s.txt").st_mode) == 0o640
    assert (root / "synced.txt").read_text() == "hello\n"
    # long names as ls -l prints them
    lines = {line.split()[-1]: line for line in out.splitlines() if line[:1] in "-dl"
             and len(line.split()) >= 9}
    assert lines["moved.bin"].startswith("-rw-------")
    assert f" {src.stat().st_size} " in lines["moved.bin"]
    assert lines["link"].startswith("l") and lines["s.txt"].startswith("-rw-r-----")
    assert "Size" in out and "Used" in out  # df (statvfs@openssh.com)
    # removal
    run_batch(ossh, "rm d/hard\nrm d/link\nrm d/s.txt\nrm d/moved.bin\nrmdir d\nrm synced.txt\n")
    assert sorted(os.listdir(root)) == []


def test_openssh_sftp_resume_and_errors(served, ossh, tmp_path):
    rs, root = served
    data = os.urandom(300_000)
    (root / "big").write_bytes(data)
    partial = tmp_path / "partial"
    partial.write_bytes(data[:100_000])
    run_batch(ossh, f"reget big {partial}\n")
    assert partial.read_bytes() == data
    (tmp_path / "up").write_bytes(data)
    (root / "up").write_bytes(data[:1234])
    run_batch(ossh, f"reput {tmp_path / 'up'} up\n")
    assert (root / "up").read_bytes() == data
    result = ossh.sftp("get missing-file /dev/null\n")
    assert result.returncode != 0 and b"not found" in result.stderr.lower()
    result = ossh.sftp("rmdir big\n")
    assert result.returncode != 0


def test_scp_files_and_directories_both_ways(served, ossh, tmp_path):
    rs, root = served
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    files = {"a.bin": os.urandom(200_000), "sub/b.txt": b"bee\n",
             "sub/deeper/c.bin": os.urandom(70_000), "empty": b""}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    result = ossh.scp("-r", str(tree), ossh.remote("/"))
    assert result.returncode == 0, result.stderr.decode()
    for name, content in files.items():
        assert (root / "tree" / name).read_bytes() == content
    result = ossh.scp(str(tree / "a.bin"), ossh.remote("/single.bin"))
    assert result.returncode == 0, result.stderr.decode()
    assert (root / "single.bin").read_bytes() == files["a.bin"]
    back = tmp_path / "back"
    result = ossh.scp("-r", ossh.remote("/tree"), str(back))
    assert result.returncode == 0, result.stderr.decode()
    for name, content in files.items():
        assert (back / name).read_bytes() == content
    result = ossh.scp(ossh.remote("single.bin"), str(tmp_path / "one"))
    assert result.returncode == 0 and (tmp_path / "one").read_bytes() == files["a.bin"]


def test_paramiko_every_operation(served, tmp_path):
    rs, root = served
    client, sftp = paramiko_sftp(rs.port)
    try:
        assert sftp.normalize(".") == "/"
        sftp.mkdir("dir", 0o750)
        assert stat.S_IMODE(os.stat(root / "dir").st_mode) == 0o750
        data = os.urandom(1_000_000)
        with sftp.open("dir/f.bin", "wb") as f:
            f.set_pipelined(True)
            f.write(data)
        assert (root / "dir" / "f.bin").read_bytes() == data
        with sftp.open("dir/f.bin", "r+b") as f:  # write at an offset
            f.seek(500_000)
            f.write(b"XYZ")
            f.seek(0)
            assert f.read(3) == data[:3]
            assert f.stat().st_size == len(data)
            f.truncate(600_000)
            f.chmod(0o604)
        expected = data[:500_000] + b"XYZ" + data[500_003:600_000]
        assert (root / "dir" / "f.bin").read_bytes() == expected
        assert stat.S_IMODE(sftp.stat("dir/f.bin").st_mode) == 0o604
        with sftp.open("dir/f.bin", "rb") as f:
            f.prefetch()
            assert md5(f.read()) == md5(expected)
        with sftp.open("dir/f.bin", "ab") as f:
            f.write(b"tail")
        assert (root / "dir" / "f.bin").read_bytes().endswith(b"tail")
        sftp.utime("dir/f.bin", (1_000_000_000, 1_100_000_000))
        st = sftp.stat("dir/f.bin")
        assert (st.st_atime, st.st_mtime) == (1_000_000_000, 1_100_000_000)
        sftp.chmod("dir", 0o755)
        sftp.truncate("dir/f.bin", 10)
        assert sftp.stat("dir/f.bin").st_size == 10
        sftp.symlink("f.bin", "dir/l")
        assert sftp.readlink("dir/l") == "f.bin"
        assert sftp.lstat("dir/l").st_mode & stat.S_IFLNK == stat.S_IFLNK
        assert sftp.stat("dir/l").st_size == 10
        sftp.rename("dir/f.bin", "dir/g.bin")
        with pytest.raises(IOError):
            sftp.rename("dir/g.bin", "dir/l")  # SSH_FXP_RENAME does not overwrite
        sftp.posix_rename("dir/g.bin", "dir/h.bin")
        assert sorted(sftp.listdir("dir")) == ["h.bin", "l"]
        entries = {a.filename: a for a in sftp.listdir_attr("dir")}
        assert entries["h.bin"].st_size == 10 and entries["h.bin"].longname.startswith("-rw")
        with pytest.raises(FileNotFoundError):
            sftp.stat("nope")
        with pytest.raises(FileNotFoundError):
            sftp.open("nope/x", "wb")
        with pytest.raises(IOError):
            sftp.rmdir("dir")  # not empty
        with pytest.raises(IOError):
            sftp.remove("dir")  # a directory
        with pytest.raises(IOError):
            sftp.open("dir/h.bin", "wx")  # exclusive create of an existing file
        sftp.remove("dir/l")
        sftp.remove("dir/h.bin")
        sftp.rmdir("dir")
        assert os.listdir(root) == []
        with pytest.raises(IOError):
            sftp.rmdir("/")
    finally:
        client.close()


def test_extensions_via_raw_requests(served):
    """fsync, fstatvfs, statvfs, limits, expand-path, lsetstat, hardlink: requests paramiko has
    no method for, sent with its request machinery."""
    rs, root = served
    client, sftp = paramiko_sftp(rs.port)
    try:
        ext = paramiko.sftp.CMD_EXTENDED
        with sftp.open("f", "wb") as f:
            f.write(b"data")
            t, msg = sftp._request(ext, "fsync@openssh.com", f.handle)
            assert t == paramiko.sftp.CMD_STATUS and msg.get_int() == 0
            t, msg = sftp._request(ext, "fstatvfs@openssh.com", f.handle)
            assert t == paramiko.sftp.CMD_EXTENDED_REPLY
            bsize = msg.get_int64()
            assert bsize == os.statvfs(root).f_bsize
        t, msg = sftp._request(ext, "statvfs@openssh.com", "/")
        assert t == paramiko.sftp.CMD_EXTENDED_REPLY and msg.get_int64() > 0
        t, msg = sftp._request(ext, "limits@openssh.com")
        assert t == paramiko.sftp.CMD_EXTENDED_REPLY
        assert [msg.get_int64() for _ in range(3)] == [256 * 1024, 255 * 1024, 255 * 1024]
        t, msg = sftp._request(ext, "expand-path@openssh.com", "~/sub/../f")
        assert t == paramiko.sftp.CMD_NAME and msg.get_int() == 1 and msg.get_text() == "/f"
        t, msg = sftp._request(ext, "hardlink@openssh.com", "f", "g")
        assert t == paramiko.sftp.CMD_STATUS and msg.get_int() == 0
        assert os.stat(root / "g").st_ino == os.stat(root / "f").st_ino
        attrs = paramiko.SFTPAttributes()
        attrs.st_atime, attrs.st_mtime = 1_200_000_000, 1_300_000_000
        t, msg = sftp._request(ext, "lsetstat@openssh.com", "f", attrs)
        assert t == paramiko.sftp.CMD_STATUS and msg.get_int() == 0
        assert os.stat(root / "f").st_mtime == 1_300_000_000
        with pytest.raises(IOError, match="copy-data is not supported"):  # OP_UNSUPPORTED
            sftp._request(ext, "copy-data", b"x")
    finally:
        client.close()


def test_read_only_mode(make_server, tmp_path, client_keys, openssh_client):
    root = tmp_path / "ro"
    root.mkdir()
    (root / "file").write_bytes(b"content")
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]], read_only=True)
    client, sftp = paramiko_sftp(rs.port)
    try:
        assert sftp.open("file").read() == b"content"
        for action in (lambda: sftp.open("new", "wb"), lambda: sftp.open("file", "r+b"),
                       lambda: sftp.mkdir("d"), lambda: sftp.remove("file"),
                       lambda: sftp.rename("file", "x"), lambda: sftp.chmod("file", 0o600),
                       lambda: sftp.symlink("file", "l")):
            with pytest.raises(PermissionError):
                action()
    finally:
        client.close()
    ossh = openssh_client(rs.port, identity=client_keys["ed25519"])
    result = ossh.sftp(f"put {root / 'file'} other\n")
    assert result.returncode != 0 and b"denied" in result.stderr.lower()
    assert sorted(os.listdir(root)) == ["file"] and (root / "file").read_bytes() == b"content"


def test_directories_are_read_in_pages(served):
    rs, root = served
    names = {f"file-{i:04d}-{'x' * 40}" for i in range(450)}
    for name in names:
        (root / name).write_bytes(b"")
    readdirs = []
    rs.call(lambda: None)
    client, sftp = paramiko_sftp(rs.port)
    try:
        channel_log = []

        def count(msg):
            if msg.type == "readdir":
                channel_log.append(msg)
        # listen on the server side through the live channel
        session = next(iter(rs.server.sessions))
        ch = next(iter(session.channels))
        rs.call(ch.on, "sftpmessage", count)
        listed = sftp.listdir(".")
        assert set(listed) == names and len(listed) == len(names)
        readdirs.extend(channel_log)
        assert len(readdirs) >= 5  # 100 per page, then EOF
    finally:
        client.close()


def test_long_names_match_ls(served):
    rs, root = served
    (root / "f").write_bytes(b"x" * 4321)
    os.utime(root / "f", (time.time() - 86400 * 400, time.time() - 86400 * 400))
    client, sftp = paramiko_sftp(rs.port)
    try:
        (entry,) = [a for a in sftp.listdir_attr(".") if a.filename == "f"]
        fields = entry.longname.split()
        assert fields[0] == "-rw-r--r--" or fields[0] == stat.filemode(os.stat(root / "f").st_mode)
        assert fields[4] == "4321" and fields[-1] == "f"
        assert fields[-2].isdigit() and len(fields[-2]) == 4  # a year for old files
    finally:
        client.close()


def _handle_requests(make_server, root, observe: bool) -> tuple[list, list]:
    """Reads and writes at the packet level (pipelined, like real clients). With ``observe`` an
    extra ``sftpmessage`` listener makes every request go through Python; without it the local
    backend's reads and writes are answered in C (csrc/pylibssh_sftp.c)."""
    import struct

    from pylibssh.server.sftp_local import LocalFilesystem
    from sftpkit import RawSFTP, sftp_server

    fs = LocalFilesystem(root)
    seen: list[str] = []

    def setup(channel):
        fs.attach(channel)
        if observe:
            channel.on("sftpmessage", lambda msg: seen.append(msg.type))

    rs = sftp_server(make_server, setup)
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        s, q = raw.string, struct.pack

        def request(kind, rid, payload):
            raw.send(kind, q(">I", rid) + payload)
            return raw.recv()

        def handle_of(reply):
            kind, body = reply
            assert kind == 102, reply  # HANDLE
            return body[8:]

        rd = handle_of(request(3, 1, s("data.bin") + q(">II", 0x01, 0)))          # open read
        wr = handle_of(request(3, 2, s("new.bin") + q(">II", 0x02 | 0x08, 0)))    # write|creat
        dh = handle_of(request(11, 3, s("/")))                                     # opendir
        # a pipelined burst: reads at several offsets and past the end, writes, and requests the
        # backend refuses (a write on a read-only handle, a read on a write-only one or on a
        # directory handle, an unknown handle)
        burst = [
            (5, 10, s(rd) + q(">QI", 0, 10)),
            (5, 11, s(rd) + q(">QI", 7, 250_000)),
            (5, 12, s(rd) + q(">QI", 1 << 20, 4096)),
            (6, 13, s(wr) + q(">Q", 0) + s(b"x" * 5000)),
            (6, 14, s(wr) + q(">Q", 100_000) + s(b"tail")),
            (6, 15, s(rd) + q(">Q", 0) + s(b"nope")),
            (5, 16, s(wr) + q(">QI", 0, 10)),
            (5, 17, s(dh) + q(">QI", 0, 10)),
            (5, 18, s(b"\0" * 8) + q(">QI", 0, 10)),
        ]
        for kind, rid, payload in burst:
            raw.send(kind, q(">I", rid) + payload)
        replies = [raw.recv() for _ in burst]
        replies.append(request(4, 19, s(rd)))                                      # close
        replies.append(request(5, 20, s(rd) + q(">QI", 0, 10)))                    # read after
        # pipelined: a close, then the same handle again (read, close), and the directory's
        for kind, rid, payload in ((4, 21, s(wr)), (5, 22, s(wr) + q(">QI", 0, 10)),
                                   (4, 23, s(wr)), (4, 24, s(dh))):
            raw.send(kind, q(">I", rid) + payload)
        replies += [raw.recv() for _ in range(4)]
        return sorted(replies, key=lambda r: r[1][:4]), seen
    finally:
        raw.close()  # make_server stops the server at the end of the test


def test_reads_and_writes_answered_in_c_match_python(make_server, tmp_path):
    """The local backend's reads, writes and closes are answered in C unless someone else
    listens; the replies are byte for byte what the Python path sends, errors included."""
    data = os.urandom(200_000)
    results = {}
    for observe in (False, True):
        root = tmp_path / f"root-{observe}"
        root.mkdir()
        (root / "data.bin").write_bytes(data)
        results[observe] = _handle_requests(make_server, root, observe)
        written = (root / "new.bin").read_bytes()
        assert written[:5000] == b"x" * 5000 and written[100_000:] == b"tail"
        assert len(written) == 100_004
    (fast, unseen), (slow, seen) = results[False], results[True]
    assert unseen == []
    # Python saw the requests (sftpmessage follows the ones the backend did not refuse)
    assert seen.count("read") >= 2 and seen.count("write") == 2
    assert fast == slow
    by_id = {body[:4]: (kind, body) for kind, body in fast}
    import struct

    kind, body = by_id[struct.pack(">I", 11)]
    assert kind == 103 and body[8:] == data[7:200_000], body[:80]  # DATA: a short read at the end
    kind, body = by_id[struct.pack(">I", 12)]
    assert kind == 101 and struct.unpack(">I", body[4:8])[0] == 1, body  # EOF
    for rid in (19, 21, 24):
        kind, body = by_id[struct.pack(">I", rid)]
        assert kind == 101 and struct.unpack(">I", body[4:8])[0] == 0, (rid, body)  # OK
    for rid in (15, 16, 17, 18, 20, 22, 23):
        kind, body = by_id[struct.pack(">I", rid)]
        assert kind == 101 and struct.unpack(">I", body[4:8])[0] != 0, (rid, body)


def test_transfers_across_key_reexchanges(served, ossh, tmp_path):
    """OpenSSH's sftp rekeying every 256 KiB while 24 MiB go each way: libssh writes nothing
    during a re-exchange, so replies answered in C are queued then, in order."""
    rs, root = served
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(24 * 1024 * 1024))
    back = tmp_path / "back.bin"
    result = ossh.sftp(f"put {src} up.bin\nget up.bin {back}\n", timeout=DEADLINE * 6,
                       extra=["-o", "RekeyLimit=256K"])
    assert result.returncode == 0, result.stderr.decode()
    assert md5((root / "up.bin").read_bytes()) == md5(src.read_bytes())
    assert md5(back.read_bytes()) == md5(src.read_bytes())


def test_a_client_leaving_mid_session_leaves_the_server_serving(served, ossh):
    """paramiko closing right after its last reply (the server's write-side poll then sees the
    socket closed), then OpenSSH's sftp on the same server: served normally."""
    rs, root = served
    (root / "f").write_bytes(b"data")
    for _ in range(5):
        client, sftp = paramiko_sftp(rs.port)
        assert sftp.open("f").read() == b"data"
        client.close()
    assert "f" in run_batch(ossh, "ls\n")
