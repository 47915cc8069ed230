"""Math and code classification: the classify stage, its tokenizer, training data and the train command."""
