"""The repaired wheel installs into a fresh venv and works without any system libssh."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.build
@pytest.mark.timeout(900)
def test_repaired_wheel_works_in_a_clean_venv():
    assert sys.platform == "linux", "auditwheel repairs Linux wheels; use delocate on macOS"
    if os.environ.get("PYLIBSSH_SYSTEM_LIBSSH"):
        pytest.fail("the wheel check needs the vendored build; unset PYLIBSSH_SYSTEM_LIBSSH")
    out = subprocess.run(
        ["bash", os.path.join(ROOT, ".ci", "wheel-check"), sys.executable],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "manylinux" in out.stdout
    assert "wheel ok: 0.12.2/openssl/zlib" in out.stdout
    assert "pylibssh/libssh.so.4" in out.stdout and "pylibssh.libs/libcrypto" in out.stdout
