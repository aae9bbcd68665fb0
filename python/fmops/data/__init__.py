"""Datasets: line-by-line validation of JSONL/text/parquet inputs, and the demo data generator."""
