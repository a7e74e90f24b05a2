"""The channels' output queue against a plain bytearray doing the same operations."""

from __future__ import annotations

import random

import pytest

from pylibssh._bytequeue import ByteQueue


def test_matches_a_bytearray_under_random_operations():
    rng = random.Random(7)
    q, ref = ByteQueue(), bytearray()
    for _ in range(5000):
        op = rng.random()
        if op < 0.45:
            chunk = bytes(rng.choice(b"ab\n") for _ in range(rng.randrange(0, 40)))
            q.append(chunk)
            ref += chunk
        elif op < 0.8:
            n = rng.randrange(-1, 60)
            want = bytes(ref) if n < 0 else bytes(ref[:n])
            del ref[:len(want)]
            assert q.take(n) == want
        elif op < 0.9:
            assert q.find(b"\n") == ref.find(b"\n")
            assert (b"\n" in q) == (b"\n" in ref)
        elif op < 0.95:
            other = ByteQueue()
            other.append(b"xy\n")
            other.take(1)  # a partly read queue moves over from where it was read
            q.extend(other)
            ref += b"y\n"
        else:
            assert bytes(q) == bytes(ref)
        assert len(q) == len(ref) and bool(q) == bool(ref)


def test_taking_everything_of_one_chunk_does_not_copy():
    q = ByteQueue()
    chunk = b"x" * 100_000
    q.append(chunk)
    assert q.take() is chunk
    assert q.take() == b"" and not q


def test_find_wants_one_byte():
    with pytest.raises(ValueError):
        ByteQueue().find(b"ab")
