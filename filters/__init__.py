"""Document stages: normalize, langid, heuristics, dedup, classify."""
