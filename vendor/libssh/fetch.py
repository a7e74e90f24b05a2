"""Find, fetch and verify the pinned libssh release tarball.

Used by ``setup.py`` at build time (and runnable on its own: it prints the tarball's path).
Nothing here runs on import.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
RELEASE = json.loads((HERE / "release.json").read_text())


class TarballNotFound(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pylibssh"


def _verified(path: Path, origin: str) -> Path:
    actual = sha256_of(path)
    if actual != RELEASE["sha256"]:
        raise TarballNotFound(
            f"{origin}: {path} has sha256 {actual}, expected {RELEASE['sha256']} "
            f"(libssh {RELEASE['version']}); refusing to build from it"
        )
    return path


def _store_in_cache(path: Path) -> Path:
    target = cache_dir() / RELEASE["tarball"]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        return target
    except OSError:
        return path  # a read-only home is no reason to fail the build


def _from_url(url: str, workdir: Path) -> Path:
    dest = workdir / RELEASE["tarball"]
    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)
    return dest


def _from_debian(workdir: Path) -> Path:
    """apt-get source with a private configuration: no system file is read or changed."""
    deb = RELEASE["debian"]
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    if not shutil.which("apt-get"):
        raise OSError("apt-get is not available")
    if not os.path.exists(keyring):
        raise OSError(f"{keyring} is missing (install debian-archive-keyring)")
    apt = workdir / "apt"
    for sub in ("lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    (apt / "etc/sources.list.d/libssh-src.sources").write_text(
        f"Types: deb-src\nURIs: {deb['mirror']}\nSuites: {deb['suite']}\n"
        f"Components: main\nSigned-By: {keyring}\n"
    )
    (apt / "etc/sources.list").write_text("")
    opts = [
        f"-oDir::Etc::SourceList={apt}/etc/sources.list",
        f"-oDir::Etc::SourceParts={apt}/etc/sources.list.d",
        f"-oDir::Etc::PreferencesParts={apt}/etc/preferences.d",
        f"-oDir::State::Lists={apt}/lists",
        f"-oDir::Cache={apt}/cache",
        "-oDir::State::status=/dev/null",
        # the private directories belong to whoever runs the build: no _apt sandbox, no locks
        "-oAPT::Sandbox::User=root" if os.geteuid() == 0 else "-oAPT::Sandbox::User=",
        "-oDebug::NoLocking=1",
        "-qq",
    ]
    env = dict(os.environ, LC_ALL="C")
    subprocess.run(["apt-get", *opts, "update"], check=True, env=env, timeout=300)
    out = workdir / "src"
    out.mkdir()
    subprocess.run(
        ["apt-get", *opts, "source", "--download-only", f"{deb['source']}={deb['version']}"],
        check=True,
        cwd=out,
        env=env,
        timeout=300,
    )
    return out / deb["orig"]


def find_tarball(verbose: bool = True) -> Path:
    """Return the path of a checksum-verified libssh tarball, fetching it if needed."""

    def say(msg: str) -> None:
        if verbose:
            print(f"pylibssh: {msg}", file=sys.stderr)

    tried: list[str] = []
    given = os.environ.get("PYLIBSSH_LIBSSH_TARBALL")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise TarballNotFound(f"PYLIBSSH_LIBSSH_TARBALL={given}: no such file")
        return _verified(path, "PYLIBSSH_LIBSSH_TARBALL")

    cached = cache_dir() / RELEASE["tarball"]
    if cached.is_file():
        try:
            return _verified(cached, "download cache")
        except TarballNotFound as exc:
            say(f"{exc}; ignoring the cached copy")
    tried.append(f"the download cache ({cached})")

    with tempfile.TemporaryDirectory(prefix="pylibssh-fetch-") as tmp:
        sources = [(url, lambda u=url: _from_url(u, Path(tmp))) for url in RELEASE["urls"]]
        deb = RELEASE["debian"]
        sources.append(
            (f"Debian's source archive ({deb['source']} {deb['version']})",
             lambda: _from_debian(Path(tmp)))
        )
        for origin, fetch in sources:
            try:
                say(f"fetching libssh {RELEASE['version']} from {origin}")
                path = _verified(fetch(), origin)
            except (OSError, subprocess.SubprocessError, TarballNotFound) as exc:
                say(f"  failed: {exc}")
                tried.append(origin)
                continue
            return _store_in_cache(path) if path.parent != cache_dir() else path

    raise TarballNotFound(
        f"could not find libssh {RELEASE['version']} ({RELEASE['tarball']}, sha256 "
        f"{RELEASE['sha256']}). Tried: {'; '.join(tried)}.\n"
        f"Download it yourself and either set PYLIBSSH_LIBSSH_TARBALL=/path/to/{RELEASE['tarball']} "
        f"or copy it to {cached}; or build against an installed libssh >= 0.12 with "
        "PYLIBSSH_SYSTEM_LIBSSH=1."
    )


if __name__ == "__main__":
    try:
        print(find_tarball())
    except TarballNotFound as exc:
        sys.exit(f"pylibssh: {exc}")
