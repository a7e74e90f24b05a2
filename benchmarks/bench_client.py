"""The client against OpenSSH's ``ssh``/``sftp``, paramiko and asyncssh: same sshd, same run.

Every client talks to one private OpenSSH sshd on loopback (its sftp server is internal-sftp),
logs in with the same Ed25519 key, and does:

1. SFTP download and upload of one 512 MiB file (random bytes, to/from a local file);
2. 500 files of 16 KiB uploaded, then downloaded (one SFTP session; OpenSSH, paramiko, asyncssh
   and ``pylibssh-1by1`` one file at a time, ``pylibssh`` with put_many/get_many);
3. an exec stream of 512 MiB (``head -c 512M /dev/zero``, output read and dropped);
4. connect + authenticate + ``true`` + close, one after another; then the same with the files
   a long-time user has: a ``known_hosts`` of 1,000 hashed lines (as ``HashKnownHosts``
   writes them) and an ssh_config of 250 ``Host`` blocks, both read for each connection
   (paramiko: ``load_host_keys`` and ``SSHConfig.lookup``, as code built on it does);
5. 32 hosts (32 connections to the sshd) each running a command, from one thread (pylibssh:
   one loop, each host's command started when it is connected; asyncssh: one event loop;
   paramiko: 32 threads; OpenSSH: 32 ``ssh`` processes);
6. client CPU seconds per GB for the throughput workloads (this process's CPU, plus the
   finished ``ssh``/``sftp`` processes').

Twice: forced to aes128-gcm@openssh.com + curve25519-sha256, and with each client's defaults.

    ./dev bench client [--quick] [--only NAME,...] [--config gcm|default|both]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import (
    CORES,
    ROOT,
    MiB,
    Result,
    Timer,
    add_json_option,
    proc_cpu_seconds,
    report,
    shared_floor,
    turns,
    use_json_option,
)

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import OpenSSHServer, keygen  # noqa: E402

from benchmarks.procs import CpuGroup  # noqa: E402

import pylibssh  # noqa: E402

CIPHER = "aes128-gcm@openssh.com"
KEX = "curve25519-sha256"
HOSTS = 32
NFILES = 500
FILE_SIZE = 16 * 1024



class Env:
    def __init__(self, work: Path, quick: bool):
        self.work = work
        self.size = (128 if quick else 512) * MiB
        self.key = keygen(work / "id_ed25519", "ed25519")
        self.sshd = OpenSSHServer(work / "sshd", {"LogLevel": "ERROR", "MaxStartups": "200"})
        self.sshd.authorize(Path(str(self.key) + ".pub").read_text())
        self.sshd.start()
        # sshd's CPU, all its processes included (a cgroup where one can be made; else the
        # processes sshd has reaped: the sessions' own children may be missing there)
        self.sshd_group = CpuGroup.create("pylibssh-bench-sshd")
        if self.sshd_group is not None:
            self.sshd_group.add_tree(self.sshd.proc.pid)
        self.known_hosts = work / "known_hosts"
        self.known_hosts.write_text("\n".join(self.sshd.known_hosts_lines()) + "\n")
        self.port = self.sshd.port
        self.user = self.sshd.user
        self.local_big = work / "big.local"
        self.local_dl = work / "big.download"
        self.small_dir = work / "small"
        self.small_dir.mkdir()
        for i in range(NFILES):
            (self.small_dir / f"f{i:03d}").write_bytes(os.urandom(FILE_SIZE))
        self.small_back = work / "small.back"
        # a directory of its own: the test user's home is shared with every other test run
        self.remote_dir = f"bench-client-{os.getpid()}"
        with self.pylibssh(True) as c:
            c.run(f"mkdir -p {self.remote_dir}/up && cd {self.remote_dir} && "
                  f"head -c {self.size} /dev/urandom > big.remote", check=True, timeout=300)
            c.sftp().get(f"{self.remote_dir}/big.remote", self.local_big)

    def clear_uploads(self) -> None:
        """An empty upload directory, so that every small-files run creates its files (the
        first run would create them and the later ones truncate: on this machine's disk a
        truncation costs a millisecond more per file)."""
        self._remote(f"rm -rf {self.remote_dir}/up && mkdir {self.remote_dir}/up")

    def remove_download(self) -> None:
        """No local copy from the last download: each run writes a new file rather than
        truncating the last one (512 MiB of page cache, 0.02-0.04 s of the client's time)."""
        self.local_dl.unlink(missing_ok=True)

    def remove_upload(self) -> None:
        """No remote copy from the last upload (the same, on sshd's side)."""
        self._remote(f"rm -f {self.remote_dir}/big.up")

    def _remote(self, command: str) -> None:
        """Run ``command`` on sshd's side (untimed preparation)."""
        with self.pylibssh(False) as c:
            c.run(command, check=True, timeout=120)

    def home_files(self) -> tuple[Path, Path]:
        """A known_hosts of 1,000 hashed lines (the server's among other hosts', hashed by
        ``ssh-keygen -H``) and an ssh_config of 250 Host blocks for other hosts: what a user's
        ``~/.ssh`` holds after years. Made on first use."""
        known_hosts, config = self.work / "home_known_hosts", self.work / "home_config"
        if not config.exists():
            # each host a key of its own (32 bytes of a seeded generator as its Ed25519 key)
            rng = random.Random(1)
            others = [f"host{i}.example.org,10.3.{i // 250}.{i % 250} ssh-ed25519 "
                      + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x20"
                                         + rng.randbytes(32)).decode()
                      for i in range(HOME_LINES)]
            half = HOME_LINES // 2
            lines = others[:half] + self.sshd.known_hosts_lines() + others[half:]
            known_hosts.write_text("\n".join(lines) + "\n")
            subprocess.run(["ssh-keygen", "-H", "-f", str(known_hosts)], check=True,
                           capture_output=True, timeout=120)
            config.write_text("".join(
                f"Host web{i} web{i}.example.org\n    HostName 10.4.{i // 250}.{i % 250}\n"
                f"    User deploy\n    Port 2222\n    IdentityFile ~/.ssh/id_web{i}\n"
                for i in range(HOME_BLOCKS)) + "Host *\n    ServerAliveInterval 60\n")
            # (older than the 2 s in which pylibssh reads a just-changed config again)
            when = time.time() - 60
            os.utime(config, (when, when))
        return known_hosts, config

    def close(self) -> None:
        try:
            with self.pylibssh(True) as c:
                c.run(f"rm -rf {self.remote_dir}", timeout=120)
        finally:
            self.sshd.cleanup()
            if self.sshd_group is not None:
                self.sshd_group.remove()

    def sshd_cpu(self) -> float:
        """CPU seconds sshd has used so far (its listener and the processes it started)."""
        if self.sshd_group is not None:
            return self.sshd_group.cpu()
        return proc_cpu_seconds(self.sshd.proc.pid, reaped_children=True)

    # -- clients --------------------------------------------------------------------------------

    def pylibssh(self, forced: bool, loop=None, known_hosts: Path | None = None,
                 config: Path | None = None) -> pylibssh.Client:
        extra = dict(ciphers=CIPHER, kex=KEX) if forced else {}
        return pylibssh.connect("127.0.0.1", self.port, self.user, keys=[str(self.key)],
                                known_hosts=str(known_hosts or self.known_hosts),
                                config=str(config) if config else None, agent=False,
                                look_for_keys=False, loop=loop, timeout=60, **extra)

    def ssh_opts(self, forced: bool, port_flag: str = "-p", known_hosts: Path | None = None,
                 config: Path | None = None) -> list[str]:
        opts = [port_flag, str(self.port), "-i", str(self.key), "-F", str(config or "/dev/null"),
                "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"]
        if forced:
            opts += ["-c", CIPHER, "-o", f"KexAlgorithms={KEX}"]
        return opts

    def ssh(self, forced: bool, command: str, known_hosts: Path | None = None,
            config: Path | None = None, **kw) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        opts = self.ssh_opts(forced, known_hosts=known_hosts, config=config)
        return subprocess.run(["ssh", *opts, f"{self.user}@127.0.0.1", command], check=True,
                              env=env, stdin=subprocess.DEVNULL, **kw)

    def sftp_batch(self, forced: bool, batch: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        subprocess.run(["sftp", *self.ssh_opts(forced, "-P"), "-b", "-",
                        f"{self.user}@127.0.0.1"], input=batch.encode(), check=True, env=env,
                       stdout=subprocess.DEVNULL)

    def paramiko(self, forced: bool, known_hosts: Path | None = None):
        import paramiko
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts or self.known_hosts))
        kwargs = {}
        if forced:
            kwargs["disabled_algorithms"] = {
                "ciphers": [c for c in paramiko.Transport._preferred_ciphers if c != CIPHER],
                "kex": [k for k in paramiko.Transport._preferred_kex
                        if k not in ("curve25519-sha256@libssh.org", "curve25519-sha256")],
            }
        client.connect("127.0.0.1", self.port, self.user, key_filename=str(self.key),
                       look_for_keys=False, allow_agent=False, **kwargs)
        return client

    def asyncssh_opts(self, forced: bool, known_hosts: Path | None = None,
                      config: Path | None = None) -> dict:
        opts = dict(username=self.user, client_keys=[str(self.key)],
                    known_hosts=str(known_hosts or self.known_hosts), agent_path=None,
                    config=[str(config)] if config else None)
        if forced:
            opts.update(encryption_algs=[CIPHER], kex_algs=[KEX])
        return opts


