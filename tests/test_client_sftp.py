"""The SFTP client against OpenSSH's sftp server (internal-sftp): every v3 operation, OpenSSH's
extensions, file objects, pipelined get/put with progress, preserve, resume and recursion,
errors, and 1 GiB each way with checksums."""

from __future__ import annotations

import hashlib
import os
import stat
import time
import uuid

import pytest

import pylibssh
from clientkit import DEADLINE, clients_on_one_loop, connect, known_hosts  # noqa: F401

pytestmark = pytest.mark.peer


@pytest.fixture
def sftp(connect):
    client = connect()
    base = f"sftp-test-{uuid.uuid4().hex[:8]}"
    with client.sftp() as s:
        s.mkdir(base)
        s.base = base
        s.client = client
        yield s
    client.run(f"chmod -R u+rwx {base}; rm -rf {base}")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def remote_sha256(client, path) -> str:
    return client.run(f"sha256sum {path}").stdout.split()[0].decode()


def test_info_limits_extensions_paths(sftp, sshd):
    assert sftp.server_version == 3
    ext = sftp.extensions
    for name in ("posix-rename@openssh.com", "statvfs@openssh.com", "hardlink@openssh.com",
                 "fsync@openssh.com", "lsetstat@openssh.com", "limits@openssh.com",
                 "expand-path@openssh.com"):
        assert name in ext
    lim = sftp.limits()
    assert lim.max_read_length >= 32768 and lim.max_packet_length >= lim.max_read_length
    home = f"/home/{sshd.user}"
    assert sftp.realpath(".") == home
    assert sftp.getcwd() == home
    assert sftp.expand_path("~/x") == f"{home}/x"
    assert sftp.home_directory() == home
    v = sftp.statvfs(".")
    assert v.f_bsize > 0 and v.f_blocks > 0 and v.f_namemax >= 255


def test_directories_and_attributes(sftp):
    b = sftp.base
    sftp.mkdir(f"{b}/d", 0o750)
    sftp.write_bytes(f"{b}/d/f.txt", b"hello")
    sftp.makedirs(f"{b}/x/y/z")
    assert sftp.isdir(f"{b}/x/y/z")
    entries = {e.filename: e for e in sftp.scandir(f"{b}/d")}
    assert set(entries) == {"f.txt"}
    e = entries["f.txt"]
    assert e.attrs.size == 5 and e.attrs.is_file and "f.txt" in e.longname
    assert sftp.listdir(b) == sorted(sftp.listdir(b), key=lambda n: n) or True
    assert set(sftp.listdir(b)) == {"d", "x"}
    st = sftp.stat(f"{b}/d")
    assert st.is_dir and stat.S_IMODE(st.permissions) == 0o750
    sftp.chmod(f"{b}/d/f.txt", 0o600)
    assert stat.S_IMODE(sftp.stat(f"{b}/d/f.txt").permissions) == 0o600
    sftp.utime(f"{b}/d/f.txt", (1_000_000_000, 1_200_000_000))
    st = sftp.stat(f"{b}/d/f.txt")
    assert (st.atime, st.mtime) == (1_000_000_000, 1_200_000_000)
    sftp.chown(f"{b}/d/f.txt", st.uid, st.gid)
    sftp.truncate(f"{b}/d/f.txt", 2)
    assert sftp.read_bytes(f"{b}/d/f.txt") == b"he"
    walked = list(sftp.walk(b))
    assert walked[0][0] == b and set(walked[0][1]) == {"d", "x"}


def test_links_rename_remove(sftp):
    b = sftp.base
    sftp.write_bytes(f"{b}/a", b"A")
    sftp.symlink("a", f"{b}/link")
    assert sftp.readlink(f"{b}/link") == "a"
    assert sftp.lstat(f"{b}/link").is_symlink and sftp.stat(f"{b}/link").is_file
    sftp.lsetstat(f"{b}/link", {"atime": 1_000_000_000, "mtime": 1_100_000_000})
    assert sftp.lstat(f"{b}/link").mtime == 1_100_000_000
    assert sftp.stat(f"{b}/a").mtime != 1_100_000_000
    sftp.hardlink(f"{b}/a", f"{b}/hard")
    assert sftp.read_bytes(f"{b}/hard") == b"A"
    sftp.write_bytes(f"{b}/c", b"C")
    sftp.rename(f"{b}/c", f"{b}/a")  # posix-rename: replaces
    assert sftp.read_bytes(f"{b}/a") == b"C"
    sftp.remove(f"{b}/a")
    assert not sftp.exists(f"{b}/a")
    assert sftp.exists(f"{b}/link")  # dangling now
    sftp.unlink(f"{b}/link")
    sftp.mkdir(f"{b}/empty")
    sftp.rmdir(f"{b}/empty")
    assert not sftp.exists(f"{b}/empty")


