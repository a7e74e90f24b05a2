"""Forwarding through the pylibssh server vs through OpenSSH's sshd: one TCP stream through
``ssh -L``, same client, same machine, same run.

OpenSSH's ``ssh -N -L lport:127.0.0.1:tport`` runs against each server; a local target on tport
sends (download) or takes (upload) SIZE bytes; the benchmark reads (or writes) them through
lport. The runs against the two servers alternate (the machine is shared: a change of load then
hits both alike); each figure is the best run. The pylibssh server runs in its own process (tests/server_app.py ``--forward``: the
ready-made ``connect_handler``, each connection copied by a ``Bridge``); sshd forks per
connection. Ratio = pylibssh's throughput / sshd's.

    ./dev bench forward [--size MIB] [--repeat N] [--quick] [--cipher default|gcm]
                        [--direction download|upload]

(``./dev bench`` passes no arguments: 1 GiB, 3 runs each.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import (
    ROOT,
    MiB,
    Result,
    add_json_option,
    proc_cpu_seconds,
    report,
    start_server_app,
    use_json_option,
)

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import OpenSSHClient, OpenSSHServer, free_port, keygen  # noqa: E402

BLOCK = memoryview(os.urandom(4 * MiB))


def start_pylibssh(host_key: Path, authorized: Path) -> tuple[subprocess.Popen, int]:
    return start_server_app("--host-key", str(host_key), "--authorized-key", str(authorized),
                            "--forward")


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants (sshd forks per connection)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += proc_cpu_seconds(pid)
        except OSError:
            continue
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def send_bytes(sock: socket.socket, size: int) -> None:
    left = size
    while left:
        n = sock.send(BLOCK[:min(left, len(BLOCK))])
        left -= n


def recv_bytes(sock: socket.socket, size: int) -> int:
    buf = bytearray(1 << 20)
    got = 0
    while got < size:
        n = sock.recv_into(buf)
        if not n:
            break
        got += n
    return got


class Target:
    """The forwarded-to service: ``D`` -> sends SIZE bytes, ``U`` -> takes SIZE bytes, says ok."""

    def __init__(self, size: int):
        self.size = size
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            kind = conn.recv(1)
            if kind == b"D":
                send_bytes(conn, self.size)
            elif kind == b"U":
                got = recv_bytes(conn, self.size)
                conn.sendall(b"ok" if got == self.size else b"short")

    def close(self) -> None:
        self.sock.close()


class Tunnel:
    """``ssh -N -L`` in the background."""

    def __init__(self, client: OpenSSHClient, target_port: int, options: tuple[str, ...]):
        self.port = free_port()
        self.proc = subprocess.Popen(
            client.ssh_args("-N", "-o", "ExitOnForwardFailure=yes", *options,
                            "-L", f"{self.port}:127.0.0.1:{target_port}"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=client.env())
        deadline = time.monotonic() + 20
        want = f"0100007F:{self.port:04X}"
        while time.monotonic() < deadline:
            with open("/proc/net/tcp") as f:
                if any(line.split()[1] == want and line.split()[3] == "0A"
                       for line in f.readlines()[1:]):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"ssh -L did not start: {self.proc.stderr.read()!r}")

    def download(self, size: int) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=120) as s:
            s.sendall(b"D")
            got = recv_bytes(s, size)
        if got != size:
            raise RuntimeError(f"download: {got} of {size} bytes")

    def upload(self, size: int) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=120) as s:
            s.sendall(b"U")
            send_bytes(s, size)
            answer = s.recv(16)
        if answer != b"ok":
            raise RuntimeError(f"upload: the target said {answer!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(20)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB per stream (default 1024)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="256 MiB, 2 runs")
    parser.add_argument("--cipher", choices=("default", "gcm"), help="only this cipher")
    parser.add_argument("--direction", choices=("download", "upload"), help="only this way")
    add_json_option(parser)
    args = parser.parse_args(argv)
    use_json_option(args)
    size = (256 if args.quick else args.size) * MiB
    repeat = 2 if args.quick else args.repeat

    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-fwd-"))
    sshd = ours = None
    target = Target(size)
    try:
        host_key = keygen(work / "host_ed25519", "ed25519")
        client_key = keygen(work / "id_ed25519", "ed25519")
        pub = Path(str(client_key) + ".pub")
        sshd = OpenSSHServer(work / "sshd")
        sshd.authorize(pub.read_text())
        sshd.start()
        ours, port = start_pylibssh(host_key, pub)
        peers = {
            "openssh": (OpenSSHClient(work / "c-sshd", sshd.port, identity=client_key),
                        sshd.proc.pid),
            "pylibssh": (OpenSSHClient(work / "c-ours", port, identity=client_key), ours.pid),
        }
        results: list[Result] = []
        label = f"{size // MiB} MiB"
        ciphers = {"default": ("default cipher", ()),
                   "gcm": ("aes128-gcm", ("-c", "aes128-gcm@openssh.com"))}
        for key, (cipher_name, options) in ciphers.items():
            if args.cipher not in (None, key):
                continue
            for direction in ("download", "upload"):
                if args.direction not in (None, direction):
                    continue
                name = f"ssh -L {direction} {label} ({cipher_name})"
                tunnels = {impl: Tunnel(client, target.port, options)
                           for impl, (client, _) in peers.items()}
                try:
                    # the runs of both alternate, so that a change in the machine's load
                    # (it is shared) hits both alike
                    walls: dict[str, list[float]] = {impl: [] for impl in peers}
                    cpus: dict[str, float] = {impl: 0.0 for impl in peers}
                    for _ in range(repeat):
                        for impl, (_client, pid) in peers.items():
                            before = tree_cpu_seconds(pid)
                            start = time.perf_counter()
                            getattr(tunnels[impl], direction)(size)
                            walls[impl].append(time.perf_counter() - start)
                            cpus[impl] += tree_cpu_seconds(pid) - before
                    for impl in peers:
                        best = min(walls[impl])
                        results.append(Result(name, impl, best, "MiB/s", size / MiB / best,
                                              cpus[impl] / repeat, walls[impl]))
                finally:
                    for tunnel in tunnels.values():
                        tunnel.close()
        report("forwarding: pylibssh server vs OpenSSH sshd (client: OpenSSH ssh -L)", results,
               baseline="openssh", save_as="forward")
        print("  (cpu: the server's CPU seconds per stream: the pylibssh process, sshd and its "
              "per-connection children)")
        print(f"  load: {open('/proc/loadavg').read().strip()}")
    finally:
        target.close()
        if ours is not None:
            ours.terminate()
            ours.wait(30)
        if sshd is not None:
            sshd.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
