"""The server against OpenSSH's sshd on every core, same machine, same clients, same run.

pylibssh's server runs with one worker process per CPU (``create_server(workers=N)``,
tests/server_app.py; ``pylibssh serve`` for SFTP); sshd forks per connection. Each server's CPU
is that of all its processes, counted by a cgroup of its own (benchmarks/procs.py): the
supervisor and its workers, sshd and its per-connection processes, with the commands they
ran. Without cgroups it falls back to /proc's counts, which miss much of sshd's (said so).

1. exec: OpenSSH's ``ssh`` runs ``head -c 256M /dev/zero`` (through ``/bin/sh -c`` on both)
   with its output to /dev/null; the default cipher, then AES-GCM.
2. connections: connect, key exchange (curve25519-sha256; OpenSSH 9.2's sntrup761 default
   would measure the clients), Ed25519 public-key auth, exec ``true``, close; 64 at once,
   driven by pylibssh's client (one loop, one process) and by 64 OpenSSH ``ssh`` processes
   (which cost the machine about 11 ms each themselves). Printed: connections per second, per
   core, and the server's CPU per connection. Both servers allow the 64 unauthenticated
   connections at once (MaxStartups / max_startups 1000).
3. sftp: 8 OpenSSH ``sftp`` clients at once each download, then upload, a 256 MiB file;
   ``pylibssh serve`` against sshd with OpenSSH's sftp-server.
4. idle: 1,000 and 10,000 connections (pylibssh's client, one loop) logged in and left idle;
   the server tree's memory (PSS: pages shared by forks counted once) per connection. sshd
   holds two processes per connection: past ``--sshd-idle-max`` connections it is not
   measured (20,000 processes at 10,000).

    ./dev bench server [--quick] [--only=exec,connections,sftp,idle] [--idle=1000,10000]
                       [--sshd-idle-max=1000]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
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
    report,
    start_server_app,
    throughput,
    use_json_option,
)
from benchmarks.procs import CpuGroup, tree_cpu, tree_memory

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import TEST_USER, OpenSSHClient, OpenSSHServer, keygen  # noqa: E402

import pylibssh  # noqa: E402
from pylibssh.server.workers import default_workers  # noqa: E402

KEX = "curve25519-sha256"
KEX_OPTS = ("-o", f"KexAlgorithms={KEX}", "-o", "HostKeyAlgorithms=ssh-ed25519")
SIZE = 256 * MiB
COMMAND = f"head -c {SIZE} /dev/zero"
IN_FLIGHT = 64
SFTP_CLIENTS = 8
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
SECTIONS = ("exec", "connections", "sftp", "idle")


class Servers:
    """sshd and pylibssh's server (workers, spawn mode) with one client key."""

    def __init__(self, work: Path, workers: int):
        self.work = work
        self.workers = workers
        self.host_key = keygen(work / "host_ed25519", "ed25519")
        self.key = keygen(work / "id_ed25519", "ed25519")
        self.pub = Path(str(self.key) + ".pub")
        self.sshd = OpenSSHServer(work / "sshd", {"LogLevel": "ERROR", "MaxStartups": "1000",
                                                  "Subsystem": f"sftp {SFTP_SERVER}"})
        self.sshd.authorize(self.pub.read_text())
        self.sshd.start()
        # the supervisor prints PORT, then each worker a WORKER line
        self.ours, self.port = start_server_app(
            "--host-key", str(self.host_key), "--authorized-key", str(self.pub),
            "--mode", "spawn", "--workers", str(workers), "--max-unauthenticated", "1000")
        for _ in range(workers):
            line = self.ours.stdout.readline()
            if not line.startswith("WORKER"):
                raise RuntimeError(f"the pylibssh server's workers did not start: {line!r}")
        self.ports = {"openssh": self.sshd.port, "pylibssh": self.port}
        self.roots = {"openssh": self.sshd.proc.pid, "pylibssh": self.ours.pid}
        self.users = {"openssh": self.sshd.user, "pylibssh": TEST_USER}
        self.groups: dict[int, CpuGroup] = {}
        for impl, root in self.roots.items():
            self.watch(root, impl)

    def watch(self, root: int, name: str) -> None:
        """Count the CPU of ``root``'s processes from now on (see :meth:`cpu`)."""
        group = CpuGroup.create(f"pylibssh-bench-{name}")
        if group is None:
            print(f"  (no cgroup for {name}: its CPU is /proc's count, which misses the "
                  "processes nobody waited for)")
            return
        group.add_tree(root)
        self.groups[root] = group

    def cpu(self, root: int) -> float:
        """CPU seconds of the server whose first process is ``root``, all its processes."""
        group = self.groups.get(root)
        return group.cpu() if group is not None else tree_cpu(root)

    def ssh_client(self, impl: str) -> OpenSSHClient:
        return OpenSSHClient(self.work / f"client-{impl}", self.ports[impl], identity=self.key)

    def close(self) -> None:
        self.ours.send_signal(signal.SIGTERM)
        try:
            self.ours.wait(60)
        except subprocess.TimeoutExpired:
            self.ours.kill()
            self.ours.wait()
        self.sshd.cleanup()
        time.sleep(0.5)  # the last processes end
        for group in self.groups.values():
            group.remove()


