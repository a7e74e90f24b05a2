"""Counts of live server objects that own C memory (sessions, channels, queued messages).

Tests read :func:`counts` to prove that nothing leaks: every ``ssh_message`` pylibssh takes from
libssh is freed exactly once, every channel and session torn down.
"""

from __future__ import annotations

from collections import Counter

_counts: Counter[str] = Counter()


def inc(kind: str) -> None:
    _counts[kind] += 1


def dec(kind: str) -> None:
    _counts[kind] -= 1


def counts() -> dict[str, int]:
    """Live ``sessions``, ``channels`` and ``messages`` owned by pylibssh servers."""
    return {kind: _counts[kind] for kind in ("sessions", "channels", "messages")}
