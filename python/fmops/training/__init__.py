"""Training pieces shared by the training stages, one module per idea.

text_data (read and validate text corpora, before torch), packing (tokenize, pack, held-out split, unigram
entropy), sampling (the deterministic replay-mixed sample stream), schedules (LR), config (TrainConfig),
loop (the training function, on accelerate), checkpoint (atomic, resumable, local or s3://), flops (MFU
formula and peak table), metrics (throughput, memory, metrics.json), plot (loss.png), model (tiny, path,
s3://, hub id), pretrain_run (the torch side of `fmops pretrain`).
"""
