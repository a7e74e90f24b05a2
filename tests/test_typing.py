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

#: the core held to ``mypy --strict`` (paths from the repository's root): every module and package
#: of pylibssh/ but compat/, the paramiko layer
STRICT_CORE = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "pylibssh").iterdir()
    if p.name != "compat" and (p.suffix == ".py" or (p / "__init__.py").is_file()))


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
