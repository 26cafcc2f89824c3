"""Benchmarks: measured speed, never in timed unit tests."""