# -- 1. exec output -------------------------------------------------------------------------------

def exec_section(servers: Servers, repeat: int) -> list[Result]:
    results = []
    clients = {impl: servers.ssh_client(impl) for impl in servers.ports}
    for client in clients.values():  # both produce the bytes asked for
        out = subprocess.run(client.ssh_args(COMMAND), capture_output=True, timeout=300,
                             stdin=subprocess.DEVNULL, env=client.env())
        if out.returncode != 0 or len(out.stdout) != SIZE:
            raise RuntimeError(f"expected {SIZE} bytes, got {len(out.stdout)}: {out.stderr!r}")
    # the client's first choice (chacha20-poly1305; sshd uses OpenSSH's own Poly1305, libssh
    # OpenSSL's), then AES-GCM, where both use OpenSSL
    for name, options in (("exec output 256 MiB (ssh, default cipher)", ()),
                          ("exec output 256 MiB (ssh, aes128-gcm)",
                           ("-c", "aes128-gcm@openssh.com"))):
        for impl, client in clients.items():
            def run(client=client, options=options) -> None:
                result = subprocess.run(client.ssh_args(*options, COMMAND),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, timeout=300, env=client.env())
                if result.returncode != 0:
                    raise RuntimeError(f"exec failed: {result.stderr!r}")
            before = servers.cpu(servers.roots[impl])
            r = throughput(name, impl, SIZE, run, repeat)
            r.cpu = (servers.cpu(servers.roots[impl]) - before) / repeat
            results.append(r)
    return results


# -- 2. connections -------------------------------------------------------------------------------

def pylibssh_load(port: int, user: str, key: Path, total: int) -> None:
    """``total`` connections (connect, auth, exec true, close), IN_FLIGHT at a time, from one
    loop in this process."""
    loop = pylibssh.Loop()
    state = {"started": 0, "done": 0}
    errors: list[BaseException] = []

    def launch() -> None:
        state["started"] += 1
        future = pylibssh.connect_async(
            "127.0.0.1", port, user, loop=loop, keys=[str(key)], known_hosts=None,
            host_key_policy="ignore", config=None, agent=False, look_for_keys=False, kex=KEX,
            host_key_algorithms="ssh-ed25519", timeout=120)
        future.add_done_callback(connected)

    def connected(future) -> None:  # on the loop thread
        if future.exception() is not None:
            errors.append(future.exception())
            finished()
            return
        client = future.result()
        client.run_async("true", timeout=120).add_done_callback(
            lambda ran: ended(client, ran))

    def ended(client, ran) -> None:
        if ran.exception() is not None or ran.result().exit_status != 0:
            errors.append(ran.exception() or RuntimeError(f"true: {ran.result()!r}"))
        client.close()
        finished()

    def finished() -> None:
        state["done"] += 1
        if state["started"] < total:
            launch()

    for _ in range(min(IN_FLIGHT, total)):
        launch()
    try:
        if not loop.run_until(lambda: state["done"] == total, 600):
            raise RuntimeError(f"{state['done']} of {total} connections in 600 s")
        loop.run_until(lambda: not loop._fds, 5)  # the lingering closes
    finally:
        loop.close()
    if errors:
        raise RuntimeError(f"{len(errors)} of {total} connections failed: {errors[0]!r}")


def ssh_load(client: OpenSSHClient, total: int) -> None:
    """``total`` connections from OpenSSH's ssh, IN_FLIGHT processes at a time."""
    def one(_: int) -> None:
        result = subprocess.run(client.ssh_args(*KEX_OPTS, "true"), capture_output=True,
                                timeout=120, stdin=subprocess.DEVNULL, env=client.env())
        if result.returncode != 0:
            raise RuntimeError(f"ssh failed: {result.stderr!r}")

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        list(pool.map(one, range(total)))


