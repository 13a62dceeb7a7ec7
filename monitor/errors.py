"""One exception root for every failure a user is expected to see.

The CLI prints ``str(error)`` on one line and exits 1; anything that is not a
``MonitorError`` is a bug and keeps its traceback.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of all expected failures."""


class ConfigError(MonitorError):
    """A configuration file, feeds file or option is unusable."""


class FeedError(MonitorError):
    """A feed could not be fetched or parsed."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class StoreError(MonitorError):
    """The database cannot be opened or written (locked, corrupt, unwritable)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"database {path}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(MonitorError):
    """The classifier cannot be trained or loaded."""


class QueryError(MonitorError):
    """A search query cannot be run."""
