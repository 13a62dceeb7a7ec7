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


class _FileLock:
    """A lock file beside the database, held across processes; LockedError when it cannot be had."""

    suffix = ".lock"

    def __init__(self, db_path: Path, wait: float) -> None:
        self.path = db_path.with_name(db_path.name + self.suffix)
        self.db_path = db_path
        self.wait = wait
        self._lock = filelock.FileLock(self.path, timeout=wait, thread_local=False)

    def busy(self) -> str:
        raise NotImplementedError

    def __enter__(self) -> _FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise LockedError(self.busy()) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.is_locked


class PassLock(_FileLock):
    def __init__(self, db_path: Path, wait: float = 0.0) -> None:
        super().__init__(db_path, wait)

    def busy(self) -> str:
        waited = f" after waiting {self.wait:g}s" if self.wait else ""
        return (
            f"another pass is running on {self.db_path}{waited}; "
            "try again when it has finished (or use --wait SECONDS)"
        )


class SendLock(_FileLock):
    """One subscription send at a time per database, across processes: `monitor run`'s alerts
    and a `monitor once` or `monitor digest --send` beside it would otherwise both find the same
    claims unsent and both send them."""

    suffix = ".send.lock"

    def __init__(self, db_path: Path, wait: float = 120.0) -> None:
        super().__init__(db_path, wait)

    def busy(self) -> str:
        return f"another process has been sending mail for {self.db_path} for {self.wait:g}s"
