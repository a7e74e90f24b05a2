"""The server against OpenSSH's sshd, same machine, same client, same run.

1. Exec output throughput: OpenSSH's ``ssh`` runs ``head -c 256M /dev/zero`` (through
   ``/bin/sh -c`` on both servers) with its output to /dev/null. pylibssh runs the command with
   ``pylibssh.server.spawn`` (tests/server_app.py ``--mode spawn``); sshd as the dedicated test
   user, whose shell is /bin/sh (no login shell, no rc files: the same command on both).
2. Connections per second: connect, key exchange, Ed25519 public-key auth, exec ``true``,
   close. Driven two ways: 8 concurrent OpenSSH ``ssh`` processes with curve25519-sha256 key
   exchange (OpenSSH's default sntrup761 hybrid costs the client ~80 ms of CPU per
   connection and would measure the clients), and asyncssh with 16 connections in flight from
   one Python process (its default, mlkem768x25519).

The pylibssh server runs in its own process on one loop thread; sshd forks per connection.

    ./dev bench server [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import (
    ROOT,
    MiB,
    Result,
    add_json_option,
    proc_cpu_seconds,
    report,
    start_server_app,
    throughput,
    use_json_option,
)

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import TEST_USER, OpenSSHClient, OpenSSHServer, keygen  # noqa: E402

# OpenSSH 9.2's first choice, sntrup761x25519, costs its client ~80 ms of CPU per connection
# (about 10 ms with curve25519): with it the ssh-driven rate measures mostly the clients
KEX = ("-o", "KexAlgorithms=curve25519-sha256")
SIZE = 256 * MiB
COMMAND = f"head -c {SIZE} /dev/zero"


def start_pylibssh(host_key: Path, authorized: Path) -> tuple[subprocess.Popen, int]:
    return start_server_app("--host-key", str(host_key), "--authorized-key", str(authorized),
                            "--mode", "spawn")


def exec_output(client: OpenSSHClient, *options: str) -> None:
    result = subprocess.run(client.ssh_args(*options, COMMAND), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=300,
                            env=client.env())
    if result.returncode != 0:
        raise RuntimeError(f"exec failed: {result.stderr!r}")


def check_size(client: OpenSSHClient) -> None:
    out = subprocess.run(client.ssh_args(COMMAND), capture_output=True, timeout=300,
                         stdin=subprocess.DEVNULL, env=client.env())
    if out.returncode != 0 or len(out.stdout) != SIZE:
        raise RuntimeError(f"expected {SIZE} bytes, got {len(out.stdout)}: {out.stderr!r}")


def ssh_connections(client: OpenSSHClient, count: int, workers: int) -> None:
    def one(_: int) -> None:
        result = subprocess.run(client.ssh_args(*KEX, "true"), capture_output=True, timeout=120,
                                stdin=subprocess.DEVNULL, env=client.env())
        if result.returncode != 0:
            raise RuntimeError(f"ssh failed: {result.stderr!r}")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(count)))


def asyncssh_connections(port: int, user: str, key_path: Path, count: int, inflight: int
                         ) -> None:
    import asyncssh

    key = asyncssh.read_private_key(str(key_path))

    async def one(sem: asyncio.Semaphore) -> None:
        async with sem, asyncssh.connect("127.0.0.1", port, username=user, client_keys=[key],
                                         known_hosts=None, agent_path=None) as conn:
            await conn.run("true", check=True)

    async def run() -> None:
        sem = asyncio.Semaphore(inflight)
        await asyncio.gather(*(one(sem) for _ in range(count)))

    asyncio.run(run())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    add_json_option(parser)
    args = parser.parse_args(argv)
    use_json_option(args)
    repeat = 2 if args.quick else 3
    conns = 100 if args.quick else 300

    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-"))
    sshd = ours = None
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
                        sshd.port, None),
            "pylibssh": (OpenSSHClient(work / "c-ours", port, identity=client_key), port,
                         ours.pid),
        }
        for client, _, _ in peers.values():
            check_size(client)

        results: list[Result] = []
        # the client's first choice (chacha20-poly1305; sshd uses OpenSSH's own Poly1305,
        # libssh OpenSSL's), then AES-GCM, where both use OpenSSL
        for name, options in (("exec output 256 MiB (ssh, default cipher)", ()),
                              ("exec output 256 MiB (ssh, aes128-gcm)",
                               ("-c", "aes128-gcm@openssh.com"))):
            for impl, (client, _, pid) in peers.items():
                before = proc_cpu_seconds(pid) if pid else None
                r = throughput(name, impl, SIZE,
                               lambda c=client, o=options: exec_output(c, *o), repeat)
                r.cpu = (proc_cpu_seconds(pid) - before) / repeat if pid else None
                results.append(r)

        for impl, (client, _port, pid) in peers.items():
            ssh_connections(client, 16, 8)  # warm up
            before = proc_cpu_seconds(pid) if pid else None
            walls = []
            for _ in range(repeat):
                start = time.perf_counter()
                ssh_connections(client, conns, 8)
                walls.append(time.perf_counter() - start)
            best = min(walls)
            cpu = (proc_cpu_seconds(pid) - before) / repeat / conns * 1000 if pid else None
            results.append(Result("connections/s (8 ssh processes, curve25519)", impl, best, "conn/s",
                                  conns / best, cpu, walls))

        for impl, (_client, server_port, _pid) in peers.items():
            user = TEST_USER
            asyncssh_connections(server_port, user, client_key, 16, 16)
            walls = []
            for _ in range(repeat):
                start = time.perf_counter()
                asyncssh_connections(server_port, user, client_key, conns, 16)
                walls.append(time.perf_counter() - start)
            best = min(walls)
            results.append(Result("connections/s (asyncssh, 16 in flight)", impl, best,
                                  "conn/s", conns / best, None, walls))

        report("pylibssh server vs OpenSSH sshd", results, baseline="openssh",
               save_as="server")
        print("  (cpu: the pylibssh server process's CPU seconds per run for throughput, "
              "ms per connection for the ssh-driven rate)")
    finally:
        if ours is not None:
            ours.terminate()
            ours.wait(30)
        if sshd is not None:
            sshd.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
