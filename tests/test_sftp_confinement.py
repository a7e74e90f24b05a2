"""The local backend never reaches outside its root: not with '..', absolute paths, symlinks the
client creates pointing outside, symlinks already in the tree, or symlinked parents."""

import os

import pytest
from sftpkit import local_sftp_server, paramiko_sftp

pytestmark = pytest.mark.peer


@pytest.fixture
def jail(make_server, tmp_path, client_keys):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"top secret")
    (root / "inside").write_bytes(b"inside")
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]])
    client, sftp = paramiko_sftp(rs.port)
    yield sftp, root, outside
    client.close()


def snapshot(path):
    return sorted((str(p.relative_to(path)), p.read_bytes() if p.is_file() else None)
                  for p in path.rglob("*"))


def test_dotdot_stops_at_the_root(jail):
    sftp, root, outside = jail
    before = snapshot(outside)
    assert sftp.normalize("..") == "/"
    assert sftp.normalize("/../../..") == "/"
    assert sftp.normalize("../outside/secret") == "/outside/secret"
    for path in ("../outside/secret", "../../outside/secret", "/../outside/secret",
                 "inside/../../outside/secret"):
        with pytest.raises(FileNotFoundError):
            sftp.stat(path)
        with pytest.raises(FileNotFoundError):
            sftp.open(path)
    with pytest.raises(FileNotFoundError):
        sftp.open("../outside/new", "wb")
    assert sftp.open("../../inside").read() == b"inside"  # '..' at the root is the root
    assert sorted(sftp.listdir("..")) == ["inside"]
    assert snapshot(outside) == before


def test_absolute_paths_are_inside_the_root(jail):
    sftp, root, outside = jail
    with pytest.raises(FileNotFoundError):
        sftp.stat(str(outside / "secret"))
    with pytest.raises(FileNotFoundError):
        sftp.stat("/etc/passwd")
    with pytest.raises(FileNotFoundError):
        sftp.open(str(outside / "new"), "wb")
    assert sftp.open("/inside").read() == b"inside"
    assert not (outside / "new").exists()


def test_symlinks_created_by_the_client_stay_inside(jail):
    sftp, root, outside = jail
    before = snapshot(outside)
    sftp.symlink(str(outside), "abs")                 # absolute target outside
    sftp.symlink("../outside", "rel")                 # relative target climbing out
    sftp.symlink(str(outside / "secret"), "file")
    sftp.symlink("/etc/passwd", "passwd")
    for link in ("abs/secret", "rel/secret", "file", "passwd"):
        with pytest.raises(FileNotFoundError):
            sftp.open(link).read()
        with pytest.raises(FileNotFoundError):
            sftp.stat(link)
    for link in ("abs", "rel"):
        with pytest.raises(FileNotFoundError):
            sftp.listdir(link)
        with pytest.raises(FileNotFoundError):
            sftp.open(f"{link}/planted", "wb")
    with pytest.raises(FileNotFoundError):
        sftp.open("file", "wb")  # writing through a link that points outside
    with pytest.raises(IOError):
        sftp.chmod("file", 0o777)
    with pytest.raises(IOError):
        sftp.rename("inside", "rel/moved")
    # links are followed inside the root: an absolute target means the root's path
    sftp.symlink("/inside", "good")
    assert sftp.open("good").read() == b"inside"
    assert sftp.readlink("abs") == str(outside)  # the text is shown, never followed out
    assert snapshot(outside) == before


def test_symlinks_already_in_the_tree_and_symlinked_parents(jail):
    sftp, root, outside = jail
    before = snapshot(outside)
    os.symlink(outside, root / "parent")              # a symlinked parent directory
    os.symlink("../outside/secret", root / "relsecret")
    os.symlink(outside / "secret", root / "abssecret")
    (root / "sub").mkdir()
    os.symlink("../../outside", root / "sub" / "up")
    for path in ("parent/secret", "relsecret", "abssecret", "sub/up/secret"):
        with pytest.raises(FileNotFoundError):
            sftp.open(path).read()
    for path in ("parent/new", "sub/up/new", "parent/secret"):
        with pytest.raises(FileNotFoundError):
            sftp.open(path, "wb")
    with pytest.raises(FileNotFoundError):
        sftp.mkdir("parent/dir")
    with pytest.raises(FileNotFoundError):
        sftp.remove("parent/secret")
    with pytest.raises(FileNotFoundError):
        sftp.listdir("parent")
    with pytest.raises(IOError):
        sftp._request(200, "hardlink@openssh.com", "parent/secret", "stolen")
    with pytest.raises(IOError):
        sftp.posix_rename("parent/secret", "stolen")
    assert not (root / "stolen").exists()
    # removing the link removes the link, not what it points to
    sftp.remove("parent")
    assert snapshot(outside) == before and (outside / "secret").exists()


def test_symlink_loops_are_refused(jail):
    sftp, root, outside = jail
    sftp.symlink("b", "a")
    sftp.symlink("a", "b")
    with pytest.raises(IOError):
        sftp.open("a")
    with pytest.raises(IOError):
        sftp.stat("a/x")
