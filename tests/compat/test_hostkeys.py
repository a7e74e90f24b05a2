"""known_hosts files as paramiko reads them: malformed lines are logged and skipped, fields may
be separated by tabs, hashed names work both ways (OpenSSH's ``ssh-keygen -H`` output is read,
and ``HostKeys.hash_host`` entries are found by ``ssh-keygen -F``)."""

from __future__ import annotations

import logging
import subprocess

DEADLINE = 20


def _connect(paramiko, sshd, known_hosts, client_key, test_user):
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.connect(sshd.host, sshd.port, test_user, key_filename=str(client_key),
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    _, stdout, _ = client.exec_command("echo known", timeout=DEADLINE)
    assert stdout.read() == b"known\n"
    client.close()


def test_malformed_lines_are_skipped(paramiko, sshd, tmp_path, client_key, test_user, caplog):
    caplog.set_level(logging.INFO, logger="paramiko.hostkeys")
    good = sshd.known_hosts_lines()
    name, kind, b64 = good[0].split()
    lines = [
        "# a comment",
        "only-two fields",
        "dss.example ssh-dss AAAAB3NzaC1kc3MAAACB",  # a type nobody reads any more
        f"{name}\t{kind}\t{b64}",  # tabs
    ] + good[1:]
    if getattr(paramiko, "__pylibssh__", False):
        # lines paramiko raises on (out of load()): base64 that is no key (nacl's ValueError),
        # text that is not base64 and OpenSSH's marker lines (InvalidHostKey); the layer skips
        lines[2:2] = ["broken.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA",
                      "bad64.example ssh-ed25519 AAAA!",
                      f"@cert-authority *.example {kind} {b64}"]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    keys = paramiko.HostKeys(str(path))
    assert set(keys[name].keys()) == {line.split()[1] for line in good}
    assert "broken.example" not in keys and "dss.example" not in keys
    assert any("Not enough fields" in r.getMessage() for r in caplog.records)
    _connect(paramiko, sshd, path, client_key, test_user)


def test_hashed_names_from_ssh_keygen(paramiko, sshd, tmp_path, client_key, test_user):
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in sshd.known_hosts_lines()))
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True,
                   timeout=DEADLINE)
    assert all(line.startswith("|1|") for line in path.read_text().splitlines())
    name = f"[{sshd.host}]:{sshd.port}"
    keys = paramiko.HostKeys(str(path))
    assert keys.lookup(name) is not None and keys.lookup("other.example") is None
    _connect(paramiko, sshd, path, client_key, test_user)


def test_hash_host_entries_found_by_ssh_keygen(paramiko, sshd, tmp_path):
    name = f"[{sshd.host}]:{sshd.port}"
    kind, b64 = sshd.known_hosts_lines()[0].split()[1:3]
    hashed = paramiko.HostKeys.hash_host(name)
    assert hashed.startswith("|1|")
    assert paramiko.HostKeys.hash_host(name, hashed) == hashed
    path = tmp_path / "known_hosts"
    path.write_text(f"{hashed} {kind} {b64}\n")
    found = subprocess.run(["ssh-keygen", "-F", name, "-f", str(path)], capture_output=True,
                           text=True, timeout=DEADLINE)
    assert found.returncode == 0 and b64 in found.stdout
    keys = paramiko.HostKeys(str(path))
    assert keys.lookup(name)[kind].get_base64() == b64
    assert keys.check(name, keys.lookup(name)[kind])
