"""Makes the seed corpora of fuzz/corpus/ with the real tools: ``python -m fuzz.make_seeds``.

* private_key: ssh-keygen's keys of every type pylibssh uses, in OpenSSH, PEM and PKCS#8
  format, plain and encrypted with the passphrase ``fuzzfuzz`` (one bcrypt round, so that inputs stay
  fast). Throw-away keys made for this corpus only: nothing anywhere trusts them.
* authorized_keys: ssh-keygen's public keys and a certificate, with options and comments.
* known_hosts: lines as ssh writes them, hashed by ``ssh-keygen -H``; the server's key is
  written ``@KEY@`` (fuzz/known_hosts.py puts the live server's key there).
* ssh_config: configurations that OpenSSH's ``ssh -G`` accepts (Debian 12's OpenSSH 9.2 knows
  no ``Tag``, ``Match tagged`` or ``Match localnetwork``: fuzz/dict/ssh_config.dict has them).
* sftp_requests, sftp_direct: what OpenSSH's ``sftp`` sends to pylibssh's server (``pylibssh
  serve``'s backend) for a batch of commands, captured between ``sftp`` and ``ssh``, INIT removed.

Files named ``regress-*`` are inputs that once failed: this script never touches them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def _run(*cmd: str, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, timeout=120, **kwargs)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.decode()}")
    return r


def _keygen(path: Path, kind: str, bits: str | None = None, fmt: str | None = None,
            passphrase: str = "") -> Path:
    cmd = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", f"fuzz-{kind}", "-f",
           str(path)]
    cmd += ["-b", bits] if bits else []
    cmd += ["-m", fmt] if fmt else []
    cmd += ["-a", "1"] if passphrase and not fmt else []
    _run(*cmd)
    return path


def _clear(name: str) -> Path:
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        if not f.name.startswith("regress-"):
            f.unlink()
    return d


def private_keys(tmp: Path) -> None:
    out = _clear("private_key")
    kinds = [("ed25519", None), ("ecdsa", "256"), ("ecdsa", "384"), ("ecdsa", "521"),
             ("rsa", "1024")]
    for kind, bits in kinds:
        for fmt in (None, "PEM", "PKCS8"):
            if kind == "ed25519" and fmt == "PEM":
                continue  # OpenSSH writes Ed25519 keys in its own format only
            for passphrase in ("", "fuzzfuzz"):
                name = f"{kind}{bits or ''}-{(fmt or 'openssh').lower()}" + \
                    ("-encrypted" if passphrase else "")
                key = _keygen(tmp / name, kind, bits, fmt, passphrase)
                shutil.copy(key, out / name)


def authorized_keys(tmp: Path) -> None:
    out = _clear("authorized_keys")
    lines = []
    for kind, bits in (("ed25519", None), ("ecdsa", "384"), ("rsa", "1024")):
        key = _keygen(tmp / f"pub-{kind}", kind, bits)
        line = (tmp / f"pub-{kind}.pub").read_text().strip()
        (out / f"{kind}.pub").write_text(line + "\n")
        lines.append(line)
    ca = _keygen(tmp / "ca", "ed25519")
    _run("ssh-keygen", "-q", "-s", str(ca), "-I", "fuzz-cert", "-n", "fuzz", "-V", "+52w",
         str(tmp / "pub-ed25519.pub"))
    cert = (tmp / "pub-ed25519-cert.pub").read_text().strip()
    (out / "ed25519-cert.pub").write_text(cert + "\n")
    (out / "authorized_keys").write_text("\n".join([
        "# keys of the fuzz corpus",
        "",
        f'from="127.0.0.1,::1",command="echo \\"hi there\\"",no-pty {lines[0]}',
        f"restrict,port-forwarding {lines[1]} a comment with spaces",
        f'environment="A=b c" {lines[2]}',
        f"cert-authority,principals=\"fuzz\" {(tmp / 'ca.pub').read_text().strip()}",
        cert,
    ]) + "\n")
    del key


def known_hosts(tmp: Path) -> None:
    out = _clear("known_hosts")
    server = _keygen(tmp / "server", "ed25519")
    other = _keygen(tmp / "other", "ed25519")
    ecdsa = _keygen(tmp / "ecdsa", "ecdsa", "256")
    ca = _keygen(tmp / "hostca", "ed25519")
    pub = {p.name: (tmp / f"{p.name}.pub").read_text().split()[:2]
           for p in (server, other, ecdsa, ca)}
    mark = pub["server"][1]

    def line(names: str, which: str, marker: str = "") -> str:
        return " ".join(filter(None, [marker, names, *pub[which]]))

    files = {
        "known": [line("fuzz", "server")],
        "port": [line("[fuzz]:2222", "server"), line("fuzz,127.0.0.1", "server")],
        "changed": [line("fuzz", "other")],
        "other-type": [line("fuzz", "ecdsa")],
        "patterns": [line("*.example,!bad.example,fu?z", "server"), line("*", "other")],
        "markers": [line("*.example", "hostca", "@cert-authority"),
                    line("fuzz", "other", "@revoked"), line("fuzz", "server")],
        "comments": ["# known hosts", "", line("other.example", "other") + " a comment",
                     line("fuzz", "server")],
    }
    for name, lines in files.items():
        path = tmp / f"known_hosts-{name}"
        path.write_text("\n".join(lines) + "\n")
        (out / name).write_text(path.read_text().replace(mark, "@KEY@"))
    hashed = tmp / "known_hosts-port"
    _run("ssh-keygen", "-q", "-H", "-f", str(hashed))
    (out / "hashed").write_text(hashed.read_text().replace(mark, "@KEY@"))


SSH_CONFIGS = {
    "basic": """
