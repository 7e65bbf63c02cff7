"""Benchmarks: goodput against the line rate, AT round trips, host CPU per MiB, fairness, memory.

``python -m bench`` (see ``python -m bench --help``). Every figure is measured in one run and
reported as a ratio (to the line rate, to the pyserial floor); nothing here asserts a time.
"""
