"""Shared fixtures. Real peers only: OpenSSH's sshd/ssh/sftp/scp run on 127.0.0.1 (see openssh.py)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests import their helper modules by name

from openssh import OpenSSHClient, OpenSSHServer, keygen  # noqa: E402


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A private OpenSSH server for the whole run; tests may authorize their own keys."""
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def client_key(tmp_path_factory, sshd):
    """An Ed25519 key pair made by ssh-keygen and authorized on ``sshd``."""
    path = keygen(tmp_path_factory.mktemp("client-key") / "id_ed25519", "ed25519",
                  comment="pylibssh-tests")
    sshd.authorize((path.parent / "id_ed25519.pub").read_text())
    return path


@pytest.fixture
def openssh_client(tmp_path):
    """Factory for OpenSSH client runners: ``openssh_client(port, identity=..., password=...)``."""

    def make(port: int, **kwargs) -> OpenSSHClient:
        return OpenSSHClient(tmp_path / f"client-{port}", port, **kwargs)

    return make


# -- the pylibssh server's tests (serverkit.py) ----------------------------------------------------

@pytest.fixture(scope="session")
def host_key_files(tmp_path_factory):
    """Host keys of every type a server can hold, made by ssh-keygen: {kind: path}."""
    where = tmp_path_factory.mktemp("host-keys")
    return {kind: keygen(where / f"host_{kind}", kind) for kind in ("ed25519", "ecdsa", "rsa")}


@pytest.fixture(scope="session")
def client_keys(tmp_path_factory):
    """Client key pairs made by ssh-keygen: {kind: private key path} (``path.pub`` beside)."""
    where = tmp_path_factory.mktemp("client-keys")
    return {kind: keygen(where / f"id_{kind}", kind, comment=f"pylibssh-{kind}")
            for kind in ("ed25519", "ecdsa", "rsa")}


@pytest.fixture
def make_server(host_key_files):
    """Factory: ``make_server(**options)`` -> serverkit.RunningServer (not yet listening; call
    ``.start()``). Every server is closed, and its loop stopped, after the test."""
    from serverkit import RunningServer

    made = []

    def make(host_keys=None, **options):
        rs = RunningServer(host_keys or [host_key_files["ed25519"]], **options)
        made.append(rs)
        return rs

    yield make
    for rs in made:
        rs.close()