Host fuzz*
    HostName %h.example.com
    User bob
    Port 2222
    IdentityFile ~/.ssh/id_%r_%h
    IdentityFile ~/.ssh/id_ed25519
    ServerAliveInterval 15
    ServerAliveCountMax 2
Host *
    Compression yes
    ConnectTimeout 7
""",
    "match": """
Match originalhost fuzz* exec "true" user me
    User matched
Match host *.example.com,!bad.example.com localuser *
    PreferredAuthentications publickey,password
    PasswordAuthentication no
Match canonical final
    HostKeyAlias canonical-%h
Match all
    StrictHostKeyChecking accept-new
""",
    "canonical": """
CanonicalizeHostname yes
CanonicalDomains example. other.example.
CanonicalizeMaxDots 1
CanonicalizeFallbackLocal yes
CanonicalizePermittedCNAMEs *.example:*.other.example
Host *.example
    User canon
""",
    "proxy": """
Host fuzzhost
    ProxyJump jump@gateway.example:2200,[2001:db8::1]:22
Host other
    ProxyCommand ssh -W %h:%p bastion
Host *
    UserKnownHostsFile ~/.ssh/known_hosts.d/%h ~/.ssh/known_hosts
    GlobalKnownHostsFile /etc/ssh/ssh_known_hosts
    IdentityAgent none
    IdentitiesOnly yes
""",
    "include": """
Include inc-hosts inc-*
Host = fuzzhost
    Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com
    KexAlgorithms curve25519-sha256
    MACs hmac-sha2-256
    HostKeyAlgorithms ssh-ed25519
""",
}


def ssh_configs(tmp: Path) -> None:
    out = _clear("ssh_config")
    home = tmp / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "inc-hosts").write_text("Host fuzz*\n  User included\n")
    for name, text in SSH_CONFIGS.items():
        path = home / ".ssh" / f"config-{name}"
        path.write_text(text.lstrip())
        # OpenSSH must accept it (ssh -G prints the configuration it would use, connects nowhere;
        # it only fails to canonicalize names that resolve nowhere)
        env = dict(os.environ, HOME=str(home))
        r = subprocess.run(["ssh", "-G", "-F", str(path), "fuzzhost"], env=env,
                           capture_output=True, timeout=120)
        if r.returncode != 0 and b"Could not resolve host" not in r.stderr:
            raise RuntimeError(f"ssh -G refuses {name}: {r.stderr.decode()}")
        shutil.copy(path, out / name)


SFTP_BATCHES = {
    "get": "get a.txt\nget dir/b.bin\nget -p a.txt\n",
    "put": "put {local}/up.bin up.bin\nput -p {local}/up.bin dir/up2.bin\n-reput {local}/up.bin "
           "up.bin\n",
    "ls": "ls\nls -l dir\ncd dir\npwd\nls -la\n",
    "change": "mkdir new\nrename a.txt new/a2.txt\nsymlink new/a2.txt s.txt\nln -s a2 new/l\n"
              "ln dir/b.bin hard.bin\nchmod 600 hard.bin\nchown 0 hard.bin\nchgrp 0 hard.bin\n"
              "rm hard.bin\nrmdir dir/sub\ndf\ndf -i\n",
    "errors": "-get missing\n-rm missing\n-rmdir missing\n-ls missing\n-cd missing\n"
              "-mkdir a.txt\n-rename missing x\n",
}


_CAPTURE = """
import os, select, subprocess, sys
ssh = subprocess.Popen(["ssh", *sys.argv[1:]], stdin=subprocess.PIPE)
with open(os.environ["SFTP_CAPTURE"], "ab") as capture:
    while True:
        select.select([0], [], [])
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            continue
        if not data:
            break
        capture.write(data)
        ssh.stdin.write(data)
        ssh.stdin.flush()
