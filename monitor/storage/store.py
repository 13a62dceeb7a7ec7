"""The only module that talks to SQLite, through sqlite-utils.

Every article is written with its feed link and its claims in one transaction,
so an interrupted run never leaves half an article behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import QueryError, StoreError
from monitor.records import (
    ALL_CLAIMS,
    Article,
    Claim,
    ClaimFilter,
    Correction,
    FeedHealth,
    FeedState,
    FetchResult,
    Page,
    ParsedFeed,
    Prediction,
    RunRecord,
    RunSummary,
    StoredClaim,
)
from monitor.storage.claimsql import (
    CLAIM_DATE,
    CLAIM_FROM,
    CLAIM_SELECT,
    SEARCH_COLUMNS,
    SEARCH_RANK,
    claim_row,
    filter_sql,
    fts_query,
    limit_sql,
    stored_claim,
)
from monitor.storage.migrations import MIGRATIONS
from monitor.storage.studylinks import link_studies_in
from monitor.storage.subscriptions import SubscriptionRecords

if TYPE_CHECKING:
    pass

HIGHLIGHT = ("[", "]")
MAX_CHUNKS = 10  # index chunks read before a search falls back to scoring every match
EXACT_UP_TO = 100_000  # a query with more matches is ranked among its shortest (Store._ranked_search)
SHORT_POOL = 1_000  # how many of them: enough that BM25's order within them decides the first pages
MAX_POOL = 32_000  # narrow filters widen the pool up to this (SQLite's bound on query parameters)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store(SubscriptionRecords):
    """The claim database."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout: float = 10.0) -> None:
        self.path = path
        try:
            if readonly:
                if not path.exists():
                    raise StoreError(str(path), "no such database; run `monitor once` first")
                # Reading needs plain SQL only: importing sqlite-utils (and the numpy it pulls in)
                # would be most of a `monitor search`'s time.
                self.db = ReadOnlyDatabase(_connect_readonly(path, busy_timeout))
            else:
                import sqlite_utils

                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, timeout=busy_timeout)
                self.db = sqlite_utils.Database(conn)
            if not readonly:
                self.db.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last
                # commits, which the next pass fetches again. FULL would fsync every article.
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.migrate()
            elif "_migrations" not in self.db.table_names():
                raise StoreError(str(path), "not a monitor database")
            elif set(self.applied_migrations()) != {name for name, _ in MIGRATIONS}:
                # Written by an older version: upgrade it once, then read as asked.
                self.db.conn.close()
                Store(path, busy_timeout=busy_timeout).close()
                self.db = ReadOnlyDatabase(_connect_readonly(path, busy_timeout))
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(path), _describe(exc)) from exc
        except OSError as exc:
            raise StoreError(str(path), exc.strerror or str(exc)) from exc

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names. Two processes opening a new
        database at once (the service and a `monitor status`) must not both run m001: the check
        and the migrations happen under one write lock, so the second waits and finds them done."""
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        if set(self.applied_migrations()) >= {name for name, _ in MIGRATIONS}:
            return []
        applied = []
        try:
            self.db.execute("BEGIN IMMEDIATE")
            done = set(self.applied_migrations())
            for name, function in MIGRATIONS:
                if name not in done:
                    function(self.db)
                    self.db["_migrations"].insert({"name": name, "applied_at": now_iso()})
                    applied.append(name)
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        return applied

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # -- feeds ----------------------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        return {
            row["url"]: FeedState(
                row["url"],
                row["etag"],
                row["last_modified"],
                row["moved_to"],
                row["gone_since"],
                row["next_attempt"],
                row["consecutive_failures"] or 0,
                row["last_status"],
            )
            for row in self._rows("SELECT * FROM feeds")
        }

    def record_fetch(
        self,
        result: FetchResult,
        parsed: ParsedFeed | None,
        error: str | None,
        next_attempt: str | None = None,
    ) -> None:
        """Remember the outcome of fetching (and parsing) one feed. A skipped feed is left as
        it was; next_attempt (ISO) holds the feed back after a failure or a Retry-After."""
        if result.skipped:
            return
        stamp = now_iso()
        table = self.db["feeds"]
        with self._transaction():
            self._ensure_feed(result.source.url)
            row = table.get(result.source.url)
            update: dict[str, Any] = {
                "last_fetched": stamp,
                "last_status": result.status,
                "next_attempt": next_attempt,
                "attempts": (row["attempts"] or 0) + 1,
                "not_modified": (row["not_modified"] or 0) + int(result.not_modified),
            }
            if result.moved_to:
                update["moved_to"] = result.moved_to
            if result.status == 410:
                update["gone_since"] = stamp
            if error is None:
                update.update(last_error=None, last_ok=stamp, consecutive_failures=0)
                if not result.not_modified:
                    update.update(etag=result.etag, last_modified=result.last_modified)
                if parsed is not None:
                    update.update(title=parsed.title, format=parsed.format, items_last=len(parsed.articles))
            else:
                update.update(last_error=error, consecutive_failures=(row["consecutive_failures"] or 0) + 1)
            table.update(result.source.url, update)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing; a busy or locked database becomes a StoreError with one clear line."""
        try:
            with self.db.atomic():
                yield
        except sqlite3.OperationalError as exc:
            raise StoreError(str(self.path), _describe(exc)) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction around many writes; each save_article inside stays all or nothing on
        its own (a savepoint). One commit per batch instead of one per article: half the time
        of storing a 6,000-article first pass went into commits (pyinstrument, polling benchmark)."""
        with self._transaction():
            yield

    def _ensure_feed(self, url: str) -> None:
        # Plain SQL on the hot path: sqlite-utils' insert() reads the table's schema on every
        # call, which was a tenth of a 6,000-article first pass (polling benchmark, pyinstrument).
        self.db.execute("INSERT OR IGNORE INTO feeds (url) VALUES (?)", [url])

    def _link(self, article_id: str, feed_url: str, stamp: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO article_feeds (article_id, feed_url, first_seen) VALUES (?, ?, ?)",
            [article_id, feed_url, stamp],
        )

    # -- articles and claims --------------------------------------------------

    def known_articles(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        known: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk)
            known.update(r[0] for r in rows)
        return known

    def same_story(self, article: Article) -> str | None:
        """An article already stored under another id with the same headline, published within
        a day of this one (or undated): the same story through another link."""
        if len(article.title_key.split()) < 4:  # "Ketamine" alone is not a story
            return None
        rows = self.db.execute(
            "SELECT id, published FROM articles WHERE title_key = ? AND id != ?",
            [article.title_key, article.id],
        ).fetchall()
        for other_id, published in rows:
            if article.published is None or published is None:
                return other_id
            other = datetime.fromisoformat(published)
            if abs((other - article.published).total_seconds()) <= 86400:
                return other_id
        return None

    def link_feed(self, article_id: str, feed_url: str) -> None:
        """Record that another feed carried an article we already have."""
        with self._transaction():
            self._ensure_feed(feed_url)
            self._link(article_id, feed_url, now_iso())

    def save_article(self, article: Article, claims: Iterable[Claim], stored_at: str | None = None) -> bool:
        """Store an article (with its page, when one was read) and its claims atomically. False
        if it was already there. stored_at (ISO UTC) is for loading history; a pass stores
        with the current time."""
        stamp = stored_at or now_iso()
        page = article.page
        with self._transaction():
            self._ensure_feed(article.feed_url)
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO articles (id, url, title, text, source, doi, guid, "
                "authors, published, fetched, feed_url, evidence_tier, title_key, feed_content, cited, "
                "page_text, page_url, page_status, page_reason, page_attempts, page_fetched, page_retry) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    article.id,
                    article.url,
                    article.title,
                    article.text,
                    article.source,
                    article.doi,
                    article.guid,
                    article.authors,
                    _iso(article.published or (page.published if page else None)),
                    stamp,
                    article.feed_url,
                    article.evidence_tier,
                    article.title_key or None,
                    int(article.feed_content),
                    _cited(article.cited + (page.cited if page else ())),
                    *_page_columns(page, stamp, 1),
                ],
            )
            if cursor.rowcount == 0:
                return False
            self._link(article.id, article.feed_url, stamp)
            self.db.execute(
                "UPDATE feeds SET articles_stored = articles_stored + 1 WHERE url = ?",
                [article.feed_url],
            )
            self._insert_claims(claims, stamp)
        return True

    def _insert_claims(self, claims: Iterable[Claim], stamp: str) -> None:
        rows = [claim_row(c, stamp) for c in claims]
        if rows:  # most articles have none, and insert_all reads the schema each call
            # No OR IGNORE here: it would also swallow constraint violations.
            self.db["claims"].insert_all(rows)

    def coverage(self, paper_ids: Iterable[str]) -> dict[str, list[tuple[str, str | None]]]:
        """For each paper or preprint, the outlets whose stories report it: (source, url)."""
        ids = list(dict.fromkeys(paper_ids))
        covered: dict[str, list[tuple[str, str | None]]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = self.db.execute(
                f"SELECT study_article_id, source, url FROM articles WHERE study_article_id IN "
                f"({','.join('?' * len(chunk))}) AND id != study_article_id ORDER BY published, source",
                chunk,
            )
            for paper_id, source, url in rows:
                covered.setdefault(paper_id, []).append((source, url))
        return covered

    def link_studies(self, article_ids: Iterable[str]) -> int:
        """Link newly stored articles to their studies, and stories waiting for a new paper."""
        with self._transaction():
            return link_studies_in(self.db, article_ids)

    def pages_to_retry(self, attempts: int, limit: int = 200) -> list[Article]:
        """Stored articles whose page failed for a passing reason, fewer than `attempts` times,
        and whose retry time has come, oldest first: Articles with their feed text."""
        rows = self.db.execute(
            "SELECT id, url, title, text, source, feed_url, published, doi, guid, authors, "
            "evidence_tier, title_key, feed_content FROM articles "
            "WHERE page_retry IS NOT NULL AND page_retry <= ? AND page_attempts < ? "
            "ORDER BY page_retry LIMIT ?",
            [now_iso(), attempts, limit],
        ).fetchall()
        return [_stored_article(row) for row in rows]

    def save_page(self, article_id: str, page: Page, claims: Iterable[Claim]) -> list[Claim]:
        """Record another attempt at an article's page and, when it was read, its claims: only
        those whose sentence the article's claims do not already have (the summary's sentences
        often open the story). Returns the claims it added."""
        stamp = now_iso()
        with self._transaction():
            (attempts,) = self.db.execute(
                "SELECT page_attempts FROM articles WHERE id = ?", [article_id]
            ).fetchone()
            text, url, status, reason, attempts, fetched, retry = _page_columns(page, stamp, attempts + 1)
            (cited,) = self.db.execute("SELECT cited FROM articles WHERE id = ?", [article_id]).fetchone()
            self.db.execute(
                "UPDATE articles SET page_text = ?, page_url = ?, page_status = ?, page_reason = ?, "
                "page_attempts = ?, page_fetched = ?, page_retry = ?, cited = ? WHERE id = ?",
                [text, url, status, reason, attempts, fetched, retry,
                 _cited(tuple(json.loads(cited or "[]")) + page.cited), article_id],
            )  # fmt: skip
            have = {
                " ".join(row[0].split()).lower()
                for row in self.db.execute("SELECT text FROM claims WHERE article_id = ?", [article_id])
            }
            new = [c for c in claims if " ".join(c.sentence.text.split()).lower() not in have]
            self._insert_claims(new, stamp)
        return new

    def page_counts(self, since: str | None = None, until: str | None = None) -> dict[str, dict[str, int]]:
        """Full-text fetches per feed (the feed that first carried the article): status -> count,
        for articles stored in [since, until) (all when not given)."""
        rows = self.db.execute(
            "SELECT feed_url, page_status, count(*) FROM articles WHERE page_status IS NOT NULL "
            "AND fetched >= ? AND fetched < ? GROUP BY feed_url, page_status",
            [since or "", until or "9999"],
        ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for feed_url, status, n in rows:
            counts.setdefault(feed_url, {})[status] = n
        return counts

    def page_counts_by_feed_title(self, since: str, until: str) -> list[tuple[str, dict[str, int]]]:
        """page_counts, each feed named by its title (its URL when it has none), in name order."""
        titles = dict(self.db.execute("SELECT url, title FROM feeds").fetchall())
        named = [(titles.get(url) or url, counts) for url, counts in self.page_counts(since, until).items()]
        return sorted(named, key=lambda pair: pair[0].lower())

    # -- runs -----------------------------------------------------------------

    def start_run(self, started: datetime) -> int:
        with self._transaction():
            return int(self.db["runs"].insert({"started": started.isoformat(timespec="seconds")}).last_pk)

    def finish_run(self, summary: RunSummary) -> None:
        with self._transaction():
            self.db["runs"].update(
                summary.run_id,
                {
                    "finished": summary.finished.isoformat(timespec="seconds"),
                    "feeds_ok": summary.feeds_ok,
                    "feeds_failed": summary.feeds_failed,
                    "new_articles": summary.new_articles,
                    "new_claims": json.dumps(summary.new_claims),
                    "errors": json.dumps({f.url: f.error for f in summary.feeds if f.error}),
                },
            )

    def counts(self) -> dict[str, int]:
        tables = ("feeds", "articles", "claims", "runs")
        return {t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}

    # -- reading claims -------------------------------------------------------

    def iter_claims(self, filters: ClaimFilter = ALL_CLAIMS) -> Iterator[StoredClaim]:
        """Every matching claim, oldest first, streamed from a cursor."""
        where, params = filter_sql(filters)
        sql = f"{CLAIM_SELECT} {where} ORDER BY claims.extracted_at, claims.rowid" + limit_sql(filters)
        for row in self._rows(sql, params):
            yield stored_claim(row)

    def get_claim(self, claim_id: str) -> StoredClaim:
        where, params = filter_sql(ClaimFilter(include_rejected=True))
        found = self._claims(f"{CLAIM_SELECT} {where} AND claims.id = ?", [*params, claim_id])
        if not found:
            raise QueryError(f"no claim with id {claim_id!r}")
        return found[0]

    # -- corrections ----------------------------------------------------------

    def correct(self, claim_id: str, category: str, note: str | None, by: str) -> Correction:
        """Record a person's label for a claim; from now on it is the claim's category."""
        claim = self.get_claim(claim_id)
        correction = Correction(claim_id, claim.text, claim.category, category, note, by, now_iso())
        with self._transaction():
            row = asdict(correction)
            del row["id"]
            self.db["corrections"].insert(row)
            self.db.execute(
                "UPDATE claims SET category = ?, corrected = 1, uncertain = 0 WHERE id = ?",
                [category, claim_id],
            )
        return correction

    def corrections(self) -> list[Correction]:
        """Every correction, latest last; a claim corrected twice appears twice."""
        return [Correction(**row) for row in self._rows("SELECT * FROM corrections ORDER BY id")]

    def relabel(self, claim_id: str, prediction: Prediction, uncertain: bool) -> bool:
        """Store a new model's verdict on a claim, unless a person has corrected it."""
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE claims SET category = ?, model_category = ?, confidence = ?, scores = ?, "
                "secondary = ?, uncertain = ?, model_version = ? WHERE id = ? AND corrected = 0",
                [
                    prediction.category,
                    prediction.category,
                    round(prediction.confidence, 4),
                    json.dumps(prediction.scores),
                    prediction.secondary,
                    uncertain,
                    prediction.model_version,
                    claim_id,
                ],
            )
        return cursor.rowcount == 1

    # -- digests --------------------------------------------------------------

    def claims_stored_between(self, start: str, end: str) -> list[StoredClaim]:
        """Claims first stored in [start, end) (ISO UTC times), people's rejections left out."""
        where, params = filter_sql(ClaimFilter(stored_since=start))
        sql = f"{CLAIM_SELECT} {where} AND claims.extracted_at < ? ORDER BY claims.extracted_at, claims.rowid"
        return self._claims(sql, [*params, end])

    def category_counts(self, start: str, end: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT category, count(*) FROM claims WHERE extracted_at >= ? AND extracted_at < ? "
            "AND category != 'none' GROUP BY category",
            [start, end],
        )
        return dict(rows.fetchall())

    def feed_health(self, start: str, end: str) -> list[FeedHealth]:
        """Feeds that failed for the whole of [start, end), or brought nothing new in it."""
        rows = self.db.execute(
            """
            SELECT url, title, last_error, last_ok, consecutive_failures,
              (SELECT count(*) FROM article_feeds
                WHERE article_feeds.feed_url = feeds.url AND first_seen >= ? AND first_seen < ?) AS new
            FROM feeds ORDER BY url
            """,
            [start, end],
        ).fetchall()
        health = []
        for url, title, last_error, last_ok, failures, new in rows:
            if failures and (last_ok is None or last_ok < start):
                health.append(FeedHealth(url, title, "failed all week", last_error, last_ok))
            elif not new:
                health.append(FeedHealth(url, title, "nothing new", last_error, last_ok))
        return health

    def digest_sent(self, week: str, recipients: str) -> str | None:
        """When this week's digest was sent to exactly these recipients, if it was."""
        row = self.db.execute(
            "SELECT sent_at FROM digests_sent WHERE week = ? AND recipients = ? ORDER BY id DESC LIMIT 1",
            [week, recipients],
        ).fetchone()
        return row[0] if row else None

    def record_digest(self, week: str, recipients: str, message_id: str, claims: int) -> None:
        with self._transaction():
            self.db["digests_sent"].insert(
                {
                    "week": week,
                    "recipients": recipients,
                    "message_id": message_id,
                    "claims": claims,
                    "sent_at": now_iso(),
                }
            )

    # -- the service ------------------------------------------------------------

    def set_service_state(self, values: dict[str, str | None]) -> None:
        stamp = now_iso()
        with self._transaction():
            self.db["service_state"].upsert_all(
                [{"key": k, "value": v, "updated_at": stamp} for k, v in values.items()], pk="key"
            )

    def service_state(self) -> dict[str, str | None]:
        return {key: value for key, value in self.db.execute("SELECT key, value FROM service_state")}

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        rows = self.db.execute(
            "SELECT id, started, finished, feeds_ok, feeds_failed, new_articles, new_claims, errors "
            "FROM runs ORDER BY id DESC LIMIT ?",
            [limit],
        ).fetchall()
        return [
            RunRecord(
                id=r[0],
                started=r[1],
                finished=r[2],
                feeds_ok=r[3],
                feeds_failed=r[4],
                new_articles=r[5],
                new_claims=json.loads(r[6] or "{}"),
                errors=json.loads(r[7] or "{}"),
            )
            for r in rows
        ]

    def failing_feeds(self, since: str) -> list[FeedHealth]:
        """Feeds whose last success is older than `since` (or that never succeeded) and that
        have failed since."""
        rows = self.db.execute(
            "SELECT url, title, last_error, last_ok FROM feeds WHERE consecutive_failures > 0 "
            "AND (last_ok IS NULL OR last_ok < ?) ORDER BY url",
            [since],
        ).fetchall()
        return [FeedHealth(url, title, "failing", error, ok) for url, title, error, ok in rows]

    def last_digest(self) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT week, recipients, message_id, claims, sent_at FROM digests_sent ORDER BY id DESC LIMIT 1"
        ).fetchone()
        keys = ("week", "recipients", "message_id", "claims", "sent_at")
        return dict(zip(keys, row, strict=True)) if row else None

    def feeds_overview(self) -> list[dict[str, Any]]:
        return list(self._rows("SELECT * FROM feeds ORDER BY url"))

    def count_claims(self, filters: ClaimFilter = ALL_CLAIMS) -> int:
        where, params = filter_sql(filters)
        return int(self.db.execute(f"SELECT count(*) {CLAIM_FROM} {where}", params).fetchone()[0])

    def latest_stored(self, filters: ClaimFilter = ALL_CLAIMS) -> str | None:
        """When the newest matching claim was stored."""
        where, params = filter_sql(filters)
        return self.db.execute(f"SELECT max(claims.extracted_at) {CLAIM_FROM} {where}", params).fetchone()[0]

    def _ranked_search(
        self, query: str, match: str, where: str, params: list[Any], filters: ClaimFilter
    ) -> list[StoredClaim]:
        """Best BM25 matches first. Up to EXACT_UP_TO matches, every match is scored; the index is
        asked for its best rows a chunk at a time, keeping those that pass the filters.

        A word found in more claims (500,000 in a million, say) costs half a second to score
        in full, and BM25 then ranks it almost only by sentence length. So its matches are
        ranked among its shortest: the short-first index lists them shortest first without
        scoring any, and BM25 orders the SHORT_POOL shortest that pass the filters (more when
        the page asks for more). Every match is a candidate however old; what can differ from
        scoring them all is a longer sentence that repeats the word or has it in its title.
        Phrases (the short-first index keeps no positions) are always scored in full."""
        try:
            if _plain_terms(match) and self._more_matches_than(match, EXACT_UP_TO):
                found = self._shortest_first(match, where, params, filters)
                if found is not None:
                    return found
            return self._scored(match, where, params, filters)
        except sqlite3.OperationalError as exc:
            raise QueryError(f"cannot search for {query!r}: {exc}") from exc

    def _select_ranked(self, where: str) -> str:
        where = f"{where} {'AND' if where else 'WHERE'} claims_search MATCH ?"
        select = CLAIM_SELECT.replace("SELECT", SEARCH_COLUMNS, 1) + (
            " JOIN claims_search ON claims_search.rowid = claims.rowid "
        )
        return f"{select} {where}"

    def _scored(self, match: str, where: str, params: list[Any], filters: ClaimFilter) -> list[StoredClaim]:
        wanted = (filters.limit or 20) + filters.offset
        chunk = max(200, 10 * wanted)
        best = (
            "SELECT rowid FROM claims_search WHERE claims_search MATCH ?"
            f" ORDER BY {SEARCH_RANK} LIMIT ? OFFSET ?"
        )
        found: list[StoredClaim] = []
        for start in range(0, MAX_CHUNKS * chunk, chunk):
            rowids = [r[0] for r in self.db.execute(best, [match, chunk, start])]
            if rowids:
                marks = ",".join("?" * len(rowids))
                found += self._claims(
                    f"{self._select_ranked(where)} AND claims.rowid IN ({marks}) ORDER BY rank",
                    [*HIGHLIGHT, *params, match, *rowids],
                )
            if len(found) >= wanted or len(rowids) < chunk:
                return found[filters.offset : wanted]  # a full page, or every match seen
        # Filters so narrow that the best chunks held too little: score every match once.
        return self._claims(
            f"{self._select_ranked(where)} ORDER BY rank" + limit_sql(filters, 20),
            [*HIGHLIGHT, *params, match],
        )

    def _shortest_first(
        self, match: str, where: str, params: list[Any], filters: ClaimFilter
    ) -> list[StoredClaim] | None:
        """The page from the shortest matches that pass the filters, ranked by BM25; None when
        the filters are so narrow that more than MAX_POOL shortest matches hold too few."""
        wanted = (filters.limit or 20) + filters.offset
        size = max(SHORT_POOL, 4 * wanted)
        shortest = (
            "SELECT rowid & 4294967295 FROM claims_short_first WHERE claims_short_first MATCH ?"
            " ORDER BY rowid LIMIT ?"
        )
        while True:
            pool = [r[0] for r in self.db.execute(shortest, [match, size])]
            marks = ",".join("?" * len(pool))
            page = self._claims(
                f"{self._select_ranked(where)} AND claims.rowid IN ({marks}) ORDER BY rank"
                + limit_sql(filters, 20),
                [*HIGHLIGHT, *params, match, *pool],
            )
            if len(page) >= (filters.limit or 20) or len(pool) < size:
                return page  # a full page, or every match was in the pool
            if size >= MAX_POOL:
                return None
            size = min(8 * size, MAX_POOL)

    def _more_matches_than(self, match: str, count: int) -> bool:
        """Walking the doclist backwards to the count-th match is cheap: no scores are computed."""
        row = self.db.execute(
            "SELECT rowid FROM claims_search WHERE claims_search MATCH ?"
            " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [match, count],
        ).fetchone()
        return row is not None

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        cursor = self.db.execute(sql, list(params))
        columns = [d[0] for d in cursor.description]
        for values in cursor:
            yield dict(zip(columns, values, strict=True))

    def _claims(self, sql: str, params: list[Any]) -> list[StoredClaim]:
        return [stored_claim(row) for row in self._rows(sql, params)]

    def search(self, query: str, filters: ClaimFilter = ALL_CLAIMS) -> list[StoredClaim]:
        """Full-text search over claim sentences and article titles, best BM25 match first;
        with no words in the query, the newest claims that pass the filters."""
        match = fts_query(query)
        where, params = filter_sql(filters)
        if match is None:
            order = f" ORDER BY {CLAIM_DATE} DESC, claims.rowid DESC"
            return self._claims(f"{CLAIM_SELECT} {where}{order}" + limit_sql(filters, 20), params)
        return self._ranked_search(query, match, where, params, filters)


