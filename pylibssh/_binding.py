"""The one module that imports the compiled extension (L1).

Everything else reaches libssh through ``ffi`` and ``lib`` from here. Importing this module
initialises libssh once per process and refuses an extension built for another package version.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

try:
    from . import _libssh  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "pylibssh's compiled extension (pylibssh._libssh) is missing or cannot load: "
        f"{exc}. Build it with `pip install .` (see README)."
    ) from exc

ffi: Any = _libssh.ffi
lib: Any = _libssh.lib

BUILD_VERSION: str = ffi.string(lib.pylibssh_build_version()).decode()
if BUILD_VERSION != __version__:
    raise ImportError(
        f"pylibssh._libssh was built for pylibssh {BUILD_VERSION}, but this is pylibssh "
        f"{__version__}: rebuild the extension (pip install --force-reinstall .)"
    )

#: True when the extension links the libssh release pinned in vendor/libssh
VENDORED: bool = bool(lib.pylibssh_vendored())

# ssh_init() must run once before any other call; with the library loaded once per process the
# flag lives on the extension module, so a reload of this module does not initialise twice.
if not getattr(_libssh, "_pylibssh_initialised", False):
    if lib.ssh_init() != lib.SSH_OK:  # pragma: no cover - only if the crypto backend fails
        raise ImportError("ssh_init() failed: libssh could not initialise its crypto backend")
    _libssh._pylibssh_initialised = True
    _libssh._pylibssh_init_calls = getattr(_libssh, "_pylibssh_init_calls", 0) + 1

NULL = ffi.NULL


def text(ptr, errors: str = "replace") -> str | None:
    """A C string as ``str`` (None for NULL). Copies at once: libssh's strings are short-lived."""
    if ptr == NULL:
        return None
    return ffi.string(ptr).decode("utf-8", errors)


def to_bytes(value: str | bytes | bytearray | memoryview, what: str = "value") -> bytes:
    """Accept str (UTF-8) or bytes for a C string argument; refuse embedded NULs."""
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{what} must not contain NUL characters")
    return data


def take_string(ptr) -> str | None:
    """Copy a ``char *`` that libssh allocated for us, then free it with ssh_string_free_char."""
    if ptr == NULL:
        return None
    try:
        return ffi.string(ptr).decode("utf-8", "replace")
    finally:
        lib.ssh_string_free_char(ptr)
