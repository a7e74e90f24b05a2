"""Run a local command for a server channel: stdin/stdout/stderr (or a pseudo-terminal) streamed
both ways with flow control, then the exit status (or signal), EOF and close.

::

    channel.on("exec", lambda msg: (msg.reply_success(), spawn(channel, msg.exec_command)))

Everything runs on the server's loop: the child's pipes and (on Linux) a pidfd are registered
with the selector, so no thread waits per process. Output is read only while the channel's
queue is below its high-water mark (the client's window and the client's reading of its socket
pace the child); input is held in the SSH window (``channel.pause()``) while the child does not
read its stdin.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import logging
import os
import signal
import struct
import subprocess
import termios
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ClosedError
from ..events import EventEmitter
from .channel import ServerChannel
from .messages import PtyInfo

__all__ = ["spawn", "ChildProcess", "apply_tty_modes", "set_window_size"]

log = logging.getLogger("pylibssh.server")

_READ_SIZE = 256 * 1024
#: after a pty child exits, how long its last output may take to reach the master side
_PTY_SETTLE = 0.05
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux: bigger pipes, fewer wakeups


def spawn(channel: ServerChannel, command: str | Sequence[str] | None = None, *,
          shell: str | None = None, env: Mapping[str, str] | None = None,
          cwd: str | None = None, pty: PtyInfo | bool | None = None) -> ChildProcess:
    """Start ``command`` for ``channel`` and connect it to the channel.

    ``command``: a shell command line (run with ``shell -c``), an argv list, or None for an
    interactive shell. ``shell``: default ``$SHELL`` or ``/bin/sh``. ``env``: the child's
    environment (default this process's), to which the variables the channel accepted (``env``
    requests) and, with a pty, ``TERM`` are added. ``pty``: the terminal to run on; by default
    the one the client requested and the server accepted (``channel.pty``), ``False`` for pipes
    even then.

    When the child exits and its output has been sent, the channel gets the exit status (or
    exit signal), EOF and close. A ``signal`` from the client is delivered to the child's process
    group, a window change resizes the pty, and the child is sent SIGHUP if the client closes
    the channel first. Returns the :class:`ChildProcess` (event ``exit``)."""
    with channel._loop.lock:
        return ChildProcess(channel, command, shell=shell, env=env, cwd=cwd, pty=pty)


class ChildProcess(EventEmitter):
    """A child process wired to a channel (see :func:`spawn`). Event ``exit`` (returncode, as
    :class:`subprocess.Popen` reports it: negative for a signal)."""

    events = frozenset({"exit"})

    def __init__(self, channel: ServerChannel, command: str | Sequence[str] | None, *,
                 shell: str | None, env: Mapping[str, str] | None, cwd: str | None,
                 pty: PtyInfo | bool | None):
        super().__init__()
        if channel.closed:
            raise ClosedError("the channel is closed")
        self.channel = channel
        self._loop = channel._loop
        shell = shell or os.environ.get("SHELL") or "/bin/sh"
        if command is None:
            argv = [shell, "-i"] if pty is not False and (pty or channel.pty) else [shell]
        elif isinstance(command, str):
            argv = [shell, "-c", command]
        else:
            argv = [os.fspath(a) for a in command]
        if pty is None or pty is True:
            pty_info = channel.pty or (PtyInfo("xterm", 80, 24, 0, 0, {}) if pty else None)
        elif pty is False:
            pty_info = None
        else:
            pty_info = pty
        child_env = dict(os.environ if env is None else env)
        child_env.update(channel.env)
        if pty_info is not None and pty_info.term:
            child_env["TERM"] = pty_info.term

        self.returncode: int | None = None
        self.pty = pty_info
        self._in: deque[memoryview] = deque()
        self._in_eof = False
        self._paused_input = False
        self._readers: dict[int, bool] = {}  # fd -> is_stderr, while open
        self._reading = True
        self._stdin = -1
        self._master = -1
        self._pidfd = -1
        self._finished = False

        if pty_info is not None:
            self._start_pty(argv, child_env, cwd, pty_info)
        else:
            self._start_pipes(argv, child_env, cwd)
        self.pid = self._proc.pid
        log.debug("%r: started %r (pid %d%s)", channel.session, argv, self.pid,
                  ", pty" if pty_info else "")

        channel.on("data", self._on_input)
        channel.on("end", self._on_input_eof)
        channel.on("signal", self._on_signal)
        channel.on("windowchange", self._on_window_change)
        channel.on("close", self._on_channel_close)
        self._add_readers()
        self._watch_exit()

    # -- starting --------------------------------------------------------------------------------

    def _start_pipes(self, argv: list[str], env: dict[str, str], cwd: str | None) -> None:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            fcntl.fcntl(out_r, _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        try:
            # a preexec_fn makes subprocess fork the whole server (5 ms of CPU for a 60 MB
            # process, against 0.8 ms with the vfork it uses otherwise): only when needed
            self._proc = subprocess.Popen(argv, stdin=in_r, stdout=out_w, stderr=err_w, env=env,
                                          cwd=cwd, start_new_session=True, close_fds=True,
                                          preexec_fn=_default_signals if _signals_to_reset()
                                          else None)
        except BaseException:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            raise
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        for fd in (in_w, out_r, err_r):
            os.set_blocking(fd, False)
        self._stdin = in_w
        self._readers = {out_r: False, err_r: True}

    def _start_pty(self, argv: list[str], env: dict[str, str], cwd: str | None,
                   info: PtyInfo) -> None:
        master, slave = os.openpty()
        try:
            set_window_size(slave, info.cols, info.rows, info.pixel_width, info.pixel_height)
            apply_tty_modes(slave, info.modes)
            self._proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                          cwd=cwd, start_new_session=True, close_fds=True,
                                          preexec_fn=_take_controlling_tty)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(slave)
        os.set_blocking(master, False)
        self._master = self._stdin = master
        self._readers = {master: False}

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):
            self._pidfd = -1
        if self._pidfd >= 0:
            self._loop.add_reader(self._pidfd, self._on_exit)
            return

        def wait() -> None:  # no pidfd (old kernel, not Linux): one waiting thread
            self._proc.wait()
            self._loop.call_soon(self._on_exit)

        threading.Thread(target=wait, name=f"pylibssh-wait-{self._proc.pid}", daemon=True).start()

    # -- output: child -> channel ----------------------------------------------------------------

    def _on_output(self, fd: int) -> None:
        is_stderr = self._readers.get(fd)
        if is_stderr is None:
            return
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: the pty's last holder closed it
                log.debug("reading the child's output: %s", exc)
            data = b""
        if not data:
            self._close_reader(fd)
            self._maybe_finish()
            return
        channel = self.channel
        if channel.closed or channel._close_queued:
            return  # the client is gone: the output has nowhere to go
        if not channel.write(data, stderr=is_stderr) and self._reading:
            # the client's window is full: stop reading until the queue drains
            self._reading = False
            for rfd in self._readers:
                self._loop.remove_reader(rfd)
            channel.once("drain", self._resume_output)

    def _resume_output(self) -> None:
        if self._reading or self._finished:
            return
        self._reading = True
        self._add_readers()

    def _add_readers(self) -> None:
        for fd in self._readers:
            self._loop.add_reader(fd, functools.partial(self._on_output, fd))

    def _close_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is None:
            return
        self._loop.remove_fd(fd)
        if fd == self._master:
            return  # closed in _finish: it is also the pty's input
        os.close(fd)

    # -- input: channel -> child -----------------------------------------------------------------

    def _on_input(self, data: bytes, is_stderr: bool) -> None:
        if self._stdin < 0:
            return
        self._in.append(memoryview(data))
        self._flush_input()

    def _flush_input(self) -> None:
        fd = self._stdin
        while self._in and fd >= 0:
            chunk = self._in[0]
            try:
                n = os.write(fd, chunk)
            except BlockingIOError:
                break
            except OSError:
                # the child closed its stdin (or exited): drop what it will never read
                self._in.clear()
                self._close_stdin()
                return
            if n < len(chunk):
                self._in[0] = chunk[n:]
            else:
                self._in.popleft()
        channel = self.channel
        if self._in:
            if not self._paused_input:
                self._paused_input = True
                if not channel.closed:
                    channel.pause()  # the SSH window holds the client back meanwhile
                self._loop.add_writer(fd, self._flush_input)
            return
        if self._paused_input:
            self._paused_input = False
            self._loop.remove_writer(fd)
            if not channel.closed:
                channel.resume()
        if self._in_eof and self._master < 0:
            self._close_stdin()

    def _on_input_eof(self) -> None:
        self._in_eof = True
        if not self._in and self._master < 0:
            self._close_stdin()  # a pty cannot be half-closed: the shell ends with ^D/exit

    def _close_stdin(self) -> None:
        fd = self._stdin
        if fd < 0 or fd == self._master:
            return
        self._stdin = -1
        self._loop.remove_fd(fd)
        os.close(fd)

    # -- requests from the client ----------------------------------------------------------------

    def _on_signal(self, name: str) -> None:
        signum = getattr(signal, "SIG" + name.upper().removeprefix("SIG"), None)
        if signum is None or self.returncode is not None:
            return
        try:
            os.killpg(self._proc.pid, signum)
        except ProcessLookupError:
            pass

    def _on_window_change(self, msg: Any) -> None:
        if self._master >= 0:
            set_window_size(self._master, msg.cols or 0, msg.rows or 0, msg.pixel_width or 0,
                            msg.pixel_height or 0)

    def _on_channel_close(self) -> None:
        if self.returncode is None:
            self.send_signal(signal.SIGHUP)  # like sshd: the terminal (or pipe) went away
        self._in.clear()
        self._close_stdin()

    def send_signal(self, signum: int) -> None:
        """Signal the child's process group."""
        if self.returncode is None:
            try:
                os.killpg(self._proc.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        """Send SIGTERM to the child's process group (nothing once it has exited)."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the child's process group (nothing once it has exited)."""
        self.send_signal(signal.SIGKILL)

    # -- the end ---------------------------------------------------------------------------------

    def _on_exit(self) -> None:
        code = self._proc.poll()
        if code is None:
            return  # spurious wakeup
        self.returncode = code
        if self._pidfd >= 0:
            self._loop.remove_fd(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        if self._master >= 0 and self._master in self._readers:
            # what the terminal still holds; a background job keeping the pty open must not
            # keep the channel open (sshd does the same)
            if not self._drain_master(final=False):
                # the child's last bytes may still be on their way: the tty layer moves them to
                # the master side asynchronously, so "nothing yet" is not the end. The reader
                # stays (EIO ends it when the child was the last holder); a last look ends it
                # otherwise
                self._loop.call_later(_PTY_SETTLE, self._settle_master)
                return
        self._maybe_finish()

    def _drain_master(self, final: bool = True) -> bool:
        """Read what the pty holds; True when its reader is closed (EOF, EIO, or ``final`` and
        nothing more to read)."""
        fd = self._master
        while fd in self._readers:
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                if not final:
                    return False
                data = b""
            except OSError:
                data = b""
            if not data:
                self._close_reader(fd)
                return True
            if not self.channel.closed and not self.channel._close_queued:
                self.channel.write(data)
        return True

    def _settle_master(self) -> None:
        if not self._finished:
            self._drain_master()
            self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self._finished or self.returncode is None or self._readers:
            return
        self._finished = True
        self._in.clear()
        self._close_stdin()
        if self._master >= 0:
            self._loop.remove_fd(self._master)
            os.close(self._master)
            self._master = self._stdin = -1
        channel = self.channel
        code = self.returncode
        if not channel.closed and not channel._close_queued:
            try:
                if code >= 0:
                    channel.send_exit_status(code)
                else:
                    name = signal.Signals(-code).name.removeprefix("SIG")
                    channel.send_exit_signal(name, False, "", "")
                channel.send_eof()
                channel.close()
            except ClosedError:
                pass
        log.debug("%r: child %d exited with %d", channel.session, self.pid, code)
        try:
            self.emit("exit", code)
        except Exception:
            log.exception("an 'exit' listener raised")

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else f"exited {self.returncode}"
        return f"<ChildProcess pid={getattr(self, 'pid', '?')} {state}>"


# -- terminals -------------------------------------------------------------------------------------


# Ignored signals survive exec: a server started from a non-interactive shell's background job has
# SIGINT and SIGQUIT ignored, and its children would shrug off the client's signal requests.
_RESET_SIGNALS = tuple(getattr(signal, name) for name in
                       ("SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGTSTP", "SIGTTIN",
                        "SIGTTOU", "SIGCHLD", "SIGUSR1", "SIGUSR2", "SIGALRM"))


def _signals_to_reset() -> bool:
    """Whether a child would inherit signal state it must not have: one of _RESET_SIGNALS
    ignored (subprocess resets SIGPIPE itself; handled ones go back to the default at exec) or
    any signal blocked."""
    if signal.pthread_sigmask(signal.SIG_BLOCK, ()):
        return True
    return any(signal.getsignal(s) == signal.SIG_IGN for s in _RESET_SIGNALS
               if s != signal.SIGPIPE)


def _default_signals() -> None:
    # runs in the child: start it with default signal handling, as sshd does
    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _take_controlling_tty() -> None:
    # runs in the child after setsid(): its stdin (the pty's slave) becomes its terminal
    _default_signals()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_window_size(fd: int, cols: int, rows: int, pixel_width: int = 0,
                    pixel_height: int = 0) -> None:
    """Set a terminal's size (the kernel tells the foreground process group with SIGWINCH)."""
    packed = struct.pack("HHHH", max(0, rows) & 0xFFFF, max(0, cols) & 0xFFFF,
                         max(0, pixel_width) & 0xFFFF, max(0, pixel_height) & 0xFFFF)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)
    except OSError as exc:
        log.debug("TIOCSWINSZ: %s", exc)


_IFLAG = ("IGNPAR", "PARMRK", "INPCK", "ISTRIP", "INLCR", "IGNCR", "ICRNL", "IUCLC", "IXON",
          "IXANY", "IXOFF", "IMAXBEL", "IUTF8")
_OFLAG = ("OPOST", "OLCUC", "ONLCR", "OCRNL", "ONOCR", "ONLRET")
_LFLAG = ("ISIG", "ICANON", "XCASE", "ECHO", "ECHOE", "ECHOK", "ECHONL", "NOFLSH", "TOSTOP",
          "IEXTEN", "ECHOCTL", "ECHOKE", "PENDIN")
_CFLAG = ("PARENB", "PARODD")
_CC = ("VINTR", "VQUIT", "VERASE", "VKILL", "VEOF", "VEOL", "VEOL2", "VSTART", "VSTOP",
       "VSUSP", "VDSUSP", "VREPRINT", "VWERASE", "VLNEXT", "VFLUSH", "VSWTCH", "VSTATUS",
       "VDISCARD")


def apply_tty_modes(fd: int, modes: Mapping[str, int] | None) -> None:
    """Apply RFC 4254 terminal modes (as decoded in ``ChannelRequestMessage.modes``) to a
    terminal; modes this platform lacks are skipped."""
    if not modes:
        return
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        return
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    for names, index in ((_IFLAG, 0), (_OFLAG, 1), (_LFLAG, 3), (_CFLAG, 2)):
        for name in names:
            if name in modes and hasattr(termios, name):
                bit = getattr(termios, name)
                attrs[index] = attrs[index] | bit if modes[name] else attrs[index] & ~bit
    for size in ("CS7", "CS8"):
        if modes.get(size) and hasattr(termios, size):
            attrs[2] = (attrs[2] & ~termios.CSIZE) | getattr(termios, size)
    for name in _CC:
        if name in modes and hasattr(termios, name):
            value = modes[name]
            # 255 means "disabled" on the wire; POSIX's disabled value is 0 on Linux
            cc[getattr(termios, name)] = bytes([0 if value == 255 else value & 0xFF])
    for key, index in (("TTY_OP_ISPEED", 4), ("TTY_OP_OSPEED", 5)):
        speed = getattr(termios, f"B{modes.get(key)}", None) if key in modes else None
        if speed is not None:
            attrs[index] = speed
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except termios.error as exc:
        log.debug("tcsetattr: %s", exc)
