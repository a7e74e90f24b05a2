"""Run one command on many hosts from one asyncio loop, at most LIMIT at a time, printing each
host's result as it comes in (pylibssh.asyncio).

    python examples/asyncio_fanout.py 'uname -a' web1 web2 admin@db:2200 --limit 50

Hosts are ``[user@]host[:port]``; names, users, ports, keys and ProxyJump come from
``~/.ssh/config`` as for ``ssh``, and host keys are checked against ``~/.ssh/known_hosts``.
``-i KEY`` adds a key; ``--known-hosts FILE`` uses another file. The exit status is the number
of hosts that failed (at most 100).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import pylibssh.asyncio as pa


def split_host(spec: str) -> tuple[str | None, str, int | None]:
    user, _, hostport = spec.rpartition("@")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        host, port = hostport, ""
    return user or None, host, int(port) if port else None


async def run_one(spec: str, command: str, limit: asyncio.Semaphore, options: dict
                  ) -> tuple[str, pa.RunResult | BaseException, float]:
    user, host, port = split_host(spec)
    start = time.monotonic()
    async with limit:
        try:
            async with pa.connect(host, port, user, **options) as conn:
                result: pa.RunResult | BaseException = await conn.run(command)
        except (pa.SSHError, OSError) as exc:
            result = exc
    return spec, result, time.monotonic() - start


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command")
    p.add_argument("hosts", nargs="+", help="[user@]host[:port]")
    p.add_argument("--limit", type=int, default=32, help="connections at once (default 32)")
    p.add_argument("-i", dest="identity", action="append", default=[], help="a private key")
    p.add_argument("--known-hosts", default="~/.ssh/known_hosts")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per host")
    args = p.parse_args()
    options = dict(keys=args.identity, known_hosts=args.known_hosts, timeout=args.timeout,
                   op_timeout=args.timeout)
    limit = asyncio.Semaphore(args.limit)
    failed = 0
    for done in asyncio.as_completed([run_one(h, args.command, limit, options)
                                      for h in args.hosts]):
        spec, result, took = await done
        if isinstance(result, BaseException):
            failed += 1
            print(f"{spec}: FAILED ({type(result).__name__}: {result}) [{took:.2f} s]")
            continue
        failed += result.exit_status != 0
        print(f"{spec}: exit {result.exit_status} [{took:.2f} s]")
        for line in result.stdout.decode(errors="replace").splitlines():
            print(f"  {line}")
        for line in result.stderr.decode(errors="replace").splitlines():
            print(f"  stderr: {line}")
    return min(failed, 100)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