def connections_section(servers: Servers, repeat: int, quick: bool) -> list[Result]:
    results = []
    cores = os.cpu_count() or 1
    for load, total in (("pylibssh client", 300 if quick else 1000),
                        ("ssh", 200 if quick else 500)):
        name = f"connections/s, {IN_FLIGHT} at once ({load} as load)"
        for impl, port in servers.ports.items():
            def run(impl=impl, port=port, n=total, load=load) -> None:
                if load == "ssh":
                    ssh_load(servers.ssh_client(impl), n)
                else:
                    pylibssh_load(port, servers.users[impl], servers.key, n)
            run(n=IN_FLIGHT)  # warm up
            walls, cpus = [], []
            for _ in range(repeat):
                root = servers.roots[impl]
                before = servers.cpu(root)
                start = time.perf_counter()
                run()
                walls.append(time.perf_counter() - start)
                time.sleep(0.5)  # the last processes end
                cpus.append(servers.cpu(root) - before)
            best = min(walls)
            cpu_ms = min(cpus) / total * 1000
            results.append(Result(name, impl, best, "conn/s", total / best, cpu_ms, walls))
            results.append(Result(f"{name}, per core ({cores})", impl, best, "conn/s",
                                  total / best / cores, None, []))
            results.append(Result(f"server CPU per connection ({load} as load)", impl,
                                  best, "conn/CPUs", 1000 / cpu_ms, cpu_ms, []))
    return results


# -- 3. sftp ---------------------------------------------------------------------------------------

