"""Shared helpers for benchmarks: timing, repetition, CPU accounting, the test server app and
ratio reports."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "build", "bench")

MiB = 1024 * 1024

# the machine's load when this benchmark process started (its results say how busy it was)
_LOAD_AT_START = os.getloadavg()


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json DIR``: where the results are written as JSON (default build/bench/; the
    results are always written, this only picks the folder). ``benchmarks/charts.py`` draws
    them."""
    parser.add_argument("--json", metavar="DIR", default=None,
                        help="write the JSON results into DIR (default build/bench/)")


def use_json_option(args: argparse.Namespace) -> None:
    """Apply ``--json DIR`` (see :func:`add_json_option`) to the reports that follow."""
    global RESULTS
    if args.json:
        RESULTS = os.path.abspath(args.json)


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "?"
    text = (out.stdout or out.stderr).strip()  # ssh -V writes on stderr
    return text.splitlines()[0] if text else "?"


def machine() -> dict[str, Any]:
    """What a result depends on besides the code: the CPU, its cores, the load average (at the
    benchmark's start and now), the peers' versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {"python": platform.python_version(), "openssh": _version(["ssh", "-V"])}
    for name in ("pylibssh", "paramiko", "asyncssh"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(terse=True),
            "load_start": list(_LOAD_AT_START), "load_end": list(os.getloadavg()),
            "versions": versions}


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def proc_cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """CPU seconds a live process has used (user + system); with ``reaped_children``, plus
    those of its children that have ended and been waited for (sshd's per-connection
    processes, and theirs, once they are gone)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = fields[11:15] if reaped_children else fields[11:13]
    return sum(int(x) for x in ticks) / os.sysconf("SC_CLK_TCK")


def start_server_app(*args: str) -> tuple[subprocess.Popen, int]:
    """tests/server_app.py (pylibssh's server as the tests run it) in its own process, with
    ``args``; returns it and its port."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "server_app.py"), *args],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the pylibssh server did not start: {line!r}")
    return proc, int(line.split()[1])


class Timer:
    """``with Timer() as t: ...`` then ``t.wall`` and ``t.cpu`` (seconds)."""

    def __enter__(self) -> Timer:
        self._w = time.perf_counter()
        self._c = _cpu()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._w
        self.cpu = _cpu() - self._c


@dataclass
class Result:
    name: str                   # what was measured, e.g. "exec 256 MiB"
    impl: str                   # who did it, e.g. "pylibssh", "openssh"
    seconds: float              # best wall time
    unit: str = "MiB/s"         # what `value` is
    value: float = 0.0          # throughput (or rate) derived from seconds
    cpu: float | None = None    # CPU seconds of the measured side, when known
    runs: list[float] = field(default_factory=list)


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, float | None, list[float]]:
    """Run ``fn`` n times; return (best wall seconds, its CPU seconds, all wall times).
    ``fn`` may return a CPU figure of its own (e.g. a server process's), which is used instead."""
    walls, cpus = [], []
    for _ in range(n):
        with Timer() as t:
            own_cpu = fn()
        walls.append(t.wall)
        cpus.append(own_cpu if isinstance(own_cpu, (int, float)) else t.cpu)
    i = walls.index(min(walls))
    return walls[i], cpus[i], walls


def turns(impls: list[str], rounds: int) -> Iterator[str]:
    """The implementations in turn, ``rounds`` times, each round starting one further on
    (a, b, c; b, c, a; c, a, b): what one leaves behind (a slow phase, memory to give back,
    caches) does not always fall on the same next one."""
    for r in range(rounds):
        k = r % len(impls) if impls else 0
        yield from impls[k:] + impls[:k]


def throughput(name: str, impl: str, nbytes: int, fn: Callable[[], Any], repeat: int = 3
               ) -> Result:
    best, cpu, runs = best_of(repeat, fn)
    return Result(name, impl, best, "MiB/s", nbytes / MiB / best, cpu, runs)


def rate(name: str, impl: str, count: int, fn: Callable[[], Any], repeat: int = 3,
         unit: str = "ops/s") -> Result:
    best, cpu, runs = best_of(repeat, fn)
    return Result(name, impl, best, unit, count / best, cpu, runs)


def report(title: str, results: list[Result], baseline: str, save_as: str | None = None
           ) -> dict[str, dict[str, float]]:
    """Print results grouped by workload with each implementation's ratio to ``baseline``
    (ratio > 1: faster than the baseline). Returns {workload: {impl: ratio}}."""
    print(f"\n== {title} ==  (ratio = value / {baseline}'s value, same run)")
    ratios: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r.name for r in results):
        rows = [r for r in results if r.name == name]
        base = next((r for r in rows if r.impl == baseline), None)
        print(f"  {name}")
        for r in rows:
            ratio = r.value / base.value if base and base.value else float("nan")
            ratios.setdefault(name, {})[r.impl] = ratio
            cpu = f"  cpu {r.cpu:6.2f}s" if r.cpu is not None else ""
            spread = f"  (runs {', '.join(f'{x:.3f}' for x in r.runs)}s)" if len(r.runs) > 1 else ""
            print(f"    {r.impl:<14} {r.value:10.1f} {r.unit:<8} ratio {ratio:5.2f}{cpu}{spread}")
    if save_as:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, save_as + ".json"), "w") as f:
            json.dump({"title": title, "baseline": baseline, "ratios": ratios,
                       "results": [asdict(r) for r in results], "python": sys.version,
                       "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S")},
                      f, indent=2)
    return ratios


#: the cores this machine's server and clients share
CORES = os.cpu_count() or 1


def shared_floor(server_cpu: float, client_cpu: float) -> float:
    """The least wall time of a run whose server side and client use ``server_cpu`` and
    ``client_cpu`` CPU-seconds: both must share this machine's :data:`CORES`."""
    return (server_cpu + client_cpu) / CORES


def median(xs: list[float]) -> float:
    return statistics.median(xs)
