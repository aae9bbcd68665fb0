"""Datasets: strict JSONL reading (line by line, before heavy imports), JSON-lines and parquet files as Hugging
Face `datasets` tables with each record's place, and the demo data generator."""
