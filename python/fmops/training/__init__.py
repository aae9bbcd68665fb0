"""Pretraining, one module per idea.

text_data (read and validate text corpora, as streams, before torch), token_shards (the prepared dataset of
`fmops tokenize`: binary shards, index, integrity checks, ranged reads), tokenize (the tokenize stage), packing
(tokenize, pack, held-out split, unigram entropy, token-shard blocks, documents kept apart), sampling (the
deterministic replay-mixed sample stream), schedules (LR), config (the settings of every training stage in
Hugging Face's names, the table of renamed keys, PretrainConfig, TokenizeConfig), speed (the speed settings
applied to the model), state (the loop's typed state: TrainState, StepRecord), loop (the training function, on
accelerate), checkpoint (what each rank saves and loads, local or s3://), checkpoint_store (the one checkpoint
publication mechanism of every trainer: listing, completion marker, publish, prune, latest), flops (MFU formula
and peak table), metrics (throughput, memory, PretrainMetrics: the metrics.json summary), plot (loss.png),
model (tiny, or fmops.models.loading), pretrain (the stage: input checks, manifest), trainer (its torch side).
"""
