"""Kill -9 during passes, twenty times, then finish: nothing half-stored, duplicated or lost.

Slow (about a minute and a half): run with `make reliability` (CI does), not in `make test`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow
FEEDS = 24


def feed_body(n: int) -> bytes:
    """The example news feed, as if from another outlet: every link and headline unique to feed n
    (the same headline on the same day would be taken for the same story)."""
    text = (EXAMPLES / "news.xml").read_text(encoding="utf-8")
    text = text.replace("<item>\n      <title>", f"<item>\n      <title>Outlet {n}: ")
    return text.replace("https://www.morningledger.example/", f"https://outlet{n}.example/").encode()


def snapshot(db: Path) -> tuple[str, dict[str, int], int, int]:
    """integrity_check, claims per article, articles without a feed link, duplicated claims."""
    connection = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        claims = dict(
            connection.execute(
                "SELECT articles.id, count(claims.id) FROM articles "
                "LEFT JOIN claims ON claims.article_id = articles.id GROUP BY articles.id"
            ).fetchall()
        )
        unlinked = connection.execute(
            "SELECT count(*) FROM articles WHERE id NOT IN (SELECT article_id FROM article_feeds)"
        ).fetchone()[0]
        duplicated = connection.execute(
            'SELECT count(*) FROM (SELECT article_id, unit, start, "end" FROM claims '
            'GROUP BY article_id, unit, start, "end" HAVING count(*) > 1)'
        ).fetchone()[0]
    finally:
        connection.close()
    return integrity, claims, unlinked, duplicated


def children(pid: int) -> set[int]:
    """Process ids whose parent is pid (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def run_once(feeds: Path, db: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "once", "--feeds", str(feeds), "--db", str(db), "--wait", "30"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_twenty_kills_leave_a_whole_database(threaded_httpserver: HTTPServer, tmp_path: Path) -> None:
    def slow_feed(request: Request) -> Response:
        time.sleep(0.15)  # a pass takes a while, so kills land in every stage
        return Response(
            feed_body(int(request.path.strip("/").split(".")[0])), content_type="application/rss+xml"
        )

    for n in range(FEEDS):
        threaded_httpserver.expect_request(f"/{n}.xml").respond_with_handler(slow_feed)
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("".join(threaded_httpserver.url_for(f"/{n}.xml") + "\n" for n in range(FEEDS)))
    (tmp_path / "config.toml").write_text("[monitor]\nhost_delay = 0.05\n")
    env = dict(os.environ, MONITOR_HOME=str(tmp_path))

    reference = tmp_path / "reference.db"
    started = time.monotonic()
    assert run_once(feeds, reference, env).wait(timeout=120) == 0
    full_pass = time.monotonic() - started
    _, expected, _, _ = snapshot(reference)
    assert len(expected) == FEEDS * 6  # six stories per outlet, each with its own link

    db = tmp_path / "killed.db"
    rng = random.Random(20261126)
    seen: dict[str, int] = {}
    orphans: set[int] = set()
    for kill in range(20):
        process = run_once(feeds, db, env)
        time.sleep(rng.uniform(0.2, full_pass))
        parsers = children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        orphans.update(parsers)
        if not db.exists():
            continue
        integrity, claims, unlinked, duplicated = snapshot(db)
        assert integrity == "ok", f"kill {kill}"
        assert unlinked == 0 and duplicated == 0, f"kill {kill}"
        for article, count in claims.items():
            assert count == expected[article], f"kill {kill}: {article} half-stored"
        assert set(seen) <= set(claims), f"kill {kill}: stored articles lost"
        seen = claims
    assert run_once(feeds, db, env).wait(timeout=120) == 0
    assert snapshot(db)[1] == expected
    # The killed passes' parser processes noticed and ended (they check once a second).
    time.sleep(2.5)
    assert {pid for pid in orphans if Path(f"/proc/{pid}").exists()} == set()
