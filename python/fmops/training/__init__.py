"""Pretraining, one module per idea.

text_data (read and validate text corpora, as streams, before torch), token_shards (the prepared dataset of
`fmops tokenize`: binary shards, index, integrity checks, ranged reads), packing (tokenize, pack, held-out split,
unigram entropy, token-shard blocks, documents kept apart), sampling (the deterministic replay-mixed sample
stream), schedules (LR), config (the settings of every training stage in Hugging Face's names, the table of
renamed keys, PretrainConfig), loop (the training
function, on accelerate), checkpoint (atomic, resumable, local or s3://), flops (MFU formula and peak table),
metrics (throughput, memory, the metrics.json summary), plot (loss.png), model (tiny, or fmops.models.loading),
pretrain (the torch side of `fmops pretrain`).
"""
