"""Build pylibssh: libssh first (vendored by pin, through CMakeLists.txt), then the CFFI module.

Metadata lives in pyproject.toml. Environment switches:

  PYLIBSSH_SYSTEM_LIBSSH=1      link an installed libssh (>= 0.12, found with pkg-config)
                                instead of building the pinned release
  PYLIBSSH_LIBSSH_TARBALL=PATH  the pinned tarball, where the build cannot fetch it
                                (see vendor/libssh/README.md)
  PYLIBSSH_SANITIZE=LIST        a sanitizer or fuzzing build (./dev test --asan, ./dev fuzz):
                                libssh and the extension compiled with -fsanitize=LIST (e.g.
                                address,undefined or address,fuzzer-no-link) by $CC, libssh
                                built in its own directory; never for a release

Nothing here runs when this file is imported: the work happens in build_ext.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
MIN_SYSTEM_LIBSSH = (0, 12)


def _truthy(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _sanitize_flags():
    """Compiler flags for PYLIBSSH_SANITIZE (empty for the normal build)."""
    kinds = os.environ.get("PYLIBSSH_SANITIZE", "").strip()
    if not kinds:
        return []
    if not re.fullmatch(r"[a-z-]+(,[a-z-]+)*", kinds):
        raise BuildError(f"PYLIBSSH_SANITIZE={kinds!r}: expected a comma-separated list such as "
                         "address,undefined")
    # frame pointers and debug info: the sanitizers' reports name functions and lines
    return [f"-fsanitize={kinds}", "-fno-omit-frame-pointer", "-g"]


def _version_tuple(text):
    return tuple(int(p) for p in text.strip().split(".")[:3] if p.isdigit())


class BuildError(RuntimeError):
    pass


def _find_cmake():
    """The first cmake >= 3.19 that actually runs (a wrapper on PATH, such as a pyenv shim inside
    pip's isolated build environment, may not); $CMAKE wins."""
    candidates = [os.environ.get("CMAKE"), shutil.which("cmake"), "/usr/bin/cmake",
                  "/usr/local/bin/cmake"]
    for cmake in filter(None, candidates):
        try:
            out = subprocess.run([cmake, "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        words = out.stdout.split()
        if out.returncode == 0 and len(words) >= 3 and _version_tuple(words[2]) >= (3, 19):
            return cmake
    raise BuildError("cmake >= 3.19 is needed to build libssh; install it (apt-get install cmake "
                     "or pip install cmake), or point $CMAKE at it")


class build_ext_with_libssh(build_ext):
    """build_ext that provides libssh before cffi generates and compiles the module."""

    def pre_run(self, ext, ffi):  # cffi calls this hook before it writes the C source
        if _truthy("PYLIBSSH_SYSTEM_LIBSSH"):
            self._libssh = self._system_libssh()
        else:
            self._libssh = self._vendored_libssh()
        ext.include_dirs[:0] = self._libssh["include_dirs"]
        ext.library_dirs[:0] = self._libssh["library_dirs"]
        ext.extra_link_args += self._libssh["link_args"]
        ext.define_macros.append(("PYLIBSSH_VENDORED", "1" if self._libssh["vendored"] else "0"))
        ext.extra_compile_args += _sanitize_flags()
        ext.extra_link_args += _sanitize_flags()
        # the same sources build differently against another libssh: recompile when it changes
        stamp = os.path.join(self.build_temp, "pylibssh-libssh.json")
        config = json.dumps({k: v for k, v in self._libssh.items()}, sort_keys=True)
        try:
            with open(stamp) as f:
                previous = f.read()
        except OSError:
            previous = None
        if previous != config:
            self.force = True
            os.makedirs(self.build_temp, exist_ok=True)
            with open(stamp, "w") as f:
                f.write(config)
        private = self._libssh.get("private_include_dirs")
        if private:
            # after the public headers: only csrc/pylibssh_private.c includes a private one
            ext.include_dirs += private
            ext.define_macros.append(("PYLIBSSH_PRIVATE_HEADERS", "1"))

    def run(self):
        super().run()
        shared = getattr(self, "_libssh", {}).get("shared_library")
        for ext in self.extensions:
            dest = os.path.dirname(self.get_ext_fullpath(ext.name))
            os.makedirs(dest, exist_ok=True)
            # a copy left by an earlier vendored build must not ship with a system-libssh build
            for stale in glob.glob(os.path.join(dest, "libssh*.so*")) + glob.glob(
                os.path.join(dest, "libssh*.dylib")
            ):
                if not shared or os.path.basename(stale) != os.path.basename(shared):
                    os.remove(stale)
            if shared:
                # ship libssh beside the extension (found through its $ORIGIN rpath) so that it
                # stays a separate, replaceable shared library, as the LGPL asks
                shutil.copyfile(shared, os.path.join(dest, os.path.basename(shared)))

    # -- the two ways to get libssh -------------------------------------------------------------

    def _system_libssh(self):
        def pkg_config(*args):
            try:
                out = subprocess.run(
                    ["pkg-config", *args, "libssh"], check=True, capture_output=True, text=True
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                raise BuildError(
                    "PYLIBSSH_SYSTEM_LIBSSH=1 but pkg-config cannot find libssh "
                    f"({exc}). Install libssh's development files (>= 0.12) or unset "
                    "PYLIBSSH_SYSTEM_LIBSSH to build the pinned release."
                ) from None
            return out.stdout.split()

        version = pkg_config("--modversion")[0]
        if _version_tuple(version) < MIN_SYSTEM_LIBSSH:
            raise BuildError(
                f"the system libssh is {version}; pylibssh needs libssh >= "
                f"{'.'.join(map(str, MIN_SYSTEM_LIBSSH))} (sftp_aio_*, sftp_limits, "
                "ssh_channel_get_exit_state). Unset PYLIBSSH_SYSTEM_LIBSSH to build the pinned "
                "release instead."
            )
        incs = [f[2:] for f in pkg_config("--cflags-only-I") if f.startswith("-I")]
        libdirs = [f[2:] for f in pkg_config("--libs-only-L") if f.startswith("-L")]
        return {
            "vendored": False,
            "version": version,
            "include_dirs": incs,
            "library_dirs": libdirs,
            "link_args": [f"-Wl,-rpath,{d}" for d in libdirs],
            "shared_library": None,
        }

    def _vendored_libssh(self):
        sys.path.insert(0, os.path.join(ROOT, "vendor", "libssh"))
        try:
            import fetch
        finally:
            sys.path.pop(0)
        try:
            tarball = fetch.find_tarball()
        except fetch.TarballNotFound as exc:
            raise BuildError(str(exc)) from None

        cmake = _find_cmake()
        # one libssh build per platform, kept under build/ so that rebuilds of the extension (and
        # every Python version of a wheel build) reuse it; PYLIBSSH_LIBSSH_BUILD_DIR overrides
        sanitize = _sanitize_flags()
        tag = "-sanitize-" + os.environ["PYLIBSSH_SANITIZE"].replace(",", "-") if sanitize else ""
        base = os.environ.get("PYLIBSSH_LIBSSH_BUILD_DIR") or os.path.join(
            ROOT, "build", f"libssh-{fetch.RELEASE['version']}-{sysconfig.get_platform()}{tag}"
        )
        build_dir = os.path.abspath(os.path.join(base, "cmake"))
        prefix = os.path.abspath(os.path.join(base, "install"))
        configure = [
            cmake, "-S", ROOT, "-B", build_dir,
            f"-DLIBSSH_TARBALL={tarball}",
            f"-DCMAKE_INSTALL_PREFIX={prefix}",
        ]
        if sanitize:
            # the sanitizer's flags, and the compiler that understands them (clang for fuzzing)
            configure += [f"-DLIBSSH_EXTRA_C_FLAGS={' '.join(sanitize)}",
                          f"-DLIBSSH_C_COMPILER={shutil.which(os.environ.get('CC', 'cc'))}"]
        self.announce(f"building libssh {fetch.RELEASE['version']} in {build_dir}", level=2)
        jobs = str(os.cpu_count() or 2)
        subprocess.run(configure, check=True)
        subprocess.run([cmake, "--build", build_dir, "--parallel", jobs], check=True)

        libdir = os.path.join(prefix, "lib")
        if sys.platform == "darwin":
            shared = os.path.join(libdir, "libssh.4.dylib")
            rpath = "@loader_path"
        else:
            shared = os.path.join(libdir, "libssh.so.4")
            rpath = "$ORIGIN"
        if not os.path.exists(shared):
            found = glob.glob(os.path.join(libdir, "libssh*"))
            raise BuildError(f"libssh built, but {shared} is missing (found: {found})")
        # the pinned release's private headers (its source tree and generated config.h, both in
        # CMake's ExternalProject tree): csrc/pylibssh_private.c reads a few fields that
        # libssh has no getter for, with exactly this release's struct layout
        project = os.path.join(build_dir, f"libssh-{fetch.RELEASE['version']}", "src")
        private = [os.path.join(project, "libssh", "include"), os.path.join(project, "libssh-build")]
        if not (os.path.exists(os.path.join(private[0], "libssh", "messages.h"))
                and os.path.exists(os.path.join(private[1], "config.h"))):
            private = []
        return {
            "vendored": True,
            "version": fetch.RELEASE["version"],
            "private_include_dirs": private,
            "include_dirs": [os.path.join(prefix, "include")],
            "library_dirs": [libdir],
            "link_args": [f"-Wl,-rpath,{rpath}"],
            "shared_library": shared,
        }


if __name__ == "__main__":
    setup(
        cffi_modules=["cdef/build_ffi.py:ffi"],
        cmdclass={"build_ext": build_ext_with_libssh},
        # cffi compiles against the stable ABI: one wheel serves every CPython >= 3.9
        options={"bdist_wheel": {"py_limited_api": "cp39"}},
    )
