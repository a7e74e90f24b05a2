"""Bar charts (SVG) of benchmark results: for each workload, how many times as fast pylibssh
(or the paramiko layer) was as each other implementation of the same run.

    python -m benchmarks.charts [RESULTS_DIR] [--out DIR]

RESULTS_DIR holds the JSON files the benchmarks write (default build/bench/; ``./dev bench
NAME --json DIR`` writes them elsewhere); one SVG per result file goes to --out (default
docs/bench/), with the machine, its load and the date in the caption. Needs matplotlib (the
``docs`` extra).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT

# whose speed each chart shows, by result file (the stem before "-vs-"); others: pylibssh
SUBJECT = {"compat-default": "compat", "compat-gcm": "compat", "fsspec": "libssh",
           "asyncio-gcm": "pylibssh.asyncio", "asyncio-default": "pylibssh.asyncio",
           "asyncio-server-asyncssh": "pylibssh.asyncio",
           "asyncio-server-openssh": "pylibssh.asyncio"}
# implementations drawn only as subjects' peers, never as bars of their own
SKIP = {"pylibssh-1by1"}
#: a chart whose largest ratio passes this is drawn on a log scale
LOG_ABOVE = 12.0
COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]


def load(results_dir: Path) -> dict[str, dict[str, Any]]:
    """The result files of ``results_dir`` by chart name; the compat benchmark's three reports
    (the same results against three baselines) become one chart."""
    charts: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text())
        name = path.stem.split("-vs-")[0]
        charts.setdefault(name, data)
    return charts


def speedups(data: dict[str, Any], subject: str) -> tuple[list[str], dict[str, list[float]]]:
    """The workloads, and for each other implementation the subject's value divided by its
    value per workload (NaN where either has no result: it was not run, or did not finish;
    the benchmark's output says which)."""
    values: dict[str, dict[str, float]] = {}
    for r in data["results"]:
        values.setdefault(r["name"], {})[r["impl"]] = r["value"]
    workloads = [w for w, by_impl in values.items() if subject in by_impl]
    peers = [impl for impl in dict.fromkeys(r["impl"] for r in data["results"])
             if impl not in (subject, *SKIP)]
    out: dict[str, list[float]] = {}
    for peer in peers:
        row = []
        for w in workloads:
            mine, theirs = values[w].get(subject), values[w].get(peer)
            row.append(mine / theirs if mine and theirs else math.nan)
        out[peer] = row
    return workloads, out


def caption(data: dict[str, Any]) -> str:
    """Machine, load and date of a result file, in one or two lines."""
    m = data.get("machine") or {}
    versions = m.get("versions") or {}
    load = ""
    if m.get("load_start"):
        load = (f", load average {m['load_start'][0]:.1f} at the start, "
                f"{m['load_end'][0]:.1f} at the end")
    first = (f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores{load}; {data.get('when', '?')}")
    second = ", ".join(f"{k} {v}" for k, v in versions.items() if v and v != "?")
    return first + ("\n" + second if second else "")


def draw(name: str, data: dict[str, Any], out: Path, fmt: str = "svg") -> Path | None:
    """One chart: a group of horizontal bars per workload, one bar per peer; None when the file
    has nothing to compare."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    subject = SUBJECT.get(name, "pylibssh")
    workloads, rows = speedups(data, subject)
    if not workloads or not rows:
        return None
    plt.rcParams["svg.hashsalt"] = name  # stable ids: a new run changes only what changed
    plt.rcParams["svg.fonttype"] = "none"  # text stays text (small files, searchable)
    height = 1.2 + 0.42 * len(workloads) * max(1, len(rows)) ** 0.8
    fig, ax = plt.subplots(figsize=(8, height))
    finite = [r for row in rows.values() for r in row if not math.isnan(r)]
    # ratios from 0.5 to 100 in one chart: on a log scale each stays readable
    log = max([1.0, *finite]) > LOG_ABOVE
    base = 1.0 if log else 0.0  # (bars grow from 1: shorter than 1 is slower)
    bar = 0.8 / len(rows)
    for i, (peer, ratios) in enumerate(rows.items()):
        ys = [j + (i - (len(rows) - 1) / 2) * bar for j in range(len(workloads))]
        shown = [0.0 if math.isnan(r) else r - base for r in ratios]
        ax.barh(ys, shown, left=base, height=bar * 0.9, label=f"vs {peer}",
                color=COLOURS[i % len(COLOURS)])
        for y, r in zip(ys, ratios):
            ax.text(base if math.isnan(r) else max(r, base), y,
                    f" {peer}: no result" if math.isnan(r) else f" {r:.2f}×",
                    va="center", fontsize=8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(workloads)), workloads)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min([0.8, *finite]) * 0.8, max(finite) * 2.0)
    else:
        ax.set_xlim(0, max([1.0, *finite]) * 1.18)
    ax.set_xlabel(f"{subject}'s speed ÷ the other's (same run; > 1: {subject} is faster)")
    # the compat benchmark names its baseline in the title; the chart compares with all
    ax.set_title(re.sub(r" \(vs [^)]*\)$", "", data.get("title", name)), fontsize=11)
    # beside the bars, not over them
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.text(0.01, 0.005, caption(data), fontsize=7, va="bottom", color="#444444")
    fig.tight_layout(rect=(0, 0.42 / height, 1, 1))  # room for the caption's two lines
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.{fmt}"
    fig.savefig(path, metadata={"Date": None} if fmt == "svg" else None, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default=RESULTS,
                        help="folder of JSON results (default build/bench/)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"),
                        help="folder for the SVG files (default docs/bench/)")
    parser.add_argument("--format", default="svg", choices=["svg", "png"],
                        help="svg (the docs' charts) or png (a preview)")
    args = parser.parse_args(argv)
    charts = load(Path(args.results))
    if not charts:
        print(f"no results in {args.results}: run ./dev bench first", file=sys.stderr)
        return 1
    for name, data in charts.items():
        path = draw(name, data, Path(args.out), args.format)
        print(f"{name}: {path or 'nothing to compare'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
