"""Running a pipeline: the plan (segments, parts, work dir), the local engine, the Ray engine."""
