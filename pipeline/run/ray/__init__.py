"""The Ray engine: read source, stage actors, the write step, cluster sizing."""
