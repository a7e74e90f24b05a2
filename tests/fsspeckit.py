"""Fixtures for the fsspec file system's tests: an :class:`SFTPFileSystem` logged in to the
session's OpenSSH ``sshd`` and one logged in to ``pylibssh serve`` (a real process, as users run
it), each with a fresh directory per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from test_cli_serve import Serve as CliServe

import pylibssh
from pylibssh.fsspec import SFTPFileSystem


def sshd_fs(sshd, client_key, known_hosts, **kwargs) -> SFTPFileSystem:
    """A file system on the test sshd (its own connection, out of fsspec's instance cache)."""
    opts = dict(host="127.0.0.1", port=sshd.port, username=sshd.user, keys=[str(client_key)],
                known_hosts=str(known_hosts), config=None, agent=False, look_for_keys=False,
                skip_instance_cache=True)
    opts.update(kwargs)
    return SFTPFileSystem(**opts)


class Serve(CliServe):
    """``python -m pylibssh serve`` on a free port (test_cli_serve's runner), serving ``root``
    to one client key, with a known_hosts file that knows its host key."""

    def __init__(self, workdir: Path, root: Path, public_key: Path):
        self.root = root
        auth = workdir / "authorized_keys"
        auth.write_text(public_key.read_text())
        super().__init__(workdir, "--root", str(root), "--authorized-keys", str(auth),
                         "--no-password")
        key = pylibssh.Key.from_private_file(self.state / "ssh_host_ed25519_key")
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key.public_line()}\n")


@pytest.fixture
def fs(sshd, client_key, known_hosts):
    """A file system on the test sshd, closed after the test (the module imports ``known_hosts``
    from clientkit)."""
    fs = sshd_fs(sshd, client_key, known_hosts)
    yield fs
    fs.close()


@pytest.fixture
def base(fs, sshd):
    """A fresh directory in the sshd user's home, removed after the test."""
    yield from fresh_dir(fs, f"/home/{sshd.user}")


@pytest.fixture(scope="module")
def serve(tmp_path_factory, client_keys):
    """A running ``pylibssh serve`` (module-wide)."""
    work = tmp_path_factory.mktemp("serve")
    root = work / "root"
    root.mkdir()
    server = Serve(work, root, client_keys["ed25519"].parent / "id_ed25519.pub")
    yield server
    server.stop()


def serve_fs(serve, client_keys, **kwargs) -> SFTPFileSystem:
    opts = dict(host="127.0.0.1", port=serve.port, username=os.environ.get("USER", "tester"),
                keys=[str(client_keys["ed25519"])], known_hosts=str(serve.known_hosts),
                config=None, agent=False, look_for_keys=False, skip_instance_cache=True)
    opts.update(kwargs)
    return SFTPFileSystem(**opts)


def scripted_fs(make_server, setup, client_keys, host_key_files, workdir: Path):
    """``(fs, server)``: a file system on a pylibssh server whose ``sftp`` subsystems run
    ``setup(channel)`` (sftpkit.sftp_server), logged in with the ed25519 client key, the
    server's host key known from a known_hosts file in ``workdir``."""
    from sftpkit import sftp_server

    rs = sftp_server(make_server, setup, keys=[client_keys["ed25519"]])
    key = pylibssh.Key.from_private_file(host_key_files["ed25519"])
    known = workdir / "known_hosts"
    known.write_text(f"[127.0.0.1]:{rs.port} {key.public_line()}\n")
    return SFTPFileSystem(host="127.0.0.1", port=rs.port, username="tester",
                          keys=[str(client_keys["ed25519"])], known_hosts=str(known),
                          config=None, agent=False, look_for_keys=False,
                          skip_instance_cache=True), rs


@pytest.fixture
def no_cached_connections():
    """Close the file systems fsspec made and cached during the test (URLs and
    ``storage_options`` go through its instance cache), so no connection outlives the test."""
    yield
    for fs in list(SFTPFileSystem._cache.values()):
        fs.close()
    SFTPFileSystem.clear_instance_cache()


def fresh_dir(fs: SFTPFileSystem, base: str):
    """A new directory under ``base`` for one test, removed with everything in it after."""
    path = f"{base.rstrip('/')}/fsspec-{uuid.uuid4().hex[:10]}"
    fs.mkdir(path)
    try:
        yield path
    finally:
        if fs.exists(path):
            fs.rm(path, recursive=True)
