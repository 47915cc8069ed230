"""fastText prediction compiled from the model file: the library's answers, faster on n-gram models."""
