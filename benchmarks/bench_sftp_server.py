"""The SFTP server (local backend, `pylibssh serve`) against OpenSSH's sftp-server under sshd,
same machine, same client (OpenSSH's ``sftp`` in batch mode), same run.

Workloads: 256 MiB download and upload of one file, and 500 files of 16 KiB uploaded (``put -r``)
and downloaded (``get -r``). Each is the wall time of one ``sftp -b`` run, connection and key
exchange included (the same cost on both sides), best of ``--repeat``; the two servers take
turns run by run. The pylibssh server is
``python -m pylibssh serve`` in its own process (one loop thread); sshd forks per connection and
runs ``/usr/lib/openssh/sftp-server`` as a dedicated test user. Both serve files from the same
directory, with the default cipher (chacha20-poly1305).

    ./dev bench sftp_server [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, MiB, Result, add_json_option, best_of, report, use_json_option

sys.path.insert(0, os.path.join(ROOT, "tests"))
from openssh import OpenSSHClient, OpenSSHServer, keygen  # noqa: E402

SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def start_pylibssh(root: Path, state: Path, authorized: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylibssh", "serve", "--root", str(root), "--port", "0",
         "--state-dir", str(state), "--authorized-keys", str(authorized), "--no-password"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    for _ in range(20):
        line = proc.stdout.readline()
        match = re.search(r" port (\d+)$", line.strip())
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError("pylibssh serve did not start")


def sftp(client: OpenSSHClient, batch: str) -> None:
    result = client.sftp(batch, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"sftp failed: {result.stderr.decode()[-500:]}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="64 MiB and 100 files, 1 run")
    p.add_argument("--repeat", type=int, default=3)
    add_json_option(p)
    args = p.parse_args(argv)
    use_json_option(args)
    size = 64 * MiB if args.quick else 256 * MiB
    nfiles = 100 if args.quick else 500
    repeat = 1 if args.quick else args.repeat

    work = Path(tempfile.mkdtemp(prefix="pylibssh-bench-sftp-"))
    os.chmod(work, 0o777)
    data = work / "data"  # what both servers serve (the sshd user must read and write it)
    data.mkdir(mode=0o777)
    os.chmod(data, 0o777)
    local = work / "local"
    local.mkdir()
    big = local / "big.bin"
    with open(big, "wb") as f:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            f.write(block)
    small = local / "small"
    small.mkdir()
    for i in range(nfiles):
        (small / f"f{i:04d}").write_bytes(os.urandom(16 * 1024))

    client_key = keygen(work / "id_ed25519", "ed25519")
    pub = work / "id_ed25519.pub"
    sshd = OpenSSHServer(work / "sshd", options={"Subsystem": f"sftp {SFTP_SERVER}"})
    sshd.start()
    sshd.authorize(pub.read_text())
    proc, port = start_pylibssh(data, work / "state", pub)
    clients = {
        "pylibssh": (OpenSSHClient(work / "c1", port, identity=client_key), ""),
        "openssh": (OpenSSHClient(work / "c2", sshd.port, identity=client_key), str(data)),
    }
    results: list[Result] = []
    workloads: dict[str, dict] = {}
    try:
        for impl, (client, prefix) in clients.items():
            remote = (prefix + "/") if prefix else "/"
            sftp(client, f"put {big} {remote}big-{impl}.bin\n")  # the download's source
            fresh = iter(range(1000))

            def download(client=client, remote=remote, impl=impl):
                sftp(client, f"get {remote}big-{impl}.bin {local / 'down.bin'}\n")

            def upload(client=client, remote=remote, impl=impl):
                sftp(client, f"put {big} {remote}up-{impl}.bin\n")

            def put_many(client=client, remote=remote, impl=impl, fresh=fresh):
                # into a new directory each time
                sftp(client, f"put -r {small} {remote}many-{impl}-{next(fresh)}\n")

            def get_many(client=client, remote=remote, impl=impl):
                target = local / f"got-{impl}"
                shutil.rmtree(target, ignore_errors=True)
                sftp(client, f"get -r {remote}many-{impl}-0 {target}\n")

            for name, fn, amount, unit in (
                (f"download {size // MiB} MiB", download, size / MiB, "MiB/s"),
                (f"upload {size // MiB} MiB", upload, size / MiB, "MiB/s"),
                (f"upload {nfiles} x 16 KiB", put_many, nfiles, "files/s"),
                (f"download {nfiles} x 16 KiB", get_many, nfiles, "files/s"),
            ):
                workloads.setdefault(name, {})[impl] = (fn, amount, unit)
        # the implementations take turns, so that a change in the machine's load hits both
        for name, impls in workloads.items():
            times: dict[str, list[float]] = {impl: [] for impl in impls}
            for _ in range(repeat):
                for impl, (fn, _amount, _unit) in impls.items():
                    times[impl].append(best_of(1, fn)[0])
            for impl, (fn, amount, unit) in impls.items():
                best = min(times[impl])
                results.append(Result(name, impl, best, unit, amount / best, None, times[impl]))
        for impl in clients:
            if (data / f"up-{impl}.bin").stat().st_size != size:
                raise RuntimeError("upload size mismatch")
            got = len(os.listdir(local / f"got-{impl}"))
            if got != nfiles:
                raise RuntimeError(f"small-file download incomplete: {got} of {nfiles}")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        sshd.stop()
        sshd.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load: {os.getloadavg()}")
    report("SFTP server: OpenSSH sftp client, pylibssh serve vs sshd + sftp-server",
           results, baseline="openssh", save_as="sftp_server")


if __name__ == "__main__":
    main()
