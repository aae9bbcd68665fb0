"""Pretraining, one module per idea.

text_data (read and validate text corpora, before torch), packing (tokenize, pack, held-out split, unigram
entropy), sampling (the deterministic replay-mixed sample stream), schedules (LR), config (the settings of
every training stage in Hugging Face's names, the table of renamed keys, PretrainConfig), loop (the training
function, on accelerate), checkpoint (atomic, resumable, local or s3://), flops (MFU formula and peak table),
metrics (throughput, memory, the metrics.json summary), plot (loss.png), model (tiny, or fmops.models.loading),
pretrain (the torch side of `fmops pretrain`).
"""
