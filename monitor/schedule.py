"""`monitor run`: the long-lived service. An APScheduler (3.x) scheduler polls the feeds at an
interval and sends the weekly digest and each weekly or daily subscription on a cron-like
schedule (immediate subscriptions after each pass), one job at a time, and stops cleanly on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Settings
from monitor.delivery import subscriptions as subscribing
from monitor.delivery.digest import deliver, make_digest, parse_digest_at, zone
from monitor.errors import ConfigError, MonitorError
from monitor.ingest.pages import page_counts_text
from monitor.pipeline import Monitor
from monitor.records import RunSummary, Subscription
from monitor.storage.lock import LockedError
from monitor.storage.store import Store

log = logging.getLogger("monitor")

_INTERVAL = re.compile(r"(\d+)\s*([smhd])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STOP_GRACE = 5.0  # seconds a pass may take to notice it should stop


def parse_interval(text: str) -> timedelta:
    """ "6h", "30m", "10s", "1h30m" -> timedelta."""
    cleaned = text.strip().replace(" ", "")
    parts = _INTERVAL.findall(cleaned)
    if not parts or "".join(f"{n}{u}" for n, u in parts).lower() != cleaned.lower():
        raise ConfigError(f"poll interval must look like 6h, 30m, 10s or 1h30m, not {text!r}")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds < 1:
        raise ConfigError("poll interval must be at least 1s")
    return timedelta(seconds=seconds)


def summary_line(summary: RunSummary) -> str:
    """One greppable line per pass."""
    claims = " ".join(f"{c}={n}" for c, n in summary.new_claims.items())
    seconds = (summary.finished - summary.started).total_seconds()
    return (
        f"pass={summary.run_id} feeds_ok={summary.feeds_ok} feeds_failed={summary.feeds_failed} "
        f"new_articles={summary.new_articles} {claims} seconds={seconds:.1f}"
    )


class Service:
    """The poll and digest jobs around one loaded Monitor."""

    def __init__(
        self,
        monitor: Monitor,
        settings: Settings,
        poll_interval: timedelta,
        recipients: Sequence[str],
        verbose: bool = False,
        subscriptions: Sequence[Subscription] = (),
    ) -> None:
        self.monitor = monitor
        self.subscriptions = list(subscriptions)
        self.settings = settings
        self.recipients = list(recipients)
        self.verbose = verbose
        self.stopping = threading.Event()
        self._working = threading.Lock()  # held while a job runs, so stopping can wait for it
        tz = zone(settings.timezone)
        self.scheduler = BackgroundScheduler(timezone=tz)
        jitter = min(60, int(poll_interval.total_seconds() // 20))  # polite: up to 5% late, 1 min at most
        grace = max(1, int(poll_interval.total_seconds()))
        self.scheduler.add_job(
            self.poll,
            IntervalTrigger(seconds=int(poll_interval.total_seconds()), timezone=tz, jitter=jitter or None),
            id="poll",
            next_run_time=datetime.now(UTC),
            max_instances=1,  # a poll never overlaps another poll
            coalesce=True,  # missed polls (sleep, suspend) run once on wake-up
            misfire_grace_time=grace,
        )
        if self.recipients or not self.subscriptions:  # with subscriptions, the digest needs its own readers
            self.scheduler.add_job(
                self.send_digest,
                parse_digest_at(settings.digest_at, settings.timezone),
                id="digest",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=6 * 3600,  # a digest missed while down goes out when we are back today
            )
        for subscription in self.subscriptions:
            trigger = subscribing.trigger(subscription, settings)
            if trigger is not None:
                self.scheduler.add_job(
                    self.send_subscription,
                    trigger,
                    args=[subscription],
                    id=f"subscription:{subscription.name}",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=6 * 3600,
                )
        self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
        seconds = str(int(poll_interval.total_seconds()))
        self._state = {"poll_interval": seconds, "digest_at": settings.digest_at}

    # -- jobs -----------------------------------------------------------------------

    def poll(self) -> None:
        with self._working:
            self._poll()

    def _poll(self) -> None:
        if self.stopping.is_set():
            return
        try:
            summary = self.monitor.run_pass(cancel=self.stopping)
        except LockedError as exc:
            log.warning("poll skipped: %s", exc)
            return
        log.info(summary_line(summary))
        for outcome in subscribing.after_pass(self.monitor.db_path, self.settings, self.subscriptions):
            (log.error if outcome.failed else log.info)("alert %s", outcome.line)
        if self.verbose:
            for feed in summary.feeds:
                state = "304" if feed.not_modified else ("ok" if feed.ok else "failed")
                log.info(
                    "feed=%s %s items=%d new=%d%s",
                    feed.url,
                    state,
                    feed.items,
                    feed.new_articles,
                    f" error={feed.error!r}" if feed.error else "",
                )
        self._publish()

    def send_digest(self) -> None:
        with self._working:
            self._send_digest()

    def _send_digest(self) -> None:
        if self.stopping.is_set():
            return
        try:
            digest = make_digest(self.monitor.db_path, self.settings)
            log.info("digest: %s", deliver(digest, self.settings, self.monitor.db_path, self.recipients))
        except MonitorError as exc:  # already sent, no recipients, mail server down: say so, go on
            log.error("digest not sent: %s", exc)
        self._publish()

    def send_subscription(self, subscription: Subscription) -> None:
        with self._working:
            if self.stopping.is_set():
                return
            try:
                log.info(
                    "subscription %s",
                    subscribing.send(self.monitor.db_path, self.settings, subscription).line,
                )
            except MonitorError as exc:  # the same claims wait for the next send
                log.error("subscription %s not sent: %s", subscription.name, exc)
            self._publish()

    def _job_failed(self, event: JobExecutionEvent) -> None:
        log.error("job %s failed: %r", event.job_id, event.exception)

    # -- running ----------------------------------------------------------------------

    def _publish(self) -> None:
        """Write pid and next run times where `monitor status` can read them."""
        state = dict(self._state, pid=str(os.getpid()))
        for job_id in ("poll", "digest"):
            job = self.scheduler.get_job(job_id)
            when = job.next_run_time if job else None
            state[f"next_{job_id}"] = when.astimezone(UTC).isoformat(timespec="seconds") if when else None
        with Store(self.monitor.db_path) as store:
            store.set_service_state(state)

    def run(self) -> None:
        """Run until SIGTERM or SIGINT; then let the current pass stop between articles."""
        done = threading.Event()

        def stop(signum: int, _frame: object) -> None:
            log.info("received %s: stopping", signal.Signals(signum).name)
            self.stopping.set()
            done.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self._state["started"] = datetime.now(UTC).isoformat(timespec="seconds")
        subscribing.register(self.monitor.db_path, self.subscriptions)
        self.scheduler.start()
        self._publish()
        log.info(
            "running: poll every %ss, digest at %s (%s), database %s",
            self._state["poll_interval"],
            self._state["digest_at"],
            self.settings.timezone,
            self.monitor.db_path,
        )
        done.wait()
        self.scheduler.shutdown(wait=False)
        self._wait_for_jobs()
        with Store(self.monitor.db_path) as store:
            store.set_service_state({"pid": None, "next_poll": None, "next_digest": None})
        log.info("stopped")

    def _wait_for_jobs(self) -> None:
        """Give a running job a few seconds to notice `stopping` and finish its article."""
        if self._working.acquire(timeout=STOP_GRACE):
            self._working.release()
        else:
            log.warning("a job is still running after %.0fs; leaving it", STOP_GRACE)


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    if not verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def run_service(
    feeds_path: Path,
    db_path: Path,
    settings: Settings,
    poll_interval: str,
    recipients: Sequence[str],
    verbose: bool = False,
    subscriptions: Sequence[Subscription] = (),
) -> None:
    """Run until stopped; the digest and weekly subscriptions go out at settings.digest_at."""
    configure_logging(verbose)
    service = Service(
        Monitor(feeds_path, db_path, settings),
        settings,
        parse_interval(poll_interval),
        recipients,
        verbose,
        subscriptions,
    )
    service.run()


def service_status(
    db_path: Path,
    runs: int = 10,
    settings: Settings | None = None,
    subscriptions: Sequence[Subscription] = (),
) -> dict[str, object]:
    """What `monitor status` reports; safe to call while `monitor run` is running."""
    readers = subscribing.overview(db_path, settings or Settings(), subscriptions)
    with Store(db_path, readonly=True) as store:
        state = store.service_state()
        day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
        week_ago = (datetime.now(UTC) - timedelta(days=7)).isoformat(timespec="seconds")
        pid = state.get("pid")
        return {
            "service": {
                "running": bool(pid) and _alive(int(pid or 0)),
                "pid": int(pid) if pid else None,
                "started": state.get("started"),
                "poll_interval_seconds": int(state["poll_interval"]) if state.get("poll_interval") else None,
                "digest_at": state.get("digest_at"),
                "next_poll": state.get("next_poll"),
                "next_digest": state.get("next_digest"),
            },
            "passes": [vars(run) for run in store.recent_runs(runs)],
            "failing_feeds": [vars(f) for f in store.failing_feeds(day_ago)],
            "last_digest": store.last_digest(),
            # Article pages read for summary-only items, per feed, over the last week.
            "full_text": store.page_counts(since=week_ago),
            "subscriptions": readers,
        }


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def format_status(status: dict[str, object]) -> str:
    service = status["service"]
    assert isinstance(service, dict)
    lines = [
        "service: "
        + (
            f"running (pid {service['pid']}, since {service['started']})"
            if service["running"]
            else "not running"
        ),
        f"next poll: {service['next_poll'] or '-'}   next digest: {service['next_digest'] or '-'}",
        "",
        "recent passes:",
    ]
    for run in status["passes"]:  # type: ignore[attr-defined]
        claims = " ".join(f"{c}={n}" for c, n in run["new_claims"].items())
        state = run["finished"] or "unfinished"
        lines.append(
            f"  #{run['id']} {run['started']} -> {state}: feeds ok {run['feeds_ok']}, "
            f"failed {run['feeds_failed']}, new articles {run['new_articles']}, {claims}"
        )
    failing = status["failing_feeds"]
    lines += [
        "",
        "feeds failing for more than a day:" if failing else "no feed has been failing for more than a day",
    ]
    for feed in failing:  # type: ignore[attr-defined]
        lines.append(f"  {feed['url']}: {feed['last_error']} (last success {feed['last_ok'] or 'never'})")
    pages = status.get("full_text") or {}
    lines += [
        "",
        "article pages read in the last 7 days:" if pages else "no article pages read in the last 7 days",
    ]
    for url, counts in sorted(pages.items()):  # type: ignore[attr-defined]
        lines.append(f"  {url}: {page_counts_text(counts)}")
    readers = status.get("subscriptions") or []
    lines += ["", "subscriptions:" if readers else "no subscriptions configured"]
    for row in readers:  # type: ignore[attr-defined]
        state = f"paused since {row['paused']}" if row["paused"] else f"next {row['next_send']}"
        failed = f", last send failed: {row['last_error']}" if row["last_error"] else ""
        lines.append(
            f"  {row['name']} ({row['cadence']}): {state}, last sent {row['last_sent'] or 'never'}{failed}"
        )
    digest = status["last_digest"]
    lines.append("")
    lines.append(
        f"last digest: {digest['week']} to {digest['recipients']} at {digest['sent_at']}"  # type: ignore[index]
        if digest
        else "last digest: none sent"
    )
    return "\n".join(lines)