# -- workloads ------------------------------------------------------------------------------------

@contextlib.contextmanager
def paramiko_sftp(env: Env, forced: bool):
    c = env.paramiko(forced)
    try:
        yield c.open_sftp()
    finally:
        c.close()


def asyncssh_sftp(env: Env, forced: bool, body) -> None:
    """Run ``await body(sftp_client)`` on an asyncssh connection."""
    import asyncssh

    async def run():
        async with asyncssh.connect("127.0.0.1", env.port, **env.asyncssh_opts(forced)) as c:
            async with c.start_sftp_client() as s:
                await body(s)
    asyncio.run(run())


def sftp_transfer(env: Env, impl: str, forced: bool, get: bool) -> None:
    """One 512 MiB file down (``get``) or up, with each client's own whole-file call."""
    local, remote = (env.local_dl, "big.remote") if get else (env.local_big, "big.up")
    remote = f"{env.remote_dir}/{remote}"
    if impl == "openssh":
        env.sftp_batch(forced, f"get {remote} {local}\n" if get else f"put {local} {remote}\n")
    elif impl == "pylibssh":
        with env.pylibssh(forced) as c, c.sftp() as s:
            s.get(remote, local) if get else s.put(local, remote)
    elif impl == "paramiko":
        with paramiko_sftp(env, forced) as s:
            s.get(remote, str(local)) if get else s.put(str(local), remote)
    else:
        async def run(s):
            await (s.get(remote, str(local)) if get else s.put(str(local), remote))
        asyncssh_sftp(env, forced, run)
    if get and local.stat().st_size != env.size:
        raise RuntimeError(f"{impl}: downloaded {local.stat().st_size} bytes")


