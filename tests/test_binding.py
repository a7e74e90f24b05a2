"""The raw layer: the compiled module, its constants, its version stamp, ssh_init once."""

import os
import subprocess
import sys

import pylibssh
from pylibssh import _binding
from pylibssh._binding import ffi, lib


def test_constants_come_from_the_real_headers():
    assert (lib.SSH_OK, lib.SSH_ERROR, lib.SSH_AGAIN, lib.SSH_EOF) == (0, -1, -2, -127)
    assert lib.SSH_AUTH_METHOD_PUBLICKEY == 0x4
    assert lib.SSH_FX_NO_SUCH_FILE == 2 and lib.SSH_FXP_EXTENDED == 200
    assert lib.SSH_KEYTYPE_ED25519 != lib.SSH_KEYTYPE_RSA
    assert lib.SSH_OPTIONS_NODELAY > lib.SSH_OPTIONS_HOST
    assert lib.SSH_BIND_OPTIONS_IMPORT_KEY > 0
    # partial structs get their layout from the compiler
    assert ffi.sizeof("struct ssh_channel_callbacks_struct") > 16 * ffi.sizeof("void *")
    assert ffi.offsetof("struct sftp_attributes_struct", "permissions") > 0


def test_callback_struct_init_sets_size():
    for name, init in [
        ("struct ssh_channel_callbacks_struct", lib.pylibssh_init_channel_callbacks),
        ("struct ssh_server_callbacks_struct", lib.pylibssh_init_server_callbacks),
        ("struct ssh_callbacks_struct", lib.pylibssh_init_session_callbacks),
    ]:
        cb = ffi.new(name + " *")
        init(cb)
        assert cb.size == ffi.sizeof(name)


def test_version_stamp_matches_package():
    assert _binding.BUILD_VERSION == pylibssh.__version__
    assert ffi.string(lib.pylibssh_build_version()).decode() == pylibssh.__version__


def test_extension_for_another_version_is_refused():
    code = (
        "import importlib, pylibssh._binding as b, pylibssh._version as v\n"
        "v.__version__ = '0.0.0-other'\n"
        "try:\n"
        "    importlib.reload(b)\n"
        "except ImportError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused: pylibssh._libssh was built for pylibssh" in out.stdout, out.stderr


def test_ssh_init_runs_once():
    # in a child: a reload here would give later importers another HAS than the one tests patch
    code = (
        "import importlib, sys, pylibssh._binding as b\n"
        "ext = sys.modules['pylibssh._libssh']\n"
        "before = ext._pylibssh_init_calls\n"
        "importlib.reload(b)\n"
        "print(before, ext._pylibssh_init_calls)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["1", "1"], out.stderr


def test_libssh_version_is_the_pinned_release():
    v = pylibssh.libssh_version()
    if os.environ.get("PYLIBSSH_SYSTEM_LIBSSH"):
        assert not v.vendored
        assert tuple(int(p) for p in v.version.split(".")[:2]) >= (0, 12)
    else:
        assert v.vendored, "the default build must use the vendored libssh"
        assert v.version == "0.12.2"
        assert "openssl" in v.backends and "zlib" in v.backends
        assert str(v) == "0.12.2/openssl/zlib"


def test_libssh_is_bundled_beside_the_extension():
    if os.environ.get("PYLIBSSH_SYSTEM_LIBSSH"):
        return
    pkg = os.path.dirname(pylibssh.__file__)
    with open("/proc/self/maps") as f:
        maps = f.read()
    loaded = {line.split()[-1] for line in maps.splitlines() if "libssh" in line}
    assert any(os.path.dirname(p) == pkg or ".libs" in p for p in loaded), loaded


def test_text_helpers():
    assert _binding.text(ffi.NULL) is None
    assert _binding.text(ffi.new("char[]", b"abc")) == "abc"
    assert _binding.to_bytes("é") == "é".encode()
    for bad in (b"a\0b", "a\0b"):
        try:
            _binding.to_bytes(bad)
        except ValueError:
            continue
        raise AssertionError("NUL accepted")


def test_the_package_does_not_export_the_c_binding():
    import pylibssh

    for name in ("ffi", "lib"):
        assert not hasattr(pylibssh, name), name
    assert str(pylibssh.libssh_version()).startswith("0.12.2/")