def _stored_article(r: tuple[Any, ...]) -> Article:
    return Article(
        id=r[0], url=r[1], title=r[2], text=r[3], source=r[4], feed_url=r[5],
        published=datetime.fromisoformat(r[6]) if r[6] else None, doi=r[7], guid=r[8], authors=r[9],
        evidence_tier=r[10] or "news", title_key=r[11] or "", feed_content=bool(r[12]),
    )  # fmt: skip


def _cited(refs: tuple[str, ...]) -> str | None:
    return json.dumps(list(dict.fromkeys(refs))) if refs else None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


PAGE_RETRY_FIRST = timedelta(hours=1)  # then 2 h, 4 h ...: a site that is down now may be up later


def _page_columns(page: Page | None, stamp: str, attempts: int) -> list[Any]:
    """page_text, page_url, page_status, page_reason, page_attempts, page_fetched, page_retry."""
    if page is None:
        return [None, None, None, None, 0, None, None]
    retry = None
    if page.retry:
        wait = PAGE_RETRY_FIRST * 2 ** min(attempts - 1, 10)
        retry = (datetime.fromisoformat(stamp) + wait).isoformat(timespec="seconds")
    text = page.text if page.ok else None
    return [text, page.final_url or page.url, page.status, page.reason, attempts, stamp, retry]


def _connect_readonly(path: Path, busy_timeout: float) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)


def _describe(exc: sqlite3.Error) -> str:
    message = str(exc)
    if "locked" in message or "busy" in message:
        return "database is locked by another process; try again when it has finished"
    if "not a database" in message or "malformed" in message:
        return f"not a usable SQLite database ({message})"
    return message


def _plain_terms(match: str) -> bool:
    """A query the short-first index can answer: words and prefixes, no phrase of two or more."""
    return all(" " not in term for term in re.findall(r'"([^"]*)"', match))


class ReadOnlyDatabase:
    """What reading needs of a sqlite_utils.Database, on a read-only connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters or [])

    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
