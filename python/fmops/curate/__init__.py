"""`fmops curate`: deduplicate (exact, MinHash within the input and against earlier cycles), filter for quality,
redact personal data and decontaminate text shards on datatrove before they are tokenized or trained on.

Manual: python/fmops/curate/README.md
"""
