"""Deduplication: the dedup stage, its sketch (shingles, MinHash, LSH), pure phases, local and Ray engines, index."""