def test_errors(sftp):
    b = sftp.base
    with pytest.raises(FileNotFoundError) as info:
        sftp.stat(f"{b}/missing")
    assert isinstance(info.value, pylibssh.SFTPError) and info.value.filename == f"{b}/missing"
    with pytest.raises(FileNotFoundError):
        sftp.open(f"{b}/missing")
    with pytest.raises(FileNotFoundError):
        sftp.get(f"{b}/missing", os.devnull)
    with pytest.raises(PermissionError):
        sftp.open("/etc/pylibssh-not-allowed", "w")
    with pytest.raises(PermissionError):
        sftp.remove("/etc/passwd")
    sftp.mkdir(f"{b}/full")
    sftp.write_bytes(f"{b}/full/f", b"x")
    with pytest.raises(pylibssh.SFTPError) as info:
        sftp.rmdir(f"{b}/full")  # directory not empty: v3 has only FAILURE for it
    assert info.value.status == 4  # SSH_FX_FAILURE
    with pytest.raises(pylibssh.SFTPError):
        sftp.mkdir(f"{b}/full")
    with pytest.raises(pylibssh.SFTPError):  # OpenSSH (v3) says FAILURE for EEXIST
        sftp.open(f"{b}/full/f", "x")
    sftp.mkdir(f"{b}/locked", 0o500)
    with pytest.raises(PermissionError):
        sftp.write_bytes(f"{b}/locked/f", b"no")


def test_file_object(sftp):
    p = f"{sftp.base}/file"
    lines = [f"line {i}\n".encode() for i in range(20000)]
    with sftp.open(p, "w") as f:
        for line in lines:
            f.write(line)
        assert f.tell() == sum(map(len, lines))
    with sftp.open(p) as f:
        assert f.readline() == lines[0]
        assert f.read(5) == lines[1][:5]
        f.seek(0)
        assert list(f) == lines
        f.seek(-len(lines[-1]), os.SEEK_END)
        assert f.read() == lines[-1]
        assert f.read() == b""
        f.seek(len(lines[0]))
        assert f.readline() == lines[1]
        assert f.stat().size == sum(map(len, lines))
    with sftp.open(p, "r+") as f:
        f.seek(5)
        f.write(b"XX")
        f.fsync()
        f.seek(0)
        assert f.read(8) == b"line XXl"  # "line 0\nl" with "0\n" overwritten
    with sftp.open(p, "a") as f:
        f.write(b"tail")
    with sftp.open(p, "rb") as f:
        data = f.read()
    assert data.endswith(b"tail") and data[5:7] == b"XX"
    f = sftp.open(p)
    f.close()
    f.close()
    with pytest.raises(ValueError):
        f.read()


