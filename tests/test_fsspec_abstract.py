"""fsspec's own abstract test classes (fsspec.tests.abstract: copy, get, put, open, pipe) run on
:class:`pylibssh.fsspec.SFTPFileSystem` against OpenSSH's sshd and against ``pylibssh serve``."""

from __future__ import annotations

import posixpath

import fsspec.tests.abstract as abstract
import pytest
from clientkit import known_hosts_for
from fsspeckit import fresh_dir, serve, serve_fs, sshd_fs  # noqa: F401 - serve is a fixture

pytestmark = pytest.mark.peer


class SSHDFixtures(abstract.AbstractFixtures):
    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls, sshd, client_key, tmp_path_factory):
        known = known_hosts_for(sshd, tmp_path_factory.mktemp("kh") / "known_hosts")
        fs = sshd_fs(sshd, client_key, known)
        yield fs
        fs.close()

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs, sshd):
        yield from fresh_dir(fs, f"/home/{sshd.user}")


class ServeFixtures(abstract.AbstractFixtures):
    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls, serve, client_keys):  # noqa: F811
        fs = serve_fs(serve, client_keys)
        yield fs
        fs.close()

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs):
        yield from fresh_dir(fs, "/")


class TestSSHDCopy(abstract.AbstractCopyTests, SSHDFixtures):
    pass


class TestSSHDGet(abstract.AbstractGetTests, SSHDFixtures):
    pass


class TestSSHDPut(abstract.AbstractPutTests, SSHDFixtures):
    pass


class TestSSHDOpen(abstract.AbstractOpenTests, SSHDFixtures):
    pass


class TestSSHDPipe(abstract.AbstractPipeTests, SSHDFixtures):
    pass


class TestServeCopy(abstract.AbstractCopyTests, ServeFixtures):
    pass


class TestServeGet(abstract.AbstractGetTests, ServeFixtures):
    pass


class TestServePut(abstract.AbstractPutTests, ServeFixtures):
    pass


class TestServeOpen(abstract.AbstractOpenTests, ServeFixtures):
    pass


class TestServePipe(abstract.AbstractPipeTests, ServeFixtures):
    pass
