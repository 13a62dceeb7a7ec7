"""Ketamine claim monitor: watch news and preprint feeds for claims about ketamine in depression."""

__version__ = "0.1.0"
