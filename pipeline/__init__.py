"""taosha's engine: schema, config, stage registry, readers/writers, runners, CLI."""

__version__ = "0.1.0"
