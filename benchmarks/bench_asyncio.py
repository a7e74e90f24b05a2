"""pylibssh.asyncio against asyncssh, OpenSSH's ``ssh``/``sftp`` and pylibssh's blocking client:
same sshd, same run (bench_client's environment and workloads).

``pylibssh.asyncio`` runs each workload as a coroutine on a fresh asyncio loop (``--uvloop``
adds a row on uvloop):

1. SFTP download and upload of one 512 MiB file (``sftp.get`` / ``sftp.put``);
2. 500 files of 16 KiB uploaded, then downloaded (``sftp.put(list, dir)`` / ``sftp.get(list,
   dir)``: the batch engine; asyncssh, one ``put``/``get`` per file, as in bench_client);
3. an exec stream of 512 MiB read with ``proc.stdout.read(1 MiB)``;
4. connect + authenticate + ``run("true")`` + close, 20 times;
5. 32 and 256 connections from one loop, each running a command as soon as it is connected
   (at most 128 connecting at once, for every client: sshd's MaxStartups is 200 here);
   client CPU per connection is printed, and the bound sshd's own CPU sets on this machine.

Twice: forced to aes128-gcm@openssh.com + curve25519-sha256, and with each client's defaults.
Ratios are printed to asyncssh, to the blocking client and to OpenSSH.

Then the servers (``--no-server`` skips them): examples/asyncio_server.py (pylibssh.asyncio,
LocalFilesystem) and asyncssh's server (``SFTPServer`` chrooted to the same directory), each in
its own process, serve one 256 MiB file down and up to asyncssh's client and to OpenSSH's
``sftp`` (aes128-gcm forced on the clients); the servers take turns, each round starting
with the next one; wall time (connection included) and the server process's CPU, best of
``--repeat``.

    ./dev bench asyncio [--quick] [--only=NAME,...[,server]] [--config=gcm|default|both]
                        [--repeat N] [--uvloop] [--no-server]
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import bench_client
from benchmarks.bench_client import (CIPHER, KEX, Env, bench_env, hosts_of, measure_workloads,
                                     parse_args)
from benchmarks.common import ROOT, MiB, Result, Timer, proc_cpu_seconds, report, turns
from openssh import OpenSSHClient, keygen  # noqa: E402  (bench_client put tests/ on the path)

import pylibssh.asyncio as pa  # noqa: E402

FANOUT = 256
CONCURRENT = 128  # connections being made at once (sshd's MaxStartups is 200 in Env)
IMPLS = ["openssh", "pylibssh", "pylibssh.asyncio", "asyncssh"]


def _opts(env: Env, forced: bool) -> dict:
    extra = dict(ciphers=CIPHER, kex=KEX) if forced else {}
    return dict(host="127.0.0.1", port=env.port, user=env.user, keys=[str(env.key)],
                known_hosts=str(env.known_hosts), config=None, agent=False,
                look_for_keys=False, timeout=120, **extra)


def _run(coro, uv: bool):
    if uv:
        import uvloop
        return uvloop.run(coro)
    return asyncio.run(coro)


# -- pylibssh.asyncio's side of each workload -------------------------------------------------

async def sftp_transfer(env: Env, forced: bool, get: bool) -> None:
    local, remote = (env.local_dl, "big.remote") if get else (env.local_big, "big.up")
    remote = f"{env.remote_dir}/{remote}"
    async with pa.connect(**_opts(env, forced)) as c, c.start_sftp_client() as s:
        await (s.get(remote, local) if get else s.put(local, remote))
    if get and local.stat().st_size != env.size:
        raise RuntimeError(f"downloaded {local.stat().st_size} bytes")


async def small_files(env: Env, forced: bool) -> None:
    names = sorted(os.listdir(env.small_dir))
    up = f"{env.remote_dir}/up"
    back = env.small_back
    shutil.rmtree(back, ignore_errors=True)
    back.mkdir()
    async with pa.connect(**_opts(env, forced)) as c, c.start_sftp_client() as s:
        await s.put([str(env.small_dir / n) for n in names], up)
        await s.get([f"{up}/{n}" for n in names], back)
    if len(os.listdir(back)) != bench_client.NFILES:
        raise RuntimeError(f"{len(os.listdir(back))} files came back")


async def exec_stream(env: Env, forced: bool) -> None:
    total = 0
    async with pa.connect(**_opts(env, forced)) as c:
        proc = await c.create_process(f"head -c {env.size} /dev/zero")
        while chunk := await proc.stdout.read(1 << 20):
            total += len(chunk)
        await proc.wait()
    if total != env.size:
        raise RuntimeError(f"read {total} bytes")


async def connect_true(env: Env, forced: bool) -> None:
    for _ in range(bench_client.CONNECTS):
        async with pa.connect(**_opts(env, forced)) as c:
            await c.run("true", check=True)


async def fan_out(env: Env, forced: bool, hosts: int) -> None:
    gate = asyncio.Semaphore(CONCURRENT)

    async def one() -> bytes:
        async with gate:
            conn = await pa.connect(**_opts(env, forced))
        async with conn:
            return (await conn.run("echo $$", check=True)).stdout
    outs = await asyncio.gather(*(one() for _ in range(hosts)))
    if len([o for o in outs if o.strip()]) != hosts:
        raise RuntimeError(f"{outs!r}")


def asyncssh_fan_out(env: Env, forced: bool, hosts: int) -> None:
    import asyncssh

    async def run():
        gate = asyncio.Semaphore(CONCURRENT)

        async def one():
            async with gate:
                conn = await asyncssh.connect("127.0.0.1", env.port,
                                              **env.asyncssh_opts(forced))
            async with conn:
                return (await conn.run("echo $$", check=True)).stdout
        outs = await asyncio.gather(*(one() for _ in range(hosts)))
        if len([o for o in outs if o.strip()]) != hosts:
            raise RuntimeError(f"{outs!r}")
    asyncio.run(run())


OURS = {
    "sftp-download": lambda env, forced: sftp_transfer(env, forced, True),
    "sftp-upload": lambda env, forced: sftp_transfer(env, forced, False),
    "small-files": small_files,
    "exec-stream": exec_stream,
    "connect": connect_true,
    "32-hosts": lambda env, forced: fan_out(env, forced, bench_client.HOSTS),
    "256-hosts": lambda env, forced: fan_out(env, forced, FANOUT),
}


def many_hosts_256(env: Env, impl: str, forced: bool) -> None:
    """bench_client's 32-hosts with 256 connections (the other clients' side)."""
    if impl == "asyncssh":
        return asyncssh_fan_out(env, forced, FANOUT)
    saved = bench_client.HOSTS
    bench_client.HOSTS = FANOUT
    try:
        bench_client.many_hosts(env, impl, forced)
    finally:
        bench_client.HOSTS = saved


def run(fn, env: Env, impl: str, forced: bool) -> None:
    """One workload run: pylibssh.asyncio's coroutine, or bench_client's workload."""
    if impl.startswith("pylibssh.asyncio"):
        name = next(n for n, (f, _k) in bench_client.WORKLOADS.items() if f is fn)
        return _run(OURS[name](env, forced), uv=impl.endswith("-uv"))
    return fn(env, impl, forced)


# -- the servers ------------------------------------------------------------------------------

ASYNCSSH_SERVER = """
import asyncio, sys, asyncssh
async def main():
    root, key, authorized = sys.argv[1:4]
    server = await asyncssh.create_server(
        asyncssh.SSHServer, "127.0.0.1", 0, server_host_keys=[key],
        authorized_client_keys=authorized,
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root))
    print("listening on port", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _start(args: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    match = re.search(r" port (\d+)$", line.strip())
    if not match:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{args[1]} did not start: {line!r}")
    return proc, int(match.group(1))


def server_benchmarks(args, work: Path) -> None:
    size = (64 if args.quick else 256) * MiB
    root = work / "served"
    root.mkdir()
    local = work / "local.bin"
    with open(local, "wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    shutil.copy(local, root / "big.bin")
    key = keygen(work / "id_ed25519", "ed25519")
    host_key = keygen(work / "host_ed25519", "ed25519")
    pub = str(key) + ".pub"
    servers = {
        "pylibssh.asyncio": _start([sys.executable, os.path.join(ROOT, "examples",
                                                                "asyncio_server.py"),
                                    "--port", "0", "--root", str(root), "--host-key",
                                    str(host_key), "--user", "bench:unused",
                                    "--authorized-keys", pub]),
        "asyncssh": _start([sys.executable, "-c", ASYNCSSH_SERVER, str(root), str(host_key),
                            pub]),
    }
    out = work / "down.bin"

    def asyncssh_client(port: int, get: bool) -> None:
        import asyncssh

        async def run():
            async with asyncssh.connect("127.0.0.1", port, username="bench",
                                        client_keys=[str(key)], known_hosts=None,
                                        agent_path=None, config=None,
                                        encryption_algs=[CIPHER]) as c:
                async with c.start_sftp_client() as s:
                    await (s.get("/big.bin", str(out)) if get else s.put(str(local), "/up.bin"))
        asyncio.run(run())

    def openssh_client(port: int, get: bool) -> None:
        client = OpenSSHClient(work / f"ssh-{port}", port, user="bench", identity=key)
        batch = f"get /big.bin {out}\n" if get else f"put {local} /up.bin\n"
        result = client.sftp(batch, timeout=600, extra=["-c", CIPHER])
        if result.returncode != 0:
            raise RuntimeError(f"sftp: {result.stderr.decode()[-300:]}")

    clients = {"asyncssh client": asyncssh_client, "OpenSSH sftp": openssh_client}
    try:
        for client_name, client in clients.items():
            results: list[Result] = []
            for get in (True, False):
                name = f"server sftp {'down' if get else 'up'}"
                walls: dict[str, list[float]] = {s: [] for s in servers}
                cpus: dict[str, list[float]] = {s: [] for s in servers}
                client_cpus: dict[str, list[float]] = {s: [] for s in servers}
                for server in turns(list(servers), args.repeat):
                    proc, port = servers[server]
                    before = proc_cpu_seconds(proc.pid)
                    with Timer() as t:
                        client(port, get)
                    walls[server].append(t.wall)
                    cpus[server].append(proc_cpu_seconds(proc.pid) - before)
                    client_cpus[server].append(t.cpu)
                    if get and out.stat().st_size != size:
                        raise RuntimeError(f"{server}: {out.stat().st_size} bytes")
                for server in servers:
                    best = min(walls[server])
                    cpu = cpus[server][walls[server].index(best)]
                    client_cpu = client_cpus[server][walls[server].index(best)]
                    print(f"  {name} {client_name:<16} {server:<17} {size / MiB / best:7.1f} "
                          f"MiB/s server cpu {cpu:.2f} s, client cpu {client_cpu:.2f} s",
                          flush=True)
                    results.append(Result(name, server, best, "MiB/s", size / MiB / best, cpu,
                                          walls[server]))
                # The client runs on the same two cores: its own CPU per run (least of the
                # runs) is a floor no server can take a wall time below.
                floor = min(min(c) for c in client_cpus.values())
                twice = 2 * size / MiB / min(walls["asyncssh"])
                print(f"  {name} {client_name}: 2x asyncssh's server is {twice:.0f} MiB/s; the "
                      f"client's own CPU ({floor:.2f} s) bounds any server at "
                      f"{size / MiB / floor:.0f} MiB/s", flush=True)
            report(f"asyncio servers, {client_name} as the client (server CPU)", results,
                   "asyncssh", save_as=f"asyncio-server-{client_name.split()[0].lower()}")
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def main(argv: list[str]) -> None:
    uv = "--uvloop" in argv
    with_server = "--no-server" not in argv
    argv = [a for a in argv if a not in ("--uvloop", "--no-server")]
    bench_client.WORKLOADS["256-hosts"] = (many_hosts_256, "hosts")
    workloads = list(OURS)
    args = parse_args(argv, __doc__, workloads, IMPLS + (["pylibssh.asyncio-uv"] if uv else []),
                      "both")

    def impls_for(name: str) -> list[str]:
        if name == "256-hosts":  # 256 ssh processes or threads would measure the machine
            return [i for i in args.impls if i not in ("openssh", "pylibssh")]
        return args.impls

    if "server" in args.only:  # (--only=...,server: the servers' section, after the others)
        args.only = [w for w in args.only if w != "server"]
        with_server = True
    server_only = not args.only
    fanout_cpu: dict[str, float] = {}
    if not server_only:
        with bench_env("pylibssh-bench-asyncio-", args.quick) as env:
            for forced in args.configs:
                label = f"{CIPHER} + {KEX}" if forced else "defaults"
                results = measure_workloads(env, forced, args, impls_for, run)
                for r in results:
                    if r.name.endswith("-hosts"):
                        fanout_cpu[f"{label} {r.name} {r.impl}"] = r.cpu / hosts_of(r.name)
                for base in ("asyncssh", "pylibssh", "openssh"):
                    report(f"asyncio, {label} (vs {base})", results, base,
                           save_as=f"asyncio-{'gcm' if forced else 'default'}-vs-{base}")
        print("client CPU per connection (fan-out):")
        for key, value in fanout_cpu.items():
            print(f"  {key:<60} {value * 1000:7.2f} ms")
    else:
        print(f"load: {os.getloadavg()}", flush=True)
    if with_server:
        work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-asyncio-server-"))
        try:
            server_benchmarks(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
