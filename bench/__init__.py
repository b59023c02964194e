"""Benchmarks: rota beside APScheduler on the same workloads (``python bench/run.py``)."""
