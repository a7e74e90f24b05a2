"""The OpenSSH test peer itself works: the fixtures every protocol test relies on."""

import pytest
from openssh import TEST_USER, wait_for_banner

pytestmark = pytest.mark.peer


def test_sshd_answers_with_openssh_banner(sshd):
    assert wait_for_banner(sshd.port).startswith(b"SSH-2.0-OpenSSH_")


def test_key_and_password_logins(sshd, client_key, openssh_client):
    by_key = openssh_client(sshd.port, identity=client_key).ssh("id -un; echo $((6*7))")
    assert by_key.returncode == 0, by_key.stderr
    assert by_key.stdout.split() == [TEST_USER.encode(), b"42"]
    by_password = openssh_client(sshd.port, password=sshd.password).ssh("echo ok")
    assert by_password.returncode == 0 and by_password.stdout == b"ok\n", by_password.stderr
    wrong = openssh_client(sshd.port, password="not the password").ssh("echo ok")
    assert wrong.returncode == 255
