"""The served model: OpenAI-compatible client, the managed llama.cpp server, the request cache, the Ray client."""
