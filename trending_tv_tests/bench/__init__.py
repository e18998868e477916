"""Benchmarks (`make bench`): speed and memory targets, measured, never asserted in unit tests."""
