"""What the loop asks for: seeds, prompt templates, sample rows and the parsing of answers."""
