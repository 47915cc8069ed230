"""The synthetic loop: LLM client, prompts, verifiers, sandbox, loop driver."""
