"""Performance benchmarks: ``python -m benchmarks.<name>``; results go to RESULTS.md.

Each benchmark measures against a baseline run in the same process and reports ratios;
absolute times depend on the machine, which every result names.
"""
