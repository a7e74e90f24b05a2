"""The fsspec file system's behaviour beyond fsspec's abstract tests, against OpenSSH's sshd and
``pylibssh serve``: URLs and registration, the built-in errors fsspec expects, listings and
links, ranges, files, server-side and streamed copies, moves, the connection's life."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import textwrap
import time

import fsspec
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
    sshd_fs,
)
from serverkit import DEADLINE, wait_until

import pylibssh
from pylibssh.fsspec import SFTPFileSystem, register_sftp
from pylibssh.server.sftp_local import LocalFilesystem

pytestmark = [pytest.mark.peer, pytest.mark.usefixtures("no_cached_connections")]


@pytest.fixture
def sfs(serve, client_keys):  # noqa: F811
    fs = serve_fs(serve, client_keys)
    yield fs
    fs.close()


@pytest.fixture
def sbase(sfs):
    yield from fresh_dir(sfs, "/")


def _storage_options(sshd, client_key, known_hosts):  # noqa: F811
    return dict(keys=[str(client_key)], known_hosts=str(known_hosts), config=None, agent=False,
                look_for_keys=False)


# -- URLs, registration, the instance cache ---------------------------------------------------------

def test_libssh_urls_open_through_the_entry_point(sshd, client_key, known_hosts, fs, base):  # noqa: F811
    fs.pipe_file(f"{base}/hello.txt", b"hello over libssh\n")
    url = f"libssh://{sshd.user}@127.0.0.1:{sshd.port}{base}/hello.txt"
    opts = _storage_options(sshd, client_key, known_hosts)
    with fsspec.open(url, "rb", **opts) as f:
        assert f.read() == b"hello over libssh\n"
        assert isinstance(f.fs, SFTPFileSystem)
    with fsspec.open(url, "rt", **opts) as f:  # text mode over fsspec's binary file
        assert f.read() == "hello over libssh\n"
    # fsspec's instance cache: the same host and options are one file system, one connection
    a = fsspec.filesystem("libssh", host="127.0.0.1", port=sshd.port, username=sshd.user, **opts)
    b = fsspec.filesystem("libssh", host="127.0.0.1", port=sshd.port, username=sshd.user, **opts)
    try:
        assert a is b
        assert a.cat_file(f"{base}/hello.txt") == b"hello over libssh\n"
        assert a._slot.current() is b._slot.current() is not None
    finally:
        a.close()
        a.clear_instance_cache()


def test_register_sftp_serves_sftp_and_ssh_urls(sshd, client_key, known_hosts, fs, base):  # noqa: F811
    fs.pipe_file(f"{base}/x.bin", b"12345")
    before = {p: fsspec.get_filesystem_class(p) for p in ("sftp", "ssh")}
    opts = _storage_options(sshd, client_key, known_hosts)
    register_sftp()
    try:
        for scheme in ("sftp", "ssh"):
            url = f"{scheme}://{sshd.user}@127.0.0.1:{sshd.port}{base}/x.bin"
            of = fsspec.open(url, "rb", skip_instance_cache=True, **opts)
            with of as f:
                assert f.read() == b"12345"
            assert isinstance(of.fs, SFTPFileSystem)
            of.fs.close()
    finally:
        for name, cls in before.items():
            fsspec.register_implementation(name, cls, clobber=True)


def test_url_options_and_storage_options_combine():
    kw = SFTPFileSystem._get_kwargs_from_urls("libssh://ann:secret@files.example:2200/a/b.csv")
    assert kw == {"host": "files.example", "port": 2200, "username": "ann",
                  "password": "secret"}
    assert SFTPFileSystem._strip_protocol("libssh://ann@files.example/a/b/") == "/a/b"
    assert SFTPFileSystem._strip_protocol("sftp://files.example/") == "/"
    assert SFTPFileSystem._strip_protocol("data/x.csv") == "data/x.csv"
    assert SFTPFileSystem._strip_protocol("libssh://h/~/data/x.csv") == "data/x.csv"
    assert SFTPFileSystem._strip_protocol("libssh://h/~") == "."
    fs = SFTPFileSystem(host="files.example", port="2200", username="ann",
                        key_filename="/k/id", ssh_config=None, host_key_policy="accept-new",
                        skip_instance_cache=True)
    o = fs._options
    assert (o.host, o.port, o.user, o.keys, o.config, o.host_key_policy) == (
        "files.example", 2200, "ann", ["/k/id"], None, "accept-new")
    with pytest.raises(TypeError, match="given twice"):
        SFTPFileSystem(host="h", user="a", username="b", skip_instance_cache=True)


def test_home_relative_urls(sshd, client_key, known_hosts, fs, base):  # noqa: F811
    name = base.rsplit("/", 1)[1]
    fs.pipe_file(f"{base}/in-home.txt", b"at home")
    url = f"libssh://{sshd.user}@127.0.0.1:{sshd.port}/~/{name}/in-home.txt"
    with fsspec.open(url, "rb", **_storage_options(sshd, client_key, known_hosts)) as f:
        assert f.read() == b"at home"
    assert f"{name}" in fs.ls("~", detail=False)
    assert fs.cat_file(f"~/{name}/in-home.txt") == b"at home"


def test_pickled_file_system_connects_again(fs, base):
    """What Dask's workers get: the file system's arguments, not its connection."""
    fs.pipe_file(f"{base}/p", b"pickled")
    clone = pickle.loads(pickle.dumps(fs))
    try:
        assert clone is not fs
        assert clone.cat_file(f"{base}/p") == b"pickled"
        assert clone._slot.current() is not fs._slot.current()
    finally:
        clone.close()
        clone.clear_instance_cache()


def test_a_lost_or_closed_connection_is_made_again(fs, base):
    fs.pipe_file(f"{base}/f", b"one")
    first = fs._slot.current()
    fs.close()
    assert not first.alive
    assert fs.cat_file(f"{base}/f") == b"one"
    second = fs._slot.current()
    assert second is not None and second is not first
    second._client.session.close()  # the connection drops under the file system
    wait_until(lambda: not second.alive)
    assert fs.cat_file(f"{base}/f") == b"one"
    assert fs._slot.current() not in (first, second)


def test_a_failed_connect_is_retried_by_the_next_call(sshd, client_key, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    fs = sshd_fs(sshd, client_key, empty)  # strict: the unknown host is refused
    with pytest.raises(pylibssh.UnknownHostKeyError):
        fs.ls("/")
    empty.write_text("\n".join(sshd.known_hosts_lines()) + "\n")
    try:
        assert fs.exists("/")
    finally:
        fs.close()


def test_the_connection_is_closed_at_exit(sshd, client_key, known_hosts):  # noqa: F811
    """A program that never closes its file system, nor a file it opened, ends (the file's
    handle is not waited for once fsspec's loop is gone) and still says goodbye to the
    server."""
    script = textwrap.dedent(f"""
        import fsspec
        fs = fsspec.filesystem("libssh", host="127.0.0.1", port={sshd.port},
                               username={sshd.user!r}, keys=[{str(client_key)!r}],
                               known_hosts={str(known_hosts)!r}, config=None, agent=False,
                               look_for_keys=False)
        print(fs.exists("/"), flush=True)
        f = fs.open("/etc/hostname", "rb")
        f.read(1)
    """)
    before = sshd.log_text().count("Received disconnect")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=DEADLINE * 3)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
    wait_until(lambda: sshd.log_text().count("Received disconnect") > before)


# -- errors ----------------------------------------------------------------------------------------

def test_errors_are_the_built_in_ones(fs, base):
    missing = f"{base}/missing"
    for call in (lambda: fs.info(missing), lambda: fs.cat_file(missing),
                 lambda: fs.open(missing, "rb"), lambda: fs.ls(missing),
                 lambda: fs.get_file(missing, "/tmp/never"), lambda: fs.rm(missing),
                 lambda: fs.modified(missing), lambda: fs.cp_file(missing, f"{base}/c")):
        with pytest.raises(FileNotFoundError):
            call()
    assert not fs.exists(missing)
    fs.mkdir(f"{base}/d")
    fs.pipe_file(f"{base}/f", b"x")
    with pytest.raises(FileExistsError):
        fs.mkdir(f"{base}/d", create_parents=False)
    with pytest.raises(FileExistsError):
        fs.mkdir(f"{base}/d")
    with pytest.raises(FileExistsError):
        fs.makedirs(f"{base}/d")
    fs.makedirs(f"{base}/d", exist_ok=True)
    with pytest.raises(FileExistsError):
        fs.makedirs(f"{base}/f", exist_ok=True)  # a file is in the way
    with pytest.raises(FileExistsError):
        fs.pipe_file(f"{base}/f", b"y", mode="create")
    with pytest.raises(FileExistsError):
        fs.open(f"{base}/f", "xb")
    for call in (lambda: fs.open(f"{base}/d", "rb"), lambda: fs.cat_file(f"{base}/d"),
                 lambda: fs.open(f"{base}/d", "wb"), lambda: fs.rm_file(f"{base}/d"),
                 lambda: fs.rm(f"{base}/d")):
        with pytest.raises(IsADirectoryError):
            call()
    with pytest.raises(PermissionError):
        fs.cat_file("/etc/shadow")
    with pytest.raises(PermissionError):
        fs.pipe_file("/etc/pylibssh-fsspec-test", b"no")
    assert fs.cat_file(f"{base}/f") == b"x"


# -- listings and links ----------------------------------------------------------------------------

def test_ls_info_and_links(fs, base, sshd):
    fs.makedirs(f"{base}/d/sub")
    fs.pipe_file(f"{base}/d/a.csv", b"a" * 10)
    fs.pipe_file(f"{base}/d/sub/b.csv", b"b" * 20)
    home = f"/home/{sshd.user}"
    rel = base[len(home) + 1:]
    c = fs._slot.current()._client
    c.run(f"ln -s sub {rel}/d/to-sub && ln -s a.csv {rel}/d/to-a && ln -s nowhere {rel}/d/bad",
          check=True)
    listing = {i["name"]: i for i in fs.ls(f"{base}/d")}
    assert set(listing) == {f"{base}/d/{n}" for n in ("sub", "a.csv", "to-sub", "to-a", "bad")}
    assert listing[f"{base}/d/a.csv"]["type"] == "file"
    assert listing[f"{base}/d/a.csv"]["size"] == 10
    assert listing[f"{base}/d/sub"]["type"] == "directory"
    assert listing[f"{base}/d/to-sub"]["type"] == "directory"
    assert listing[f"{base}/d/to-sub"]["islink"]
    assert listing[f"{base}/d/to-a"]["type"] == "file" and listing[f"{base}/d/to-a"]["size"] == 10
    assert listing[f"{base}/d/bad"]["type"] == "link"  # dangling: the link itself
    assert fs.ls(f"{base}/d/a.csv") == [fs.info(f"{base}/d/a.csv")]  # a file lists as itself
    assert fs.info(f"{base}/d")["type"] == "directory"
    assert sorted(fs.find(f"{base}/d/sub")) == [f"{base}/d/sub/b.csv"]
    assert sorted(fs.glob(f"{base}/d/**/*.csv")) == [
        f"{base}/d/a.csv", f"{base}/d/sub/b.csv", f"{base}/d/to-sub/b.csv"]
    walked = {root: (sorted(dirs), sorted(files)) for root, dirs, files in fs.walk(f"{base}/d")}
    assert walked[f"{base}/d"] == (["sub", "to-sub"], ["a.csv", "bad", "to-a"])
    assert fs.modified(f"{base}/d/a.csv").timestamp() == pytest.approx(time.time(), abs=120)


def test_rm_recursive_does_not_follow_links(fs, base, sshd):
    """rm -r of a tree holding a link to a directory removes the link, not what it points to
    (a listing's links report their target's type, which a recursive walk would enter)."""
    fs.makedirs(f"{base}/keep")
    fs.pipe_file(f"{base}/keep/precious", b"keep me")
    fs.makedirs(f"{base}/tree/sub")
    fs.pipe_file(f"{base}/tree/sub/x", b"x")
    rel = base[len(f"/home/{sshd.user}") + 1:]
    c = fs._slot.current()._client
    c.run(f"ln -s ../keep {rel}/tree/link && ln -s keep {rel}/top-link", check=True)
    fs.rm(f"{base}/tree", recursive=True)
    assert not fs.exists(f"{base}/tree")
    assert fs.cat_file(f"{base}/keep/precious") == b"keep me"
    fs.rm(f"{base}/top-link", recursive=True)  # the link named itself
    assert fs.cat_file(f"{base}/keep/precious") == b"keep me"
    assert fs.ls(base, detail=False) == [f"{base}/keep"]


# -- contents --------------------------------------------------------------------------------------

@pytest.mark.parametrize("server", ["sshd", "serve"])
def test_ranges_files_and_copies(server, request):
    fs = request.getfixturevalue("fs" if server == "sshd" else "sfs")
    base = request.getfixturevalue("base" if server == "sshd" else "sbase")
    rng = random.Random(7)
    data = rng.randbytes(3 * 1024 * 1024 + 123)
    fs.pipe_file(f"{base}/big", data)
    fs.pipe_file(f"{base}/small", b"0123456789")
    assert fs.cat_file(f"{base}/big") == data
    assert fs.cat_file(f"{base}/big", start=100, end=200) == data[100:200]
    assert fs.cat_file(f"{base}/big", start=-500) == data[-500:]
    assert fs.cat_file(f"{base}/big", start=10, end=-10) == data[10:-10]
    assert fs.cat_file(f"{base}/big", start=len(data) + 5) == b""
    starts = [rng.randrange(len(data)) for _ in range(300)]
    paths = [f"{base}/big"] * 300 + [f"{base}/small", f"{base}/missing"]
    got = fs.cat_ranges(paths, starts + [2, 0], [s + 4096 for s in starts] + [None, 5])
    assert got[:300] == [data[s:s + 4096] for s in starts]
    assert got[300] == b"23456789"
    assert isinstance(got[301], FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        fs.cat_ranges(paths[-2:], [0, 0], [1, 1], on_error="raise")

    # random access through the buffered file, with small blocks so reads cross them
    with fs.open(f"{base}/big", "rb", block_size=256 * 1024) as f:
        assert f.size == len(data)
        for _ in range(50):
            at = rng.randrange(len(data))
            f.seek(at)
            assert f.read(70000) == data[at:at + 70000]
        f.seek(-10, 2)
        assert f.read() == data[-10:]
    # writes, in blocks, then appends; "xb" refuses what exists
    with fs.open(f"{base}/w", "wb", block_size=100_000) as f:
        for i in range(0, len(data), 77_777):
            f.write(data[i:i + 77_777])
    assert fs.cat_file(f"{base}/w") == data
    with fs.open(f"{base}/w", "ab") as f:
        f.write(b"tail")
    assert fs.cat_file(f"{base}/w", start=-8) == data[-4:] + b"tail"
    with fs.open(f"{base}/new/deeper/x", "xb") as f:  # parents made for a new file
        f.write(b"x")
    assert fs.cat_file(f"{base}/new/deeper/x") == b"x"

    # server-side copy on sshd (copy-data), streamed on pylibssh serve (which has none)
    assert fs._slot.current().offers("copy-data") == (server == "sshd")
    fs.cp_file(f"{base}/big", f"{base}/copy/of-big")
    assert fs.cat_file(f"{base}/copy/of-big") == data
    fs.pipe_file(f"{base}/empty", b"")
    fs.cp_file(f"{base}/empty", f"{base}/empty2")
    assert fs.cat_file(f"{base}/empty2") == b""

    # moves: a rename on the server, into an existing directory, a directory with recursive
    fs.mv(f"{base}/w", f"{base}/moved")
    assert not fs.exists(f"{base}/w") and fs.size(f"{base}/moved") == len(data) + 4
    fs.mv(f"{base}/moved", f"{base}/copy")
    assert fs.exists(f"{base}/copy/moved")
    fs.mv(f"{base}/copy", f"{base}/copy2", recursive=True)
    assert sorted(fs.ls(f"{base}/copy2", detail=False)) == [f"{base}/copy2/moved",
                                                           f"{base}/copy2/of-big"]
    before = fs.ukey(f"{base}/small")
    assert fs.ukey(f"{base}/small") == before
    fs.pipe_file(f"{base}/small", b"0123456789!")
    assert fs.ukey(f"{base}/small") != before


@pytest.mark.parametrize("server", ["sshd", "serve"])
def test_get_and_put_of_many_files(server, request, tmp_path):
    fs = request.getfixturevalue("fs" if server == "sshd" else "sfs")
    base = request.getfixturevalue("base" if server == "sshd" else "sbase")
    src = tmp_path / "src"
    files = {}
    for i in range(150):
        rel = f"d{i % 7}/f{i}.bin" if i % 3 else f"f{i}.bin"
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        files[rel] = os.urandom(i * 97)
        (src / rel).write_bytes(files[rel])
    (src / "empty-dir").mkdir()
    fs.put(str(src), f"{base}/up", recursive=True)
    assert fs.isdir(f"{base}/up/empty-dir")
    assert fs.cat_file(f"{base}/up/d1/f1.bin") == files["d1/f1.bin"]
    remote = {p[len(base) + 4:]: fs.size(p) for p in fs.find(f"{base}/up")}
    assert remote == {rel: len(b) for rel, b in files.items()}
    fs.get(f"{base}/up", str(tmp_path / "down"), recursive=True)
    for rel, content in files.items():
        assert (tmp_path / "down" / rel).read_bytes() == content
    assert (tmp_path / "down" / "empty-dir").is_dir()
    fs.get_file(f"{base}/up/f0.bin", str(tmp_path / "one"))
    assert (tmp_path / "one").read_bytes() == b""
    fs.put_file(str(src / "d1/f1.bin"), f"{base}/fresh/dir/f1")
    assert fs.cat_file(f"{base}/fresh/dir/f1") == files["d1/f1.bin"]


def test_short_answers_are_completed(make_server, host_key_files, client_keys, tmp_path):
    """A server may answer a READ with fewer bytes than asked before the end of the file (this
    one sends at most 1000): every read path asks again for the rest."""
    root = tmp_path / "root"
    root.mkdir()
    data = random.Random(3).randbytes(700_000)
    (root / "f").write_bytes(data)
    local = LocalFilesystem(root)
    short = []

    def setup(channel):
        session = local.attach(channel)
        channel.off("sftp:read", session.read)

        @channel.on("sftp:read")
        def read(msg):
            f = session._file(msg)
            short.append(msg.length)
            msg.reply_data(os.pread(f.fd, min(msg.length, 1000), msg.offset))

        # C serves a handle's reads itself only while one listener listens: with a second
        # (which does nothing), every READ comes to the one above
        channel.on("sftp:read", lambda msg: None)

    fs, _rs = scripted_fs(make_server, setup, client_keys, host_key_files, tmp_path)
    try:
        assert fs.cat_file("/f") == data
        assert fs.cat_file("/f", start=123_456, end=654_321) == data[123_456:654_321]
        starts = [0, 5, 99_999, 699_000]
        assert fs.cat_ranges(["/f"] * 4, starts, [s + 20_000 for s in starts]) == [
            data[s:s + 20_000] for s in starts]
        with fs.open("/f", "rb", block_size=50_000) as f:
            f.seek(300_000)
            assert f.read(120_000) == data[300_000:420_000]
        assert max(short) > 1000  # the server did answer short
    finally:
        fs.close()
