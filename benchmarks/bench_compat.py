"""paramiko code through ``pylibssh.compat.paramiko`` vs real paramiko vs pylibssh's native
client vs OpenSSH's ``ssh``/``sftp``: same sshd, same run.

The "compat" runs are bench_client's paramiko workloads unchanged, with
``pylibssh.compat.paramiko.install()`` in effect (so ``import paramiko`` is the layer):

1. ``SFTPClient.get`` / ``put`` of one 512 MiB file (``sftp-download`` / ``sftp-upload``);
2. ``exec_command("head -c 512M /dev/zero")`` with the output read by ``channel.recv``
   (``exec-stream``; paramiko may fail here with "Key-exchange timed out", its issue 822: a
   failure is printed, not hidden);
3. connect + authenticate + ``exec_command("true")`` + close, 20 times (``connect``).

Both with the clients' default algorithms and forced to AES-GCM (paramiko: aes128-ctr, it has no
GCM), as in bench_client.

    ./dev bench compat [--quick] [--only NAME,...] [--config gcm|default|both] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_client import CIPHER, KEX, WORKLOADS, Env, measure
from benchmarks.common import MiB, Result, report

COMPAT_WORKLOADS = ["sftp-download", "sftp-upload", "exec-stream", "connect"]
IMPLS = ["openssh", "pylibssh", "compat", "paramiko"]


def _paramiko_modules() -> dict:
    return {n: m for n, m in sys.modules.items() if n == "paramiko" or n.startswith("paramiko.")}


def run(fn, env: Env, impl: str, forced: bool) -> None:
    """One workload run; "compat" is the paramiko code with the layer installed."""
    if impl != "compat":
        return fn(env, impl, forced)
    from pylibssh.compat import paramiko as compat

    saved = _paramiko_modules()
    compat.install()
    try:
        import paramiko

        assert getattr(paramiko, "__pylibssh__", False)
        return fn(env, "paramiko", forced)
    finally:
        compat.uninstall()
        sys.modules.update(saved)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB transfers, one run each")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(COMPAT_WORKLOADS))
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--config", default="default", choices=["gcm", "default", "both"])
    parser.add_argument("--repeat", type=int, default=0)
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 2)
    only = [w for w in args.only.split(",") if w] or COMPAT_WORKLOADS
    impls = [i for i in args.impls.split(",") if i]
    configs = {"gcm": [True], "default": [False], "both": [True, False]}[args.config]
    print(f"load: {os.getloadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-compat-"))
    env = Env(work, args.quick)
    try:
        for forced in configs:
            label = f"{CIPHER} + {KEX}" if forced else "defaults"
            results: list[Result] = []
            for name in only:
                fn, kind = WORKLOADS[name]
                for impl in impls:
                    try:
                        wall, cpu, walls = measure(lambda: run(fn, env, impl, forced), repeat)
                    except Exception as exc:  # e.g. paramiko's rekey failure: reported
                        print(f"  {name} {impl}: FAILED {exc!r}", flush=True)
                        continue
                    if kind == "size":
                        value, unit = env.size / MiB / wall, "MiB/s"
                    else:
                        from benchmarks.bench_client import CONNECTS
                        value, unit = CONNECTS / wall, "conn/s"
                    print(f"  {name:<14} {impl:<9} {value:9.1f} {unit} "
                          f"(runs {', '.join(f'{w:.2f}' for w in walls)} s)", flush=True)
                    results.append(Result(name, impl, wall, unit, value, cpu, walls))
            for base in ("paramiko", "pylibssh"):
                report(f"compat, {label} (vs {base})", results, base,
                       save_as=f"compat-{'gcm' if forced else 'default'}-vs-{base}")
    finally:
        env.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
