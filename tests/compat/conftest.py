"""The paramiko-compatibility suite: every test here runs against real paramiko and against
``pylibssh.compat.paramiko`` installed in its place, and the two must behave the same.

The tests use only paramiko's documented public API, the way applications and libraries built on
paramiko (fabric, the ``scp`` package, test fixtures) use it. The peer is OpenSSH's sshd.
"""

from __future__ import annotations

import importlib
import posixpath
import sys
import uuid

import pytest

from openssh import TEST_PASSWORD, TEST_USER

IMPLEMENTATIONS = ["paramiko", "pylibssh"]

DEADLINE = 20  # seconds for any single network operation in these tests


def _paramiko_modules() -> dict[str, object]:
    return {name: mod for name, mod in sys.modules.items()
            if name == "paramiko" or name.startswith("paramiko.")}


def _use(implementation: str):
    saved = _paramiko_modules()
    if implementation == "pylibssh":
        from pylibssh.compat import paramiko as compat

        compat.install()
    module = importlib.import_module("paramiko")
    is_compat = getattr(module, "__pylibssh__", False)
    assert is_compat == (implementation == "pylibssh"), f"wrong paramiko in use: {module}"
    try:
        yield module
    finally:
        for name in list(_paramiko_modules()):
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.fixture(params=IMPLEMENTATIONS)
def paramiko(request):
    """The ``paramiko`` module under test: real paramiko, or pylibssh's layer after ``install()``
    (which must make a plain ``import paramiko`` resolve to it)."""
    yield from _use(request.param)


@pytest.fixture
def layer_paramiko():
    """pylibssh's layer alone as ``paramiko``, for what real paramiko 5.1 cannot do (each test
    says why it does not run against real paramiko)."""
    yield from _use("pylibssh")


@pytest.fixture
def known_hosts_file(tmp_path, sshd):
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in sshd.known_hosts_lines()))
    return path


@pytest.fixture
def connect(paramiko, sshd, known_hosts_file, client_key):
    """``connect(**kwargs)`` → a connected ``SSHClient`` (key auth by default), closed afterwards."""
    clients = []

    def make(**kwargs):
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts_file))
        kwargs.setdefault("key_filename", str(client_key))
        kwargs.setdefault("look_for_keys", False)
        kwargs.setdefault("allow_agent", False)
        kwargs.setdefault("timeout", DEADLINE)
        client.connect(sshd.host, port=sshd.port, username=TEST_USER, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sftp(connect):
    """An ``SFTPClient`` whose working directory is a fresh directory in the test user's home."""
    client = connect()
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(DEADLINE)
    home = sftp.normalize(".")
    work = posixpath.join(home, f"compat-{uuid.uuid4().hex[:12]}")
    sftp.mkdir(work)
    sftp.chdir(work)
    yield sftp
    _remove_tree(sftp, work)
    sftp.close()


def _remove_tree(sftp, path: str) -> None:
    import stat

    for attr in sftp.listdir_attr(path):
        child = posixpath.join(path, attr.filename)
        if stat.S_ISDIR(attr.st_mode):
            _remove_tree(sftp, child)
        else:
            sftp.remove(child)
    sftp.rmdir(path)


@pytest.fixture
def password():
    return TEST_PASSWORD


@pytest.fixture
def test_user():
    return TEST_USER


@pytest.fixture
def home_of_test_user():
    import pwd

    return pwd.getpwnam(TEST_USER).pw_dir

