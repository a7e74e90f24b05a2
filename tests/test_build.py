"""The build switches: PYLIBSSH_SYSTEM_LIBSSH=1 links the libssh pkg-config finds, and refuses
one older than 0.12 with a clear message."""

import glob
import re
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = [pytest.mark.build, pytest.mark.timeout(900)]


def _vendored_install():
    found = sorted(glob.glob(os.path.join(ROOT, "build", "libssh-*", "install")))
    assert found, "the vendored libssh build (build/libssh-*/install) is missing"
    return found[-1]


def _pip_wheel(tmp_path, pkg_config_dir):
    env = dict(os.environ, PYLIBSSH_SYSTEM_LIBSSH="1", PKG_CONFIG_PATH=str(pkg_config_dir))
    env.pop("PKG_CONFIG_LIBDIR", None)
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), ROOT],
        capture_output=True, text=True, env=env, timeout=900,
    )


def test_system_libssh_older_than_0_12_is_refused(tmp_path):
    install = _vendored_install()
    pc = tmp_path / "pc"
    pc.mkdir()
    # a real libssh's headers, but pkg-config says it is Debian 12's 0.10.6
    (pc / "libssh.pc").write_text(
        f"prefix={install}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n"
        "Name: libssh\nDescription: The SSH Library\nVersion: 0.10.6\n"
        "Libs: -L${libdir} -lssh\nCflags: -I${includedir}\n"
    )
    out = _pip_wheel(tmp_path, pc)
    assert out.returncode != 0
    assert "the system libssh is 0.10.6; pylibssh needs libssh >= 0.12" in out.stdout + out.stderr


def test_system_libssh_switch_links_the_given_library(tmp_path):
    install = _vendored_install()
    out = _pip_wheel(tmp_path, os.path.join(install, "lib", "pkgconfig"))
    assert out.returncode == 0, out.stdout + out.stderr
    wheel = glob.glob(str(tmp_path / "dist" / "*.whl"))[0]
    names = zipfile.ZipFile(wheel).namelist()
    assert not any("libssh.so" in n for n in names), "a system-libssh wheel must not bundle it"
    assert "pylibssh/py.typed" in names  # PEP 561: type checkers read the annotations
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", wheel],
                   check=True, timeout=300, capture_output=True)
    code = (
        "import pylibssh\n"
        "v = pylibssh.libssh_version()\n"
        "maps = open('/proc/self/maps').read().splitlines()\n"
        "paths = sorted({l.split()[-1] for l in maps if 'libssh.so' in l})\n"
        "print(v.version, v.vendored, paths)\n"
    )
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, timeout=120, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    version, vendored, paths = run.stdout.split(" ", 2)
    assert (version, vendored) == ("0.12.2", "False")
    assert os.path.join(install, "lib") in paths


def test_release_json_lists_every_patch_and_each_says_why_and_how_it_was_checked():
    """vendor/libssh/release.json names the patches applied to the pinned release, in order; each
    patch opens with its reasons and says what was measured and how it was checked, so that it
    can be proposed upstream as it is."""
    import json

    vendor = os.path.join(ROOT, "vendor", "libssh")
    with open(os.path.join(vendor, "release.json")) as f:
        listed = json.load(f)["patches"]
    present = sorted(p for p in os.listdir(os.path.join(vendor, "patches")) if p.endswith(".patch"))
    assert listed == present
    for name in present:
        with open(os.path.join(vendor, "patches", name)) as f:
            head = f.read().split("\n--- a/", 1)[0]
        assert len(head.split("\n\n")) >= 3, f"{name}: a title, why, and what was checked"
        assert re.search(r"(?i)measured|timed", head), f"{name}: what was measured"
        assert re.search(r"(?i)checked", head), f"{name}: how it was checked"
