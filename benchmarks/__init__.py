"""asv benchmarks of skgd (see benchmarks/README.md).

Data sizes scale with the environment variable ``SKGD_BENCH_SCALE`` (default 1.0 =
the sizes of the performance targets; ``smoke.py`` uses a tiny scale).
"""
