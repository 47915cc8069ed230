"""Document sketches for near-duplicate search: shingle hashing, MinHash signatures, LSH band sizing."""
