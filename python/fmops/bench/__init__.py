"""Benchmarks: serving load test and pretraining throughput."""
