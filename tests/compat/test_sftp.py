"""SFTPClient / SFTPFile / SFTPAttributes as paramiko documents them, against OpenSSH's sftp server."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import threading
import uuid

import pytest

from openssh import TEST_USER

DEADLINE = 20  # seconds for any single network operation


def test_put_get_with_callback_and_confirm(sftp, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    calls = []
    attrs = sftp.put(str(local), "up.bin", callback=lambda done, total: calls.append((done, total)))
    assert attrs.st_size == len(data)
    assert calls and calls[-1] == (len(data), len(data))
    assert all(total == len(data) for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    back = tmp_path / "down.bin"
    seen = []
    sftp.get("up.bin", str(back), callback=lambda done, total: seen.append((done, total)))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert seen[-1] == (len(data), len(data))


def test_putfo_getfo(sftp):
    data = b"line\n" * 10000
    attrs = sftp.putfo(io.BytesIO(data), "fo.txt", file_size=len(data))
    assert attrs.st_size == len(data)
    out = io.BytesIO()
    assert sftp.getfo("fo.txt", out) == len(data)
    assert out.getvalue() == data


def test_listdir_and_listdir_attr(sftp):
    sftp.mkdir("sub", mode=0o750)
    with sftp.open("a.txt", "w") as f:
        f.write(b"12345")
    assert sorted(sftp.listdir()) == ["a.txt", "sub"]
    by_name = {a.filename: a for a in sftp.listdir_attr(".")}
    assert stat.S_ISDIR(by_name["sub"].st_mode)
    assert stat.S_IMODE(by_name["sub"].st_mode) == 0o750
    assert stat.S_ISREG(by_name["a.txt"].st_mode) and by_name["a.txt"].st_size == 5
    assert by_name["a.txt"].longname.startswith("-")
    assert str(by_name["a.txt"]).startswith("-rw") and str(by_name["a.txt"]).endswith("a.txt")
    assert [a.filename for a in sftp.listdir_iter(".")] != []


def test_file_modes_seek_tell_readline(sftp):
    with sftp.open("f.txt", "w") as f:
        f.write("first\nsecond\nthird\n")
    with sftp.open("f.txt", "a") as f:
        f.write(b"fourth\n")
    with sftp.open("f.txt", "r") as f:
        # paramiko's text mode: lines come back as str, read() as bytes
        assert f.readline() == "first\n"
        assert f.tell() == 6
        f.seek(-6, io.SEEK_END)
        assert f.read() == b"ourth\n"
        f.seek(0)
        assert [line for line in f] == ["first\n", "second\n", "third\n", "fourth\n"]
    with sftp.open("f.txt", "rb") as f:
        assert f.readline() == b"first\n"
        assert list(f) == [b"second\n", b"third\n", b"fourth\n"]
    with sftp.open("f.txt", "r+") as f:
        f.seek(6)
        f.write(b"SECOND")
    with sftp.open("f.txt", "rb") as f:
        assert f.read().split(b"\n")[1] == b"SECOND"


def test_prefetch_readv_and_pipelined_write(sftp):
    data = os.urandom(2 * 1024 * 1024)
    with sftp.open("big.bin", "wb") as f:
        f.set_pipelined(True)
        for i in range(0, len(data), 32768):
            f.write(data[i:i + 32768])
    with sftp.open("big.bin", "rb") as f:
        f.prefetch()
        assert f.read() == data
    with sftp.open("big.bin", "rb") as f:
        chunks = list(f.readv([(0, 10), (100000, 5000), (len(data) - 3, 3)]))
        assert chunks == [data[0:10], data[100000:105000], data[-3:]]


def test_stat_lstat_chmod_utime_truncate(sftp):
    with sftp.open("s.txt", "w") as f:
        f.write(b"x" * 100)
    sftp.chmod("s.txt", 0o600)
    sftp.truncate("s.txt", 10)
    sftp.utime("s.txt", (1_000_000_000, 1_500_000_000))
    st = sftp.stat("s.txt")
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_atime, st.st_mtime) == (1_000_000_000, 1_500_000_000)
    assert st.st_size == 10
    sftp.symlink("s.txt", "link")
    assert stat.S_ISLNK(sftp.lstat("link").st_mode)
    assert stat.S_ISREG(sftp.stat("link").st_mode)
    assert sftp.readlink("link") == "s.txt"
    with sftp.open("s.txt") as f:
        assert f.stat().st_size == 10
        f.chmod(0o640)
    assert stat.S_IMODE(sftp.stat("s.txt").st_mode) == 0o640


def test_rename_posix_rename_remove_rmdir(sftp):
    sftp.putfo(io.BytesIO(b"a"), "a")
    sftp.putfo(io.BytesIO(b"b"), "b")
    with pytest.raises(IOError):
        sftp.rename("a", "b")  # plain SFTP rename refuses to overwrite
    sftp.posix_rename("a", "b")
    assert sftp.listdir() == ["b"]
    sftp.mkdir("d")
    sftp.putfo(io.BytesIO(b"c"), "d/c")
    with pytest.raises(IOError):
        sftp.rmdir("d")  # not empty
    sftp.remove("d/c")
    sftp.rmdir("d")
    sftp.unlink("b")
    assert sftp.listdir() == []


def test_errors_are_ioerrors_with_errno(sftp):
    with pytest.raises(FileNotFoundError) as info:
        sftp.stat("missing")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(IOError) as info:
        sftp.open("missing/file", "r")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(PermissionError) as info:
        sftp.open("/etc/shadow", "r")
    assert info.value.errno == errno.EACCES


def test_normalize_getcwd_chdir(sftp):
    cwd = sftp.getcwd()
    assert cwd.startswith("/") and "compat-" in cwd
    sftp.mkdir("inner")
    sftp.chdir("inner")
    assert sftp.getcwd() == cwd + "/inner"
    assert sftp.normalize("..") == cwd


def test_from_transport(paramiko, connect):
    client = connect()
    sftp = paramiko.SFTPClient.from_transport(client.get_transport())
    assert sftp.normalize(".").startswith("/")
    assert isinstance(sftp.stat("/"), paramiko.SFTPAttributes)
    sftp.close()


def _rename_symlink_exclusive(paramiko, sftp):
    """posix_rename replaces, rename refuses, symlink(source, dest) as paramiko orders it,
    open(..., 'x') creates only a new file."""
    with sftp.open("new.txt", "x") as f:
        assert not f.writable()  # paramiko's 'x' alone opens for neither reading nor writing
    with pytest.raises(IOError):
        sftp.open("new.txt", "x")
    with sftp.open("fresh.txt", "wx") as f:
        f.write(b"exclusive")
    with pytest.raises(IOError):
        sftp.open("fresh.txt", "wx")
    with sftp.open("fresh.txt", "r") as f:
        assert f.read() == b"exclusive"
    with sftp.open("other.txt", "w") as f:
        f.write(b"other")
    with pytest.raises(IOError):
        sftp.rename("fresh.txt", "other.txt")
    sftp.posix_rename("fresh.txt", "other.txt")
    with sftp.open("other.txt", "r") as f:
        assert f.read() == b"exclusive"
    sftp.symlink("other.txt", "link")
    assert sftp.readlink("link") == "other.txt"
    with sftp.open("link", "r") as f:
        assert f.read() == b"exclusive"


def test_posix_rename_symlink_and_exclusive_open(paramiko, sftp):
    _rename_symlink_exclusive(paramiko, sftp)


def test_small_transfers_do_not_wake_the_transport_thread(layer_paramiko, sshd, known_hosts_file,
                                                         client_key, tmp_path):
    """One put or get of a small file: its requests go out from the caller's thread and only
    the replies make the transport's loop run; a request the socket took whole does not wake
    the loop (for a pass with nothing to do, a GIL hand-off each way). Layer only: it counts
    the wakeups pylibssh's loop gets from other threads."""
    client = layer_paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    client.connect(sshd.host, port=sshd.port, username=TEST_USER, key_filename=str(client_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(DEADLINE)
        work = f"compat-small-{uuid.uuid4().hex[:12]}"
        sftp.mkdir(work)
        loop = client.get_transport()._loop
        wakeups = []
        wakeup = loop.wakeup

        def counting_wakeup():
            if threading.get_ident() != loop._running_thread:
                wakeups.append(1)
            wakeup()

        files = 40
        datas = [os.urandom(16 * 1024 + i) for i in range(files)]
        for i, data in enumerate(datas):
            (tmp_path / f"f{i}").write_bytes(data)
        loop.wakeup = counting_wakeup
        try:
            for i in range(files):
                assert sftp.put(str(tmp_path / f"f{i}"), f"{work}/f{i}").st_size == len(datas[i])
            for i in range(files):
                sftp.get(f"{work}/f{i}", str(tmp_path / f"back{i}"))
        finally:
            del loop.wakeup
        assert [(tmp_path / f"back{i}").read_bytes() for i in range(files)] == datas
        # 80 calls, each writing requests once from the caller's thread: a few wakeups are
        # allowed for a socket that was briefly full (libssh then keeps the bytes for the loop)
        assert len(wakeups) <= files // 4, f"{len(wakeups)} wakeups for {2 * files} calls"
        for i in range(files):
            sftp.remove(f"{work}/f{i}")
        sftp.rmdir(work)
        sftp.close()
    finally:
        client.close()