ssh.stdin.close()
sys.exit(ssh.wait())
"""


def sftp_captures(tmp: Path) -> None:
    import pylibssh
    from pylibssh.server.sftp_local import LocalFilesystem

    req = _clear("sftp_requests")
    direct = _clear("sftp_direct")
    client_key = _keygen(tmp / "client", "ed25519")
    authorized = pylibssh.Key.from_public_file(tmp / "client.pub")
    root = tmp / "root"
    local = tmp / "local"
    local.mkdir()
    (local / "up.bin").write_bytes(os.urandom(3000))
    server = pylibssh.create_server(host_keys=[pylibssh.Key.generate()],
                                    auth_methods=["publickey"])

    @server.on("connection")
    def _connection(session) -> None:
        @session.on("auth")
        def _auth(msg) -> None:
            if msg.subtype == "publickey" and msg.compare_public_key(authorized):
                msg.reply_auth_success()
            else:
                msg.reply_default()

        @session.on("channel")
        def _channel(channel) -> None:
            @channel.on("subsystem")
            def _subsystem(msg) -> None:
                msg.sftp_accept()
                LocalFilesystem(root).attach(channel)

    server.listen(0, "127.0.0.1")
    server.start()
    # sftp's "ssh": runs ssh, copying what sftp sends it into $SFTP_CAPTURE on the way (sftp
    # leaves the pipe nonblocking, which tee does not expect)
    wrapper = tmp / "ssh-capture"
    wrapper.write_text(f"#!{sys.executable}\n" + _CAPTURE)
    wrapper.chmod(0o755)
    try:
        for name, batch in SFTP_BATCHES.items():
            shutil.rmtree(root, ignore_errors=True)
            (root / "dir" / "sub").mkdir(parents=True)
            (root / "a.txt").write_bytes(b"hello, sftp\n" * 100)
            (root / "dir" / "b.bin").write_bytes(bytes(range(256)) * 300)
            capture = tmp / f"capture-{name}"
            (tmp / "batch").write_text(batch.format(local=local))
            _run("sftp", "-q", "-b", str(tmp / "batch"), "-S", str(wrapper), "-P",
                 str(server.port), "-i", str(client_key), "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "fuzz@127.0.0.1", env=dict(os.environ, SFTP_CAPTURE=str(capture)),
                 cwd=tmp)
            data = capture.read_bytes()
            assert data[:5] == b"\0\0\0\x05\x01", "the capture does not start with INIT"
            data = data[9:]
            (req / name).write_bytes(data)
            # fuzz/sftp_direct.py opens handles 1 and 2 first: the captured handles come after
            shifted = re.sub(rb"\0\0\0\x08\0\0\0\0\0\0\0([\x01-\x0f])",
                             lambda m: b"\0\0\0\x08" + struct.pack(">Q", m.group(1)[0] + 2),
                             data)
            (direct / name).write_bytes(shifted)
    finally:
        server.close()
        server.loop.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pylibssh-seeds-") as tmp:
        for make in (private_keys, authorized_keys, known_hosts, ssh_configs, sftp_captures):
            sub = Path(tmp) / make.__name__
            sub.mkdir()
            make(sub)
            print(f"{make.__name__}: done", file=sys.stderr)


if __name__ == "__main__":
    main()
