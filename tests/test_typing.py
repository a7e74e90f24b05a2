"""``mypy --strict`` on the core: the modules and packages in STRICT_CORE type-check with no error.

The paramiko layer (pylibssh/compat/) is not part of the core. Modules the core imports but that
are not in the list are still read (for the types they give the core) but their own errors are not
reported: ``--follow-imports=silent``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the core held to ``mypy --strict`` (paths from the repository's root). Outside it: compat/
#: (the paramiko layer, never); asyncio/ and fsspec/; cli.py and the client modules not listed
#: (client.py, forwarding.py, sftp.py, sftp_engine.py), which mypy --strict still faults
STRICT_CORE = [
    "pylibssh/__init__.py",
    "pylibssh/__main__.py",
    "pylibssh/_binding",
    "pylibssh/_bytequeue.py",
    "pylibssh/_callbacks.py",
    "pylibssh/_channel.py",
    "pylibssh/_log.py",
    "pylibssh/_session.py",
    "pylibssh/_version.py",
    "pylibssh/algorithms.py",
    "pylibssh/bridge.py",
    "pylibssh/client/__init__.py",
    "pylibssh/client/_task.py",
    "pylibssh/client/agent_x11.py",
    "pylibssh/client/auth.py",
    "pylibssh/client/channels.py",
    "pylibssh/client/config.py",
    "pylibssh/client/forward.py",
    "pylibssh/client/hostkeys.py",
    "pylibssh/client/http.py",
    "pylibssh/client/incoming.py",
    "pylibssh/client/process.py",
    "pylibssh/client/session.py",
    "pylibssh/client/socks.py",
    "pylibssh/errors.py",
    "pylibssh/events.py",
    "pylibssh/keys.py",
    "pylibssh/loop.py",
    "pylibssh/timeouts.py",
    "pylibssh/server",
    "pylibssh/sftp",
]


def test_core_is_strict_clean(tmp_path: Path) -> None:
    """``python -m mypy --strict`` over STRICT_CORE reports no error (its output on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "mypy-cache"), *STRICT_CORE],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, (
        f"mypy --strict found errors in the core:\n{result.stdout}{result.stderr}"
    )
    assert "Success: no issues found" in result.stdout, result.stdout + result.stderr
