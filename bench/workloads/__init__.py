"""One module per workload; each runs one system once and prints one JSON line.

python -m bench.workloads.burst --system rota --jobs 2000
"""
