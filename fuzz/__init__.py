"""Fuzz harnesses for pylibssh's parsers of network and file input (atheris/libFuzzer).

``./dev fuzz [NAME ...] [--seconds N]`` runs them on an instrumented build; the test suite runs
each for a few seconds (tests/test_fuzz.py). See fuzz/runner.py and docs/fuzzing.md.
"""