def start_serve(root: Path, state: Path, authorized: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylibssh", "serve", "--root", str(root), "--port", "0",
         "--state-dir", str(state), "--authorized-keys", str(authorized), "--no-password",
         "--max-startups", "1000"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for _ in range(20):
        match = re.search(r" port (\d+)$", proc.stdout.readline().strip())
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError("pylibssh serve did not start")


def sftp_section(servers: Servers, repeat: int, quick: bool) -> list[Result]:
    size = 64 * MiB if quick else SIZE
    work = servers.work / "sftp"
    work.mkdir(mode=0o777)
    os.chmod(work, 0o777)  # the sshd user reads and writes there
    local = servers.work / "sftp-local"
    local.mkdir()
    big = local / "big.bin"
    with open(big, "wb") as f:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            f.write(block)
    for i in range(SFTP_CLIENTS):
        os.link(big, work / f"big{i}.bin")
    os.chmod(big, 0o644)
    serve, port = start_serve(work, servers.work / "serve-state", servers.pub)
    servers.watch(serve.pid, "serve")
    results = []
    try:
        clients = {"pylibssh": (OpenSSHClient(servers.work / "s1", port, identity=servers.key),
                                "", serve.pid),
                   "openssh": (servers.ssh_client("openssh"), str(work) + "/",
                               servers.sshd.proc.pid)}
        for direction in ("download", "upload"):
            name = f"sftp {direction}, {SFTP_CLIENTS} clients x {size // MiB} MiB at once"
            for impl, (client, prefix, root) in clients.items():
                def batch(i: int, direction=direction, prefix=prefix, impl=impl) -> str:
                    if direction == "download":
                        return f"get {prefix}big{i}.bin {local}/down{i}.bin\n"
                    return f"put {big} {prefix}up-{impl}-{i}.bin\n"

                def run(client=client, batch=batch) -> None:
                    def one(i: int) -> None:
                        result = client.sftp(batch(i), timeout=600)
                        if result.returncode != 0:
                            raise RuntimeError(f"sftp: {result.stderr.decode()[-300:]}")
                    with ThreadPoolExecutor(SFTP_CLIENTS) as pool:
                        list(pool.map(one, range(SFTP_CLIENTS)))
                before = servers.cpu(root)
                r = throughput(name, impl, size * SFTP_CLIENTS, run, repeat)
                r.cpu = (servers.cpu(root) - before) / repeat
                results.append(r)
                for n in range(SFTP_CLIENTS):
                    got = (local / f"down{n}.bin") if direction == "download" \
                        else (work / f"up-{impl}-{n}.bin")
                    if got.stat().st_size != size:
                        raise RuntimeError(f"{impl} {direction}: {got} is short")
                    got.unlink()
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(local, ignore_errors=True)
    return results


# -- 4. idle connections ---------------------------------------------------------------------------

def hold_connections(port: int, user: str, key: Path, total: int, loop: pylibssh.Loop
                     ) -> list:
    """``total`` logged-in connections from pylibssh's client on ``loop``, 200 in progress at
    a time; returns the clients, connected and idle."""
    clients: list = []
    errors: list[BaseException] = []
    state = {"started": 0, "done": 0}

    def launch() -> None:
        state["started"] += 1
        pylibssh.connect_async(
            "127.0.0.1", port, user, loop=loop, keys=[str(key)], known_hosts=None,
            host_key_policy="ignore", config=None, agent=False, look_for_keys=False, kex=KEX,
            host_key_algorithms="ssh-ed25519", timeout=300).add_done_callback(done)

    def done(future) -> None:
        state["done"] += 1
        if future.exception() is not None:
            errors.append(future.exception())
        else:
            clients.append(future.result())
        if state["started"] < total and not errors:
            launch()

    for _ in range(min(200, total)):
        launch()
    loop.run_until(lambda: state["done"] == state["started"] and
                   (state["done"] == total or errors), 1200)
    if errors or len(clients) != total:
        for client in clients:
            client.close()
        raise RuntimeError(f"{len(clients)} of {total} connections (open descriptors, ports "
                           f"and RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)} "
                           f"limit it); first error: {errors[:1]!r}")
    return clients


def idle_section(servers: Servers, counts: list[int], sshd_max: int) -> list[Result]:
    results = []
    for count in counts:
        name = f"memory per idle connection, {count:,} connections (KiB, PSS)"
        for impl, port in servers.ports.items():
            root = servers.roots[impl]
            if impl == "openssh" and count > sshd_max:
                print(f"  (sshd at {count:,} connections not measured: {2 * count:,} "
                      f"processes; --sshd-idle-max={sshd_max})")
                continue
            loop = pylibssh.Loop()
            warm = hold_connections(port, servers.users[impl], servers.key, 50, loop)
            for client in warm:
                client.close()
            loop.run_until(lambda loop=loop: not loop._fds, 10)
            time.sleep(1)
            _, pss0, rss0 = tree_memory(root)
            start = time.perf_counter()
            clients = hold_connections(port, servers.users[impl], servers.key, count, loop)
            wall = time.perf_counter() - start
            loop.run_until(lambda: False, 2.0)  # the last replies, then nothing moves
            procs, pss1, rss1 = tree_memory(root)
            per = (pss1 - pss0) / count
            results.append(Result(name, impl, wall, "KiB", per, None, []))
            print(f"  {impl:<9} {count:>6,} idle: {procs} processes, PSS {pss0 / 1024:.0f} -> "
                  f"{pss1 / 1024:.0f} MiB ({per:.1f} KiB each), RSS {rss0 / 1024:.0f} -> "
                  f"{rss1 / 1024:.0f} MiB ({(rss1 - rss0) / count:.1f} KiB each); opened in "
                  f"{wall:.1f} s", flush=True)
            for client in clients:
                client.close()
            loop.run_until(lambda loop=loop: not loop._fds, 30)
            loop.close()
    return results


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer connections and bytes")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections, comma-separated ({', '.join(SECTIONS)})")
    parser.add_argument("--idle", default="1000,10000", help="idle connection counts")
    parser.add_argument("--sshd-idle-max", type=int, default=1000,
                        help="measure sshd's idle connections up to this many")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="pylibssh's worker processes (default: one per CPU)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    use_json_option(args)
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}")
    repeat = 2 if args.quick else 3
    # every connection costs a descriptor here too (the idle section holds them all)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    print(f"{os.cpu_count()} CPUs, pylibssh with {args.workers} worker(s); load average "
          f"{os.getloadavg()}; RLIMIT_NOFILE {hard}; ports "
          f"{Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-"))
    os.chmod(work, 0o755)
    servers = None
    results: list[Result] = []
    try:
        servers = Servers(work, args.workers)
        for section in sections:
            print(f"-- {section} (load average {os.getloadavg()})", flush=True)
            if section == "exec":
                results += exec_section(servers, repeat)
            elif section == "connections":
                results += connections_section(servers, repeat, args.quick)
            elif section == "sftp":
                results += sftp_section(servers, repeat, args.quick)
            else:
                counts = [int(n) for n in args.idle.split(",") if n]
                results += idle_section(servers, counts, args.sshd_idle_max)
    finally:
        if servers is not None:
            servers.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end {os.getloadavg()}")
    report("pylibssh server vs OpenSSH sshd", results, baseline="openssh", save_as="server")
    print("  (cpu: the server's process tree, CPU seconds per run for throughput, ms per "
          "connection for connections; for memory a ratio below 1 is less than sshd's)")


if __name__ == "__main__":
    main(sys.argv[1:])