def sftp_download(env: Env, impl: str, forced: bool) -> None:
    sftp_transfer(env, impl, forced, get=True)


def sftp_upload(env: Env, impl: str, forced: bool) -> None:
    sftp_transfer(env, impl, forced, get=False)


def small_files(env: Env, impl: str, forced: bool) -> None:
    names = sorted(os.listdir(env.small_dir))
    up = f"{env.remote_dir}/up"
    back = env.small_back
    shutil.rmtree(back, ignore_errors=True)
    back.mkdir()
    if impl == "openssh":
        batch = "".join(f"put {env.small_dir / n} {up}/{n}\n" for n in names)
        batch += "".join(f"get {up}/{n} {back / n}\n" for n in names)
        env.sftp_batch(forced, batch)
    elif impl == "pylibssh":
        # the batch API: many files open at once (libssh's sftp_open/close wait for replies)
        with env.pylibssh(forced) as c, c.sftp() as s:
            s.put_many([(env.small_dir / n, f"{up}/{n}") for n in names])
            s.get_many([(f"{up}/{n}", back / n) for n in names])
    elif impl == "pylibssh-1by1":
        with env.pylibssh(forced) as c, c.sftp() as s:
            for n in names:
                s.put(env.small_dir / n, f"{up}/{n}")
            for n in names:
                s.get(f"{up}/{n}", back / n)
    elif impl == "paramiko":
        with paramiko_sftp(env, forced) as s:
            for n in names:
                s.put(str(env.small_dir / n), f"{up}/{n}")
            for n in names:
                s.get(f"{up}/{n}", str(back / n))
    else:
        async def run(s):
            for n in names:
                await s.put(str(env.small_dir / n), f"{up}/{n}")
            for n in names:
                await s.get(f"{up}/{n}", str(back / n))
        asyncssh_sftp(env, forced, run)
    if len(os.listdir(back)) != NFILES:
        raise RuntimeError(f"{impl}: {len(os.listdir(back))} files came back")


