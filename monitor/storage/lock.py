"""One pass at a time: a lock file beside the database that `monitor once` and the
`monitor run` service both take. The operating system releases it when the process ends,
however it ends, so a killed pass never leaves a stale lock.
"""

from __future__ import annotations

from pathlib import Path

import filelock

from monitor.errors import MonitorError


class LockedError(MonitorError):
    """Another pass holds the lock."""


class PassLock:
    def __init__(self, db_path: Path, wait: float = 0.0) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.db_path = db_path
        self.wait = wait
        self._lock = filelock.FileLock(self.path, timeout=wait, thread_local=False)

    def __enter__(self) -> PassLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            waited = f" after waiting {self.wait:g}s" if self.wait else ""
            raise LockedError(
                f"another pass is running on {self.db_path}{waited}; "
                "try again when it has finished (or use --wait SECONDS)"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.is_locked


class SendLock:
    """One subscription send at a time per database, across processes: `monitor run`'s alerts
    and a `monitor once` or `monitor digest --send` beside it would otherwise both find the same
    claims unsent and both send them."""

    def __init__(self, db_path: Path, wait: float = 120.0) -> None:
        self.path = db_path.with_name(db_path.name + ".send.lock")
        self._lock = filelock.FileLock(self.path, timeout=wait, thread_local=False)

    def __enter__(self) -> SendLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockedError(
                f"another process has been sending mail for {self.path.parent} too long"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
