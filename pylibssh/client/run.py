"""A command run to its end in C: :meth:`Client.run <pylibssh.client.Client.run>` and the
asyncio ``run`` for a command with no input, environment, terminal or forwarding requests (a
fan-out's commands).

The general path opens a :class:`~pylibssh.client.process.ClientChannel` and moves through a
generator step per stage, and each packet passes through the channel's Python callbacks; here
csrc/pylibssh_run.c does the stages and takes the packets, and the task's one poller calls it
after each poll. What it returns and raises is the general path's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .._binding import CData
from .._binding import channel as channel_api
from ..errors import (
    ChannelError,
    ChannelOpenError,
    RequestDeniedError,
    SSHError,
    error_from,
    last_error,
)
from ._task import AGAIN, TaskGen

if TYPE_CHECKING:
    from .session import ClientSession

#: (stdout, stderr, exit status, exit signal): what a run ends with
Outcome = tuple[bytes, bytes, Optional[int], Optional[str]]

_OPENING = "opening a session channel"


class _CommandRun:
    """A run's C state. It is one of the session's channels while its channel lives, so that the
    session's teardown frees that channel before libssh's session."""

    __slots__ = ("_c", "_session", "_command", "closed")

    def __init__(self, session: ClientSession, command: str):
        c = channel_api.run_new(session._s, command.encode())
        if c is None:  # pragma: no cover - out of memory
            raise error_from(session._s, f"{_OPENING}: ssh_channel_new failed",
                             ChannelOpenError)
        self._c: CData = c
        self._session = session
        self._command = command
        self.closed = False
        session._add_channel(self)  # type: ignore[arg-type]

    def poll(self) -> Any:
        """The task's poller: AGAIN until the server closed the channel."""
        rc = channel_api.run_step(self._c)
        if rc == channel_api.RUN_AGAIN:
            return AGAIN
        if rc == channel_api.RUN_DONE:
            return True
        s = self._session._s
        if self.closed:
            raise ChannelError(f"exec {self._command!r}: the channel is closed")
        if rc == channel_api.RUN_OPEN_FAILED:
            raise error_from(s, _OPENING, ChannelOpenError)
        if rc == channel_api.RUN_NOMEM:
            raise SSHError(f"exec {self._command!r}: its output does not fit in memory")
        msg, _code = last_error(s)
        if rc == channel_api.RUN_DENIED:
            raise RequestDeniedError(f"the server refused exec {self._command!r}: {msg}")
        raise ChannelError(f"exec {self._command!r}: {msg or 'the channel is closed'}")

    def _free(self, session_gone: bool = False) -> None:
        """Free the channel (CLOSE is sent when needed); the output stays."""
        if not self.closed:
            self.closed = True
            channel_api.run_release(self._c)
            self._session._forget_channel(self)  # type: ignore[arg-type]

    def outcome(self) -> Outcome:
        out, err = channel_api.run_output(self._c)
        status, signal = channel_api.run_exit(self._c)
        return out, err, status, signal

    def destroy(self) -> None:
        self._free()
        c, self._c = self._c, None
        if c is not None:
            channel_api.run_free(c)


def run_in_c_gen(session: ClientSession, command: str) -> TaskGen:
    """A task that runs ``command`` with no input to its end; its :data:`Outcome`. Given up
    (timeout, cancellation, a closed connection), it closes its channel."""
    run = _CommandRun(session, command)
    try:
        yield run.poll
        return run.outcome()
    finally:
        run.destroy()
