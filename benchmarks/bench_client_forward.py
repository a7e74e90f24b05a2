"""Client local forwarding vs OpenSSH's ``ssh -L``, against the same sshd, in the same run.

One TCP stream of 1 GiB goes through the forward, each way: *upload* (a process writes 1 GiB
into the forwarded port; a sink behind sshd counts it) and *download* (a source behind sshd
writes 1 GiB; the process reading the forwarded port counts it). The writer, the reader and the
sink/source are separate processes, so the measured side is only the forwarder: the pylibssh
client (its loop thread pumping the sockets) or the ``ssh -N -L`` process. Both use the same
cipher: the default (chacha20-poly1305@openssh.com for both) and aes128-gcm@openssh.com. The
CPU column is the forwarder's own (the ssh process; the pylibssh process, without its children).

    ./dev bench client_forward [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, MiB, Result, add_json_option, report, use_json_option

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import OpenSSHClient, OpenSSHServer, free_port, keygen  # noqa: E402

import pylibssh  # noqa: E402

# the far end, behind sshd: "sink" counts what arrives, "source" sends SIZE bytes per connection
PEER = r"""
import socket, sys
mode, size = sys.argv[1], int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(8)
print(srv.getsockname()[1], flush=True)
block = memoryview(bytes(1 << 20))
buf = bytearray(1 << 20)
def serve(c):
    if mode == "sink":
        n = 0
        while True:
            k = c.recv_into(buf)
            if not k: break
            n += k
        c.sendall(b"%d\n" % n)
    else:
        left = size
        while left:
            k = c.send(block[:min(left, len(block))]); left -= k
while True:
    c, _ = srv.accept()
    try:
        serve(c)
    except OSError:
        pass  # a readiness probe that went away
    c.close()
"""

# the near end, on the forwarded port: "up" writes SIZE bytes and waits for the sink's count,
# "down" reads until EOF; both print the byte count
NEAR = r"""
import socket, sys
mode, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection(("127.0.0.1", port), 60)
if mode == "up":
    block = memoryview(bytes(1 << 20)); left = size
    while left:
        left -= c.send(block[:min(left, len(block))])
    c.shutdown(socket.SHUT_WR)
    print(c.makefile().readline().strip())
else:
    buf = bytearray(1 << 20); n = 0
    while True:
        k = c.recv_into(buf)
        if not k: break
        n += k
    print(n)
"""


def start_peer(mode: str, size: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", PEER, mode, str(size)],
                            stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(mode: str, port: int, size: int, cpu) -> float:
    """One transfer; returns the forwarder's CPU seconds (ssh's, or this process's)."""
    before = cpu()
    transfer(mode, port, size)
    return cpu() - before


def transfer(mode: str, port: int, size: int) -> None:
    out = subprocess.run([sys.executable, "-c", NEAR, mode, str(port), str(size)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0 or out.stdout.strip() != str(size):
        raise RuntimeError(f"{mode}: expected {size} bytes, got {out.stdout!r} {out.stderr!r}")


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def ssh_forward(client: OpenSSHClient, dest_port: int, cipher: str | None
                ) -> tuple[subprocess.Popen, int]:
    port = free_port()
    extra = ["-c", cipher] if cipher else []
    proc = subprocess.Popen(
        ["ssh", *client.options(), *extra, "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"127.0.0.1:{port}:127.0.0.1:{dest_port}", f"{client.user}@{client.host}"],
        stdin=subprocess.DEVNULL, env=client.env())
    wait_port(port)
    return proc, port


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="256 MiB, 2 runs")
    add_json_option(ap)
    args = ap.parse_args(argv)
    use_json_option(args)
    size = 256 * MiB if args.quick else 1024 * MiB
    repeat = 2 if args.quick else 3
    print(f"load: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="bench-fwd"))
    sshd = OpenSSHServer(work / "sshd")
    sshd.start()
    peers = []
    results: list[Result] = []
    try:
        key = keygen(work / "id_ed25519", "ed25519")
        sshd.authorize((work / "id_ed25519.pub").read_text())
        kh = work / "known_hosts"
        kh.write_text("\n".join(sshd.known_hosts_lines()) + "\n")
        ossh = OpenSSHClient(work / "client", sshd.port, sshd.user, identity=key, known_hosts=kh)
        sink, sink_port = start_peer("sink", size)
        source, source_port = start_peer("source", size)
        peers += [sink, source]
        label = f"{size // MiB} MiB"
        for cipher in (None, "aes128-gcm@openssh.com"):
            cname = cipher or "default cipher"
            for mode, dest in (("up", sink_port), ("down", source_port)):
                name = f"{'upload' if mode == 'up' else 'download'} {label}, {cname}"
                # both forwards up at once and their runs alternated, so that load from
                # elsewhere on the (shared) machine hits both alike
                proc, port = ssh_forward(ossh, dest, cipher)
                c = pylibssh.connect("127.0.0.1", sshd.port, sshd.user, keys=[str(key)],
                                     known_hosts=str(kh), config=None, agent=False,
                                     look_for_keys=False, ciphers=cipher)
                try:
                    print(f"  {name}: pylibssh negotiated {c.session.cipher_out}", flush=True)
                    fwd = c.forward_local_port("127.0.0.1", 0, "127.0.0.1", dest)
                    runs: dict[str, list[tuple[float, float]]] = {"ssh -L": [], "pylibssh": []}
                    for _ in range(repeat):
                        for impl, fport, cpu in (("ssh -L", port, lambda: proc_cpu(proc.pid)),
                                                 ("pylibssh", fwd.port, self_cpu)):
                            t0 = time.perf_counter()
                            used = timed(mode, fport, size, cpu)
                            runs[impl].append((time.perf_counter() - t0, used))
                    for impl, rs in runs.items():
                        best, used = min(rs)
                        results.append(Result(name, impl, best, "MiB/s", size / MiB / best,
                                              used, [w for w, _ in rs]))
                finally:
                    c.close()
                    proc.terminate()
                    proc.wait(10)
    finally:
        for p in peers:
            p.kill()
            p.wait()
        sshd.cleanup()
    print(f"load: {os.getloadavg()}")
    return report("client local forwarding vs ssh -L (same sshd)", results, "ssh -L",
                  save_as="client_forward")


if __name__ == "__main__":
    main()
