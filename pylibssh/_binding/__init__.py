"""The binding layer: the one package that calls into the compiled extension.

This module imports it (``ffi``, ``lib``), initialises libssh once per process, refuses an
extension built for another package version and reads the build's capabilities (``HAS``). The
package's other modules hold the calls into ``lib``, one module per libssh area, each with its
error check; the engine and the front ends call those and hold C objects only as opaque
handles (:data:`CData`).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, TypeVar

from .._version import __version__

try:
    from .. import _libssh  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "pylibssh's compiled extension (pylibssh._libssh) is missing or cannot load: "
        f"{exc}. Build it with `pip install .` (see README)."
    ) from exc

# cffi ships no type information: a C pointer or struct is a CData (Any), named so that
# signatures say which arguments are C values; ``lib`` is Any, and ``ffi`` is Any but for the
# decorator that makes a Python function a C callback (which must keep the function's type) and
# ``string``, which gives bytes for the ``char *`` this binding reads
CData = Any
_Function = TypeVar("_Function", bound=Callable[..., Any])


class _FFI(Protocol):
    def def_extern(
        self, name: str = ..., onerror: Callable[..., Any] | None = ...,
    ) -> Callable[[_Function], _Function]: ...

    def string(self, cdata: CData, maxlen: int = ...) -> bytes: ...

    def __getattr__(self, name: str) -> Any: ...


ffi: _FFI = _libssh.ffi
lib: Any = _libssh.lib

BUILD_VERSION: str = ffi.string(lib.pylibssh_build_version()).decode()
if BUILD_VERSION != __version__:
    raise ImportError(
        f"pylibssh._libssh was built for pylibssh {BUILD_VERSION}, but this is pylibssh "
        f"{__version__}: rebuild the extension (pip install --force-reinstall .)"
    )

#: True when the extension links the libssh release pinned in vendor/libssh
VENDORED: bool = bool(lib.pylibssh_vendored())
#: the libssh in use and its backends, as libssh says (``0.12.2/openssl/zlib``)
LIBSSH_VERSION: str = ffi.string(lib.ssh_version(0)).decode()

# ssh_init() must run once before any other call; with the library loaded once per process the
# flag lives on the extension module, so a reload of this module does not initialise twice.
if not getattr(_libssh, "_pylibssh_initialised", False):
    if lib.ssh_init() != lib.SSH_OK:  # pragma: no cover - only if the crypto backend fails
        raise ImportError("ssh_init() failed: libssh could not initialise its crypto backend")
    _libssh._pylibssh_initialised = True
    _libssh._pylibssh_init_calls = getattr(_libssh, "_pylibssh_init_calls", 0) + 1

NULL = ffi.NULL


class Capabilities:
    """What this build can do beyond libssh's public API: each needs libssh's private structs
    or a function our patches add (csrc/pylibssh_private.c), so it exists only when the
    extension is built against the vendored libssh. Read once from the extension's
    ``PYLIBSSH_HAS_*`` flags; the code of each feature checks its flag here and, without it,
    works without the feature (or raises :class:`~pylibssh.errors.UnsupportedError` where a
    user asks for it). Tests turn a flag off to see a build without it."""

    #: a pty request's terminal modes (``ChannelRequestMessage.modes``); without: None
    pty_modes: bool = bool(lib.PYLIBSSH_HAS_PTY_MODES)
    #: whether a queued request wants a reply; without: every request is answered
    want_reply: bool = bool(lib.PYLIBSSH_HAS_WANT_REPLY)
    #: the output libssh holds for the socket (``LoopSession.pending_output``), which bounds a
    #: peer that does not read its socket; without: -1, and no bound
    pending_output: bool = bool(lib.PYLIBSSH_HAS_PENDING_OUTPUT)
    #: how the socket failed, to classify errors; without: libssh's message decides
    socket_state: bool = bool(lib.PYLIBSSH_HAS_SOCKET_STATE)
    #: channel data beyond the window ends the session; without: libssh drops it and goes on
    window_guard: bool = bool(lib.PYLIBSSH_HAS_WINDOW_GUARD)
    #: whether libssh queued messages, asked without a poll; without: one poll more per pass
    message_peek: bool = bool(lib.PYLIBSSH_HAS_MESSAGE_PEEK)
    #: the negotiated host-key algorithm and compression; without: None
    hostkey_algo: bool = bool(lib.PYLIBSSH_HAS_HOSTKEY_ALGO)
    #: each global request's reply to its own request, global requests of any kind; without:
    #: libssh's keepalive and tcpip-forward only
    global_replies: bool = bool(lib.PYLIBSSH_HAS_GLOBAL_REPLIES)
    #: OpenSSH's UNIX-socket forwarding, client and server; without: refused
    streamlocal: bool = bool(lib.PYLIBSSH_HAS_STREAMLOCAL)
    #: a channel open refused with the application's reason; without: libssh's refusal
    #: ("administratively prohibited")
    open_failure_reason: bool = bool(lib.PYLIBSSH_HAS_OPEN_FAILURE_REASON)
    #: global requests libssh does not implement reach the server's ``request`` listeners;
    #: without: libssh refuses them itself
    other_global_requests: bool = bool(lib.PYLIBSSH_HAS_OTHER_GLOBAL_REQUESTS)

    def names(self) -> list[str]:
        """The capabilities this build has."""
        return [name for name in _CAPABILITY_NAMES if getattr(self, name)]

    def __repr__(self) -> str:
        return f"<pylibssh capabilities: {', '.join(self.names()) or 'none'}>"


_CAPABILITY_NAMES = [name for name, value in vars(Capabilities).items()
                     if isinstance(value, bool)]

#: this build's capabilities beyond libssh's public API
HAS = Capabilities()


def unsupported(capability: str, what: str) -> str:
    """The message for a feature this build lacks (``capability``, a :class:`Capabilities`
    name): what was asked and why it cannot be done."""
    return (f"{what} is not available: this build of pylibssh uses a libssh without the "
            f"internals or patches it needs ({capability}); build against the vendored libssh")


def text(ptr: CData, errors: str = "replace") -> str | None:
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


def take_string(ptr: CData) -> str | None:
    """Copy a ``char *`` that libssh allocated for us, then free it with ssh_string_free_char."""
    if ptr == NULL:
        return None
    try:
        return ffi.string(ptr).decode("utf-8", "replace")
    finally:
        lib.ssh_string_free_char(ptr)
