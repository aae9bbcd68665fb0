"""Tokenize a text corpus once into binary token shards that `fmops pretrain --data` streams from storage.

    fmops tokenize --model tiny --data demo-data/pretrain.jsonl --output out/tokens
    fmops tokenize --model registry/models/demo/latest --data s3://bucket/new/ --output s3://bucket/tokens/new
    fmops pretrain --model registry/models/demo/latest --data s3://bucket/tokens/new --output s3://bucket/runs/1

Input (--data, any number of files/dirs/URIs, commas ok): .jsonl (`text` field), .txt (documents separated by
blank lines), .parquet (`text` column); every line is validated before anything is tokenized. The model's
tokenizer (tokenizer.json of a path or s3:// model, or a hub id) tokenizes batches of documents on every core;
`--model tiny` trains the tiny BPE tokenizer on the corpus and keeps it in the dataset (tokenizer/).

Output (--output): tokens-NNNNN.bin (token ids, uint16 for vocabularies below 65536, else uint32, each document
followed by EOS, shard_tokens per file), documents.bin (uint64 token offset of every document's start),
index.json (dtype, tokenizer sha256, totals, per file bytes and sha256), metrics.json, and manifest.json last.
`fmops pretrain` refuses a dataset whose tokenizer is not its model's, and names a shard that is missing or
truncated (checked on every open; training reads ranges). A rerun with the same --output reads every file
whole and names any that no longer matches its sha256 (exit 2), else says it is already complete.

metrics.json: documents, tokens, shards, dtype, unigram_entropy (nats/token), seconds and
tokens_per_s (of the tokenizing pass). Settings (--config FILE, --set KEY=VALUE): shard_tokens, batch_size,
vocab_size and tokenizer_train_bytes (tiny only) (fmops.training.tokenize.TokenizeConfig).
"""

from __future__ import annotations

import argparse
import sys

from fmops.cli import options
from fmops.training.tokenize import STAGE, TokenizeConfig, tokenize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="tiny | path | s3:// | hub id | registry pointer")
    parser.add_argument("--data", nargs="+", required=True, help="files/dirs (.jsonl, .txt, .parquet), commas ok")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--shard-tokens", type=int, default=None, help=TokenizeConfig.model_fields["shard_tokens"]
                        .description)  # fmt: skip
    options.add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = options.load_config(TokenizeConfig, STAGE, args, shard_tokens=args.shard_tokens)
    result = tokenize(model=args.model, data=args.data, output=args.output, config=config)
    if result.metrics is None:
        print(f"{result.output}: already complete (every shard matches its sha256); nothing to do", file=sys.stderr)
        return 0
    m = result.metrics
    print(f"fmops tokenize: wrote {result.output} ({m['tokens']:,} tokens, {m['documents']:,} documents, "
          f"{m['shards']} shards, {m['tokens_per_s']:,.0f} tokens/s)")  # fmt: skip
    return 0
