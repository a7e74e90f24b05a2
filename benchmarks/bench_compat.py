"""paramiko code through ``pylibssh.compat.paramiko`` vs real paramiko vs pylibssh's native
client vs OpenSSH's ``ssh``/``sftp``: same sshd, same run.

The "compat" runs are bench_client's paramiko workloads unchanged, with
``pylibssh.compat.paramiko.install()`` in effect (so ``import paramiko`` is the layer):

1. ``SFTPClient.get`` / ``put`` of one 512 MiB file (``sftp-download`` / ``sftp-upload``);
2. ``exec_command("head -c 512M /dev/zero")`` with the output read by ``channel.recv``
   (``exec-stream``; paramiko's key re-exchange threshold is moved past the stream, see
   bench_client.exec_stream, else it fails with "Key-exchange timed out", its issue 822);
3. connect + authenticate + ``exec_command("true")`` + close, 20 times (``connect``);
4. 500 files of 16 KiB, each uploaded with ``SFTPClient.put`` and downloaded with ``get``, one
   call per file (``small-files``; OpenSSH's ``sftp`` runs the same puts and gets as a batch).

Ratios are printed to paramiko, to pylibssh's native client and to OpenSSH.

Both with the clients' default algorithms and forced to AES-GCM (paramiko: aes128-ctr, it has no
GCM), as in bench_client.

    ./dev bench compat [--quick] [--only NAME,...] [--config gcm|default|both] [--repeat N]
"""

from __future__ import annotations

import sys

from benchmarks.bench_client import CIPHER, KEX, Env, bench_env, measure_workloads, parse_args
from benchmarks.common import report

COMPAT_WORKLOADS = ["sftp-download", "sftp-upload", "small-files", "exec-stream", "connect"]
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
    args = parse_args(argv, __doc__, COMPAT_WORKLOADS, IMPLS, "default")
    with bench_env("pylibssh-bench-compat-", args.quick) as env:
        for forced in args.configs:
            label = f"{CIPHER} + {KEX}" if forced else "defaults"
            results = measure_workloads(env, forced, args, lambda name: args.impls, run)
            for base in ("paramiko", "pylibssh", "openssh"):
                report(f"compat, {label} (vs {base})", results, base,
                       save_as=f"compat-{'gcm' if forced else 'default'}-vs-{base}")


if __name__ == "__main__":
    main(sys.argv[1:])
