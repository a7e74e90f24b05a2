"""Runs the fuzz harnesses with atheris (libFuzzer):
``python -m fuzz [NAME ...] [--seconds N] [--replay] [-- LIBFUZZER_OPTION ...]``.

Each harness is a module of this package (``fuzz/NAME.py``) with:

* a docstring stating its contract (what input it takes, what counts as a failure);
* ``test_one_input(data: bytes)``; ``EXPECTED``, the exception classes that the parser documents
  for bad input (these are swallowed; any other exception is a failure);
* optionally ``setup()`` (run once before the first input), ``MAX_LEN``
  (the largest input, in bytes) and ``DICTIONARY`` (the name of its libFuzzer dictionary in
  ``fuzz/dict/``; the harness's name by default).

Every harness runs in a child process of its own (libFuzzer ends the process it runs in, so a
harness has no teardown: its temporary files go in a directory that the parent removes). The
child first executes every file of the committed seed corpus (``fuzz/corpus/NAME/``), then
mutates for ``--seconds``; new inputs that reach new code go to
``WORKDIR/corpus/NAME/``, failing inputs to ``WORKDIR/crashes/NAME/``. A failure is an
unexpected Python exception, an input that runs longer than ``--timeout`` seconds (a hang), a
process above ``--rss-limit-mb`` (unbounded memory), a native crash, or a sanitizer report
(with the instrumented build of ``./dev fuzz``). pylibssh's modules are instrumented for
Python coverage; with ``./dev fuzz``'s build libssh and the extension report C coverage too.

The exit status is 0 when every harness ran without a failure.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

__all__ = ["harness_names", "main", "run_harness", "HarnessResult"]


def harness_names() -> list[str]:
    """Every harness in this package (its modules whose names start with a letter)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)])
                  if m.name[0].isalpha() and m.name not in ("runner", "make_seeds"))


def _target(module: Any) -> Callable[[bytes], None]:
    expected = tuple(getattr(module, "EXPECTED", ()))
    one = module.test_one_input

    def target(data: bytes) -> None:
        try:
            one(data)
        except expected:
            pass  # a documented answer to bad input
    return target


def _child(name: str, libfuzzer_args: list[str], tmp: str) -> None:
    """Fuzz one harness in this process (libFuzzer exits it)."""
    import atheris

    tempfile.tempdir = tmp  # the harness's temporary files, removed by the parent afterwards
    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["pylibssh", "fuzz"]):
        module = importlib.import_module(f"fuzz.{name}")
    if hasattr(module, "setup"):
        module.setup()
    args = [f"fuzz-{name}", f"-max_len={getattr(module, 'MAX_LEN', 4096)}"]
    dict_file = HERE / "dict" / f"{getattr(module, 'DICTIONARY', name)}.dict"
    if dict_file.exists():
        args.append(f"-dict={dict_file}")
    args += libfuzzer_args
    atheris.Setup(args, _target(module))
    atheris.Fuzz()


class HarnessResult:
    """What one harness's run printed: runs, coverage, corpus size, and a failing input."""

    def __init__(self, name: str, returncode: int, output: str):
        self.name = name
        self.returncode = returncode
        self.output = output
        done = re.findall(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)", output)
        runs = re.findall(r"Done (\d+) runs in (\d+) second", output)
        self.runs = int(runs[-1][0]) if runs else None
        self.seconds = int(runs[-1][1]) if runs else None
        self.cov = int(done[-1][1]) if done else None
        self.features = int(done[-1][2]) if done else None
        self.corpus = int(done[-1][3]) if done else None
        inited = re.findall(r"#(\d+)\s+INITED", output)
        self.seeds_run = int(inited[0]) if inited else None
        artifact = re.findall(r"Test unit written to (\S+)", output)
        self.artifact = artifact[-1] if artifact else None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.runs is not None

    def summary(self) -> str:
        if self.ok:
            return (f"{self.name}: ok, {self.runs} runs in {self.seconds} s, cov {self.cov}, "
                    f"features {self.features}, corpus {self.corpus}")
        where = f", input in {self.artifact}" if self.artifact else ""
        return f"{self.name}: FAILED (exit status {self.returncode}{where})"


def run_harness(name: str, seconds: int, workdir: Path, timeout: int = 30,
                rss_limit_mb: int = 4096, replay_only: bool = False,
                extra: list[str] | None = None, echo: bool = True) -> HarnessResult:
    """Run harness ``name`` in a child process: the seed corpus, then ``seconds`` of fuzzing
    (none with ``replay_only``). ``echo`` copies libFuzzer's output to stderr as it comes."""
    corpus = workdir / "corpus" / name
    crashes = workdir / "crashes" / name
    tmp = workdir / "tmp" / name
    for d in (corpus, crashes):
        d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    seeds = HERE / "corpus" / name
    # -detect_leaks=0, as for ./dev test --asan: CPython keeps allocations across inputs
    # (caches, interned objects), which libFuzzer would take for leaks; growth past
    # -rss_limit_mb still ends a run
    args = [f"-timeout={timeout}", f"-rss_limit_mb={rss_limit_mb}", "-detect_leaks=0",
            f"-artifact_prefix={crashes}/", "-print_final_stats=1"]
    args += ["-runs=0"] if replay_only else [f"-max_total_time={seconds}"]
    args += list(extra or [])
    # the first directory receives new inputs; the committed seeds are only read
    args += [str(corpus)] + ([str(seeds)] if seeds.is_dir() else [])
    cmd = [sys.executable, "-m", "fuzz.runner", "--child", name, str(tmp), *args]
    lines = []
    try:
        with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if echo:
                    sys.stderr.write(line)
            returncode = proc.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return HarnessResult(name, returncode, "".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # run_harness's child: --child NAME TMP LIBFUZZER_ARGS...
        _child(argv[1], argv[3:], argv[2])
        return 0
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"harnesses (default: all: "
                        f"{', '.join(harness_names())})")
    parser.add_argument("--seconds", type=int, default=60,
                        help="fuzzing time per harness after the seed corpus (default 60)")
    parser.add_argument("--replay", action="store_true",
                        help="only run the seed corpus (and the inputs found before)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "fuzz-work",
                        help="where found inputs and failures go (default build/fuzz-work)")
    parser.add_argument("--timeout", type=int, default=30,
                        help="seconds one input may take before it counts as a hang")
    parser.add_argument("--rss-limit-mb", type=int, default=4096)
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    args = parser.parse_args(own)
    known = harness_names()
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"no harness {', '.join(unknown)}; there are: {', '.join(known)}")
    results = [run_harness(name, args.seconds, args.workdir.resolve(), args.timeout,
                           args.rss_limit_mb, args.replay, extra)
               for name in args.names or known]
    print("\n".join(r.summary() for r in results), file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
