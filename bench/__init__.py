"""The benchmark: assemblage_kv beside the embedded stores Python users pick.

Run it from the repository's top folder with `.venv/bin/python -m bench` (after
`pip install -e '.[dev,bench]'`); docs/performance.md says what each workload measures.
Every measurement runs in a fresh subprocess (`bench.worker`), through the stores' public
APIs only, so that it keeps measuring the same thing while the internals change.
"""
