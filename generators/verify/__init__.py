"""Verifiers: math answers (extraction, equivalence) and code (parsing, sandboxed tests)."""
