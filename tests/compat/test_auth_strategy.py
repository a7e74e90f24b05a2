"""paramiko 5's auth_strategy as fabric uses it: sources tried in order until one succeeds, the
result of each recorded, AuthFailure listing them all; passed to ``SSHClient.connect``."""

from __future__ import annotations

import pytest

DEADLINE = 20


def _strategy(paramiko, sources):
    class Strategy(paramiko.AuthStrategy):
        def get_sources(self):
            yield from sources

    return Strategy(ssh_config=paramiko.SSHConfig())


def test_sources_in_order_until_one_succeeds(paramiko, sshd, known_hosts_file, client_key,
                                            test_user, password):
    key = paramiko.Ed25519Key.from_private_key_file(str(client_key))
    sources = [paramiko.Password(test_user, lambda: "wrong " + password),
               paramiko.InMemoryPrivateKey(test_user, key),
               paramiko.Password(test_user, lambda: pytest.fail("tried after success"))]
    strategy = _strategy(paramiko, sources)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts_file))
    result = client.connect(sshd.host, sshd.port, test_user, auth_strategy=strategy,
                            timeout=DEADLINE)
    # connect returns the strategy's AuthResult
    assert isinstance(result, paramiko.AuthResult) and len(result) == 2
    assert client.get_transport().is_authenticated()
    _, stdout, _ = client.exec_command("echo strategy", timeout=DEADLINE)
    assert stdout.read() == b"strategy\n"
    client.close()
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        outcome = strategy.authenticate(t)
        assert [type(s.source) for s in outcome] == [paramiko.Password,
                                                      paramiko.InMemoryPrivateKey]
        assert isinstance(outcome[0].result, paramiko.AuthenticationException)
        assert outcome[1].result == []
        assert str(outcome).splitlines()[1].endswith("-> success")
    finally:
        t.close()


def test_every_source_failing_is_auth_failure(paramiko, sshd, test_user, password, tmp_path):
    from openssh import keygen

    stranger = paramiko.Ed25519Key.from_private_key_file(str(keygen(tmp_path / "k", "ed25519")))
    strategy = _strategy(paramiko, [paramiko.Password(test_user, lambda: "nope"),
                                    paramiko.InMemoryPrivateKey(test_user, stranger)])
    t = paramiko.Transport((sshd.host, sshd.port))
    try:
        t.start_client(timeout=DEADLINE)
        with pytest.raises(paramiko.AuthFailure) as info:
            strategy.authenticate(t)
        assert len(info.value.result) == 2
        assert all(isinstance(r.result, paramiko.AuthenticationException)
                   for r in info.value.result)
        assert isinstance(info.value, paramiko.AuthenticationException)
        with pytest.raises(ValueError):
            paramiko.OnDiskPrivateKey(test_user, "elsewhere", "/x", stranger)
    finally:
        t.close()
