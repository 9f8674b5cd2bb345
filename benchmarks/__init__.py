"""Benchmarks: scripts that print a table, run as modules from the repository root (``make bench``)."""
