"""fsspec over SFTP: pylibssh's ``libssh`` file system against ``sshfs`` (asyncssh) and
fsspec's own ``sftp`` (paramiko), same sshd, same run.

Workloads, each the wall time of one call through the fsspec API, best of ``--repeat``, the
three file systems taking turns run by run, each round starting one further on (a slow
phase of the machine, or what one run leaves behind, falls on all):

1. ``get`` of one 512 MiB file;
2. ``get(..., recursive=True)`` of a directory of 500 files of 16 KiB (for ``sshfs``, whose
   ``get_file`` fails on the directory itself, ``get("dir/*", "target/")``: the same files);
3. ``cat_ranges`` of 1,000 random 4 KiB ranges of the 512 MiB file (for ``sshfs``, whose
   ``cat_file`` reads the whole file whatever the range, ``seek`` + ``read`` on one open
   file);
4. pyarrow reading every column of a 200 MiB Parquet file (``pq.read_table(path,
   filesystem=fs)``: pyarrow wraps the file system and reads through its ``open``).

Each file system has its connection made before the first run (connecting is not measured),
and the last run's downloads are removed before each run, unmeasured;
sshd serves with OpenSSH's sftp-server and its default cipher. Ratios are printed to ``sshfs``
and to ``sftp``, and for each workload the bound this machine sets: sshd's side of a run (its
session processes and their sftp-servers, which live as long as the file systems' connections)
and the leanest file system's own CPU must share the machine's cores.

    ./dev bench fsspec [--quick] [--repeat N] [--only NAME,...] [--json DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (CORES, ROOT, MiB, Result, add_json_option, best_of, report,
                               shared_floor, turns, use_json_option)
from benchmarks.procs import tree_cpu

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import OpenSSHServer, keygen  # noqa: E402

IMPLS = ["libssh", "sshfs", "sftp"]
WORKLOADS = ["get-big", "get-many", "cat-ranges", "parquet"]


def file_systems(sshd: OpenSSHServer, key: Path, known_hosts: Path) -> dict[str, Any]:
    """The three file systems on ``sshd``, each with a connection of its own."""
    from fsspec.implementations.sftp import SFTPFileSystem as ParamikoFS
    from sshfs import SSHFileSystem

    from pylibssh.fsspec import SFTPFileSystem

    return {
        "libssh": SFTPFileSystem("127.0.0.1", port=sshd.port, username=sshd.user,
                                 keys=[str(key)], known_hosts=str(known_hosts), config=None,
                                 agent=False, look_for_keys=False, skip_instance_cache=True),
        "sshfs": SSHFileSystem("127.0.0.1", port=sshd.port, username=sshd.user,
                               client_keys=[str(key)], known_hosts=str(known_hosts),
                               skip_instance_cache=True),
        "sftp": ParamikoFS("127.0.0.1", port=sshd.port, username=sshd.user,
                           key_filename=str(key), look_for_keys=False, allow_agent=False,
                           skip_instance_cache=True),
    }


def make_parquet(path: Path, size: int) -> None:
    """A Parquet file of about ``size`` bytes: random doubles (they do not compress) in eight
    columns and row groups of 1 Mi rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = size // (8 * 8)
    rng = np.random.default_rng(5)
    table = pa.table({f"c{i}": rng.random(rows) for i in range(8)})
    pq.write_table(table, path, row_group_size=1 << 20, compression="none")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="64 MiB, 100 files, 200 ranges, 32 MiB of Parquet, one run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated: " + ",".join(WORKLOADS))
    p.add_argument("--impls", default=",".join(IMPLS))
    add_json_option(p)
    args = p.parse_args(argv)
    use_json_option(args)
    only = [w for w in args.only.split(",") if w] or WORKLOADS
    impls = [i for i in args.impls.split(",") if i]
    size = (64 if args.quick else 512) * MiB
    nfiles = 100 if args.quick else 500
    nranges = 200 if args.quick else 1000
    parquet_size = (32 if args.quick else 200) * MiB
    repeat = 1 if args.quick else args.repeat
    print(f"load: {os.getloadavg()}", flush=True)

    import pyarrow.parquet as pq

    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-fsspec-"))
    key = keygen(work / "id_ed25519", "ed25519")
    sshd = OpenSSHServer(work / "sshd", {"LogLevel": "ERROR",
                                         "Subsystem": "sftp /usr/lib/openssh/sftp-server"})
    sshd.authorize(Path(str(key) + ".pub").read_text())
    sshd.start()
    known_hosts = work / "known_hosts"
    known_hosts.write_text("\n".join(sshd.known_hosts_lines()) + "\n")
    every: dict[str, Any] = {}
    fss: dict[str, Any] = {}
    remote = f"/home/{sshd.user}/bench-fsspec-{os.getpid()}"
    results: list[Result] = []
    try:
        every = file_systems(sshd, key, known_hosts)
        ours = every["libssh"]  # sets up and cleans up the server's files
        fss = {name: every[name] for name in impls}
        local = work / "local"
        (local / "small").mkdir(parents=True)
        with open(local / "big.bin", "wb") as f:
            block = os.urandom(MiB)
            for _ in range(size // MiB):
                f.write(block)
        for i in range(nfiles):
            (local / "small" / f"f{i:04d}").write_bytes(os.urandom(16 * 1024))
        make_parquet(local / "table.parquet", parquet_size)
        ours.put(str(local), remote, recursive=True)  # the remote copies every run reads
        table_bytes = os.path.getsize(local / "table.parquet")
        rng = random.Random(11)
        starts = [rng.randrange(size - 4096) for _ in range(nranges)]
        ends = [s + 4096 for s in starts]
        for fs in fss.values():
            fs.ls(remote)  # connected before the first run

        def clear_downloads() -> None:
            """Remove the last run's downloads, untimed: truncating a 512 MiB file just written
            or deleting 500 files costs the kernel 0.03-0.12 s, which would fall on the next
            file system's run."""
            (work / "big.down").unlink(missing_ok=True)
            shutil.rmtree(work / "small.down", ignore_errors=True)

        def get_big(fs: Any) -> None:
            fs.get(f"{remote}/big.bin", str(work / "big.down"))
            if os.path.getsize(work / "big.down") != size:
                raise RuntimeError("short download")

        def get_many(fs: Any) -> None:
            target = work / "small.down"
            if fs is every["sshfs"]:  # its get_file fails on the directory itself
                target.mkdir()
                fs.get(f"{remote}/small/*", f"{target}/")
            else:
                fs.get(f"{remote}/small", str(target), recursive=True)
            if len(os.listdir(target)) != nfiles:
                raise RuntimeError("missing files")

        def cat_ranges(fs: Any) -> None:
            if fs is every["sshfs"]:  # its cat_file reads the whole file, whatever the range
                with fs.open(f"{remote}/big.bin", "rb") as f:
                    got = []
                    for start, end in zip(starts, ends):
                        f.seek(start)
                        got.append(f.read(end - start))
            else:
                got = fs.cat_ranges([f"{remote}/big.bin"] * nranges, starts, ends)
            bad = [g for g in got if not isinstance(g, bytes) or len(g) != 4096]
            if bad:
                raise RuntimeError(f"{len(bad)} ranges wrong, the first: {bad[0]!r:.200}")

        def parquet(fs: Any) -> None:
            table = pq.read_table(f"{remote}/table.parquet", filesystem=fs)
            if table.num_columns != 8:
                raise RuntimeError("columns missing")

        table_mib = table_bytes / MiB
        plan: dict[str, tuple[str, Callable[[Any], None], float, str]] = {
            "get-big": (f"get {size // MiB} MiB", get_big, size / MiB, "MiB/s"),
            "get-many": (f"get recursive {nfiles} x 16 KiB", get_many, nfiles, "files/s"),
            "cat-ranges": (f"cat_ranges {nranges} x 4 KiB", cat_ranges, nranges, "ranges/s"),
            "parquet": (f"pyarrow read_table {table_mib:.0f} MiB Parquet", parquet, table_mib,
                        "MiB/s"),
        }
        for workload in only:
            name, fn, amount, unit = plan[workload]
            times: dict[str, list[float]] = {impl: [] for impl in fss}
            cpus: dict[str, list[float]] = {impl: [] for impl in fss}
            server: dict[str, list[float]] = {impl: [] for impl in fss}
            for impl in turns(list(fss), repeat):
                fs = fss[impl]
                clear_downloads()
                server_before = tree_cpu(sshd.proc.pid)
                wall, cpu, _ = best_of(1, lambda fs=fs, fn=fn: fn(fs))
                time.sleep(0.2)  # (untimed) what sshd's side still had to do is counted
                server[impl].append(tree_cpu(sshd.proc.pid) - server_before)
                times[impl].append(wall)
                cpus[impl].append(cpu or 0.0)
            for impl in fss:
                best = min(times[impl])
                results.append(Result(name, impl, best, unit, amount / best,
                                      statistics.median(cpus[impl]), times[impl]))
                print(f"  {name}: {impl} {amount / best:.1f} {unit}, cpu "
                      f"{statistics.median(cpus[impl]):.2f} s, sshd's side "
                      f"{statistics.median(server[impl]):.2f} s (medians)", flush=True)
            # no file system finishes a run before sshd's side and its own CPU have run on the
            # cores, with the leanest of each
            floor = shared_floor(min(statistics.median(v) for v in server.values()),
                                 min(statistics.median(v) for v in cpus.values()))
            if floor > 0:
                print(f"  {name}: the machine's bound is {amount / floor:.1f} {unit} "
                      f"({floor * CORES:.2f} CPU-s per run on {CORES} cores)", flush=True)
    finally:
        try:
            if every:
                every["libssh"].rm(remote, recursive=True)
        except OSError as exc:
            print(f"cleaning up {remote}: {exc}", file=sys.stderr)
        if every:
            every["libssh"].close()
            every["sftp"].client.close()
        sshd.stop()
        sshd.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load: {os.getloadavg()}")
    for base in ("sshfs", "sftp"):
        if base in fss:
            report(f"fsspec over SFTP: libssh vs sshfs vs sftp (vs {base})", results, base,
                   save_as=f"fsspec-vs-{base}")


if __name__ == "__main__":
    main()