def exec_stream(env: Env, impl: str, forced: bool) -> None:
    command = f"head -c {env.size} /dev/zero"
    total = 0
    if impl == "openssh":
        env.ssh(forced, command, stdout=subprocess.DEVNULL)
        return
    if impl == "pylibssh":
        with env.pylibssh(forced) as c:
            p = c.exec(command)
            while True:
                chunk = p.read()
                if not chunk:
                    break
                total += len(chunk)
            p.wait()
    elif impl == "paramiko":
        c = env.paramiko(forced)
        try:
            # paramiko starts a key re-exchange after 2**29 bytes, at this stream's very end;
            # the channel's CLOSE then arrives mid-exchange and its transport thread waits on
            # itself for 30 s and fails (paramiko issue 822). Moving its threshold lets it
            # finish, and only spares paramiko work.
            packetizer = getattr(c.get_transport(), "packetizer", None)
            if packetizer is not None:
                packetizer.REKEY_BYTES = packetizer.REKEY_PACKETS = 1 << 40
            _, stdout, _ = c.exec_command(command)
            ch = stdout.channel
            while True:
                chunk = ch.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        finally:
            c.close()
    else:
        import asyncssh

        async def run():
            n = 0
            async with asyncssh.connect("127.0.0.1", env.port, **env.asyncssh_opts(forced)) as c:
                proc = await c.create_process(command, encoding=None)
                while True:
                    chunk = await proc.stdout.read(1 << 20)
                    if not chunk:
                        break
                    n += len(chunk)
                await proc.wait()
            return n
        total = asyncio.run(run())
    if total != env.size:
        raise RuntimeError(f"{impl}: read {total} bytes")


CONNECTS = 20
#: the user's files of connect-home: known_hosts lines of other hosts, ssh_config Host blocks
HOME_LINES = 1000
HOME_BLOCKS = 250


def connect_true(env: Env, impl: str, forced: bool,
                 home: tuple[Path, Path] | None = None) -> None:
    """Connect, log in, run ``true`` and close, CONNECTS times. ``home``: a known_hosts and an
    ssh_config (:meth:`Env.home_files`) each client reads for each connection, instead of the
    one-line known_hosts and no ssh_config."""
    known_hosts, config = home or (env.known_hosts, None)
    if impl == "openssh":
        for _ in range(CONNECTS):
            env.ssh(forced, "true", known_hosts=known_hosts, config=config)
    elif impl == "pylibssh":
        for _ in range(CONNECTS):
            with env.pylibssh(forced, known_hosts=known_hosts, config=config) as c:
                c.run("true", check=True)
    elif impl == "paramiko":
        import paramiko
        for _ in range(CONNECTS):
            if config is not None:
                paramiko.SSHConfig.from_path(str(config)).lookup("127.0.0.1")
            c = env.paramiko(forced, known_hosts=known_hosts)
            try:
                _, out, _ = c.exec_command("true")
                out.channel.recv_exit_status()
            finally:
                c.close()
    else:
        import asyncssh

        async def run():
            opts = env.asyncssh_opts(forced, known_hosts=known_hosts, config=config)
            for _ in range(CONNECTS):
                async with asyncssh.connect("127.0.0.1", env.port, **opts) as c:
                    await c.run("true", check=True)
        asyncio.run(run())


def connect_home(env: Env, impl: str, forced: bool) -> None:
    """connect_true with the user's files of :meth:`Env.home_files`."""
    connect_true(env, impl, forced, env.home_files())


