"""scalecore's benchmarks: ``python -m bench --list``, ``python -m bench NAME``."""
