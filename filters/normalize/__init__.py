"""The normalize stage and its text helpers (Unicode, whitespace, mojibake, Traditional -> Simplified)."""
