"""`monitor run` as a real process: polls, a digest on schedule, a clean stop; the pass lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import cli
from monitor.config import load_subscriptions
from monitor.schedule import parse_digest_at, parse_interval
from monitor.storage.lock import PassLock
from monitor.storage.store import Store
from tests.conftest import EXAMPLES
from tests.test_digest import Inbox, free_port
from tests.test_subscriptions import listed_claims


def wait_for(condition, timeout: float, what: str, service: subprocess.Popen[str] | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    if service is not None:  # say what the service was doing
        service.kill()
        said = service.stderr.read()[-4000:] if service.stderr else ""
        raise AssertionError(f"timed out waiting for {what}; the service said:\n{said}")
    raise AssertionError(f"timed out waiting for {what}")


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with Store(db, readonly=True) as store:
            return sum(1 for run in store.recent_runs(50) if run.finished)
    except Exception:  # the service may still be creating it
        return 0


def test_run_polls_sends_the_digest_once_and_stops_cleanly(
    threaded_httpserver: HTTPServer, tmp_path: Path
) -> None:
    for name in ("preprints.rdf", "news.xml", "press.atom"):
        threaded_httpserver.expect_request(f"/{name}").respond_with_data((EXAMPLES / name).read_bytes())
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(
        "".join(threaded_httpserver.url_for(f"/{n}") + "\n" for n in ("preprints.rdf", "news.xml"))
    )
    db = tmp_path / "service.db"
    # Two subscriptions beside the digest: safety after each pass, cost every third second.
    (tmp_path / "config.toml").write_text(
        '[[subscription]]\nname = "safety-now"\nto = "desk@example.org"\ncategories = ["safety"]\n'
        'cadence = "immediate"\n\n[[subscription]]\nname = "cost"\nto = "econ@example.org"\n'
        'categories = ["cost"]\nat = "*/3 * * * * *"\n'
    )
    inbox, port = Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    env = dict(
        os.environ,
        MONITOR_HOME=str(tmp_path),
        MONITOR_SMTP_HOST="127.0.0.1",
        MONITOR_SMTP_PORT=str(port),
        MONITOR_SMTP_SECURITY="none",
        MONITOR_SMTP_FROM="monitor@example.org",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--poll-interval",
            "2s",
            "--feeds",
            str(feeds),
            "--db",
            str(db),
            "--digest-at",
            "*/3 * * * * *",  # every third second: the week's digest must still go only once
            "--timezone",
            "UTC",
            "--to",
            "ed@example.org",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: finished_runs(db) >= 1, 90, "a first pass", process)  # a cold start can be slow
        # Feeds edited while the service runs are read at the next pass.
        feeds.write_text(feeds.read_text() + threaded_httpserver.url_for("/press.atom") + "\n")
        wait_for(lambda: finished_runs(db) >= 3, 30, "two more passes")
        status = json.loads(CliRunner().invoke(cli, ["status", "--db", str(db), "--json"]).output)
        assert status["service"]["running"] and status["service"]["pid"] == process.pid
        assert status["service"]["next_poll"]
        next_digest = datetime.fromisoformat(status["service"]["next_digest"])
        assert next_digest.second % 3 == 0 and next_digest.utcoffset() == timedelta(0)
        assert status["passes"][0]["feeds_ok"] == 3
        with Store(db, readonly=True) as store:
            assert store.counts()["claims"] > 20 and store.counts()["articles"] == 15
        wait_for(lambda: inbox.messages, 90, "the digest")
        time.sleep(4)  # another poll or two and another digest time, and no second digest
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        smtp.stop()
    log = process.stderr.read()
    digests = [m for m in inbox.messages if not m["List-Id"]]
    assert len(digests) == 1 and digests[0]["To"] == "ed@example.org"
    for name, address in (("safety-now", "desk@example.org"), ("cost", "econ@example.org")):
        sent = [m for m in inbox.messages if m["List-Id"] and name in m["List-Id"].split("<")[1]]
        assert sent and all(m["To"] == address for m in sent), name
        with Store(db, readonly=True) as store:  # every claim of its category, each in one message
            category = "safety" if name == "safety-now" else "cost"
            waiting = store.pending_claims(
                next(s for s in load_subscriptions(tmp_path / "config.toml") if s.name == name), address
            )
            stored = [c for c in store.iter_claims() if c.category == category]
        texts = [" ".join(m.get_body(preferencelist=("plain",)).get_content().split()) for m in sent]
        for claim in stored:
            if claim not in waiting:
                assert sum(bool(listed_claims(t, [claim.text])) for t in texts) == 1, claim.text
    assert log.count(" pass=") >= 3 and "received SIGTERM: stopping" in log and "stopped" in log
    assert "feeds_ok=2 feeds_failed=0 new_articles=12" in log
    with PassLock(db):  # released
        pass
    final = json.loads(CliRunner().invoke(cli, ["status", "--db", str(db), "--json"]).output)
    assert not final["service"]["running"] and final["last_digest"]["recipients"] == "ed@example.org"


def test_once_refuses_while_a_pass_holds_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    feeds = tmp_path / "feeds.txt"
    feeds.write_text((EXAMPLES / "news.xml").as_uri() + "\n")
    with PassLock(db):
        result = CliRunner().invoke(cli, ["once", "--feeds", str(feeds), "--db", str(db), "--wait", "0.3"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: another pass is running on {db} after waiting 0.3s; "
        "try again when it has finished (or use --wait SECONDS)"
    )
    assert not db.exists()  # nothing was touched
    assert CliRunner().invoke(cli, ["once", "--feeds", str(feeds), "--db", str(db)]).exit_code == 0


@pytest.mark.parametrize(("text", "seconds"), [("6h", 21600), ("30m", 1800), ("10s", 10), ("1h30m", 5400)])
def test_intervals(text: str, seconds: int) -> None:
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "6x", "h", "0s", "6 hours"])
def test_bad_intervals_are_config_errors(text: str) -> None:
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_interval(text)


def test_digest_schedules() -> None:
    start = datetime(2026, 11, 26, 12, tzinfo=UTC)
    monday = parse_digest_at("mon 08:00", "Europe/London").get_next_fire_time(None, start)
    assert monday.isoformat() == "2026-11-30T08:00:00+00:00"
    cron = parse_digest_at("30 7 * * fri", "America/New_York").get_next_fire_time(None, start)
    assert cron.isoformat() == "2026-11-27T07:30:00-05:00"