def many_hosts(env: Env, impl: str, forced: bool) -> None:
    command = "echo $$"
    if impl == "openssh":
        env_vars = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        procs = [subprocess.Popen(["ssh", *env.ssh_opts(forced), f"{env.user}@127.0.0.1",
                                   command], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                  env=env_vars) for _ in range(HOSTS)]
        outs = [p.communicate()[0] for p in procs]
    elif impl == "pylibssh":
        loop = pylibssh.Loop()
        extra = dict(ciphers=CIPHER, kex=KEX) if forced else {}
        futures = [pylibssh.connect_async("127.0.0.1", env.port, env.user, loop=loop,
                                          keys=[str(env.key)], known_hosts=str(env.known_hosts),
                                          config=None, agent=False, look_for_keys=False,
                                          **extra) for _ in range(HOSTS)]
        runs = []  # each host runs its command as soon as it is connected (like asyncssh's)

        def start(connected):  # on the loop thread
            runs.append(connected.result().run_async(command) if not connected.exception()
                        else connected)
        for f in futures:
            f.add_done_callback(start)
        loop.run_until(lambda: len(runs) == HOSTS and all(r.done() for r in runs), 120)
        outs = [f.result().stdout for f in runs]
        for f in futures:
            f.result().close()
        loop.run_until(lambda: not loop._fds, 5)
        loop.close()
    elif impl == "paramiko":
        outs = [None] * HOSTS

        def one(i):
            c = env.paramiko(forced)
            try:
                _, out, _ = c.exec_command(command)
                outs[i] = out.read()
            finally:
                c.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(HOSTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        import asyncssh

        async def one():
            async with asyncssh.connect("127.0.0.1", env.port, **env.asyncssh_opts(forced)) as c:
                return (await c.run(command, check=True)).stdout

        async def run():
            return await asyncio.gather(*(one() for _ in range(HOSTS)))
        outs = asyncio.run(run())
    if len([o for o in outs if o and o.strip()]) != HOSTS:
        raise RuntimeError(f"{impl}: {outs!r}")


WORKLOADS = {
    "sftp-download": (sftp_download, "size"),
    "sftp-upload": (sftp_upload, "size"),
    "small-files": (small_files, "files"),
    "exec-stream": (exec_stream, "size"),
    "connect": (connect_true, "connects"),
    "connect-home": (connect_home, "connects"),
    "32-hosts": (many_hosts, "hosts"),
}
IMPLS = ["openssh", "pylibssh", "asyncssh", "paramiko"]
# run before each timed run of a workload
PREPARE = {"small-files": Env.clear_uploads, "sftp-download": Env.remove_download,
           "sftp-upload": Env.remove_upload}


def parse_args(argv: list[str], doc: str, workloads: list[str], impls: list[str],
               config: str) -> argparse.Namespace:
    """The options bench_client and bench_compat share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB transfers, one run each")
    parser.add_argument("--only", default="", help="comma-separated workloads: "
                        + ",".join(workloads))
    parser.add_argument("--impls", default=",".join(impls))
    parser.add_argument("--config", default=config, choices=["gcm", "default", "both"])
    parser.add_argument("--repeat", type=int, default=0)
    add_json_option(parser)
    args = parser.parse_args(argv)
    use_json_option(args)
    args.repeat = args.repeat or (1 if args.quick else 2)
    args.only = [w for w in args.only.split(",") if w] or workloads
    args.impls = [i for i in args.impls.split(",") if i]
    args.configs = {"gcm": [True], "default": [False], "both": [True, False]}[args.config]
    return args


@contextlib.contextmanager
def bench_env(prefix: str, quick: bool):
    """The sshd, key and files of one benchmark run (removed afterwards)."""
    print(f"load: {os.getloadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    env = Env(work, quick)
    try:
        yield env
    finally:
        env.close()
        shutil.rmtree(work, ignore_errors=True)


def hosts_of(workload: str) -> int:
    """The connections a fan-out workload makes: its name's number (``32-hosts``)."""
    return int(workload.split("-", 1)[0])


def measure_workloads(env: Env, forced: bool, args: argparse.Namespace, impls_for, call
                      ) -> list[Result]:
    """Each workload of ``args.only`` by each of ``impls_for(name)``, run by
    ``call(fn, env, impl, forced)``; a peer that cannot do one is reported, not hidden.

    The implementations take turns (``args.repeat`` rounds, each starting one further on), so
    that a slow phase of a shared machine, or what one run leaves behind, falls on all of them.
    Reported: the best wall time and the median CPU time of the runs (CPU per run swings by a
    fifth here; the median much less)."""
    results: list[Result] = []
    for name in args.only:
        fn, kind = WORKLOADS[name]
        impls = list(impls_for(name))
        walls: dict[str, list[float]] = {impl: [] for impl in impls}
        cpus: dict[str, list[float]] = {impl: [] for impl in impls}
        server: dict[str, float] = dict.fromkeys(impls, 0.0)
        failed: set[str] = set()
        for impl in turns(impls, args.repeat):
            if impl in failed:
                continue
            if name in PREPARE:
                PREPARE[name](env)  # not timed
            server_before = env.sshd_cpu()
            try:
                with Timer() as t:
                    call(fn, env, impl, forced)
            except Exception as exc:
                print(f"  {name} {impl}: FAILED {exc!r}", flush=True)
                failed.add(impl)
                continue
            walls[impl].append(t.wall)
            cpus[impl].append(t.cpu)
            if kind in ("connects", "hosts", "size"):
                # sshd's side (its per-connection processes and theirs: the command, the
                # sftp-server; once reaped): on this machine's cores it bounds how fast
                # any client can be
                time.sleep(0.5)
                server[impl] += env.sshd_cpu() - server_before
        for impl in impls:
            if impl in failed:
                continue
            wall, cpu = min(walls[impl]), statistics.median(cpus[impl])
            extra = ""
            if kind in ("connects", "hosts"):
                extra = f" sshd cpu {server[impl] / args.repeat:.2f} s per run"
            if kind == "size":
                value, unit = env.size / MiB / wall, "MiB/s"
                extra = (f" cpu {cpu / (env.size / 1e9):5.2f} s/GB, sshd's side "
                         f"{server[impl] / args.repeat / (env.size / 1e9):5.2f} s/GB")
            elif kind == "files":
                value, unit = 2 * NFILES / wall, "files/s"
            elif kind == "connects":
                value, unit = CONNECTS / wall, "conn/s"
            else:
                value, unit = hosts_of(name) / wall, "hosts/s"
            print(f"  {name:<14} {impl:<9} {value:9.1f} {unit}{extra} "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls[impl])} s)", flush=True)
            results.append(Result(name, impl, wall, unit, value, cpu, walls[impl]))
        if kind in ("connects", "hosts") and walls.get("openssh") and len(server) > 1:
            # sshd's work must run on this machine's cores whatever the client, so no client
            # can finish in less than sshd's CPU / cores: the ratio any client could reach
            least = min(v for k, v in server.items() if k != "openssh" and k not in failed)
            bound = min(walls["openssh"]) / shared_floor(least / args.repeat, 0.0)
            print(f"  {name}: no client can pass {bound:.2f}x OpenSSH here (sshd alone uses "
                  f"{least / args.repeat:.2f} CPU-s per run, on {CORES} cores)", flush=True)
        if kind == "size" and len(walls) > 1 and all(walls[i] for i in impls if i not in failed):
            # no client finishes before sshd's side and its own CPU have run on the cores;
            # with the leanest client's CPU
            per_run = {i: server[i] / args.repeat for i in impls if i not in failed}
            least_cpu = min(statistics.median(cpus[i]) for i in per_run)
            floor = shared_floor(min(per_run.values()), least_cpu)
            print(f"  {name}: the machine's bound is {env.size / MiB / floor:.0f} MiB/s (sshd's "
                  f"side {min(per_run.values()):.2f} CPU-s + the leanest client's "
                  f"{least_cpu:.2f} CPU-s per run, on {CORES} cores)", flush=True)
    return results


def main(argv: list[str]) -> None:
    args = parse_args(argv, __doc__, list(WORKLOADS), IMPLS, "both")
    with bench_env("pylibssh-bench-client-", args.quick) as env:
        for forced in args.configs:
            label = f"{CIPHER} + {KEX}" if forced else "defaults"
            results = measure_workloads(
                env, forced, args,
                lambda name: args.impls + (["pylibssh-1by1"] if name == "small-files" else []),
                lambda fn, env, impl, forced: fn(env, impl, forced))
            report(f"client, {label}", results, "openssh",
                   save_as=f"client-{'gcm' if forced else 'default'}")


if __name__ == "__main__":
    main(sys.argv[1:])
