"""ssh -N -L / -R / -D with pylibssh's client.

    python examples/client_forward.py me@server -L 8080:localhost:80 -D 1080 -R 0:localhost:22

Options repeat like ssh's; -R with port 0 prints the port the server chose. Ctrl-C ends.
"""

from __future__ import annotations

import argparse
import time

import pylibssh


def split(spec: str, n: int) -> list[str]:
    parts = spec.split(":")
    if len(parts) == n - 1:
        parts.insert(0, "127.0.0.1")  # no bind address: loopback, as ssh
    if len(parts) != n:
        raise SystemExit(f"cannot parse {spec!r}")
    return parts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("destination", help="[user@]host")
    p.add_argument("-p", "--port", type=int, default=None)
    p.add_argument("-L", action="append", default=[], metavar="[bind:]port:host:hostport")
    p.add_argument("-R", action="append", default=[], metavar="[bind:]port:host:hostport")
    p.add_argument("-D", action="append", default=[], metavar="[bind:]port")
    p.add_argument("-i", dest="identity", action="append", default=[], help="private key file")
    p.add_argument("--known-hosts", default="~/.ssh/known_hosts")
    args = p.parse_args()
    user, _, host = args.destination.rpartition("@")
    client = pylibssh.connect(host, args.port, user or None, keys=args.identity,
                              known_hosts=args.known_hosts)
    with client:
        for spec in args.L:
            bind, port, dhost, dport = split(spec, 4)
            f = client.forward_local_port(bind, int(port), dhost, int(dport))
            print(f"-L {f.host}:{f.port} -> {dhost}:{dport}", flush=True)
        for spec in args.R:
            bind, port, dhost, dport = split(spec, 4)
            f = client.forward_remote_port(bind, int(port), dhost, int(dport))
            print(f"-R server's {bind}:{f.port} -> {dhost}:{dport}", flush=True)
        for spec in args.D:
            bind, port = split(spec, 2)
            f = client.forward_socks(bind, int(port))
            print(f"-D SOCKS on {f.host}:{f.port}", flush=True)
        try:
            while client.is_active:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
