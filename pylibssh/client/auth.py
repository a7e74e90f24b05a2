"""User authentication as a task: the methods the server allows, tried in OpenSSH's order
(public keys given, the agent, default identity files, keyboard-interactive, password), with
partial success (multi-factor: the server asks for more methods) followed through.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from .._binding import client as client_api
from .._binding.constants import (
    SSH_AUTH_AGAIN,
    SSH_AUTH_DENIED,
    SSH_AUTH_ERROR,
    SSH_AUTH_INFO,
    SSH_AUTH_METHOD_GSSAPI_MIC,
    SSH_AUTH_METHOD_HOSTBASED,
    SSH_AUTH_METHOD_INTERACTIVE,
    SSH_AUTH_METHOD_NONE,
    SSH_AUTH_METHOD_PASSWORD,
    SSH_AUTH_METHOD_PUBLICKEY,
    SSH_AUTH_PARTIAL,
    SSH_AUTH_SUCCESS,
)
from ..errors import AuthenticationError, KeyFormatError, error_from
from ..keys import Key
from ._task import AGAIN, TaskGen
from .identities import load_identity
from .session import ClientSession

log = logging.getLogger("pylibssh.client")

#: ``kbdint(name, instruction, prompts) -> answers``; prompts are (text, echo) pairs
KbdintCallback = Callable[[str, str, list[tuple[str, bool]]], Sequence[str]]
KeySource = Union[str, "os.PathLike[str]", Key]

_METHOD_NAMES = {
    SSH_AUTH_METHOD_NONE: "none",
    SSH_AUTH_METHOD_PASSWORD: "password",
    SSH_AUTH_METHOD_PUBLICKEY: "publickey",
    SSH_AUTH_METHOD_HOSTBASED: "hostbased",
    SSH_AUTH_METHOD_INTERACTIVE: "keyboard-interactive",
    SSH_AUTH_METHOD_GSSAPI_MIC: "gssapi-with-mic",
}
DEFAULT_IDENTITIES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass
class Credentials:
    password: str | None = None
    keys: list[KeySource] = field(default_factory=list)
    passphrase: str | bytes | None = None
    agent: bool = True                  # use SSH_AUTH_SOCK when set
    look_for_keys: bool = True          # ~/.ssh/id_* when no keys were given
    kbdint: KbdintCallback | None = None
    methods: Sequence[str] | None = None  # restrict to these method names

    def load_keys(self) -> list[Key]:
        """The private keys to offer, loaded (files that cannot be read are skipped with a
        log line when they are defaults, raised when the caller named them)."""
        out: list[Key] = []
        for src in self.keys:
            if isinstance(src, Key):
                out.append(src)
            else:
                out.append(load_identity(os.path.expanduser(os.fspath(src)), self.passphrase))
        if not self.keys and self.look_for_keys:
            home = os.path.expanduser("~/.ssh")
            for name in DEFAULT_IDENTITIES:
                path = os.path.join(home, name)
                if os.path.exists(path):
                    try:
                        out.append(load_identity(path, self.passphrase))
                    except (KeyFormatError, OSError) as exc:
                        log.debug("skipping %s: %s", path, exc)
        return out


def method_names(mask: int) -> tuple[str, ...]:
    """The names of the authentication methods in libssh's bit ``mask`` (``publickey``,
    ``password``...)."""
    return tuple(name for bit, name in _METHOD_NAMES.items() if mask & bit)


def _auth_poller(session: ClientSession, fn: Callable[[], int]) -> Callable[[], Any]:
    def poll() -> Any:
        session._check_open()
        rc = fn()
        if rc == SSH_AUTH_AGAIN:
            return AGAIN
        if rc == SSH_AUTH_ERROR:
            raise error_from(session._s, "authentication", AuthenticationError)
        return rc
    return poll


def authenticate(session: ClientSession, user: str, creds: Credentials) -> TaskGen:
    """A task that authenticates ``user`` with ``creds`` (public keys, the agent, a password,
    keyboard-interactive, in that order, as the server allows); it ends with the method that
    succeeded and raises AuthenticationError naming the methods tried."""
    s = session._s
    u = user.encode()
    tried: list[str] = []
    keys = creds.load_keys()
    agent = creds.agent and bool(os.environ.get("SSH_AUTH_SOCK"))
    password = creds.password
    kbd_done = pw_done = agent_done = False
    pending_keys = list(keys)
    allowed_mask = None
    if keys and (creds.methods is None or "publickey" in creds.methods):
        # the first key goes out at once: a "none" request first would cost the server a
        # round trip (its failure lists the methods, and so does a failed key)
        rc = SSH_AUTH_DENIED
        allowed_mask = SSH_AUTH_METHOD_PUBLICKEY
    else:
        rc = yield _auth_poller(session, lambda: client_api.userauth_none(s, u))
    while rc != SSH_AUTH_SUCCESS:
        if allowed_mask is not None:
            allowed, allowed_mask = allowed_mask, None
        else:
            allowed = client_api.userauth_list(s, u)
        names = method_names(allowed)
        if creds.methods is not None:
            allowed &= sum(b for b, n in _METHOD_NAMES.items() if n in creds.methods)
        if rc == SSH_AUTH_PARTIAL:
            log.debug("partial success; the server now asks for %s", names)
        step = None
        if allowed & SSH_AUTH_METHOD_PUBLICKEY and pending_keys:
            key = pending_keys.pop(0)
            tried.append(f"publickey ({key.type_name} {key.fingerprint()})")
            step = _auth_poller(
                session, functools.partial(client_api.userauth_publickey, s, u, key._key))
        elif allowed & SSH_AUTH_METHOD_PUBLICKEY and agent and not agent_done:
            agent_done = True
            tried.append("publickey (agent)")
            step = _auth_poller(session, lambda: client_api.userauth_agent(s, u))
        elif (allowed & SSH_AUTH_METHOD_INTERACTIVE and not kbd_done
              and (creds.kbdint is not None or password is not None)):
            kbd_done = True
            tried.append("keyboard-interactive")
            rc = yield from _kbdint(session, u, creds.kbdint, password)
            if password is not None and creds.kbdint is None:
                pw_done = pw_done or rc == SSH_AUTH_SUCCESS
            continue
        elif allowed & SSH_AUTH_METHOD_PASSWORD and password is not None and not pw_done:
            pw_done = True
            tried.append("password")
            pw = password.encode()
            step = _auth_poller(session, lambda: client_api.userauth_password(s, u, pw))
        if step is None:
            raise AuthenticationError(
                f"authentication as {user!r} failed: the server allows "
                f"{', '.join(names) or 'nothing'}; tried {', '.join(tried) or 'nothing'}",
                allowed_methods=names)
        rc = yield step
    session.authenticated = True
    return tried


def _kbdint(session: ClientSession, u: bytes, callback: KbdintCallback | None,
            password: str | None) -> TaskGen:
    s = session._s
    rc = yield _auth_poller(session, lambda: client_api.userauth_kbdint(s, u))
    rounds = 0
    while rc == SSH_AUTH_INFO:
        rounds += 1
        if rounds > 20:
            raise AuthenticationError("keyboard-interactive: too many rounds")
        name, instruction, prompts = client_api.kbdint_questions(s)
        if callback is not None:
            answers = list(callback(name, instruction, prompts))
        else:  # answer password prompts with the password, as OpenSSH does
            answers = [(password or "") if "password" in p.lower() else "" for p, _ in prompts]
        if len(answers) != len(prompts):
            raise AuthenticationError(
                f"keyboard-interactive: {len(prompts)} prompts, {len(answers)} answers")
        for i, answer in enumerate(answers):
            data = answer.encode() if isinstance(answer, str) else bytes(answer)
            client_api.kbdint_answer(s, i, data)
        rc = yield _auth_poller(session, lambda: client_api.userauth_kbdint(s, u))
    return rc