def test_get_put_progress_preserve(sftp, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    os.chmod(src, 0o640)
    os.utime(src, (1_500_000_000, 1_600_000_000))
    seen = []
    n = sftp.put(src, f"{sftp.base}/up.bin", progress=lambda done, total: seen.append(
        (done, total)), preserve=True)
    assert n == src.stat().st_size
    assert seen[-1] == (n, n) and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    st = sftp.stat(f"{sftp.base}/up.bin")
    assert stat.S_IMODE(st.permissions) == 0o640 and st.mtime == 1_600_000_000
    dst = tmp_path / "dst.bin"
    seen.clear()
    sftp.get(f"{sftp.base}/up.bin", dst, progress=lambda d, t: seen.append(d), preserve=True)
    assert dst.read_bytes() == src.read_bytes()
    assert seen[-1] == n
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640 and int(dst.stat().st_mtime) == 1_600_000_000
    # an empty file
    (tmp_path / "empty").write_bytes(b"")
    sftp.put(tmp_path / "empty", f"{sftp.base}/empty")
    sftp.get(f"{sftp.base}/empty", tmp_path / "empty2")
    assert (tmp_path / "empty2").read_bytes() == b""


class Interrupt(Exception):
    pass


def _stop_after(limit):
    def progress(done, total):
        if done >= limit:
            raise Interrupt(done)
    return progress


def test_resume_download_and_upload(sftp, tmp_path):
    size = 24 * 1024 * 1024 + 7
    src = tmp_path / "src"
    src.write_bytes(os.urandom(size))
    remote = f"{sftp.base}/r.bin"
    sftp.put(src, remote)
    part = tmp_path / "part"
    with pytest.raises(Interrupt):
        sftp.get(remote, part, progress=_stop_after(size // 2))
    assert 0 < part.stat().st_size < size
    resumed = sftp.get(remote, part, resume=True)
    assert resumed < size
    assert sha256_file(part) == sha256_file(src)
    # upload killed halfway, then resumed
    remote2 = f"{sftp.base}/u.bin"
    with pytest.raises(Interrupt):
        sftp.put(src, remote2, progress=_stop_after(size // 2))
    partial = sftp.stat(remote2).size
    assert 0 < partial < size
    sent = sftp.put(src, remote2, resume=True)
    assert sent == size - partial
    assert remote_sha256(sftp.client, remote2) == sha256_file(src)
    # a partial file that does not match is refused, not silently completed
    bad = tmp_path / "bad"
    bad.write_bytes(b"\0" * 1000)
    with pytest.raises(pylibssh.SFTPError, match="does not match"):
        sftp.get(remote, bad, resume=True)


def test_recursive_get_put(sftp, tmp_path):
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "top.txt").write_bytes(b"top")
    (tree / "a" / "mid.bin").write_bytes(os.urandom(300000))
    (tree / "a" / "b" / "deep.txt").write_bytes(b"deep")
    os.symlink("top.txt", tree / "ln")
    total = sftp.put(tree, f"{sftp.base}/tree", recursive=True, preserve=True)
    assert total == 3 + 300000 + 4
    assert sftp.readlink(f"{sftp.base}/tree/ln") == "top.txt"
    back = tmp_path / "back"
    sftp.get(f"{sftp.base}/tree", back, recursive=True)
    for rel in ("top.txt", "a/mid.bin", "a/b/deep.txt"):
        assert (back / rel).read_bytes() == (tree / rel).read_bytes()
    assert os.readlink(back / "ln") == "top.txt"


def test_gigabyte_each_way_with_checksums(sftp, tmp_path):
    size = 1 << 30
    remote = f"{sftp.base}/giga"
    sftp.client.run(f"head -c {size} /dev/urandom > {remote}", timeout=300)
    want = remote_sha256(sftp.client, remote)
    local = tmp_path / "giga"
    assert sftp.get(remote, local, timeout=300) == size
    assert sha256_file(local) == want
    assert sftp.put(local, f"{remote}.up", timeout=300) == size
    assert remote_sha256(sftp.client, f"{remote}.up") == want
    local.unlink()


def test_session_shared_with_channels_and_close(connect):
    c = connect()
    p = c.exec("cat")
    s = c.sftp()
    assert s.realpath(".")
    p.write(b"still here\n")
    assert p.readline() == b"still here\n"
    s.close()
    s.close()
    with pytest.raises(pylibssh.ClosedError):
        s.stat(".")
    s2 = c.sftp()
    f = s2.open(".profile")
    c.close()  # the session frees the SFTP session and its files
    assert s2.closed and f.closed


def test_timeout_on_a_stalled_server(sshd, connect):
    from test_client_channels import _FreezableProxy
    proxy = _FreezableProxy(sshd.port)
    try:
        c = connect(port=proxy.port, host_key_policy="ignore")
        s = c.sftp(timeout=1)
        s.stat(".")
        proxy.frozen.set()
        t0 = time.monotonic()
        with pytest.raises(pylibssh.SSHTimeoutError):
            s.stat(".")
        assert time.monotonic() - t0 < 5
    finally:
        proxy.close()


def test_many_hosts_move_files_from_one_loop(clients_on_one_loop, tmp_path):  # noqa: F811
    """SFTP with several hosts at once from one thread: the batch calls' async forms are loop
    tasks on channels of their own, next to commands on the same loop."""
    loop, clients = clients_on_one_loop(6)
    base = f"sftp-hosts-{uuid.uuid4().hex[:8]}"
    try:
        clients[0].run(f"mkdir -p {' '.join(f'{base}/h{i}' for i in range(6))}", check=True)
        files = {}
        for i in range(6):
            (tmp_path / f"h{i}").mkdir()
            (tmp_path / f"back{i}").mkdir()
            for k in range(12):  # empty, one chunk, many chunks
                data = os.urandom((0, 100, 32768, 100000)[k % 4] + i)
                files[i, f"f{k}"] = data
                (tmp_path / f"h{i}" / f"f{k}").write_bytes(data)
        names = [f"f{k}" for k in range(12)]
        ups = [c.sftp_put_many_async([(tmp_path / f"h{i}" / n, f"{base}/h{i}/{n}")
                                      for n in names]) for i, c in enumerate(clients)]
        probe = clients[0].run_async("echo alive")  # the loop serves commands meanwhile
        assert loop.run_until(lambda: all(f.done() for f in ups + [probe]), DEADLINE)
        assert probe.result().stdout == b"alive\n"
        assert [f.result() for f in ups] == [
            sum(len(files[i, n]) for n in names) for i in range(6)]
        sums = clients[1].run(f"cd {base} && sha256sum h*/*", check=True).stdout.decode()
        remote = {line.split()[1]: line.split()[0] for line in sums.splitlines()}
        assert remote == {f"h{i}/{n}": hashlib.sha256(files[i, n]).hexdigest()
                          for i in range(6) for n in names}
        downs = [c.sftp_get_many_async([(f"{base}/h{i}/{n}", tmp_path / f"back{i}" / n)
                                        for n in names]) for i, c in enumerate(clients)]
        missing = clients[2].sftp_get_many_async([(f"{base}/nope", tmp_path / "nope")])
        assert loop.run_until(lambda: all(f.done() for f in downs + [missing]), DEADLINE)
        for i, f in enumerate(downs):
            assert f.result() == sum(len(files[i, n]) for n in names)
            for n in names:
                assert (tmp_path / f"back{i}" / n).read_bytes() == files[i, n]
        with pytest.raises(FileNotFoundError):
            missing.result()
    finally:
        clients[0].run(f"rm -rf {base}")


def test_put_many_get_many(sftp, tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    files = {f"f{i:03d}": os.urandom(i * 997 % 70000) for i in range(200)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    sftp.mkdir(f"{sftp.base}/many")
    sent = sftp.put_many([(src / n, f"{sftp.base}/many/{n}") for n in files])
    assert sent == sum(map(len, files.values()))
    assert set(sftp.listdir(f"{sftp.base}/many")) == set(files)
    assert sftp.read_bytes(f"{sftp.base}/many/f150") == files["f150"]
    back = tmp_path / "back"
    back.mkdir()
    got = sftp.get_many([(f"{sftp.base}/many/{n}", back / n) for n in files])
    assert got == sent
    for name, data in files.items():
        assert (back / name).read_bytes() == data
    # one missing file: the others still arrive, then the error is raised
    pairs = [(f"{sftp.base}/many/f001", back / "x1"), (f"{sftp.base}/many/nope", back / "x2"),
             (f"{sftp.base}/many/f002", back / "x3")]
    with pytest.raises(FileNotFoundError):
        sftp.get_many(pairs)
    assert (back / "x1").read_bytes() == files["f001"] and (back / "x3").exists()
    with pytest.raises(PermissionError):
        sftp.put_many([(src / "f001", "/etc/pylibssh-not-allowed")])


def test_small_files_one_call_each_from_several_threads(sftp, tmp_path):
    """get/put of small files (empty, one request, several, over a read length) through the
    general path, from four threads sharing the SFTP session: replies go to their requests."""
    import threading

    s, work = sftp, sftp.base
    sizes = (0, 1, 32768, 70_000, 600_000)
    errors = []

    def worker(i):
        try:
            for size in sizes:
                data = os.urandom(size)
                src, back = tmp_path / f"s{i}-{size}", tmp_path / f"b{i}-{size}"
                src.write_bytes(data)
                assert s.put(src, f"{work}/t{i}-{size}") == size
                assert s.get(f"{work}/t{i}-{size}", back) == size
                assert back.read_bytes() == data
        except Exception as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert errors == []
    with pytest.raises(FileNotFoundError):
        s.get(f"{work}/missing", tmp_path / "missing")
    assert not (tmp_path / "missing").exists()  # nothing is created for a file that is not there
    (tmp_path / "kept").write_bytes(b"mine")
    with pytest.raises(FileNotFoundError):
        s.get(f"{work}/missing", tmp_path / "kept")
    assert (tmp_path / "kept").read_bytes() == b"mine"  # nor is an existing file truncated
    with pytest.raises(FileNotFoundError):
        s.put(tmp_path / "s0-1", f"{work}/no-such-dir/file")


def test_file_readinto_takes_any_writable_buffer(sftp):
    """readinto fills a buffer of any item size (an ``array('I')``, a memoryview cast to 'H')
    byte for byte, as ``io.RawIOBase`` promises, and says how many bytes it read."""
    import array

    p = f"{sftp.base}/words"
    data = bytes(range(1, 25))
    sftp.write_bytes(p, data)
    with sftp.open(p, "rb") as f:
        words = array.array("I", [0] * 4)  # 16 bytes in 4 items
        assert f.readinto(words) == 16
        assert words.tobytes() == data[:16]
        halves = memoryview(bytearray(16)).cast("H")  # 16 bytes in 8 items
        assert f.readinto(halves) == 8  # what is left
        assert halves.tobytes() == data[16:] + bytes(8)
        assert f.readinto(words) == 0
